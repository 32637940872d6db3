"""Benchmark the mnist trainer on a full 60,000-image training set; prints markdown tables.

    python benchmarks/mnist_bench.py [--dataset fashion-mnist] [--data DIR] [--epochs 15] [--sweep]

1. Seconds per 60,000-image training epoch on CPU: ours (uint8 dataset on the device, index-slice
   batches, batched affine_grid/grid_sample augmentation) against the course notebooks' pipeline
   (a DataLoader over a Dataset that rotates and normalises one image at a time), same model, same
   data, same batch size, same run. With CUDA, ours on the GPU too.
2. --sweep: CPU images/s of our epoch for batch sizes, thread counts, channels_last and bfloat16.
3. Accuracy: a full run at the default settings (--epochs, 15) on the dataset's 60k/10k split.

The full training set is needed: Fashion-MNIST's comes with Debian's dataset-fashion-mnist package
(/usr/share/datasets/fashion-mnist, the default here); MNIST's from its download.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: see sheetprop/mnist/runtime.py

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from sheetprop.mnist.batches import MAX_ROTATION_DEGREES, DeviceSplit  # noqa: E402
from sheetprop.mnist.data import load_mnist  # noqa: E402
from sheetprop.mnist.datasets import DATASETS, default_data_folder  # noqa: E402
from sheetprop.mnist.model import MnistNet, count_parameters  # noqa: E402
from sheetprop.mnist.runtime import configure_cpu_threads  # noqa: E402
from sheetprop.mnist.train import TrainSettings, fit, make_optimizer, make_scheduler, train_epoch  # noqa: E402

EPOCH_IMAGES = 60_000


class PerSampleDataset(torch.utils.data.Dataset):
    """The notebooks' way: one image at a time, RandomRotation((-7, 7)) then ToTensor and Normalize
    (written with torch ops because torchvision does not import here)."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, mean: float, std: float):
        self.images, self.labels, self.mean, self.std = images, labels, mean, std

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        image = torch.from_numpy(np.array(self.images[index], dtype=np.float32) / 255.0)[None, None]
        angle = math.radians(np.random.uniform(-MAX_ROTATION_DEGREES, MAX_ROTATION_DEGREES))
        theta = torch.tensor([[[math.cos(angle), -math.sin(angle), 0.0], [math.sin(angle), math.cos(angle), 0.0]]])
        grid = F.affine_grid(theta, [1, 1, 28, 28], align_corners=False)
        image = F.grid_sample(image, grid, align_corners=False)[0]
        return (image - self.mean) / self.std, int(self.labels[index])


def reference_epoch_seconds(images, labels, mean, std, batch_size: int, workers: int, device) -> float:
    torch.manual_seed(0)
    model = MnistNet().to(device)
    optimizer = make_optimizer(model, 0.01)
    loader = torch.utils.data.DataLoader(PerSampleDataset(images, labels, mean, std), batch_size=batch_size,
                                         shuffle=True, num_workers=workers, pin_memory=device.type == "cuda")
    model.train()
    started = time.perf_counter()
    for batch, target in loader:
        batch, target = batch.to(device), target.to(device)
        optimizer.zero_grad(set_to_none=True)
        F.nll_loss(model(batch), target).backward()
        optimizer.step()
    synchronize(device)
    return time.perf_counter() - started


def our_epoch_seconds(split: DeviceSplit, batch_size: int, device, channels_last=False, bfloat16=False) -> float:
    torch.manual_seed(0)
    model = MnistNet().to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model, 0.01)
    scheduler = make_scheduler(optimizer, 0.01, math.ceil(len(split) / batch_size))
    started = time.perf_counter()
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bfloat16):
        train_epoch(model, optimizer, scheduler, split, batch_size)  # .item() at the end synchronises
    return time.perf_counter() - started


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def sweep(data, dataset, images: int, default_threads: int) -> list[tuple[str, str]]:
    """Images/s of our CPU epoch on the first ``images`` training images under each setting."""
    cpu = torch.device("cpu")
    split = DeviceSplit.from_numpy(data.train_images[:images], data.train_labels[:images], cpu, dataset.mean,
                                   dataset.std)
    settings = [(f"batch {b}, {default_threads} threads", b, default_threads, False, False) for b in (64, 128, 256, 512)]
    settings += [(f"batch 128, {t} thread", 128, t, False, False) for t in (1,) if t != default_threads]
    settings += [("batch 128, channels_last", 128, default_threads, True, False),
                 ("batch 128, bfloat16 autocast", 128, default_threads, False, True)]
    rows = []
    for name, batch, threads, channels_last, bfloat16 in settings:
        torch.set_num_threads(threads)
        seconds = our_epoch_seconds(split, batch, cpu, channels_last, bfloat16)
        rows.append((f"CPU sweep: {name}", f"{images / seconds:,.0f} images/s"))
    torch.set_num_threads(default_threads)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="fashion-mnist")
    parser.add_argument("--data", type=Path, default=None, help="the dataset's folder (default: the system copy)")
    parser.add_argument("--batch-size", type=int, default=TrainSettings.batch_size)
    parser.add_argument("--ref-workers", type=int, nargs="*", default=[0], help="DataLoader worker counts to time")
    parser.add_argument("--epochs", type=int, default=15, help="epochs of the accuracy run (0: skip it)")
    parser.add_argument("--sweep", action="store_true", help="also time batch sizes, threads, channels_last, bf16")
    parser.add_argument("--sweep-images", type=int, default=12_800)
    args = parser.parse_args()

    dataset = DATASETS[args.dataset]
    folder = args.data if args.data is not None else default_data_folder(dataset, Path("data"))
    data = load_mnist(folder, dataset)
    if len(data.train_labels) < EPOCH_IMAGES:
        raise SystemExit(f"{folder} has {len(data.train_labels):,} training images; a full epoch needs {EPOCH_IMAGES:,}")
    threads = configure_cpu_threads()
    cpu = torch.device("cpu")
    print(f"{dataset.title} from {folder}; torch {torch.__version__}, {threads} CPU threads, {os.cpu_count()} cores, "
          f"batch {args.batch_size}, load average before {os.getloadavg()[0]:.2f}\n")

    rows = []
    train = DeviceSplit.from_numpy(data.train_images, data.train_labels, cpu, dataset.mean, dataset.std)
    our_epoch_seconds(DeviceSplit.from_numpy(data.train_images[:1024], data.train_labels[:1024], cpu),
                      args.batch_size, cpu)  # warm-up
    ours = our_epoch_seconds(train, args.batch_size, cpu)
    rows.append(("CPU seconds per 60k-image epoch: ours (on-device batches, batched augmentation)",
                 f"{ours:.1f} ({EPOCH_IMAGES / ours:,.0f} images/s)"))
    for workers in args.ref_workers:
        reference = reference_epoch_seconds(data.train_images, data.train_labels, dataset.mean, dataset.std,
                                            args.batch_size, workers, cpu)
        rows.append((f"CPU seconds per 60k-image epoch: course pipeline (DataLoader, per-sample transforms, "
                     f"{workers} workers)", f"{reference:.1f} (ours is {reference / ours:.2f}x faster)"))

    if torch.cuda.is_available():
        gpu = torch.device("cuda")
        on_gpu = DeviceSplit.from_numpy(data.train_images, data.train_labels, gpu, dataset.mean, dataset.std)
        our_epoch_seconds(DeviceSplit.from_numpy(data.train_images[:4096], data.train_labels[:4096], gpu),
                          args.batch_size, gpu)  # warm-up
        rows.append((f"CUDA seconds per 60k-image epoch ({torch.cuda.get_device_name(gpu)})",
                     f"{our_epoch_seconds(on_gpu, args.batch_size, gpu):.2f}"))

    if args.sweep:
        rows += sweep(data, dataset, args.sweep_images, threads)

    if args.epochs > 0:
        device = torch.device("cuda") if torch.cuda.is_available() else cpu
        splits = [DeviceSplit.from_numpy(images, labels, device, dataset.mean, dataset.std)
                  for images, labels in ((data.train_images, data.train_labels), (data.test_images, data.test_labels))]
        started = time.perf_counter()
        result = fit(*splits, TrainSettings(epochs=args.epochs, batch_size=args.batch_size, dataset=dataset.name))
        seconds = time.perf_counter() - started
        accuracies = [row["test_accuracy"] for row in result.metrics]
        rows += [
            (f"{dataset.title} 60k/10k, {args.epochs} epochs at the defaults ({device.type}): test accuracy",
             f"{accuracies[-1]:.2f}% final; best {max(accuracies):.2f}%; last three "
             f"{', '.join(f'{a:.2f}' for a in accuracies[-3:])}"),
            ("  parameters; seconds in all", f"{count_parameters(result.model):,}; {seconds:.0f}"),
        ]

    print("| measurement | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
