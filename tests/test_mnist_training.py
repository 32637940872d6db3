"""Model budget, receptive fields, batched augmentation, repeatable seeded training."""

import math

import pytest

from mnist_fixtures import write_mnist_folder  # first: it sets the OpenMP wait policy before torch loads

torch = pytest.importorskip("torch")

from sheetprop.mnist.train.batches import DeviceSplit, normalize, random_affine, to_unit_float  # noqa: E402
from sheetprop.mnist.train.data import load_mnist  # noqa: E402
from sheetprop.mnist.train.model import MnistNet, count_parameters, layer_table  # noqa: E402
from sheetprop.mnist.train.loop import TrainSettings, fit  # noqa: E402


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
