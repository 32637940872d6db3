"""Small MNIST-layout folders built from the real test images in ../shared/mnist (never committed)."""

from __future__ import annotations

import os
from pathlib import Path

# Test modules import this before torch: spinning OpenMP threads make training on shared cores many
# times slower, and the policy is read only when torch loads (see sheetprop/mnist/runtime.py).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import pytest

from sheetprop.mnist.data import TORCHVISION_SUBDIR, read_idx, write_idx

SHARED_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "mnist"
SHARED_RAW = SHARED_MNIST / TORCHVISION_SUBDIR


def shared_test_set() -> tuple[np.ndarray, np.ndarray]:
    """The 10,000 real MNIST test images and labels, or skip the test if the shared folder is absent."""
    images, labels = SHARED_RAW / "t10k-images-idx3-ubyte.gz", SHARED_RAW / "t10k-labels-idx1-ubyte.gz"
    if not (images.is_file() and labels.is_file()):
        pytest.skip(f"real MNIST test files not found in {SHARED_RAW} (see the project's shared/mnist/README.md)")
    return read_idx(images, 3), read_idx(labels, 1)


def write_mnist_folder(root: Path, train_range: range, test_range: range, layout: str = "torchvision") -> Path:
    """Write the four standard MNIST files, taking train and test from slices of the real test set."""
    images, labels = shared_test_set()
    folder = root / TORCHVISION_SUBDIR if layout == "torchvision" else root
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, rows in (("train", train_range), ("t10k", test_range)):
        index = np.arange(rows.start, rows.stop)
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images[index])
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels[index])
    return root
