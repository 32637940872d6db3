"""The datasets the trainer knows: MNIST and Fashion-MNIST share one file format and one trainer.

Each entry says where its four IDX files come from (mirrors, md5 sums of the published .gz files),
what its classes are called, and the statistics its pixels are normalised with.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
TEST_STEMS = STEMS[2:]  # all that 'mnist-sheet' and 'mnist --split-test' read


@dataclass(frozen=True)
class Dataset:
    name: str                      # as given to --dataset
    title: str                     # as written in workbooks and messages
    md5: dict                      # file stem -> md5 of the published .gz file
    mirrors: tuple[str, ...]       # base URLs, tried in order
    subdir: Path                   # torchvision's layout under the data folder
    class_names: tuple[str, ...]   # label k is called class_names[k]
    mean: float                    # of the training pixels scaled to [0, 1]
    std: float
    test_labels_sha256: str = ""   # of the published 10,000 test labels, uncompressed: names the data in a folder
    system_folder: Path | None = None  # where a system package installs the files, if any

    def class_name(self, label: int) -> str:
        return self.class_names[int(label)]


MNIST = Dataset(
    name="mnist",
    title="MNIST",
    md5=dict(zip(STEMS, ("f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
                         "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"))),
    mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
    subdir=Path("MNIST") / "raw",
    class_names=tuple(str(digit) for digit in range(10)),
    mean=0.1307,
    std=0.3081,
    test_labels_sha256="ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
)

FASHION_MNIST = Dataset(
    name="fashion-mnist",
    title="Fashion-MNIST",
    md5=dict(zip(STEMS, ("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
                         "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"))),
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    subdir=Path("FashionMNIST") / "raw",
    class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                 "Ankle boot"),
    # Measured on the 60,000 training images (0.2860, 0.3530), as for MNIST's 0.1307, 0.3081.
    mean=0.2860,
    std=0.3530,
    test_labels_sha256="3d0e6c6ea990b53b6f8f500a41cac93881d981b315f84578b7d915342ade01e9",
    # Debian's dataset-fashion-mnist package (its .gz files are recompressed: other md5 sums, same data).
    system_folder=Path("/usr/share/datasets/fashion-mnist"),
)

DATASETS = {dataset.name: dataset for dataset in (MNIST, FASHION_MNIST)}


def get_dataset(name: str) -> Dataset:
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}") from None


def recognise(test_labels: bytes) -> Dataset | None:
    """The dataset whose published test labels these are (the files' md5 sums cannot say: Debian
    recompresses them, and both datasets share one format), or None for any other labels."""
    digest = hashlib.sha256(test_labels).hexdigest()
    return next((dataset for dataset in DATASETS.values() if dataset.test_labels_sha256 == digest), None)


def default_data_folder(dataset: Dataset, fallback: Path) -> Path:
    """The system copy when it is installed and complete, else ``fallback`` (./data)."""
    folder = dataset.system_folder
    if folder is not None and all((folder / f"{stem}.gz").is_file() or (folder / stem).is_file() for stem in STEMS):
        return folder
    return fallback
