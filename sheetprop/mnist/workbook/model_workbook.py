"""The trained CNN as a workbook of live formulas: change a digit's pixels, watch every layer answer.

Sheets: ``predict`` (the digit cell, the 28x28 pixel grid, P(0)…P(9), the prediction), ``input``
(the normalised pixels), one sheet per layer (each channel's feature map as a grid of formulas,
the layer's kernels and BatchNorm scale/shift as cells those formulas reference; 3x3 convolutions
with or without zero padding, max and average pools, 1x1 transitions), ``head`` (global
average pooling, the 1x1 head, softmax), ``digits`` (the test images the grid reads by index) and
``model`` (what each sheet is, with receptive fields). Formulas use only SUMPRODUCT, MAX, AVERAGE,
EXP, SUM, INDEX and MATCH, which every Excel, LibreOffice and Gnumeric know. No torch here: the
network arrives as ``cnn_arrays.Cnn``, and every formula cell carries its numpy value.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
import xlsxwriter
from xlsxwriter.utility import quote_sheetname, xl_range, xl_range_abs, xl_rowcol_to_cell

from sheetprop.atomic import atomic_output
from sheetprop.errors import UserError
from sheetprop.mnist.train.architecture import AVGPOOL, CONV, MAXPOOL, TRANSITION, layer_rows
from sheetprop.mnist.workbook.cnn_arrays import POOL_SIZE, Cnn, forward
from sheetprop.fast_worksheet import StepsWorksheet
from sheetprop.mnist.workbook.budget import check_workbook_budget

EXCEL_FORMULA_LIMIT = 8192
PREDICT, INPUT, HEAD, DIGITS, MODEL = "predict", "input", "head", "digits", "model"
OFFERED_NAME = "offered_digits"  # the digits sheet's index column, for the digit cell's drop-down
GRID_ORIGIN = (3, 4)  # the predict sheet's pixel grid starts at E4
MAP_FORMAT = {"num_format": "0.000", "font_size": 8, "align": "center"}


@dataclass(frozen=True)
class Grid:
    """Where one channel's feature map sits: its sheet and top-left cell."""
    sheet: str
    top: int
    left: int

    def cell(self, i: int, j: int) -> str:
        return f"{quote_sheetname(self.sheet)}!{xl_rowcol_to_cell(self.top + i, self.left + j)}"

    @lru_cache(maxsize=None)  # each window is read by every output channel of the next layer
    def window(self, i: int, j: int, size: int) -> str:
        return (f"{quote_sheetname(self.sheet)}!"
                f"{xl_range(self.top + i, self.left + j, self.top + i + size - 1, self.left + j + size - 1)}")

    def rect(self, top: int, left: int, bottom: int, right: int) -> str:
        return f"{quote_sheetname(self.sheet)}!{xl_range(self.top + top, self.left + left, self.top + bottom, self.left + right)}"

    def whole(self, height: int, width: int) -> str:
        return f"{quote_sheetname(self.sheet)}!{xl_range(self.top, self.left, self.top + height - 1, self.left + width - 1)}"


def choose_digits(labels: np.ndarray, predictions: np.ndarray, first: int = 100, wrong: int = 20) -> list[int]:
    """The first ``first`` test images, and up to ``wrong`` more that the model gets wrong."""
    chosen = list(range(min(first, len(labels))))
    misses = [int(k) for k in np.flatnonzero(predictions != labels) if k >= first][:wrong]
    return chosen + misses


def write_model_workbook(path: Path, cnn: Cnn, images: np.ndarray, labels: np.ndarray,
                         indices: Sequence[int], digit: int, class_names: Sequence[str],
                         title: str = "MNIST") -> dict:
    """Write the workbook atomically; ``indices`` are the test images offered on the digits sheet,
    ``digit`` the one shown first. Returns sizes: {"cells": formula cells, "sheets": n}."""
    check_workbook_budget(cnn.architecture)  # before any cell: a refused network costs nothing
    indices = [int(k) for k in indices]
    if digit not in indices:
        raise UserError(f"digit {digit} is not among the test images offered ({indices[0]}…)")
    activations = forward(cnn, images[digit])
    with atomic_output(path) as tmp:
        book = xlsxwriter.Workbook(str(tmp), {"tmpdir": str(tmp.parent)})
        writer = _Writer(book, cnn, class_names)
        writer.predict_sheet(images[digit], indices, labels, digit, title)
        writer.layer_sheets(activations)
        writer.head_sheet(activations)
        writer.digits_sheet(images, labels, indices)
        writer.model_sheet(title)
        book.close()
    return {"cells": writer.formula_cells, "sheets": len(book.worksheets())}


class _Writer:
    def __init__(self, book, cnn: Cnn, class_names):
        self.book, self.cnn, self.class_names = book, cnn, list(class_names)
        self.formula_cells = 0
        add = book.add_format
        self.formats = {
            "title": add({"bold": True, "font_size": 13}),
            "label": add({"bold": True}),
            "hint": add({"italic": True, "font_color": "#595959"}),
            "edit": add({"bold": True, "font_color": "#1F4E79", "bg_color": "#FFF2CC", "border": 1}),
            "pixel": add({"num_format": "0", "font_size": 7, "align": "center"}),
            "map": add(MAP_FORMAT),
            "weight": add({"num_format": "0.000", "font_size": 8, "font_color": "#1F4E79",
                           "bg_color": "#FFF9E5", "align": "center"}),
            "prob": add({"num_format": "0.000000"}),
            "text": add({}),
            "warning": add({"bold": True, "font_color": "#C00000"}),
        }
        n = len(self.class_names)
        self.probability_cells = [(4 + k, 1) for k in range(n)]  # B5…: P(k), on the predict sheet
        # The head sheet: head weights in columns B… (one per channel), then logit, e^, P.
        self.logit_col = max(17, cnn.head.shape[1] + 1)
        self.probability_col = self.logit_col + 3

    # --- helpers -----------------------------------------------------------------------------

    def formula(self, sheet, row: int, col: int, text: str, value, fmt) -> None:
        if len(text) > EXCEL_FORMULA_LIMIT:
            raise UserError(f"a formula on sheet {sheet.name} is {len(text):,} characters, over Excel's "
                            f"{EXCEL_FORMULA_LIMIT:,}: this network is too wide for a workbook")
        sheet.write_formula(row, col, text, fmt, float(value))
        self.formula_cells += 1

    def colour_scale(self, sheet, top, left, height, width, dark: str) -> None:
        sheet.conditional_format(top, left, top + height - 1, left + width - 1,
                                 {"type": "2_color_scale", "min_color": "#FFFFFF", "max_color": dark})

    # --- sheets ------------------------------------------------------------------------------

    def predict_sheet(self, pixels, indices, labels, digit: int, title: str) -> None:
        f = self.formats
        sheet = self.book.add_worksheet(PREDICT, worksheet_class=StepsWorksheet)
        self.predict = sheet
        last = len(indices) + 1
        offered = f"{DIGITS}!{xl_range_abs(1, 0, last - 1, 0)}"
        sheet.write_string(0, 0, "digit", f["label"])
        sheet.write_number(0, 1, digit, f["edit"])
        # A drop-down of the offered indices: any other number would make MATCH, and so every sheet,
        # show #N/A. A defined name, because Excel 2007 refuses another sheet's range in a validation.
        self.book.define_name(OFFERED_NAME, f"={offered}")
        sheet.data_validation(0, 1, 0, 1, {
            "validate": "list", "source": f"={OFFERED_NAME}",
            "input_title": "test image", "input_message": "an index from column A of the digits sheet",
            "error_title": "not offered", "error_message": "choose an index listed in column A of the digits sheet"})
        sheet.write_string(0, 2, f"← the index of a {title} test image (the digits sheet lists them); "
                           "or type 0-255 over any pixel to draw", f["hint"])
        sheet.write_string(1, 0, "digits row", f["label"])
        row_number = indices.index(digit) + 1
        # An index typed past the drop-down (or pasted) falls back to the first offered image, and
        # one cell says so, instead of #N/A in every cell of every sheet.
        match = f"MATCH($B$1,{offered},0)"
        self.formula(sheet, 1, 1, f"=IFERROR({match},1)", row_number, f["text"])
        sheet.write_formula(1, 2, f'=IF(ISNA({match}),"⚠ "&$B$1&" is not an offered index (column A of '
                            f'the digits sheet): showing the first one","")', f["warning"], "")
        probs = xl_range_abs(self.probability_cells[0][0], 1, self.probability_cells[-1][0], 1)
        activations = forward(self.cnn, pixels)
        sheet.write_string(2, 0, "prediction", f["label"])
        self.formula(sheet, 2, 1, f"=MATCH(MAX({probs}),{probs},0)-1",
                     int(np.argmax(activations.probabilities)), f["text"])
        sheet.write_string(2, 2, "true label", f["label"])
        self.formula(sheet, 2, 3, f"=INDEX({DIGITS}!{xl_range_abs(1, 1, last - 1, 1)},$B$2)",
                     int(labels[digit]), f["text"])
        # The answer in words: the classes' names beside their probabilities, read by both.
        names = xl_range_abs(self.probability_cells[0][0], 2, self.probability_cells[-1][0], 2)
        predicted, true = int(np.argmax(activations.probabilities)), int(labels[digit])
        sheet.write_formula(2, 4, f'="predicted: "&INDEX({names},$B$3+1)&"   true: "&INDEX({names},$D$3+1)',
                            f["label"], f"predicted: {self.class_names[predicted]}   true: {self.class_names[true]}")
        for k, (row, col) in enumerate(self.probability_cells):
            name = self.class_names[k]
            sheet.write_string(row, col + 1, name, f["text"])
            sheet.write_string(row, 0, f"P({k})" if name == str(k) else f"P({k}) {name}", f["label"])
            # Written by the head sheet's formulas; here a link, so the answer sits beside the digit.
            self.formula(sheet, row, col, f"={HEAD}!{xl_rowcol_to_cell(6 + k, self.probability_col)}",
                         activations.probabilities[k], f["prob"])
        sheet.set_column(0, 0, 16)
        sheet.set_column(1, 1, 10)

        # The pixel grid: each cell reads its pixel of the chosen image from the digits sheet.
        top, left = GRID_ORIGIN
        table = f"{DIGITS}!{xl_range_abs(1, 2, last - 1, 2 + 28 * 28 - 1)}"
        for i in range(28):
            for j in range(28):
                self.formula(sheet, top + i, left + j, f"=INDEX({table},$B$2,{28 * i + j + 1})",
                             pixels[i, j], f["pixel"])
        sheet.set_column(left, left + 27, 2.6)
        self.colour_scale(sheet, top, left, 28, 28, "#000000")
        self.pixels = Grid(PREDICT, top, left)

        chart = self.book.add_chart({"type": "bar"})
        chart.add_series({"name": "probability", "categories": [PREDICT, 4, 0, 4 + len(self.class_names) - 1, 0],
                          "values": [PREDICT, 4, 1, 4 + len(self.class_names) - 1, 1],
                          "fill": {"color": "#2F5597"}})
        chart.set_title({"name": "P(class | pixels)"})
        chart.set_legend({"none": True})
        chart.set_y_axis({"reverse": True})
        chart.set_x_axis({"min": 0, "max": 1})
        chart.set_size({"width": 420, "height": 420})
        sheet.insert_chart(top, left + 29, chart)
        sheet.set_landscape()
        sheet.fit_to_pages(1, 1)

    def layer_sheets(self, activations) -> None:
        f = self.formats
        sheet = self.book.add_worksheet(INPUT, worksheet_class=StepsWorksheet)
        sheet.write_string(0, 0, "Normalised input: (pixel / 255 − mean) / std, the numbers the network "
                           "sees", f["title"])
        sheet.write_string(1, 0, "mean", f["label"])
        sheet.write_number(1, 1, self.cnn.mean, f["weight"])
        sheet.write_string(2, 0, "std", f["label"])
        sheet.write_number(2, 1, self.cnn.std, f["weight"])
        top, left = 4, 1
        for i in range(28):
            for j in range(28):
                self.formula(sheet, top + i, left + j, f"=({self.pixels.cell(i, j)}/255-$B$2)/$B$3",
                             activations.normalised[0, i, j], f["map"])
        sheet.set_column(left, left + 27, 5)
        sheet.fit_to_pages(1, 1)
        self.colour_scale(sheet, top, left, 28, 28, "#000000")
        grids, shape = [Grid(INPUT, top, left)], (28, 28)
        for layer, output in zip(self.cnn.layers, activations.maps):
            grids, shape = self.layer_sheet(layer, grids, shape, output)
        self.last_grids, self.last_shape = grids, shape

    def layer_sheet(self, layer, inputs: list[Grid], in_shape, output: np.ndarray):
        f = self.formats
        sheet = self.book.add_worksheet(layer.module, worksheet_class=StepsWorksheet)
        channels, height, width = output.shape
        padded = " (zero padding: at the edges the window and the kernel are both cut to the image)" \
            if layer.padding else ""
        descriptions = {
            CONV: f"3x3 convolution over {len(inputs)} channels{padded}, BatchNorm (scale, shift), ReLU: "
                  "MAX(0, (Σ SUMPRODUCT(window, kernel))·scale + shift)",
            MAXPOOL: "2x2 max-pooling: MAX of each 2x2 window",
            AVGPOOL: "2x2 average pooling: AVERAGE of each 2x2 window",
            TRANSITION: f"1x1 convolution: each channel a weighted sum of the {len(inputs)} channels below",
        }
        sheet.write_string(0, 0, f"{layer.module}: {descriptions[layer.kind]} → {channels}×{height}×{width}",
                           f["title"])
        params_left = 1 + width + 1  # the layer's own numbers sit right of its maps
        grids = []
        for k in range(channels):
            top = 2 + k * (height + 2)
            sheet.write_string(top - 1, 0, f"channel {k}", f["label"])
            grid = Grid(layer.module, top, 1)
            grids.append(grid)
            cell_formula = self.channel_formula(layer, k, inputs, top, params_left, in_shape)
            for i in range(height):
                for j in range(width):
                    self.formula(sheet, top + i, 1 + j, cell_formula(i, j), output[k, i, j], f["map"])
            self.colour_scale(sheet, top, 1, height, width, "#2F5597")
            self.write_parameters(layer, k, sheet, top, params_left)
        sheet.set_column(1, width, 5.5)
        sheet.set_column(params_left, params_left + 4 * len(inputs), 5.5)
        sheet.freeze_panes(1, 1)
        sheet.fit_to_pages(1, 0)
        return grids, (height, width)

    def write_parameters(self, layer, k: int, sheet, top: int, left: int) -> None:
        f = self.formats
        weights = self.cnn.weights.get(layer.module, {})
        if layer.kind == CONV:
            sheet.write_string(top - 1, left, "BN scale", f["label"])
            sheet.write_number(top - 1, left + 2, weights["scale"][k], f["weight"])
            sheet.write_string(top - 1, left + 4, "BN shift", f["label"])
            sheet.write_number(top - 1, left + 6, weights["shift"][k], f["weight"])
            for c in range(weights["kernels"].shape[1]):
                for a in range(3):
                    for b in range(3):
                        sheet.write_number(top + a, left + 4 * c + b, weights["kernels"][k, c, a, b], f["weight"])
        elif layer.kind == TRANSITION:
            sheet.write_string(top - 1, left, "weights", f["label"])
            for c in range(weights["weights"].shape[1]):
                sheet.write_number(top, left + c, weights["weights"][k, c], f["weight"])

    def channel_formula(self, layer, k: int, inputs: list[Grid], top: int, left: int, in_shape=(28, 28)):
        """The function (i, j) -> formula of output channel k, whose parameters sit at (top, left)."""
        if layer.kind == CONV:
            scale = xl_rowcol_to_cell(top - 1, left + 2, True, True)
            shift = xl_rowcol_to_cell(top - 1, left + 6, True, True)
            height, width, pad = in_shape[0], in_shape[1], layer.padding

            def conv(i: int, j: int) -> str:
                # Zero padding without padding cells: the 3x3 window is cut to the map, and the
                # kernel to the same rows and columns (the cut-off products are zero anyway).
                r0, c0 = max(0, i - pad), max(0, j - pad)
                r1, c1 = min(height - 1, i - pad + 2), min(width - 1, j - pad + 2)
                a0, b0, a1, b1 = r0 - (i - pad), c0 - (j - pad), r1 - (i - pad), c1 - (j - pad)
                if (r0, c0, r1, c1) == (i - pad, j - pad, i - pad + 2, j - pad + 2):
                    windows = [grid.window(r0, c0, 3) for grid in inputs]
                else:
                    windows = [grid.rect(r0, c0, r1, c1) for grid in inputs]
                kernels = [xl_range_abs(top + a0, left + 4 * c + b0, top + a1, left + 4 * c + b1)
                           for c in range(len(inputs))]
                return "=MAX(0,({})*{}+{})".format(
                    "+".join(f"SUMPRODUCT({w},{kernel})" for w, kernel in zip(windows, kernels)), scale, shift)

            return conv
        if layer.kind in (MAXPOOL, AVGPOOL):
            function = "MAX" if layer.kind == MAXPOOL else "AVERAGE"
            size = POOL_SIZE
            return lambda i, j: f"={function}({inputs[k].window(i * size, j * size, size)})"
        if layer.kind == TRANSITION:
            weights = [xl_rowcol_to_cell(top, left + c, True, True) for c in range(len(inputs))]
            return lambda i, j: "=" + "+".join(f"{w}*{grid.cell(i, j)}" for w, grid in zip(weights, inputs))
        raise ValueError(f"no formula for a {layer.kind} layer")

    def head_sheet(self, activations) -> None:
        f = self.formats
        sheet = self.book.add_worksheet(HEAD, worksheet_class=StepsWorksheet)
        classes, channels = self.cnn.head.shape
        height, width = self.last_shape
        sheet.write_string(0, 0, "Global average pooling, the 1x1 head, softmax", f["title"])
        sheet.write_string(2, 0, "channel", f["label"])
        sheet.write_string(3, 0, "average", f["label"])
        for c, grid in enumerate(self.last_grids):
            sheet.write_number(2, 1 + c, c, f["label"])
            self.formula(sheet, 3, 1 + c, f"=AVERAGE({grid.whole(height, width)})", activations.pooled[c], f["map"])
        pooled = xl_range_abs(3, 1, 3, channels)
        sheet.write_string(5, 0, "head weights", f["label"])
        logit, exp, prob = self.logit_col, self.logit_col + 1, self.probability_col
        for col, text in ((logit, "logit"), (exp, "e^(logit − max)"), (prob, "P")):
            sheet.write_string(5, col, text, f["label"])
        logits = xl_range_abs(6, logit, 6 + classes - 1, logit)
        exps = xl_range_abs(6, exp, 6 + classes - 1, exp)
        shifted = np.exp(activations.logits - activations.logits.max())
        for k in range(classes):
            row = 6 + k
            sheet.write_string(row, 0, f"class {k} {self.class_names[k]}".strip(), f["label"])
            for c in range(channels):
                sheet.write_number(row, 1 + c, self.cnn.head[k, c], f["weight"])
            weights = xl_range(row, 1, row, channels)
            self.formula(sheet, row, logit, f"=SUMPRODUCT({pooled},{weights})", activations.logits[k], f["map"])
            self.formula(sheet, row, exp, f"=EXP({xl_rowcol_to_cell(row, logit)}-MAX({logits}))", shifted[k], f["map"])
            self.formula(sheet, row, prob, f"={xl_rowcol_to_cell(row, exp)}/SUM({exps})",
                         activations.probabilities[k], f["prob"])
        sheet.set_column(0, 0, 18)
        sheet.set_column(1, prob, 7)

    def digits_sheet(self, images, labels, indices) -> None:
        f = self.formats
        sheet = self.book.add_worksheet(DIGITS)
        sheet.write_string(0, 0, "test index", f["label"])
        sheet.write_string(0, 1, "label", f["label"])
        for p in range(28 * 28):
            sheet.write_string(0, 2 + p, f"r{p // 28}c{p % 28}", f["label"])
        for row, k in enumerate(indices, start=1):
            sheet.write_number(row, 0, k)
            sheet.write_number(row, 1, int(labels[k]))
            sheet.write_row(row, 2, images[k].reshape(-1).tolist())
        sheet.freeze_panes(1, 2)

    def model_sheet(self, title: str) -> None:
        f = self.formats
        sheet = self.book.add_worksheet(MODEL)
        lines = [
            f"The trained {title} CNN, every layer a sheet of live formulas. Change the digit on the "
            "predict sheet (or its pixels) and every sheet recomputes.",
            "BatchNorm is shown in eval form, as its own scale and shift cells per channel: "
            "scale = γ/√(running var + ε), shift = β − running mean · scale. Dropout does nothing at "
            "inference, so it has no cells.",
            "Blue-on-cream cells are the trained weights: change one and watch it flow.",
        ]
        for row, line in enumerate(lines):
            sheet.write_string(row, 0, line, f["text"])
        header = ["sheet", "layer", "type", "output", "receptive field"]
        for col, text in enumerate(header):
            sheet.write_string(5, col, text, f["label"])
        row = 6
        # Each torch leaf on its layer's sheet: features.block1.conv on block1; gap and head on head.
        sheet_of = {layer.path: layer.module if layer.in_features else HEAD for layer in self.cnn.architecture.layers}
        for leaf in layer_rows(self.cnn.architecture):
            name = leaf["layer"]
            for text, col in ((sheet_of.get(name) or sheet_of[name.rsplit(".", 1)[0]], 0), (name, 1),
                              (leaf["type"], 2), (leaf["output_shape"], 3)):
                sheet.write_string(row, col, text)
            sheet.write_number(row, 4, leaf["receptive_field"])
            row += 1
        sheet.set_column(0, 1, 22)
        sheet.set_column(2, 4, 16)


def write_for_model(out: Path, model, dataset, images, labels, predictions, digit: int | None = None):
    """The model workbook of a trained torch model: what both 'mnist' and 'mnist-sheet' write."""
    from sheetprop.mnist.train.model import to_arrays  # torch: only once a model is in hand

    offered = choose_digits(labels, predictions)
    if digit is None:
        digit = offered[0]
    elif digit not in offered:
        if not 0 <= digit < len(labels):
            raise UserError(f"--digit {digit} is not a test image index (0 to {len(labels) - 1})")
        offered.append(digit)
    sizes = write_model_workbook(out, to_arrays(model, dataset.mean, dataset.std), images, labels, offered, digit,
                                 dataset.class_names, dataset.title)
    return out, {**sizes, "digit": digit, "offered": len(offered)}
