"""MNIST outputs a hand-in shows, without torch: integer epoch ticks, the model table's total
under its parameters, the confusion matrix shaded on errors only, the README fragment."""

from __future__ import annotations

import numpy as np
import openpyxl
from openpyxl.utils.cell import range_boundaries
import pytest

from sheetprop.mnist.options import OutputPaths
from sheetprop.mnist.train.architecture import load_architecture
from sheetprop.mnist.workbook.export import MODEL_COLUMNS, write_outputs
from sheetprop.mnist.workbook.run_record import DataUsed, run_record
from sheetprop.mnist.workbook.figures import curves_figure



def metrics(epochs):
    return [{"epoch": e, "train_loss": 0.5 / e, "train_accuracy": 80.84999918937683 + e, "test_loss": 0.4 / e,
             "test_accuracy": 85.0 + e, "lr": 0.05, "seconds": 3.0} for e in range(1, epochs + 1)]


@pytest.mark.parametrize("epochs", [1, 3])
def test_epoch_ticks_are_the_epochs(epochs):
    import matplotlib.pyplot as plt

    fig = curves_figure(metrics(epochs))
    for ax in fig.axes:
        assert list(ax.get_xticks()) == list(range(1, epochs + 1))
        assert all(len(line.get_xdata()) == epochs and line.get_marker() == "o" for line in ax.get_lines())
    plt.close(fig)


def _outputs(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, size=(40, 28, 28), dtype=np.uint8)
    labels = np.arange(40) % 10
    predictions = labels.copy()
    predictions[[3, 13, 25]] = [5, 5, 1]  # three errors: 3→5 twice, 5→1 once
    record = run_record("default", 7_574, DataUsed.describe("MNIST", 40, 40), metrics(2), seed=1)
    return write_outputs(OutputPaths.beside(tmp_path / "mnist.xlsx"), metrics(2), load_architecture(None), record,
                         images, labels, predictions, images, labels)


@pytest.mark.slow
def test_total_params_sits_in_the_parameters_column(tmp_path):
    paths = _outputs(tmp_path)
    sheet = openpyxl.load_workbook(paths.workbook)["model"]
    total = next(row for row in sheet.iter_rows() if row[0].value == "total params")
    assert total[MODEL_COLUMNS.index("parameters")].value == 7_574  # the default network's, as the course gives it
    assert total[MODEL_COLUMNS.index("type")].value is None


@pytest.mark.slow
def test_confusion_colours_errors_only(tmp_path):
    paths = _outputs(tmp_path)
    sheet = openpyxl.load_workbook(paths.workbook)["confusion"]
    scales = [(str(cf.sqref), rule) for cf in sheet.conditional_formatting for rule in cf.rules
              if rule.type == "colorScale"]
    assert len(scales) == 1
    ranges, rule = scales[0]
    cells = set()
    for part in ranges.split():
        left, top, right, bottom = range_boundaries(part)
        cells |= {(r, c) for r in range(top, bottom + 1) for c in range(left, right + 1)}
    diagonal = {(2 + k, 2 + k) for k in range(10)}
    assert len(cells) == 90 and not cells & diagonal  # every error cell, no right answer
    low = rule.colorScale.cfvo[0]
    assert (low.type, float(low.val)) == ("num", 0.0)  # zero errors: the scale's white end
    assert rule.colorScale.color[0].rgb.endswith("FFFFFF")


@pytest.mark.slow
def test_readme_fragment_shows_the_run(tmp_path):
    paths = _outputs(tmp_path)
    text = paths.readme.read_text(encoding="utf-8")
    assert "](mnist_curves.png)" in text and "](mnist_misclassified.png)" in text
    assert "| 1 | 0.5000 | 81.85 | 0.4000 | 86.00 |" in text
    assert "| 2 | 0.2500 | 82.85 | 0.2000 | 87.00 |" in text
    # The default's first block by hand: 1 -> 10 channels of 3x3 on 28x28, valid: 10x26x26, 90 weights, RF 3.
    assert "| features.block1.conv | Conv2d | 10x26x26 | 90 | 3 |" in text
    assert "**7,574**" in text
    csv = paths.metrics_csv.read_text().splitlines()
    assert csv[1].split(",")[2] == "81.85"


def _epochs(*accuracies):
    return [{"epoch": e, "train_loss": 0.1, "train_accuracy": 99.0, "test_loss": 0.02, "test_accuracy": a,
             "lr": 0.01, "seconds": 1.0} for e, a in enumerate(accuracies, start=1)]


@pytest.mark.parametrize("data, parameters, accuracies, verdict", [
    # 9,940 of 10,000 right is 99.40 %: the course's bar, met at epoch 2.
    (DataUsed.describe("MNIST", 60_000, 10_000, published_test_set=True), 7_574, (99.1, 99.40, 99.3), "met"),
    (DataUsed.describe("MNIST", 60_000, 10_000, published_test_set=True), 7_574, (99.1, 99.39), "not met"),
    (DataUsed.describe("MNIST", 60_000, 10_000, published_test_set=True), 20_000, (99.5,), "not met"),
    (DataUsed.describe("MNIST", 60_000, 10_000, published_test_set=True), 7_574, (99.0,) * 20 + (99.5,), "not met"),
    (DataUsed.describe("MNIST", 8_000, 2_000, split_test=8000), 7_574, (99.9,), "not applicable (tested on 2,000"),
    (DataUsed.describe("Fashion-MNIST", 60_000, 10_000), 7_574, (99.9,), "not applicable (Fashion-MNIST"),
])
def test_the_course_target(data, parameters, accuracies, verdict):
    from sheetprop.mnist.workbook.run_record import course_target

    assert course_target(data, parameters, _epochs(*accuracies)).startswith(verdict)


def test_a_split_names_its_digits():
    data = DataUsed.describe("MNIST", 8_000, 2_000, split_test=8000)
    assert data.train == "MNIST test digits 1–8,000 (--split-test 8000)"
    assert data.test == "MNIST test digits 8,001–10,000"
    assert DataUsed.describe("MNIST", 60_000, 10_000, published_test_set=True).train == \
        "MNIST training set, 60,000 images"
