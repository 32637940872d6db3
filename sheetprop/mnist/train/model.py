"""The torch network of a layer list, and its trained weights as numpy arrays for the model workbook."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn
import torch.nn.functional as F

from sheetprop.mnist.train.architecture import (AVGPOOL, CONV, DEFAULT_DROPOUT, HEAD, MAXPOOL, TRANSITION, Architecture,
                                                Layer, load_architecture)

DROPOUT = DEFAULT_DROPOUT


def conv_block(in_channels: int, out_channels: int, dropout: float, padding: int = 0) -> nn.Sequential:
    """3x3 conv, BatchNorm, ReLU, dropout: the repeating unit of the ERA-style network."""
    return nn.Sequential(
        OrderedDict(
            conv=nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=padding, bias=False),  # BN supplies the bias
            bn=nn.BatchNorm2d(out_channels),
            relu=nn.ReLU(),
            drop=nn.Dropout(dropout),
        )
    )


# The torch module of each kind of layer inside ``features``. A transition pools first (cheaper),
# then a 1x1 conv mixes and cuts the channels; no BN, no ReLU.
_MODULES = {
    CONV: lambda layer, dropout: conv_block(layer.in_shape[0], layer.out_shape[0], dropout, layer.padding),
    MAXPOOL: lambda layer, dropout: nn.MaxPool2d(2),
    AVGPOOL: lambda layer, dropout: nn.AvgPool2d(2),
    TRANSITION: lambda layer, dropout: nn.Conv2d(layer.in_shape[0], layer.out_shape[0], kernel_size=1, bias=False),
}


class MnistNet(nn.Module):
    """The network of a layer list (``architecture.py``); by default the 7,574-parameter CNN,
    whose module names (features.block1 ... features.pool, features.squeeze ..., gap, head) every
    layer list keeps, so checkpoints from before layer lists load unchanged."""

    def __init__(self, architecture: Architecture | None = None):
        super().__init__()
        self.architecture = architecture if architecture is not None else load_architecture(None)
        self.features = nn.Sequential(OrderedDict(
            (layer.module, _MODULES[layer.kind](layer, self.architecture.dropout))
            for layer in self.architecture.features))
        head = self.architecture.layers[-1]
        self.gap = nn.AdaptiveAvgPool2d(1)  # global average pooling: no large dense layer
        self.head = nn.Conv2d(head.in_shape[0], head.out_shape[0], kernel_size=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(self.gap(self.features(x)))
        return F.log_softmax(x.flatten(1), dim=1)

    def module_of(self, layer: Layer) -> nn.Module:
        return self.get_submodule(layer.path)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def to_arrays(model: MnistNet, mean: float, std: float):
    """The trained network as float64 numpy arrays (``cnn_arrays.Cnn``), read layer by layer from
    its layer list; BatchNorm in eval form: y = x·scale + shift per channel,
    scale = γ/√(running var + ε), shift = β − running mean·scale."""
    from sheetprop.mnist.workbook.cnn_arrays import Cnn

    def numpy(tensor: torch.Tensor):
        return tensor.detach().to("cpu", torch.float64).numpy()

    weights = {}
    for layer in model.architecture.layers:
        module = model.module_of(layer)
        if layer.kind == CONV:
            bn = module.bn
            scale = bn.weight.detach().double() / torch.sqrt(bn.running_var.double() + bn.eps)
            shift = bn.bias.detach().double() - bn.running_mean.double() * scale
            weights[layer.module] = {"kernels": numpy(module.conv.weight), "scale": numpy(scale),
                                     "shift": numpy(shift)}
        elif layer.kind in (TRANSITION, HEAD):
            weights[layer.module] = {"weights": numpy(module.weight)[:, :, 0, 0]}
    return Cnn(model.architecture, weights, float(mean), float(std))
