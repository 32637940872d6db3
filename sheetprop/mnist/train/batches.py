"""The dataset as uint8 tensors on the training device; batches are index slices, transforms are batched.

Per-sample Python transforms behind a DataLoader cost more than this small model's forward and backward
pass; keeping everything on the device and transforming a whole batch with one affine_grid/grid_sample
removes that cost (see benchmarks/mnist_bench.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from sheetprop.mnist.train.datasets import MNIST

MNIST_MEAN, MNIST_STD = MNIST.mean, MNIST.std
MAX_ROTATION_DEGREES = 7.0
MAX_SHIFT_FRACTION = 0.1  # of the image side in affine_grid's [-1, 1] coordinates: about 1.4 pixels


@dataclass
class DeviceSplit:
    images: torch.Tensor  # uint8, (N, 1, 28, 28), on the device
    labels: torch.Tensor  # int64, (N,), on the device
    mean: float = MNIST_MEAN  # the dataset's pixel statistics, for normalising batches
    std: float = MNIST_STD

    @classmethod
    def from_numpy(cls, images: np.ndarray, labels: np.ndarray, device: torch.device,
                   mean: float = MNIST_MEAN, std: float = MNIST_STD) -> "DeviceSplit":
        return cls(
            # np.array copies: the IDX arrays are read-only views of the file's bytes.
            torch.from_numpy(np.array(images, dtype=np.uint8)).unsqueeze(1).to(device),
            torch.from_numpy(np.array(labels, dtype=np.int64)).to(device),
            mean, std,
        )

    def __len__(self) -> int:
        return len(self.labels)


def to_unit_float(images: torch.Tensor) -> torch.Tensor:
    return images.float().div_(255.0)


def normalize(unit_images: torch.Tensor, mean: float = MNIST_MEAN, std: float = MNIST_STD) -> torch.Tensor:
    return (unit_images - mean) / std


def random_affine(unit_images: torch.Tensor) -> torch.Tensor:
    """Rotate each image by up to +-7 degrees and shift it by up to ~1.4 pixels, all in one batched op.

    Works on [0, 1] images before normalising, so the zero padding grid_sample adds is black background.
    Random draws use the device's default generator, which the checkpoint saves and restores.
    """
    n, device = unit_images.shape[0], unit_images.device
    angles = (torch.rand(n, device=device) * 2 - 1) * math.radians(MAX_ROTATION_DEGREES)
    shifts = (torch.rand(n, 2, device=device) * 2 - 1) * (2 * MAX_SHIFT_FRACTION)
    cos, sin = torch.cos(angles), torch.sin(angles)
    theta = torch.stack([torch.stack([cos, -sin, shifts[:, 0]], 1), torch.stack([sin, cos, shifts[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(unit_images.shape), align_corners=False)
    return F.grid_sample(unit_images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def training_batches(split: DeviceSplit, batch_size: int, augment: bool = True):
    """Yield (normalised images, labels) for one shuffled epoch; the last short batch is kept."""
    order = torch.randperm(len(split), device=split.labels.device)
    for start in range(0, len(split), batch_size):
        index = order[start : start + batch_size]
        images = to_unit_float(split.images[index])
        if augment:
            images = random_affine(images)
        yield normalize(images, split.mean, split.std), split.labels[index]


def evaluation_batches(split: DeviceSplit, batch_size: int):
    """Yield (normalised images, labels) in order, without augmentation."""
    for start in range(0, len(split), batch_size):
        images = to_unit_float(split.images[start : start + batch_size])
        yield normalize(images, split.mean, split.std), split.labels[start : start + batch_size]


def steps_per_epoch(num_samples: int, batch_size: int) -> int:
    return math.ceil(num_samples / batch_size)
