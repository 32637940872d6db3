"""The small CNN and its per-layer table (output shape, parameters, receptive field, jump)."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn
import torch.nn.functional as F

from sheetprop.mnist.train.architecture import CLASSES, DEFAULT_DROPOUT, Architecture, load_architecture, stages

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


class MnistNet(nn.Module):
    """The network of a layer list (``architecture.py``); by default today's 7,574-parameter CNN,
    whose module names (features.block1 ... features.pool, features.squeeze ..., gap, head) every
    layer list keeps, so checkpoints from before layer lists load unchanged."""

    def __init__(self, architecture: Architecture | None = None):
        super().__init__()
        self.architecture = architecture if architecture is not None else load_architecture(None)
        modules = OrderedDict()
        for stage in stages(self.architecture):
            c_in, c_out = stage.in_shape[0], stage.out_shape[0]
            if stage.kind == "conv":
                modules[stage.module] = conv_block(c_in, c_out, self.architecture.dropout, self.architecture.padding)
            elif stage.kind == "maxpool":
                modules[stage.module] = nn.MaxPool2d(2)
            elif stage.kind == "avgpool":
                modules[stage.module] = nn.AvgPool2d(2)
            elif stage.kind == "transition":
                # Pool first (cheaper), then a 1x1 conv to mix and cut channels; no BN, no ReLU.
                modules[stage.module] = nn.Conv2d(c_in, c_out, kernel_size=1, bias=False)
            else:
                channels = c_in
        self.features = nn.Sequential(modules)
        self.gap = nn.AdaptiveAvgPool2d(1)  # global average pooling: no large dense layer
        self.head = nn.Conv2d(channels, CLASSES, kernel_size=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(self.gap(self.features(x)))
        return F.log_softmax(x.flatten(1), dim=1)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _kernel_stride(module: nn.Module, input_size: int) -> tuple[int, int]:
    """Kernel and stride along one axis as the receptive-field arithmetic sees them (square layers only)."""
    if isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
        kernel, stride, dilation = (module.kernel_size, module.stride, getattr(module, "dilation", 1))
        kernel, stride, dilation = (v[0] if isinstance(v, tuple) else v for v in (kernel, stride, dilation))
        return dilation * (kernel - 1) + 1, stride
    if isinstance(module, nn.AdaptiveAvgPool2d):
        return input_size, input_size  # global pooling: one window over the whole input
    return 1, 1  # BatchNorm, ReLU, dropout: pointwise


def layer_table(model: nn.Module, image_size: int = 28) -> list[dict]:
    """One row per leaf layer in execution order: name, type, output shape, parameters, rf, jump.

    Forward hooks record each layer's input and output as a dummy image passes through; the network is
    a chain, so receptive field and jump follow execution order: rf += (k - 1) * jump, jump *= stride.
    """
    calls: list[tuple[str, nn.Module, tuple, tuple]] = []
    hooks = [
        module.register_forward_hook(
            lambda mod, inputs, output, name=name: calls.append((name, mod, tuple(inputs[0].shape), tuple(output.shape)))
        )
        for name, module in model.named_modules()
        if not list(module.children())
    ]
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        with torch.no_grad():
            model(torch.zeros(1, 1, image_size, image_size, device=device))
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()

    rows, rf, jump = [], 1, 1
    for name, module, in_shape, out_shape in calls:
        kernel, stride = _kernel_stride(module, in_shape[-1])
        rf, jump = rf + (kernel - 1) * jump, jump * stride
        rows.append(
            {
                "layer": name,
                "type": type(module).__name__,
                "output_shape": "x".join(str(n) for n in out_shape[1:]),
                "parameters": sum(p.numel() for p in module.parameters(recurse=False)),
                "receptive_field": rf,
                "jump": jump,
            }
        )
    return rows


def to_arrays(model: MnistNet, mean: float, std: float):
    """The trained network as float64 numpy arrays (``cnn_arrays.Cnn``), BatchNorm in eval form:
    y = x·scale + shift per channel, scale = γ/√(running var + ε), shift = β − running mean·scale."""
    from sheetprop.mnist.workbook.cnn_arrays import AvgPool, Cnn, ConvBlock, MaxPool, Mix

    def numpy(tensor: torch.Tensor):
        return tensor.detach().to("cpu", torch.float64).numpy()

    layers = []
    for name, module in model.features.named_children():
        if isinstance(module, nn.Sequential):  # a conv block: conv, bn, relu, dropout
            bn = module.bn
            scale = bn.weight.detach().double() / torch.sqrt(bn.running_var.double() + bn.eps)
            shift = bn.bias.detach().double() - bn.running_mean.double() * scale
            padding = module.conv.padding[0]
            layers.append(ConvBlock(name, numpy(module.conv.weight), numpy(scale), numpy(shift), padding))
        elif isinstance(module, nn.MaxPool2d):
            layers.append(MaxPool(name, int(module.kernel_size)))
        elif isinstance(module, nn.AvgPool2d):
            layers.append(AvgPool(name, int(module.kernel_size)))
        elif isinstance(module, nn.Conv2d) and module.kernel_size == (1, 1):
            layers.append(Mix(name, numpy(module.weight)[:, :, 0, 0]))
        else:
            raise TypeError(f"cannot put layer {name} ({type(module).__name__}) in a workbook")
    return Cnn(tuple(layers), numpy(model.head.weight)[:, :, 0, 0], float(mean), float(std))
