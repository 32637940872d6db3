"""Benchmark the mnist trainer on a full 60,000-image training set; prints markdown tables.

    python benchmarks/mnist_bench.py [--dataset fashion-mnist] [--data DIR] [--repeat 1] [--epochs 15]
                                     [--sweep [--rounds 3]] [--model NAME|FILE.toml]

1. Seconds per 60,000-image training epoch on CPU: ours (uint8 dataset on the device, index-slice
   batches, batched affine_grid/grid_sample augmentation) against the course notebooks' pipeline
   (a DataLoader over a Dataset that rotates and normalises one image at a time), same model, same
   data, same batch size, same run (--repeat N alternates them N times). With CUDA, ours on the GPU too.
2. --sweep: CPU images/s of our epoch for batch sizes, thread counts, channels_last, bfloat16 and
   torch.compile (compiled once, before timing), each compared with the default in the same round,
   over several rounds (medians: the machine may be shared).
3. Accuracy: a full run at the default settings (--epochs, 15) on the dataset's 60k/10k split, with
   the per-class test accuracy.

The conditions (torch, CPU, cores, nice level, load average) are printed before and after.

The full training set is needed: Fashion-MNIST's comes with Debian's dataset-fashion-mnist package
(/usr/share/datasets/fashion-mnist, the default here); MNIST's from its download.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
from dataclasses import dataclass, replace
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: see sheetprop/mnist/train/runtime.py

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from sheetprop.mnist.train.batches import MAX_ROTATION_DEGREES, DeviceSplit  # noqa: E402
from sheetprop.mnist.train.data import load_mnist  # noqa: E402
from sheetprop.mnist.train.datasets import DATASETS, default_data_folder  # noqa: E402
from sheetprop.mnist.train.architecture import load_architecture  # noqa: E402
from sheetprop.mnist.train.model import MnistNet, count_parameters  # noqa: E402
from sheetprop.mnist.train.runtime import configure_cpu_threads  # noqa: E402
from sheetprop.mnist.train.loop import TrainSettings, fit, make_optimizer, make_scheduler, train_epoch  # noqa: E402

EPOCH_IMAGES = 60_000
ARCHITECTURE = load_architecture(None)  # --model replaces it: every pipeline trains the same network


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
    model = MnistNet(ARCHITECTURE).to(device)
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


def our_epoch_seconds(split: DeviceSplit, batch_size: int, device, channels_last=False, bfloat16=False,
                      compiled=False) -> float:
    torch.manual_seed(0)
    model = MnistNet(ARCHITECTURE).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model, 0.01)
    if compiled:  # the optimizer holds the parameters; the compiled wrapper shares them
        model = torch.compile(model, dynamic=False)
    scheduler = make_scheduler(optimizer, 0.01, math.ceil(len(split) / batch_size))
    started = time.perf_counter()
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bfloat16):
        train_epoch(model, optimizer, scheduler, split, batch_size)  # .item() at the end synchronises
    return time.perf_counter() - started


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass(frozen=True)
class CpuSetting:
    batch_size: int
    threads: int
    channels_last: bool = False
    bfloat16: bool = False
    compiled: bool = False

    def __str__(self):
        extras = [name for name, on in (("channels_last", self.channels_last), ("bfloat16 autocast", self.bfloat16),
                                        ("torch.compile", self.compiled)) if on]
        return ", ".join([f"batch {self.batch_size}", f"{self.threads} thread{'s' * (self.threads > 1)}", *extras])


def sweep_settings(default: CpuSetting, cores: int) -> list[CpuSetting]:
    """The default first, then one change at a time, then the promising changes together."""
    settings = [default]
    settings += [replace(default, batch_size=b) for b in (64, 256, 512) if b != default.batch_size]
    settings += [replace(default, threads=t) for t in sorted({1, cores}) if t != default.threads]
    settings += [replace(default, channels_last=True), replace(default, bfloat16=True),
                 replace(default, batch_size=256, channels_last=True), replace(default, batch_size=512, channels_last=True),
                 replace(default, compiled=True), replace(default, compiled=True, channels_last=True)]
    return list(dict.fromkeys(settings))


def time_setting(split: DeviceSplit, setting: CpuSetting) -> float:
    torch.set_num_threads(setting.threads)
    return our_epoch_seconds(split, setting.batch_size, torch.device("cpu"), setting.channels_last, setting.bfloat16,
                             setting.compiled)


def sweep(data, dataset, images: int, default: CpuSetting, rounds: int, compile_too: bool = True) -> list[tuple[str, str]]:
    """Images/s of our CPU epoch on the first ``images`` training images under each setting.

    Other work on a shared machine comes and goes, so one timing per setting would rank the settings
    by luck: every round times every setting (in a rotated order), each setting is compared with the
    default *in the same round*, and the median of those ratios is reported with its range.
    """
    split = DeviceSplit.from_numpy(data.train_images[:images], data.train_labels[:images], torch.device("cpu"),
                                   dataset.mean, dataset.std)
    warm_up = DeviceSplit.from_numpy(data.train_images[:1024], data.train_labels[:1024], torch.device("cpu"))
    settings = sweep_settings(default, os.cpu_count() or 1)
    if not compile_too:
        settings = [setting for setting in settings if not setting.compiled]
    for setting in settings:  # first calls build kernels (oneDNN for channels_last and bf16): not timed
        time_setting(warm_up, setting)
    seconds = {setting: [] for setting in settings}
    for round_ in range(rounds):
        shift = round_ % len(settings)
        for setting in settings[shift:] + settings[:shift]:
            seconds[setting].append(time_setting(split, setting))
    torch.set_num_threads(default.threads)
    rows = []
    for setting in settings:
        rates = [images / s for s in seconds[setting]]
        ratios = sorted(d / s for d, s in zip(seconds[default], seconds[setting]))
        rows.append((f"CPU sweep: {setting}",
                     f"{statistics.median(rates):,.0f} images/s; {statistics.median(ratios):.2f}x the default "
                     f"(rounds {ratios[0]:.2f}-{ratios[-1]:.2f})"))
    best = max(settings, key=lambda s: statistics.median(images / t for t in seconds[s]))
    rows.append(("CPU sweep: fastest setting (median)", str(best)))
    return rows


def per_class_accuracy(labels: np.ndarray, predictions: np.ndarray, class_names) -> str:
    """The classes from weakest to strongest, so the table says where the errors are."""
    scores = [(100 * float(np.mean(predictions[labels == k] == k)), name) for k, name in enumerate(class_names)]
    return ", ".join(f"{name} {score:.1f}" for score, name in sorted(scores))


def conditions() -> str:
    """What the numbers were measured under: a shared machine makes absolute times move."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown CPU") if Path("/proc/cpuinfo").exists() else "unknown CPU"
    return (f"torch {torch.__version__}, {cpu}, {os.cpu_count()} cores, nice {os.nice(0)}, "
            f"load average {os.getloadavg()[0]:.2f}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="fashion-mnist")
    parser.add_argument("--data", type=Path, default=None, help="the dataset's folder (default: the system copy)")
    parser.add_argument("--batch-size", type=int, default=TrainSettings.batch_size)
    parser.add_argument("--ref-workers", type=int, nargs="*", default=[0, 2],
                        help="DataLoader worker counts to time for the course pipeline (default: 0 and 2; workers "
                             "transform images in parallel with training, so both are fair comparisons)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="full epochs of each pipeline, alternating ours and the course's (0: skip; median shown)")
    parser.add_argument("--epochs", type=int, default=15, help="epochs of the accuracy run (0: skip it)")
    parser.add_argument("--sweep", action="store_true", help="also time batch sizes, threads, channels_last, bf16")
    parser.add_argument("--sweep-images", type=int, default=12_800)
    parser.add_argument("--rounds", type=int, default=3, help="timings of each sweep setting (median shown)")
    parser.add_argument("--model", default=None, help="the network, as for 'sheetprop mnist --model' (default: default)")
    parser.add_argument("--no-compile", action="store_true", help="leave torch.compile out")
    parser.add_argument("--epoch-images", type=int, default=EPOCH_IMAGES,
                        help="training images per timed epoch (default: all 60,000; fewer on a busy machine)")
    args = parser.parse_args()
    global ARCHITECTURE
    ARCHITECTURE = load_architecture(args.model)

    dataset = DATASETS[args.dataset]
    folder = args.data if args.data is not None else default_data_folder(dataset, Path("data"))
    data = load_mnist(folder, dataset)
    if len(data.train_labels) < EPOCH_IMAGES:
        raise SystemExit(f"{folder} has {len(data.train_labels):,} training images; a full epoch needs {EPOCH_IMAGES:,}")
    threads = configure_cpu_threads()
    cpu = torch.device("cpu")
    print(f"{dataset.title} from {folder}; model {ARCHITECTURE.name}; {threads} CPU threads, batch {args.batch_size}\n"
          f"before: {conditions()}\n", flush=True)

    rows = []
    if args.repeat > 0:
        n = args.epoch_images
        train = DeviceSplit.from_numpy(data.train_images[:n], data.train_labels[:n], cpu, dataset.mean, dataset.std)
        warm_up = DeviceSplit.from_numpy(data.train_images[:1024], data.train_labels[:1024], cpu)
        variants = {"ours": {}, "ours + channels_last": {"channels_last": True}}
        if not args.no_compile:
            variants["ours + torch.compile"] = {"compiled": True}
        for options in variants.values():  # warm-up: oneDNN kernels, and torch.compile's compilation
            our_epoch_seconds(warm_up, args.batch_size, cpu, **options)
        ours, references = {name: [] for name in variants}, {workers: [] for workers in args.ref_workers}
        for _ in range(args.repeat):  # alternating, so a burst of other work hits every pipeline alike
            for name, options in variants.items():
                ours[name].append(our_epoch_seconds(train, args.batch_size, cpu, **options))
            for workers in args.ref_workers:
                references[workers].append(reference_epoch_seconds(data.train_images[:n], data.train_labels[:n],
                                                                   dataset.mean, dataset.std, args.batch_size, workers,
                                                                   cpu))
        runs = f", median of {args.repeat}" if args.repeat > 1 else ""
        epoch = f"{n // 1000}k-image epoch"
        slowest_reference = {workers: statistics.median(seconds) for workers, seconds in references.items()}
        for name, seconds in ours.items():
            median = statistics.median(seconds)
            against = "; ".join(f"{slowest_reference[w] / median:.2f}x the course's with {w} workers"
                                for w in slowest_reference)
            rows.append((f"CPU seconds per {epoch}: {name} (on-device batches, batched augmentation{runs})",
                         f"{median:.1f} ({n / median:,.0f} images/s; {against})"))
        for workers, reference in slowest_reference.items():
            rows.append((f"CPU seconds per {epoch}: course pipeline (DataLoader, per-sample transforms, "
                         f"{workers} workers{runs})", f"{reference:.1f} ({n / reference:,.0f} images/s)"))

    if torch.cuda.is_available():
        gpu = torch.device("cuda")
        on_gpu = DeviceSplit.from_numpy(data.train_images, data.train_labels, gpu, dataset.mean, dataset.std)
        our_epoch_seconds(DeviceSplit.from_numpy(data.train_images[:4096], data.train_labels[:4096], gpu),
                          args.batch_size, gpu)  # warm-up
        rows.append((f"CUDA seconds per 60k-image epoch ({torch.cuda.get_device_name(gpu)})",
                     f"{our_epoch_seconds(on_gpu, args.batch_size, gpu):.2f}"))

    if args.sweep:
        rows += sweep(data, dataset, args.sweep_images, CpuSetting(args.batch_size, threads), args.rounds,
                      compile_too=not args.no_compile)

    if args.epochs > 0:
        device = torch.device("cuda") if torch.cuda.is_available() else cpu
        splits = [DeviceSplit.from_numpy(images, labels, device, dataset.mean, dataset.std)
                  for images, labels in ((data.train_images, data.train_labels), (data.test_images, data.test_labels))]
        started = time.perf_counter()
        result = fit(*splits, TrainSettings(epochs=args.epochs, batch_size=args.batch_size, dataset=dataset.name,
                                            model=ARCHITECTURE),
                     on_epoch=lambda row: print(f"  epoch {row['epoch']}: test accuracy {row['test_accuracy']:.2f}%, "
                                                f"{row['seconds']:.0f} s", flush=True))
        seconds = time.perf_counter() - started
        accuracies = [row["test_accuracy"] for row in result.metrics]
        rows += [
            (f"{dataset.title} 60k/10k, {args.epochs} epochs at the defaults ({device.type}): test accuracy",
             f"{accuracies[-1]:.2f}% final; best {max(accuracies):.2f}%; last three "
             f"{', '.join(f'{a:.2f}' for a in accuracies[-3:])}"),
            ("  per-class test accuracy (%), weakest first",
             per_class_accuracy(data.test_labels, result.predictions.cpu().numpy(), dataset.class_names)),
            ("  parameters; seconds in all", f"{count_parameters(result.model):,}; {seconds:.0f}"),
        ]

    print("| measurement | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    print(f"\nafter: {conditions()}")


if __name__ == "__main__":
    main()
