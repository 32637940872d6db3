"""Benchmark the mnist training pipeline; prints a markdown table.

    python benchmarks/mnist_bench.py [--data ../shared/mnist] [--no-holdout] [--ref-workers 0 2]

1. Training throughput (images/s) of our step (uint8 dataset on the device, index-slice batches,
   batched affine_grid/grid_sample augmentation) against the course notebooks' pipeline (DataLoader
   over a Dataset whose __getitem__ rotates and normalises one image at a time), same model, same
   data, same batch size, same run.
2. Holdout: train on the first 8,000 real MNIST test images, evaluate on the last 2,000.
3. With CUDA: seconds per 60,000-image epoch (the 10,000 real images tiled to 60,000).

Only the 10,000 MNIST test images are needed (t10k-*), in torchvision's layout or flat.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: see sheetprop/mnist/runtime.py

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from sheetprop.mnist.batches import MAX_ROTATION_DEGREES, MNIST_MEAN, MNIST_STD, DeviceSplit, training_batches  # noqa: E402
from sheetprop.mnist.data import find_file, read_split  # noqa: E402
from sheetprop.mnist.model import MnistNet, count_parameters  # noqa: E402
from sheetprop.mnist.runtime import configure_cpu_threads  # noqa: E402
from sheetprop.mnist.train import TrainSettings, fit, make_optimizer, make_scheduler, train_epoch  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "mnist"


class PerSampleDataset(torch.utils.data.Dataset):
    """The notebooks' way: one image at a time, RandomRotation((-7, 7)) then ToTensor and Normalize
    (written with torch ops because torchvision does not import here)."""

    def __init__(self, images: np.ndarray, labels: np.ndarray):
        self.images, self.labels = images, labels

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        image = torch.from_numpy(np.array(self.images[index], dtype=np.float32) / 255.0)[None, None]
        angle = math.radians(np.random.uniform(-MAX_ROTATION_DEGREES, MAX_ROTATION_DEGREES))
        theta = torch.tensor([[[math.cos(angle), -math.sin(angle), 0.0], [math.sin(angle), math.cos(angle), 0.0]]])
        grid = F.affine_grid(theta, [1, 1, 28, 28], align_corners=False)
        image = F.grid_sample(image, grid, align_corners=False)[0]
        return (image - MNIST_MEAN) / MNIST_STD, int(self.labels[index])


def reference_images_per_second(images, labels, batch_size: int, workers: int, device) -> float:
    torch.manual_seed(0)
    model = MnistNet().to(device)
    optimizer = make_optimizer(model, 0.01)
    loader = torch.utils.data.DataLoader(PerSampleDataset(images, labels), batch_size=batch_size, shuffle=True,
                                         num_workers=workers, pin_memory=device.type == "cuda")
    model.train()
    started = time.perf_counter()
    for batch, target in loader:
        batch, target = batch.to(device), target.to(device)
        optimizer.zero_grad(set_to_none=True)
        F.nll_loss(model(batch), target).backward()
        optimizer.step()
    synchronize(device)
    return len(labels) / (time.perf_counter() - started)


def data_only_images_per_second(images, labels, batch_size: int, device) -> tuple[float, float]:
    """Producing augmented, normalised batches with no model: (ours, reference with 0 workers)."""
    split = DeviceSplit.from_numpy(images, labels, device)
    started = time.perf_counter()
    for batch, _ in training_batches(split, batch_size):
        pass
    synchronize(device)
    ours = len(labels) / (time.perf_counter() - started)
    loader = torch.utils.data.DataLoader(PerSampleDataset(images, labels), batch_size=batch_size, shuffle=True)
    started = time.perf_counter()
    for batch, _ in loader:
        pass
    return ours, len(labels) / (time.perf_counter() - started)


def our_epoch_seconds(split: DeviceSplit, batch_size: int, device) -> float:
    torch.manual_seed(0)
    model = MnistNet().to(device)
    optimizer = make_optimizer(model, 0.01)
    scheduler = make_scheduler(optimizer, 0.01, math.ceil(len(split) / batch_size))
    started = time.perf_counter()
    train_epoch(model, optimizer, scheduler, split, batch_size)  # .item() at the end synchronises
    return time.perf_counter() - started


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def load_test_set(data: Path):
    images, labels = (find_file(data, stem) for stem in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"))
    if images is None or labels is None:
        sys.exit(f"t10k-images/labels not found under {data}")
    return read_split(images, labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--images", type=int, default=5000, help="images per throughput measurement")
    parser.add_argument("--ref-workers", type=int, nargs="+", default=[0, 2], help="DataLoader worker counts to try")
    parser.add_argument("--holdout-epochs", type=int, default=15)
    parser.add_argument("--no-holdout", action="store_true", help="skip the (slow on CPU) holdout training run")
    args = parser.parse_args()

    threads = configure_cpu_threads()
    images, labels = load_test_set(args.data)
    cpu = torch.device("cpu")
    subset = slice(0, args.images)
    print(f"torch {torch.__version__}, {threads} CPU threads, {os.cpu_count()} cores, batch {args.batch_size}\n")

    rows = []
    our_split = DeviceSplit.from_numpy(images[subset], labels[subset], cpu)
    our_epoch_seconds(DeviceSplit.from_numpy(images[:512], labels[:512], cpu), args.batch_size, cpu)  # warm-up
    ours = len(our_split) / our_epoch_seconds(our_split, args.batch_size, cpu)
    rows.append(("CPU training images/s: ours (on-device batches, batched augmentation)", f"{ours:,.0f}"))
    for workers in args.ref_workers:
        reference = reference_images_per_second(images[subset], labels[subset], args.batch_size, workers, cpu)
        rows.append((f"CPU training images/s: reference (DataLoader, per-sample transforms, {workers} workers)",
                     f"{reference:,.0f} (ours is {ours / reference:.1f}x)"))

    data_ours, data_reference = data_only_images_per_second(images[subset], labels[subset], args.batch_size, cpu)
    rows.append(("CPU batch preparation only (no model) images/s: ours vs reference",
                 f"{data_ours:,.0f} vs {data_reference:,.0f} ({data_ours / data_reference:.0f}x)"))

    if torch.cuda.is_available():
        gpu = torch.device("cuda")
        repeats = math.ceil(60000 / len(labels))
        tiled = DeviceSplit.from_numpy(np.tile(images, (repeats, 1, 1))[:60000], np.tile(labels, repeats)[:60000], gpu)
        our_epoch_seconds(DeviceSplit.from_numpy(images[:2048], labels[:2048], gpu), args.batch_size, gpu)  # warm-up
        rows.append((f"CUDA seconds per 60,000-image epoch ({torch.cuda.get_device_name(gpu)})",
                     f"{our_epoch_seconds(tiled, args.batch_size, gpu):.2f}"))

    if not args.no_holdout:
        device = torch.device("cuda") if torch.cuda.is_available() else cpu
        train = DeviceSplit.from_numpy(images[:8000], labels[:8000], device)
        test = DeviceSplit.from_numpy(images[8000:], labels[8000:], device)
        started = time.perf_counter()
        result = fit(train, test, TrainSettings(epochs=args.holdout_epochs, batch_size=args.batch_size))
        seconds = time.perf_counter() - started
        accuracies = [row["test_accuracy"] for row in result.metrics]
        rows += [
            (f"Holdout ({device.type}): train first 8,000 / test last 2,000, {args.holdout_epochs} epochs",
             f"{accuracies[-1]:.2f}% final; last three {', '.join(f'{a:.2f}' for a in accuracies[-3:])}"),
            ("Holdout: parameters", f"{count_parameters(result.model):,}"),
            ("Holdout: seconds", f"{seconds:.1f}"),
        ]

    print("| measurement | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
