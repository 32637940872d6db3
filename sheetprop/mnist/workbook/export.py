"""Write the run's outputs: metrics CSV, PNG figures, the README fragment and the metrics workbook
(sheets epochs, model, confusion, run). Every text goes into a cell as a string, never a formula."""

from __future__ import annotations


import numpy as np
import xlsxwriter
from xlsxwriter.utility import xl_range

from sheetprop.atomic import atomic_output
from sheetprop.metrics_sheet import add_metrics_sheet, write_metrics_csv
from sheetprop.mnist.options import OutputPaths
from sheetprop.mnist.train.architecture import layer_rows, parameter_count, receptive_field
from sheetprop.mnist.train.data import NUM_CLASSES
from sheetprop.mnist.train.datasets import MNIST
from sheetprop.mnist.workbook.figures import plot_curves, plot_misclassified, plot_samples
from sheetprop.mnist.workbook.readme_fragment import readme_fragment
from sheetprop.mnist.workbook.run_record import add_run_sheet

MODEL_COLUMNS = ("layer", "type", "output_shape", "parameters", "receptive_field", "jump")
MISCLASSIFIED_SHOWN = 32
IMAGE_SCALE = {"x_scale": 0.7, "y_scale": 0.7}


def confusion_matrix(true: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """counts[t, p] = how many digits of class t were predicted as p."""
    return np.bincount(true * NUM_CLASSES + predicted, minlength=NUM_CLASSES**2).reshape(NUM_CLASSES, NUM_CLASSES)


def write_cell(sheet, row: int, col: int, value, cell_format=None) -> None:
    """A number as a number, anything else as a string: text from a model file or a file name
    (``=HYPERLINK(…)``) must never become a formula. None and "" leave the cell empty."""
    if value is None or value == "":
        return
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        sheet.write_number(row, col, value, cell_format)
    else:
        sheet.write_string(row, col, str(value), cell_format)


def _add_model_sheet(workbook, architecture, header_format) -> None:
    """The --summary table and its total, and beside it the facts 'mnist-compare' reads back
    (model, description, layers, padding, dropout, receptive field: labels in column H)."""
    sheet = workbook.add_worksheet("model")
    layers = layer_rows(architecture)
    for col, column in enumerate(MODEL_COLUMNS):
        sheet.write_string(0, col, column, header_format)
    for row, layer in enumerate(layers, start=1):
        for col, column in enumerate(MODEL_COLUMNS):
            write_cell(sheet, row, col, layer[column])
    total_row = len(layers) + 1
    sheet.write_string(total_row, 0, "total params", header_format)
    sheet.write_number(total_row, MODEL_COLUMNS.index("parameters"), parameter_count(architecture), header_format)
    facts = [("model", architecture.name), ("description", architecture.description),
             ("layers", str(list(architecture.entries))), ("padding", architecture.padding),
             ("dropout", architecture.dropout), ("receptive field", receptive_field(architecture))]
    facts_col = len(MODEL_COLUMNS) + 1  # beside the table, so the table's rows stay layers and the total
    for row, (label, value) in enumerate(facts):
        sheet.write_string(row, facts_col, label, header_format)
        write_cell(sheet, row, facts_col + 1, value)
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
        write_cell(sheet, 0, 1 + digit, label, header_format)
        write_cell(sheet, 1 + digit, 0, label, header_format)
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


def write_outputs(paths: OutputPaths, metrics: list[dict], architecture, record: dict,
                  test_images: np.ndarray, test_labels: np.ndarray, predictions: np.ndarray,
                  train_images: np.ndarray, train_labels: np.ndarray,
                  class_names=MNIST.class_names, title: str = "MNIST") -> OutputPaths:
    """Write every output but the model workbook and the checkpoint, each atomically; the PNGs go
    first because the workbook embeds them. ``record``: the run sheet's keys and values."""
    with atomic_output(paths.metrics_csv) as tmp:
        write_metrics_csv(tmp, metrics)
    with atomic_output(paths.curves_png) as tmp:
        plot_curves(metrics, tmp)
    wrong = np.flatnonzero(predictions != test_labels)[:MISCLASSIFIED_SHOWN]
    with atomic_output(paths.misclassified_png) as tmp:
        plot_misclassified(test_images[wrong], test_labels[wrong], predictions[wrong], tmp, class_names=class_names)
    with atomic_output(paths.samples_png) as tmp:
        plot_samples(train_images, train_labels, tmp, class_names=class_names)
    with atomic_output(paths.readme) as tmp:
        tmp.write_text(readme_fragment(metrics, layer_rows(architecture), parameter_count(architecture), paths,
                                       record, title=title), encoding="utf-8")
    with atomic_output(paths.workbook) as tmp:
        workbook = xlsxwriter.Workbook(str(tmp), {"tmpdir": str(tmp.parent)})
        header_format = workbook.add_format({"bold": True, "bottom": 1})
        percent_format = workbook.add_format({"num_format": "0.00"})
        epochs_sheet = add_metrics_sheet(workbook, metrics, name="epochs")
        # Below both the table and the two native charts (which span rows 1-31), so nothing overlaps.
        epochs_sheet.insert_image(max(len(metrics) + 3, 33), 0, str(paths.curves_png), IMAGE_SCALE)
        _add_model_sheet(workbook, architecture, header_format)
        confusion_sheet = _add_confusion_sheet(workbook, confusion_matrix(test_labels, predictions), class_names,
                                               header_format, percent_format)
        confusion_sheet.insert_image(NUM_CLASSES + 3, 0, str(paths.misclassified_png), IMAGE_SCALE)
        add_run_sheet(workbook, record, header_format)
        workbook.close()
    return paths
