"""Training and evaluation: explicit parameters in, metrics out (nothing printed here)."""

from __future__ import annotations

import copy
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm  # a widget in a notebook, a text bar in a terminal

from sheetprop.errors import UserError
from sheetprop.mnist.train.batches import DeviceSplit, evaluation_batches, steps_per_epoch, training_batches
from sheetprop.mnist.train.checkpoint import check_compatible, data_fingerprint, load_checkpoint, save_checkpoint
from sheetprop.mnist.train.architecture import Architecture, load_architecture
from sheetprop.mnist.train.model import MnistNet
from sheetprop.mnist.train.runtime import rng_state, seed_everything, set_rng_state

MOMENTUM = 0.9
EVAL_BATCH_SIZE = 1000


@dataclass(frozen=True)
class TrainSettings:
    epochs: int = 15
    batch_size: int = 128
    lr: float = 0.05  # OneCycle's peak learning rate
    seed: int = 1
    augment: bool = True
    dataset: str = "mnist"  # recorded in the checkpoint: resuming on other data would mix two runs
    model: Architecture = field(default_factory=lambda: load_architecture(None))  # the layer list


@dataclass
class FitResult:
    model: nn.Module  # weights as of the last completed epoch
    metrics: list[dict]  # one row per completed epoch, METRIC_COLUMNS keys
    predictions: torch.Tensor | None  # test-set predictions of `model`; None if no epoch completed
    interrupted: bool = False
    resumed_from_epoch: int = 0


def make_optimizer(model: nn.Module, lr: float) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=MOMENTUM)


def make_scheduler(optimizer, peak_lr: float, total_steps: int, steps_done: int = 0):
    """OneCycle: a short warm-up lets a tiny BatchNorm network take a high peak learning rate (fast
    progress in few epochs), and the long anneal to ~0 makes the last epochs fine-tune instead of
    bouncing, which is what keeps test accuracy steady over the final epochs.

    ``steps_done`` > 0 positions a new schedule after a resume; it relies on the optimizer state
    (loaded first) carrying the initial/max/min learning rates the first schedule stored in it.
    """
    return torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=peak_lr, total_steps=total_steps, last_epoch=steps_done - 1
    )


def train_epoch(model, optimizer, scheduler, split: DeviceSplit, batch_size: int, augment: bool = True,
                progress: bool = False, description: str = "train") -> dict:
    """One pass over ``split``; returns mean loss, accuracy (%) and the learning rate of the last step."""
    model.train()
    loss_sum = torch.zeros((), device=split.labels.device)
    correct = torch.zeros((), dtype=torch.long, device=split.labels.device)
    seen, lr = 0, optimizer.param_groups[0]["lr"]
    bar = tqdm(total=len(split), desc=description, unit="img", leave=False, file=sys.stderr, disable=not progress)
    with bar:
        for step, (images, labels) in enumerate(training_batches(split, batch_size, augment)):
            optimizer.zero_grad(set_to_none=True)
            output = model(images)
            loss = F.nll_loss(output, labels)
            loss.backward()
            lr = optimizer.param_groups[0]["lr"]
            optimizer.step()
            scheduler.step()
            loss_sum += loss.detach() * len(labels)
            correct += (output.argmax(1) == labels).sum()
            seen += len(labels)
            bar.update(len(labels))
            if progress and step % 20 == 0:  # .item() syncs with the device, so not every step
                bar.set_postfix(loss=f"{loss_sum.item() / seen:.4f}", acc=f"{100 * correct.item() / seen:.2f}%")
    return {"loss": loss_sum.item() / seen, "accuracy": 100 * correct.item() / seen, "lr": lr}


@torch.no_grad()
def evaluate(model, split: DeviceSplit, batch_size: int = EVAL_BATCH_SIZE) -> dict:
    """Mean loss, accuracy (%) and the predicted class of every image, in order."""
    model.eval()
    loss_sum, predictions = 0.0, []
    for images, labels in evaluation_batches(split, batch_size):
        output = model(images)
        loss_sum += F.nll_loss(output, labels, reduction="sum").item()
        predictions.append(output.argmax(1))
    predictions = torch.cat(predictions)
    accuracy = 100 * (predictions == split.labels).float().mean().item()
    return {"loss": loss_sum / len(split), "accuracy": accuracy, "predictions": predictions}


def fit(train: DeviceSplit, test: DeviceSplit, settings: TrainSettings, checkpoint: Path | None = None,
        resume: bool = False, progress: bool = False, on_epoch: Callable[[dict], None] | None = None) -> FitResult:
    """Train for ``settings.epochs`` epochs, checkpointing after each; Ctrl-C ends it after the last whole epoch.

    With ``resume`` the run continues from ``checkpoint`` (model, optimizer, schedule, metrics, RNG).
    """
    device = train.labels.device
    seed_everything(settings.seed)
    # channels_last: oneDNN's convolutions run faster on this layout (benchmarks/mnist_bench.py:
    # 1.2-1.5x on the CPU epoch, measured in the same run); the arithmetic is the same.
    model = MnistNet(settings.model).to(device).to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model, settings.lr)
    steps = steps_per_epoch(len(train), settings.batch_size)
    # "model" makes 'mnist-sheet' rebuild this network and '--resume' refuse another one.
    compat = {"batch_size": settings.batch_size, "lr": settings.lr, "train_size": len(train), "augment": settings.augment,
              "dataset": settings.dataset, "data": data_fingerprint(train.images, train.labels),
              "model": settings.model.record()}
    metrics: list[dict] = []
    state = None
    if resume:
        if checkpoint is None:
            raise UserError("--resume needs a checkpoint path")
        state = load_checkpoint(checkpoint, device)
        check_compatible(state, checkpoint, **compat)
        if state["epoch"] > settings.epochs:
            raise UserError(f"--resume: {checkpoint} already has {state['epoch']} epochs; pass --epochs {state['epoch']} or more")
        try:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, KeyError, ValueError, TypeError) as exc:
            raise UserError(f"--resume: {checkpoint} does not fit this model: {str(exc).splitlines()[0]}") from None
        metrics = list(state["metrics"])
    start_epoch = len(metrics)
    scheduler = make_scheduler(optimizer, settings.lr, settings.epochs * steps, steps_done=start_epoch * steps)
    if state is not None:
        try:
            set_rng_state(state["rng"], device)  # last, after everything that might draw random numbers
        except (RuntimeError, ValueError, TypeError) as exc:
            raise UserError(f"--resume: {checkpoint} is damaged: its random-number state does not fit "
                            f"({str(exc).splitlines()[0]})") from None

    completed_weights = copy.deepcopy(model.state_dict())  # the weights that match `metrics`
    predictions, interrupted = None, False
    try:
        for epoch in range(start_epoch + 1, settings.epochs + 1):
            started = time.perf_counter()
            trained = train_epoch(model, optimizer, scheduler, train, settings.batch_size, settings.augment,
                                  progress=progress, description=f"epoch {epoch}/{settings.epochs}")
            if not math.isfinite(trained["loss"]):  # diverged: every later epoch is NaN too
                raise UserError(f"training diverged in epoch {epoch}: the training loss is {trained['loss']} "
                                f"(learning rate {settings.lr:g} is too large; try a smaller --lr)")
            tested = evaluate(model, test)
            row = {
                "epoch": epoch,
                "train_loss": trained["loss"],
                "train_accuracy": trained["accuracy"],
                "test_loss": tested["loss"],
                "test_accuracy": tested["accuracy"],
                "lr": trained["lr"],
                "seconds": time.perf_counter() - started,
            }
            metrics.append(row)
            completed_weights, predictions = copy.deepcopy(model.state_dict()), tested["predictions"]
            if checkpoint is not None:
                save_checkpoint(checkpoint, {
                    "epoch": epoch,
                    "settings": compat,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "metrics": metrics,
                    "rng": rng_state(device),
                })
            if on_epoch is not None:
                on_epoch(row)
    except KeyboardInterrupt:
        interrupted = True
        model.load_state_dict(completed_weights)
    if metrics and predictions is None:  # resumed, but no new epoch finished: predictions of the saved model
        predictions = evaluate(model, test)["predictions"]
    return FitResult(model, metrics, predictions, interrupted, resumed_from_epoch=start_epoch)
