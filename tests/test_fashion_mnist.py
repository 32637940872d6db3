"""--dataset fashion-mnist: its files, statistics and class names, on the real data where installed.

Debian's dataset-fashion-mnist package puts the 60,000 + 10,000 images in /usr/share/datasets/
fashion-mnist (.ci/run installs it); the tests that need the real images skip elsewhere.
"""

import dataclasses

import numpy as np
import pytest

from mnist_fixtures import FASHION_SYSTEM, shared_test_set, write_mnist_folder  # first: it sets the OpenMP wait policy
from sheetprop.cli import main
from sheetprop.errors import UserError
from sheetprop.mnist.train import download
from sheetprop.mnist.train.data import load_mnist, read_idx
from sheetprop.mnist.train.datasets import FASHION_MNIST, MNIST, default_data_folder, get_dataset, recognise


def fashion_files():
    if not (FASHION_SYSTEM / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"Fashion-MNIST is not installed in {FASHION_SYSTEM} (apt-get install dataset-fashion-mnist)")
    return FASHION_SYSTEM


def test_normalisation_statistics_match_the_training_images():
    folder = fashion_files()
    pixels = read_idx(folder / "train-images-idx3-ubyte.gz", 3).astype(np.float64) / 255
    assert pixels.shape == (60_000, 28, 28)
    assert FASHION_MNIST.mean == pytest.approx(pixels.mean(), abs=5e-4)
    assert FASHION_MNIST.std == pytest.approx(pixels.std(), abs=5e-4)


def test_the_system_copy_is_the_default_folder_only_when_complete(tmp_path):
    folder = fashion_files()
    assert default_data_folder(FASHION_MNIST, tmp_path) == folder
    elsewhere = dataclasses.replace(FASHION_MNIST, system_folder=tmp_path / "absent")
    assert default_data_folder(elsewhere, tmp_path / "data") == tmp_path / "data"
    assert default_data_folder(MNIST, tmp_path / "data") == tmp_path / "data"
    assert load_mnist(folder, FASHION_MNIST).test_images.shape == (10_000, 28, 28)


def test_missing_files_name_the_dataset_its_md5_and_the_debian_package(tmp_path):
    with pytest.raises(UserError) as err:
        download.ensure_mnist_files(tmp_path, download=False, dataset=FASHION_MNIST)
    message = str(err.value)
    assert message.startswith("Fashion-MNIST files missing")
    for stem, md5 in FASHION_MNIST.md5.items():
        assert f"{stem}.gz (md5 {md5})" in message
    assert str(tmp_path / "FashionMNIST" / "raw") in message and "dataset-fashion-mnist" in message
    with pytest.raises(ValueError, match="unknown dataset"):
        get_dataset("cifar")


def test_training_on_fashion_writes_class_names(tmp_path):
    pytest.importorskip("torch")
    openpyxl = pytest.importorskip("openpyxl")
    system = fashion_files()
    source = (read_idx(system / "t10k-images-idx3-ubyte.gz", 3), read_idx(system / "t10k-labels-idx1-ubyte.gz", 1))
    data = write_mnist_folder(tmp_path / "data", range(0, 1200), range(1200, 1600), source=source,
                              subdir=FASHION_MNIST.subdir)
    out = tmp_path / "fashion.xlsx"
    code = main(["mnist", "--dataset", "fashion-mnist", "--data", str(data), "--out", str(out), "--no-download",
                 "--quiet", "--epochs", "2", "--batch-size", "32"])
    assert code == 0
    confusion = openpyxl.load_workbook(out)["confusion"]
    assert [confusion.cell(row=1, column=2 + k).value for k in range(10)] == list(FASHION_MNIST.class_names)
    assert [confusion.cell(row=2 + k, column=1).value for k in range(10)] == list(FASHION_MNIST.class_names)
    counts = np.array([[confusion.cell(row=2 + t, column=2 + p).value for p in range(10)] for t in range(10)])
    assert counts.sum() == 400
    assert np.trace(counts) / 400 > 0.5, "two short epochs on 1,200 images beat chance (10%) by far"


def test_another_datasets_files_are_named_not_trained_on(tmp_path, capsys):
    system = fashion_files()
    source = (read_idx(system / "t10k-images-idx3-ubyte.gz", 3), read_idx(system / "t10k-labels-idx1-ubyte.gz", 1))
    folder = write_mnist_folder(tmp_path / "data", range(0, 100), range(0, 10_000), layout="flat", source=source)
    assert load_mnist(folder, FASHION_MNIST).test_labels[:4].tolist() == [9, 2, 1, 1]
    with pytest.raises(UserError, match="holds Fashion-MNIST's files, not MNIST's: pass --dataset fashion-mnist"):
        load_mnist(folder, MNIST)
    pytest.importorskip("torch")  # the command reads the data once torch has loaded
    assert main(["mnist", "--data", str(folder), "--out", str(tmp_path / "m.xlsx"), "--no-download"]) == 2
    assert "--dataset fashion-mnist" in capsys.readouterr().err
    assert not (tmp_path / "m.xlsx").exists()


def test_mnist_test_labels_are_recognised_as_mnist():
    _, labels = shared_test_set()
    assert recognise(labels.astype(np.uint8).tobytes()) is MNIST
    assert recognise(labels[:-1].astype(np.uint8).tobytes()) is None  # a slice is no published set


@pytest.mark.parametrize("dataset, expected", [
    (FASHION_MNIST, ["pred Shirt\ntrue T-shirt/top", "pred Ankle boot\ntrue Shirt"]),
    (MNIST, ["pred 6\ntrue 0", "pred 9\ntrue 6"]),
])
def test_the_misclassified_grid_names_the_classes(tmp_path, monkeypatch, dataset, expected):
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    from sheetprop.mnist.workbook.figures import plot_misclassified

    titles, save = [], Figure.savefig
    monkeypatch.setattr(Figure, "savefig", lambda fig, *a, **k: (titles.extend(
        ax.get_title() for ax in fig.axes if ax.get_title()), save(fig, *a, **k)))
    images = np.zeros((2, 28, 28), np.uint8)
    plot_misclassified(images, np.array([0, 6]), np.array([6, 9]), tmp_path / "grid.png",
                       class_names=dataset.class_names)
    assert titles == expected and (tmp_path / "grid.png").stat().st_size > 0
