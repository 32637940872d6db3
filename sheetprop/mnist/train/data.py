"""Find, validate and read a dataset's four IDX files (plain or gzipped) into numpy arrays.

MNIST and Fashion-MNIST share the format (see ``datasets.py``). No torch here: the arrays go to the
training device in ``batches.py``.
"""

from __future__ import annotations

import gzip
import math
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sheetprop.errors import UserError
from sheetprop.mnist.train.datasets import MNIST, STEMS, TEST_STEMS, Dataset, recognise

MNIST_FILES = MNIST.md5
TORCHVISION_SUBDIR = MNIST.subdir
IMAGE_SIZE = 28
NUM_CLASSES = 10
_IDX_UBYTE = 0x08  # the only element type MNIST uses


@dataclass(frozen=True)
class MnistArrays:
    """uint8 images of shape (N, 28, 28) and int64 labels of shape (N,), for both splits."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray


def candidate_dirs(root: Path, dataset: Dataset = MNIST) -> list[Path]:
    """Where the files may live: torchvision's layout under ``root`` first, then ``root`` itself."""
    return [root / dataset.subdir, root]


def find_file(root: Path, stem: str, dataset: Dataset = MNIST) -> Path | None:
    """The first existing ``stem`` or ``stem.gz`` in the candidate folders, or None."""
    for folder in candidate_dirs(root, dataset):
        for name in (f"{stem}.gz", stem):
            if (folder / name).is_file():
                return folder / name
    return None


def missing_files(root: Path, dataset: Dataset = MNIST, stems=STEMS) -> list[str]:
    return [stem for stem in stems if find_file(root, stem, dataset) is None]


MAX_IDX_ITEMS = 1_000_000  # images or labels in one file: MNIST has 70,000
MAX_IDX_BYTES = 200 * 2**20  # one file's data: MNIST's training images are 47 MB


def read_idx(path: Path, expected_ndim: int) -> np.ndarray:
    """Read one IDX file of unsigned bytes, checking the magic number, dimensions and length. The
    header's sizes are checked before anything else is read, so a forged header (or a gzip bomb
    behind one) is refused without inflating it."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    header_size = 4 + 4 * expected_ndim
    try:
        with opener(path, "rb") as handle:
            header = handle.read(header_size)
            if len(header) < header_size:
                raise UserError(f"{path} is truncated: {len(header)} bytes, shorter than its "
                                f"{header_size}-byte IDX header")
            zero, dtype, ndim = int.from_bytes(header[0:2], "big"), header[2], header[3]
            if zero != 0 or dtype != _IDX_UBYTE or ndim != expected_ndim:
                raise UserError(
                    f"{path} is not an MNIST IDX file: magic number 0x{header[:4].hex()}, "
                    f"expected 0x{(_IDX_UBYTE << 8) | expected_ndim:08x}"
                )
            shape = tuple(int.from_bytes(header[4 + 4 * i: 8 + 4 * i], "big") for i in range(expected_ndim))
            if shape[0] > MAX_IDX_ITEMS or any(n > 4096 for n in shape[1:]):
                raise UserError(f"{path}: its header promises shape {shape}; at most {MAX_IDX_ITEMS:,} "
                                "items of at most 4096x4096 are read")
            expected = math.prod(shape)
            # The header's sizes each pass, and still promise 1,000,000 x 4096 x 4096 bytes: the
            # data is bounded as a whole too, and a plain file's size must match before reading.
            if expected > MAX_IDX_BYTES:
                raise UserError(f"{path}: its header promises {expected:,} bytes of data (shape {shape}); "
                                f"at most {MAX_IDX_BYTES:,} are read")
            if opener is open and path.stat().st_size != header_size + expected:
                found = path.stat().st_size - header_size
                raise UserError(f"{path} is {'truncated' if found < expected else 'longer than its header says'}: "
                                f"its header promises {expected:,} bytes of data for shape {shape}, and the file "
                                f"holds {found:,}")
            raw = handle.read(expected + 1)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise UserError(f"{path} is truncated or not a valid gzip file ({exc}); delete it and fetch it again") from None
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(raw) != expected:
        problem = "truncated" if len(raw) < expected else "longer than its header says"
        found = len(raw) if len(raw) < expected else f"more than {expected}"
        raise UserError(f"{path} is {problem}: header promises {expected} bytes of data for shape {shape}, found {found}")
    return np.frombuffer(raw, dtype=np.uint8).reshape(shape)


def read_split(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) and labels (N,) that belong together."""
    images = read_idx(images_path, expected_ndim=3)
    labels = read_idx(labels_path, expected_ndim=1)
    if images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise UserError(f"{images_path}: images are {images.shape[1]}x{images.shape[2]}, MNIST's are 28x28")
    if len(images) != len(labels):
        raise UserError(f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels")
    if len(images) == 0:
        raise UserError(f"{images_path} holds no images")
    if labels.max() >= NUM_CLASSES:
        raise UserError(f"{labels_path} has label {int(labels.max())}; labels must be 0-{NUM_CLASSES - 1}")
    return images, labels.astype(np.int64)


def _paths(root: Path, dataset: Dataset, stems) -> dict[str, Path]:
    absent = missing_files(root, dataset, stems)
    if absent:
        raise UserError(f"{dataset.title} files missing in {root}: {', '.join(absent)}")
    return {stem: find_file(root, stem, dataset) for stem in stems}


def load_test_set(root: Path, dataset: Dataset = MNIST) -> tuple[np.ndarray, np.ndarray]:
    """The test images and labels alone (all that 'mnist-sheet' and '--split-test' need)."""
    root = Path(root).expanduser()
    paths = _paths(root, dataset, TEST_STEMS)
    test = read_split(paths["t10k-images-idx3-ubyte"], paths["t10k-labels-idx1-ubyte"])
    found = recognise(test[1].astype(np.uint8).tobytes())
    if found is not None and found.name != dataset.name:
        # Same format, same shapes: without this a run would train on the other dataset under this one's
        # class names and statistics.
        raise UserError(f"{root} holds {found.title}'s files, not {dataset.title}'s: pass --dataset {found.name}, "
                        f"or point --data at the {dataset.title} files")
    return test


def load_mnist(root: Path, dataset: Dataset = MNIST) -> MnistArrays:
    """Read both splits from ``root``; the caller makes sure no file is missing (see download.py)."""
    root = Path(root).expanduser()
    paths = _paths(root, dataset, STEMS)
    train = read_split(paths["train-images-idx3-ubyte"], paths["train-labels-idx1-ubyte"])
    return MnistArrays(*train, *load_test_set(root, dataset))


def split_test_set(root: Path, dataset: Dataset, train_size: int) -> MnistArrays:
    """``--split-test N``: the test files alone, the first N images to train on and the rest to test
    on (where the training files cannot be had: MNIST's 10k real test digits split 8k/2k)."""
    images, labels = load_test_set(root, dataset)
    if not 0 < train_size < len(images):
        raise UserError(f"--split-test {train_size}: the test set has {len(images):,} images; "
                        f"train on 1 to {len(images) - 1:,} of them")
    return MnistArrays(images[:train_size], labels[:train_size], images[train_size:], labels[train_size:])


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file (gzipped when ``path`` ends in .gz); tests and the benchmark use it."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, _IDX_UBYTE, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as handle:
        handle.write(header + array.tobytes())
