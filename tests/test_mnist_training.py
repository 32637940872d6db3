"""Model budget, receptive fields, batched augmentation, repeatable seeded training."""

import math

import pytest

from mnist_fixtures import write_mnist_folder  # first: it sets the OpenMP wait policy before torch loads

torch = pytest.importorskip("torch")

from sheetprop.mnist.train.batches import DeviceSplit, normalize, random_affine, to_unit_float  # noqa: E402
from sheetprop.mnist.train.data import load_mnist  # noqa: E402
from torch import nn  # noqa: E402

from sheetprop.mnist.train.architecture import built_in_names, layer_rows, load_architecture, parse_architecture  # noqa: E402
from sheetprop.mnist.train.model import MnistNet, count_parameters  # noqa: E402
from sheetprop.mnist.train.loop import TrainSettings, fit  # noqa: E402


# The layer table measured on the torch network itself (forward hooks), independent of the layer
# list's own arithmetic that the summary and the model sheet print.
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


def test_parameter_budget():
    model = MnistNet()
    total = sum(p.numel() for p in model.parameters())
    assert count_parameters(model) == total
    assert total < 20_000, "the issue's hard limit"
    assert total <= 8_000, "our own aim"


def test_layer_table_matches_the_network():
    rows = layer_table(MnistNet())
    assert sum(row["parameters"] for row in rows) == count_parameters(MnistNet())
    by_name = {row["layer"]: row for row in rows}
    # By hand: five 3x3 valid convs and one 2x2 pool: 3, 5, (pool) 6 jump 2, 10, 14, 18; GAP over 6x6 -> 28.
    assert [by_name[f"features.block{i}.conv"]["receptive_field"] for i in range(1, 6)] == [3, 5, 10, 14, 18]
    assert by_name["features.pool"]["jump"] == 2
    assert by_name["features.block5.conv"]["output_shape"] == "16x6x6"
    assert rows[-1]["output_shape"] == "10x1x1"
    assert by_name["gap"]["receptive_field"] >= 28, "the prediction sees the whole digit"


@pytest.mark.parametrize("spec", [*built_in_names(), {"layers": [4, "M", "T3", 5, "A", 6, "GAP"], "padding": 1}])
def test_the_layer_lists_table_is_what_the_torch_network_measures(spec):
    architecture = load_architecture(spec) if isinstance(spec, str) else parse_architecture(spec, "small")
    assert layer_rows(architecture) == layer_table(MnistNet(architecture))


def test_batched_augmentation_keeps_digits_and_varies_per_image():
    torch.manual_seed(0)
    images = torch.zeros(64, 1, 28, 28)
    images[:, :, 10:18, 12:16] = 1.0  # the same bar in every image
    moved = random_affine(images)
    assert moved.shape == images.shape
    mass = moved.sum(dim=(1, 2, 3))
    assert torch.allclose(mass, images.sum(dim=(1, 2, 3)), rtol=0.15), "small moves keep the digit inside"
    assert (moved[0] - moved[1]).abs().max() > 0.1, "each image gets its own rotation and shift"
    # About +-7 degrees and ~1.4 px: nothing moves far from the original bar.
    assert moved[:, :, :6, :].abs().max() == 0 and moved[:, :, 22:, :].abs().max() == 0


def test_normalisation_uses_mnist_statistics():
    pixels = torch.tensor([[0, 255]], dtype=torch.uint8)
    assert normalize(to_unit_float(pixels)).tolist()[0] == pytest.approx([-0.1307 / 0.3081, (1 - 0.1307) / 0.3081])


@pytest.fixture(scope="module")
def tiny_splits(tmp_path_factory):
    data = load_mnist(write_mnist_folder(tmp_path_factory.mktemp("tiny"), range(0, 600), range(600, 800)))
    cpu = torch.device("cpu")
    return (DeviceSplit.from_numpy(data.train_images, data.train_labels, cpu),
            DeviceSplit.from_numpy(data.test_images, data.test_labels, cpu))


def without_seconds(metrics):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in metrics]


def test_seeded_cpu_runs_repeat(tiny_splits):
    train, test = tiny_splits
    settings = TrainSettings(epochs=1, batch_size=64, seed=7)
    first, second = fit(train, test, settings), fit(train, test, settings)
    other = fit(train, test, TrainSettings(epochs=1, batch_size=64, seed=8))
    assert without_seconds(first.metrics) == without_seconds(second.metrics)
    assert torch.equal(first.predictions, second.predictions)
    assert without_seconds(other.metrics) != without_seconds(first.metrics)
    assert all(math.isfinite(v) for v in first.metrics[0].values())
