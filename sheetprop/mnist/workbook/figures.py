"""PNG figures: training curves, sample training images and misclassified test images (matplotlib, Agg)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; never open a window (and work without a display)
    import matplotlib.pyplot as plt

    return plt


def _integer_locator():
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


MAX_LABELLED_EPOCHS = 20


def plot_curves(metrics: list[dict], path: Path) -> None:
    plt = _pyplot()
    fig = curves_figure(metrics)
    fig.savefig(path, format="png")
    plt.close(fig)


def curves_figure(metrics: list[dict]):
    """Loss and accuracy per epoch, train and test, a marker per epoch."""
    plt = _pyplot()
    epochs = [row["epoch"] for row in metrics]
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 4), dpi=100)
    for ax, key, label in ((loss_ax, "loss", "loss"), (acc_ax, "accuracy", "accuracy (%)")):
        for split in ("train", "test"):
            ax.plot(epochs, [row[f"{split}_{key}"] for row in metrics], marker="o", markersize=3, label=split)
        ax.set_xlabel("epoch")
        if len(epochs) <= MAX_LABELLED_EPOCHS:
            ax.set_xticks(epochs)  # each epoch, never 0.945 … 1.050 around a single one
            ax.set_xlim(epochs[0] - 0.5, epochs[-1] + 0.5)
        else:
            ax.xaxis.set_major_locator(_integer_locator())  # no "epoch 1.5"
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    loss_ax.set_title("Loss")
    acc_ax.set_title("Accuracy")
    fig.tight_layout()
    return fig


def plot_misclassified(images: np.ndarray, true: np.ndarray, predicted: np.ndarray, path: Path,
                       columns: int = 8, class_names=None) -> None:
    """``images`` (N, 28, 28) uint8 of the wrongly classified test images, titled 'pred P / true T'."""
    name = (lambda k: str(k)) if class_names is None else (lambda k: class_names[int(k)])
    plt = _pyplot()
    rows = max(1, math.ceil(len(images) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.3, rows * 1.5), dpi=100, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, t, p in zip(axes.flat, images, true, predicted):
        ax.imshow(image, cmap="gray_r", vmin=0, vmax=255)
        ax.set_title(f"pred {name(p)}\ntrue {name(t)}", fontsize=7, color="crimson")
    if len(images) == 0:
        axes.flat[0].text(0, 0.5, "no misclassified test images", fontsize=10)
    fig.suptitle("Misclassified test images", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)


SAMPLES_SHOWN = 32


def plot_samples(images: np.ndarray, labels: np.ndarray, path: Path, columns: int = 8, class_names=None) -> None:
    """A grid of training images as the network reads them (before augmentation), each titled with its label."""
    name = (lambda k: str(k)) if class_names is None else (lambda k: class_names[int(k)])
    plt = _pyplot()
    images, labels = images[:SAMPLES_SHOWN], labels[:SAMPLES_SHOWN]
    rows = max(1, math.ceil(len(images) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.3, rows * 1.4), dpi=100, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, label in zip(axes.flat, images, labels):
        ax.imshow(image, cmap="gray_r", vmin=0, vmax=255)
        ax.set_title(name(label), fontsize=8)
    fig.suptitle("Training images and their labels", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
