"""The trained CNN as plain float64 arrays beside its layer list, and its forward pass in numpy.

The model workbook is written from these arrays (no torch there), and every formula cell carries
the value this forward pass gives; the tests compare both with PyTorch itself. The layers are the
architecture's own ``Layer`` records; ``weights`` holds, by each layer's module name, a 3x3
block's kernels (out, in, 3, 3) and BatchNorm's eval-form scale and shift (out,), and a 1x1
convolution's weights (out, in) — the transitions' and the head's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from sheetprop.mnist.train.architecture import AVGPOOL, CONV, HEAD, MAXPOOL, TRANSITION, Architecture, Layer

POOL_SIZE = 2


@dataclass(frozen=True)
class Cnn:
    architecture: Architecture
    weights: dict            # layer.module -> {"kernels", "scale", "shift"} or {"weights"}
    mean: float              # input normalisation: (pixel / 255 − mean) / std
    std: float

    @property
    def layers(self) -> tuple:
        """The layers with a sheet of their own: everything before global pooling and the head."""
        return self.architecture.features

    @property
    def head(self) -> np.ndarray:
        return self.weights["head"]["weights"]  # (classes, channels)

    @classmethod
    def zeros(cls, architecture: Architecture, mean: float = 0.0, std: float = 1.0) -> "Cnn":
        """The network's shapes with zero weights (BatchNorm scale 1): for tests and estimates."""
        weights = {}
        for layer in architecture.layers:
            c_in, c_out = layer.in_shape[0], layer.out_shape[0]
            if layer.kind == CONV:
                weights[layer.module] = {"kernels": np.zeros((c_out, c_in, 3, 3)), "scale": np.ones(c_out),
                                         "shift": np.zeros(c_out)}
            elif layer.kind in (TRANSITION, HEAD):
                weights[layer.module] = {"weights": np.zeros((c_out, c_in))}
        return cls(architecture, weights, mean, std)


@dataclass(frozen=True)
class Activations:
    normalised: np.ndarray   # (1, 28, 28)
    maps: list               # each layer's output, (channels, height, width)
    pooled: np.ndarray       # (channels,) global average
    logits: np.ndarray       # (classes,)
    probabilities: np.ndarray


def layer_forward(cnn: Cnn, layer: Layer, x: np.ndarray) -> np.ndarray:
    weights = cnn.weights.get(layer.module, {})
    if layer.kind == CONV:
        p = layer.padding
        x = np.pad(x, ((0, 0), (p, p), (p, p))) if p else x
        windows = sliding_window_view(x, (3, 3), axis=(1, 2))  # (in, h, w, 3, 3)
        summed = np.einsum("chwab,ocab->ohw", windows, weights["kernels"])
        return np.maximum(0.0, summed * weights["scale"][:, None, None] + weights["shift"][:, None, None])
    if layer.kind in (MAXPOOL, AVGPOOL):
        c, h, w = x.shape
        k = POOL_SIZE
        blocks = x[:, : h - h % k, : w - w % k].reshape(c, h // k, k, w // k, k)
        return blocks.max(axis=(2, 4)) if layer.kind == MAXPOOL else blocks.mean(axis=(2, 4))
    if layer.kind == TRANSITION:
        return np.einsum("oc,chw->ohw", weights["weights"], x)
    raise ValueError(f"no forward rule for a {layer.kind} layer inside the features")


def forward(cnn: Cnn, pixels: np.ndarray) -> Activations:
    """``pixels``: one (28, 28) image of 0-255 values."""
    x = ((np.asarray(pixels, dtype=np.float64) / 255.0 - cnn.mean) / cnn.std)[None]
    normalised, maps = x, []
    for layer in cnn.layers:
        x = layer_forward(cnn, layer, x)
        maps.append(x)
    pooled = x.mean(axis=(1, 2))
    logits = cnn.head @ pooled
    exps = np.exp(logits - logits.max())
    return Activations(normalised, maps, pooled, logits, exps / exps.sum())
