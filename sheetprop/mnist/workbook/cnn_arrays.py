"""The trained CNN as plain float64 arrays, and its forward pass in numpy.

The model workbook is written from these arrays (no torch there), and every formula cell carries
the value this forward pass gives; the tests compare both with PyTorch itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


@dataclass(frozen=True)
class ConvBlock:
    """3x3 convolution (valid, or with a zero border of ``padding``), then BatchNorm as scale and
    shift per channel (eval mode), then ReLU."""
    name: str
    kernels: np.ndarray  # (out, in, 3, 3)
    scale: np.ndarray    # (out,) γ / √(running var + ε)
    shift: np.ndarray    # (out,) β − running mean · scale
    padding: int = 0


@dataclass(frozen=True)
class MaxPool:
    name: str
    size: int = 2


@dataclass(frozen=True)
class AvgPool:
    name: str
    size: int = 2


@dataclass(frozen=True)
class Mix:
    """1x1 convolution without bias: each output channel a weighted sum of the input channels."""
    name: str
    weights: np.ndarray  # (out, in)


@dataclass(frozen=True)
class Cnn:
    layers: tuple            # ConvBlock | MaxPool | AvgPool | Mix, in order
    head: np.ndarray         # (classes, channels): 1x1 conv after global average pooling
    mean: float              # input normalisation: (pixel / 255 − mean) / std
    std: float


@dataclass(frozen=True)
class Activations:
    normalised: np.ndarray   # (1, 28, 28)
    maps: list               # each layer's output, (channels, height, width)
    pooled: np.ndarray       # (channels,) global average
    logits: np.ndarray       # (classes,)
    probabilities: np.ndarray


def layer_forward(layer, x: np.ndarray) -> np.ndarray:
    if isinstance(layer, ConvBlock):
        p = layer.padding
        x = np.pad(x, ((0, 0), (p, p), (p, p))) if p else x
        windows = sliding_window_view(x, (3, 3), axis=(1, 2))  # (in, h, w, 3, 3)
        summed = np.einsum("chwab,ocab->ohw", windows, layer.kernels)
        return np.maximum(0.0, summed * layer.scale[:, None, None] + layer.shift[:, None, None])
    if isinstance(layer, (MaxPool, AvgPool)):
        c, h, w = x.shape
        k = layer.size
        blocks = x[:, : h - h % k, : w - w % k].reshape(c, h // k, k, w // k, k)
        return blocks.max(axis=(2, 4)) if isinstance(layer, MaxPool) else blocks.mean(axis=(2, 4))
    if isinstance(layer, Mix):
        return np.einsum("oc,chw->ohw", layer.weights, x)
    raise TypeError(f"no forward rule for {type(layer).__name__}")


def forward(cnn: Cnn, pixels: np.ndarray) -> Activations:
    """``pixels``: one (28, 28) image of 0-255 values."""
    x = ((np.asarray(pixels, dtype=np.float64) / 255.0 - cnn.mean) / cnn.std)[None]
    normalised, maps = x, []
    for layer in cnn.layers:
        x = layer_forward(layer, x)
        maps.append(x)
    pooled = x.mean(axis=(1, 2))
    logits = cnn.head @ pooled
    exps = np.exp(logits - logits.max())
    return Activations(normalised, maps, pooled, logits, exps / exps.sum())
