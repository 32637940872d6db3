"""Write the run's outputs: metrics CSV, PNG figures, and the workbook (epochs, model, confusion)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xlsxwriter
from xlsxwriter.utility import xl_range

from sheetprop.atomic import atomic_output
from sheetprop.metrics_sheet import add_metrics_sheet, write_metrics_csv
from sheetprop.mnist.train.data import NUM_CLASSES
from sheetprop.mnist.train.datasets import MNIST
from sheetprop.mnist.workbook.figures import plot_curves, plot_misclassified

MODEL_COLUMNS = ("layer", "type", "output_shape", "parameters", "receptive_field", "jump")
MISCLASSIFIED_SHOWN = 32
IMAGE_SCALE = {"x_scale": 0.7, "y_scale": 0.7}


@dataclass(frozen=True)
class OutputPaths:
    workbook: Path
    metrics_csv: Path
    curves_png: Path
    misclassified_png: Path
    readme: Path  # a README fragment: the pictures, the model table, the accuracy per epoch

    @classmethod
    def beside(cls, workbook: Path) -> "OutputPaths":
        """``output/mnist.xlsx`` -> ``output/mnist_metrics.csv``, ``output/mnist_curves.png``, ..."""
        return cls(
            workbook,
            workbook.with_name(f"{workbook.stem}_metrics.csv"),
            workbook.with_name(f"{workbook.stem}_curves.png"),
            workbook.with_name(f"{workbook.stem}_misclassified.png"),
            workbook.with_name(f"{workbook.stem}_README.md"),
        )


def confusion_matrix(true: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """counts[t, p] = how many digits of class t were predicted as p."""
    return np.bincount(true * NUM_CLASSES + predicted, minlength=NUM_CLASSES**2).reshape(NUM_CLASSES, NUM_CLASSES)


def _add_model_sheet(workbook, layers: list[dict], architecture, header_format) -> None:
    """The --summary table and its total, and beside it the facts 'mnist-compare' reads back
    (model, description, layers, padding, dropout, receptive field: labels in column H)."""
    from sheetprop.mnist.train.architecture import parameter_count, receptive_field

    sheet = workbook.add_worksheet("model")
    for col, column in enumerate(MODEL_COLUMNS):
        sheet.write_string(0, col, column, header_format)
    for row, layer in enumerate(layers, start=1):
        sheet.write_row(row, 0, [layer[column] for column in MODEL_COLUMNS])
    total_row = len(layers) + 1
    sheet.write_string(total_row, 0, "total params", header_format)
    sheet.write_number(total_row, MODEL_COLUMNS.index("parameters"), parameter_count(architecture), header_format)
    facts = [("model", architecture.name), ("description", architecture.description),
             ("layers", str(list(architecture.entries))), ("padding", architecture.padding),
             ("dropout", architecture.dropout), ("receptive field", receptive_field(architecture))]
    facts_col = len(MODEL_COLUMNS) + 1  # beside the table, so the table's rows stay layers and the total
    for row, (label, value) in enumerate(facts):
        sheet.write_string(row, facts_col, label, header_format)
        sheet.write(row, facts_col + 1, value)
    sheet.set_column(facts_col, facts_col, 16)
    sheet.set_column(0, 0, 24)
    sheet.set_column(1, 1, 18)
    sheet.set_column(2, len(MODEL_COLUMNS) - 1, 15)
    sheet.freeze_panes(1, 0)


def colour_errors_only(workbook, sheet, top: int, left: int, n: int = NUM_CLASSES) -> None:
    """Shade the confusion matrix's errors, white for none to red for the most; the diagonal (the
    right answers, far larger) apart in its own fill, so it neither sets the scale nor reads as an
    error."""
    off_diagonal = " ".join(
        xl_range(top + i, left + a, top + i, left + b)
        for i in range(n) for a, b in ((0, i - 1), (i + 1, n - 1)) if a <= b)
    sheet.conditional_format(off_diagonal.split()[0], {"type": "2_color_scale", "multi_range": off_diagonal,
                                     "min_type": "num", "min_value": 0, "min_color": "#FFFFFF",
                                     "max_color": "#F8696B"})
    diagonal = workbook.add_format({"bg_color": "#E2EFDA", "bold": True})
    for i in range(n):
        sheet.conditional_format(top + i, left + i, top + i, left + i,
                                 {"type": "formula", "criteria": "=TRUE", "format": diagonal})


def _add_confusion_sheet(workbook, confusion: np.ndarray, class_names, header_format, percent_format):
    sheet = workbook.add_worksheet("confusion")
    sheet.write_string(0, 0, "true \\ predicted", header_format)
    for digit, name in enumerate(class_names):
        label = digit if name == str(digit) else name  # digits stay numbers a student can compute with
        sheet.write(0, 1 + digit, label, header_format)
        sheet.write(1 + digit, 0, label, header_format)
        sheet.write_row(1 + digit, 1, confusion[digit].tolist())
    recall_col = NUM_CLASSES + 1
    sheet.write_string(0, recall_col, "accuracy %", header_format)
    for digit in range(NUM_CLASSES):
        total = int(confusion[digit].sum())
        sheet.write_number(1 + digit, recall_col, 100 * confusion[digit, digit] / total if total else 0, percent_format)
    colour_errors_only(workbook, sheet, 1, 1)
    sheet.set_column(0, 0, 16)
    sheet.set_column(1, NUM_CLASSES, max(6, max(len(name) for name in class_names) + 1))
    sheet.set_column(recall_col, recall_col, 11)
    sheet.freeze_panes(1, 1)
    return sheet


def write_outputs(out: Path, metrics: list[dict], layers: list[dict], architecture,
                  test_images: np.ndarray, test_labels: np.ndarray, predictions: np.ndarray,
                  class_names=MNIST.class_names, title: str = "MNIST") -> OutputPaths:
    """Write every output atomically; the PNGs go first because the workbook embeds them."""
    paths = OutputPaths.beside(out)
    with atomic_output(paths.metrics_csv) as tmp:
        write_metrics_csv(tmp, metrics)
    with atomic_output(paths.curves_png) as tmp:
        plot_curves(metrics, tmp)
    wrong = np.flatnonzero(predictions != test_labels)[:MISCLASSIFIED_SHOWN]
    with atomic_output(paths.misclassified_png) as tmp:
        plot_misclassified(test_images[wrong], test_labels[wrong], predictions[wrong], tmp, class_names=class_names)

    from sheetprop.mnist.train.architecture import parameter_count
    from sheetprop.mnist.workbook.readme_fragment import readme_fragment

    with atomic_output(paths.readme) as tmp:
        tmp.write_text(readme_fragment(metrics, layers, parameter_count(architecture), paths.curves_png, paths.misclassified_png,
                                       title=title), encoding="utf-8")
    with atomic_output(paths.workbook) as tmp:
        workbook = xlsxwriter.Workbook(str(tmp), {"tmpdir": str(tmp.parent)})
        header_format = workbook.add_format({"bold": True, "bottom": 1})
        percent_format = workbook.add_format({"num_format": "0.00"})
        epochs_sheet = add_metrics_sheet(workbook, metrics, name="epochs")
        # Below both the table and the two native charts (which span rows 1-31), so nothing overlaps.
        epochs_sheet.insert_image(max(len(metrics) + 3, 33), 0, str(paths.curves_png), IMAGE_SCALE)
        _add_model_sheet(workbook, layers, architecture, header_format)
        confusion_sheet = _add_confusion_sheet(workbook, confusion_matrix(test_labels, predictions), class_names,
                                               header_format, percent_format)
        confusion_sheet.insert_image(NUM_CLASSES + 3, 0, str(paths.misclassified_png), IMAGE_SCALE)
        workbook.close()
    return paths
