"""The small CNN and its per-layer table (output shape, parameters, receptive field, jump)."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn
import torch.nn.functional as F

DROPOUT = 0.05  # light: with ~7.6k parameters the model underfits long before it overfits


def conv_block(in_channels: int, out_channels: int, dropout: float) -> nn.Sequential:
    """3x3 valid conv, BatchNorm, ReLU, dropout: the repeating unit of the ERA-style network."""
    return nn.Sequential(
        OrderedDict(
            conv=nn.Conv2d(in_channels, out_channels, kernel_size=3, bias=False),  # BN supplies the bias
            bn=nn.BatchNorm2d(out_channels),
            relu=nn.ReLU(),
            drop=nn.Dropout(dropout),
        )
    )


class MnistNet(nn.Module):
    """7,574 parameters; output size / receptive field after each stage in the comments."""

    def __init__(self, dropout: float = DROPOUT):
        super().__init__()
        self.features = nn.Sequential(
            OrderedDict(
                block1=conv_block(1, 10, dropout),  # 26x26, RF 3
                block2=conv_block(10, 16, dropout),  # 24x24, RF 5
                # Transition: pool first (cheaper), then a 1x1 conv to mix and cut channels 16 -> 10.
                pool=nn.MaxPool2d(2),  # 12x12, RF 6
                squeeze=nn.Conv2d(16, 10, kernel_size=1, bias=False),
                block3=conv_block(10, 14, dropout),  # 10x10, RF 10
                block4=conv_block(14, 16, dropout),  # 8x8, RF 14
                block5=conv_block(16, 16, dropout),  # 6x6, RF 18
            )
        )
        self.gap = nn.AdaptiveAvgPool2d(1)  # global average pooling: no large dense layer
        self.head = nn.Conv2d(16, 10, kernel_size=1, bias=False)

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
    from sheetprop.mnist.cnn_arrays import Cnn, ConvBlock, MaxPool, Mix

    def numpy(tensor: torch.Tensor):
        return tensor.detach().to("cpu", torch.float64).numpy()

    layers = []
    for name, module in model.features.named_children():
        if isinstance(module, nn.Sequential):  # a conv block: conv, bn, relu, dropout
            bn = module.bn
            scale = bn.weight.detach().double() / torch.sqrt(bn.running_var.double() + bn.eps)
            shift = bn.bias.detach().double() - bn.running_mean.double() * scale
            layers.append(ConvBlock(name, numpy(module.conv.weight), numpy(scale), numpy(shift)))
        elif isinstance(module, nn.MaxPool2d):
            layers.append(MaxPool(name, int(module.kernel_size)))
        elif isinstance(module, nn.Conv2d) and module.kernel_size == (1, 1):
            layers.append(Mix(name, numpy(module.weight)[:, :, 0, 0]))
        else:
            raise TypeError(f"cannot put layer {name} ({type(module).__name__}) in a workbook")
    return Cnn(tuple(layers), numpy(model.head.weight)[:, :, 0, 0], float(mean), float(std))
