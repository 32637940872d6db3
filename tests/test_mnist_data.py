"""IDX reading, validation, file discovery and the (network-free) download path."""

import gzip
import hashlib
import io

import numpy as np
import pytest

from sheetprop.errors import UserError
from sheetprop.mnist.train import download
from sheetprop.mnist.train.data import MNIST_FILES, find_file, load_mnist, read_idx, read_split, write_idx
from mnist_fixtures import SAMPLE, SHARED_RAW, sample_digits, shared_test_set, write_mnist_folder


def idx_bytes(magic: int, dims: list[int], payload: bytes) -> bytes:
    """An IDX file built by hand (independently of write_idx), so the reader is checked against the spec."""
    return magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims) + payload


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.mark.parametrize("gzipped", [False, True])
def test_reads_good_images_and_labels(tmp_path, rng, gzipped):
    images = rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    opener = gzip.open if gzipped else open
    suffix = ".gz" if gzipped else ""
    with opener(tmp_path / f"img{suffix}", "wb") as f:
        f.write(idx_bytes(0x00000803, [5, 28, 28], images.tobytes()))
    with opener(tmp_path / f"lab{suffix}", "wb") as f:
        f.write(idx_bytes(0x00000801, [5], labels.tobytes()))
    read_images, read_labels = read_split(tmp_path / f"img{suffix}", tmp_path / f"lab{suffix}")
    assert np.array_equal(read_images, images)
    assert read_labels.tolist() == [3, 1, 4, 1, 5]


def test_write_idx_matches_hand_built_file(tmp_path, rng):
    images = rng.integers(0, 256, size=(2, 28, 28), dtype=np.uint8)
    write_idx(tmp_path / "a", images)
    assert (tmp_path / "a").read_bytes() == idx_bytes(0x00000803, [2, 28, 28], images.tobytes())


@pytest.mark.parametrize(
    "content, message",
    [
        (idx_bytes(0x00000803, [5, 28, 28], bytes(4 * 28 * 28)), "truncated"),
        (idx_bytes(0x00000803, [5, 28, 28], bytes(5 * 28 * 28 + 1)), "longer than its header"),
        (idx_bytes(0x00000801, [5, 28, 28], bytes(5 * 28 * 28)), "magic number"),
        (idx_bytes(0x00000D03, [5, 28, 28], bytes(5 * 28 * 28)), "magic number"),
        (b"\x00\x00\x08", "truncated"),
    ],
    ids=["short-data", "extra-data", "label-magic", "float-magic", "short-header"],
)
def test_bad_image_files_name_the_file(tmp_path, content, message):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(content)
    with pytest.raises(UserError, match=message) as err:
        read_idx(path, expected_ndim=3)
    assert str(path) in str(err.value)


def test_truncated_gzip_names_the_file(tmp_path, rng):
    good = gzip.compress(idx_bytes(0x00000803, [50, 28, 28], rng.integers(0, 256, 50 * 784, dtype=np.uint8).tobytes()))
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(UserError, match="truncated or not a valid gzip") as err:
        read_idx(path, expected_ndim=3)
    assert str(path) in str(err.value)


def test_count_mismatch_between_images_and_labels(tmp_path):
    (tmp_path / "img").write_bytes(idx_bytes(0x00000803, [3, 28, 28], bytes(3 * 784)))
    (tmp_path / "lab").write_bytes(idx_bytes(0x00000801, [4], bytes(4)))
    with pytest.raises(UserError, match=r"3 images but .*lab holds 4 labels"):
        read_split(tmp_path / "img", tmp_path / "lab")


def test_wrong_image_size_and_bad_labels(tmp_path):
    (tmp_path / "img").write_bytes(idx_bytes(0x00000803, [2, 32, 32], bytes(2 * 32 * 32)))
    (tmp_path / "lab").write_bytes(idx_bytes(0x00000801, [2], bytes([1, 2])))
    with pytest.raises(UserError, match="32x32"):
        read_split(tmp_path / "img", tmp_path / "lab")
    (tmp_path / "img").write_bytes(idx_bytes(0x00000803, [2, 28, 28], bytes(2 * 784)))
    (tmp_path / "lab").write_bytes(idx_bytes(0x00000801, [2], bytes([1, 12])))
    with pytest.raises(UserError, match="label 12"):
        read_split(tmp_path / "img", tmp_path / "lab")


@pytest.mark.parametrize("layout", ["torchvision", "flat"])
def test_loads_both_layouts_from_real_digits(tmp_path, layout):
    images, labels = sample_digits()
    root = write_mnist_folder(tmp_path, range(0, 300), range(300, 400), layout=layout)
    data = load_mnist(root)
    assert np.array_equal(data.train_images, images[:300])
    assert np.array_equal(data.test_labels, labels[300:400])
    expected_folder = root / "MNIST" / "raw" if layout == "torchvision" else root
    assert find_file(root, "t10k-images-idx3-ubyte") == expected_folder / "t10k-images-idx3-ubyte.gz"


def test_shared_files_have_the_published_md5():
    shared_test_set()
    for stem in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", "train-labels-idx1-ubyte"):
        digest = hashlib.md5((SHARED_RAW / f"{stem}.gz").read_bytes()).hexdigest()
        assert digest == MNIST_FILES[stem]


def test_no_download_lists_missing_files_with_md5(tmp_path):
    with pytest.raises(UserError) as err:
        download.ensure_mnist_files(tmp_path, download=False)
    message = str(err.value)
    for stem, md5 in MNIST_FILES.items():
        assert f"{stem}.gz" in message and md5 in message
    assert str(tmp_path / "MNIST" / "raw") in message


class FakeResponse(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_download_verifies_md5_without_network(tmp_path, monkeypatch):
    """A file whose md5 is the listed one is kept; corrupted bytes fail the check and are not kept.
    (The shipped sample stands in for the published file, with its own md5 listed.)"""
    real = (SAMPLE / "t10k-labels-idx1-ubyte.gz").read_bytes()
    monkeypatch.setitem(MNIST_FILES, "t10k-labels-idx1-ubyte", hashlib.md5(real).hexdigest())
    monkeypatch.setattr(download, "_torchvision_downloader", lambda: None)
    served = {"bytes": real}
    monkeypatch.setattr(download.urllib.request, "urlopen", lambda url, timeout: FakeResponse(served["bytes"]))

    target = download.fetch_file(tmp_path, "t10k-labels-idx1-ubyte")
    assert target.read_bytes() == real

    served["bytes"] = real[:-10] + b"0123456789"
    with pytest.raises(OSError, match="md5 mismatch"):
        download.fetch_file(tmp_path / "other", "t10k-labels-idx1-ubyte")
    assert not (tmp_path / "other" / "t10k-labels-idx1-ubyte.gz").exists()


def test_failed_download_is_a_user_error_listing_files(tmp_path, monkeypatch):
    def no_network(folder, stem, dataset):
        raise OSError("no route to host")

    monkeypatch.setattr(download, "fetch_file", no_network)
    with pytest.raises(UserError, match="download failed: no route to host") as err:
        download.ensure_mnist_files(tmp_path, download=True)
    assert MNIST_FILES["train-images-idx3-ubyte"] in str(err.value)
