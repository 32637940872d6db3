"""Small MNIST-layout folders built from real digits.

Every test can use the 2,000 real test digits shipped in ``tests/data/mnist-sample`` (see the README
there), so the MNIST tests run on any fresh clone. The full 10,000-image test set in ../shared/mnist
(never committed) is an extra: tests of the published files themselves use it when present.
"""

from __future__ import annotations

import os
from pathlib import Path

# Test modules import this before torch: spinning OpenMP threads make training on shared cores many
# times slower, and the policy is read only when torch loads (see sheetprop/mnist/train/runtime.py).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import pytest

from sheetprop.mnist.train.data import TORCHVISION_SUBDIR, read_idx, write_idx

SAMPLE = Path(__file__).resolve().parent / "data" / "mnist-sample"
SAMPLE_SIZE = 2000
SHARED_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "mnist"
SHARED_RAW = SHARED_MNIST / TORCHVISION_SUBDIR
FASHION_SYSTEM = Path("/usr/share/datasets/fashion-mnist")


def sample_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 2,000 real MNIST test digits shipped with the tests: images (N, 28, 28) and labels (N,)."""
    return (read_idx(SAMPLE / "t10k-images-idx3-ubyte.gz", 3),
            read_idx(SAMPLE / "t10k-labels-idx1-ubyte.gz", 1))


def shared_test_set() -> tuple[np.ndarray, np.ndarray]:
    """The full 10,000 real MNIST test images and labels, or skip where ../shared/mnist is absent."""
    images, labels = SHARED_RAW / "t10k-images-idx3-ubyte.gz", SHARED_RAW / "t10k-labels-idx1-ubyte.gz"
    if not (images.is_file() and labels.is_file()):
        pytest.skip(f"the full MNIST test set is not in {SHARED_RAW} (an optional extra; "
                    f"the shipped sample in {SAMPLE} covers the other tests)")
    return read_idx(images, 3), read_idx(labels, 1)


def write_mnist_folder(root: Path, train_range: range, test_range: range, layout: str = "torchvision",
                       source: tuple[np.ndarray, np.ndarray] | None = None, subdir: Path = TORCHVISION_SUBDIR) -> Path:
    """Write the four standard files, taking train and test from slices of real images
    (by default the shipped MNIST sample)."""
    images, labels = source if source is not None else sample_digits()
    if max(train_range.stop, test_range.stop) > len(images):
        raise ValueError(f"only {len(images)} images to slice from")
    folder = root / subdir if layout == "torchvision" else root
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, rows in (("train", train_range), ("t10k", test_range)):
        index = np.arange(rows.start, rows.stop)
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images[index])
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels[index])
    return root
