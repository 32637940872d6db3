"""Writes step tables of live formulas, with their cached values and native charts.

Knows cells, formats and charts, not calculus: each column comes with expressions, and a
printer turns them into formulas whose references point at this row, the row before, or the
learning-rate cell. Rows are written in order, so xlsxwriter's constant_memory mode keeps
memory flat however many steps there are.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Iterable, Sequence

from xlsxwriter.utility import quote_sheetname, xl_rowcol_to_cell
from xlsxwriter.worksheet import Worksheet

from sheetprop.engine import Expr
from sheetprop.printers import ExcelPrinter

LEARNING_RATE_CELL = (0, 1)  # B1, labelled in A1
HEADER_ROW = 2               # row 3; data starts on row 4
STEP_LABEL = "step"
# Excel has no NaN: where the numbers overflow (EXP of a huge argument) the cell shows #NUM!,
# which is also what Excel and LibreOffice compute for the same formula.
ERROR_VALUE = "#NUM!"


class StepsWorksheet(Worksheet):
    """A worksheet that skips xlsxwriter's scan for newer Excel functions in formulas that use
    only functions every Excel knows. The scan is some thirty regular-expression passes over each
    formula, over two thirds of the time a large build takes; any other formula still gets it."""

    _FUNCTION = re.compile(r"[A-Z][A-Z0-9.]*\(")
    _CLASSIC = frozenset({"EXP(", "TANH(", "MAX(", "IF("})

    def _prepare_formula(self, formula, expand_future_functions=False):
        if formula.startswith("=") and self._CLASSIC.issuperset(self._FUNCTION.findall(formula)):
            return formula[1:]
        return super()._prepare_formula(formula, expand_future_functions)


@dataclass(frozen=True)
class Column:
    label: str
    node: Expr               # what the column holds; other columns' nodes print as their cells
    given: bool              # a number in the first row (a starting value the user may change)
    next_row: Expr | None    # given columns: the expression for every later row
    previous: Expr | None    # the node later rows use for this column's value one row up
    note: str = ""           # shown as a comment on the header cell


@dataclass(frozen=True)
class StepsSheet:
    name: str
    first_row: int
    last_row: int
    columns: dict[str, int]  # label -> column index
    first_values: tuple      # one row of values, in column order (column index - 1)
    last_values: tuple


def make_formats(workbook) -> dict:
    """Every format the workbook uses, made once."""
    add = workbook.add_format
    return {
        "title": add({"bold": True, "font_size": 14}),
        "heading": add({"bold": True, "font_size": 12}),
        "header": add({"bold": True, "align": "center", "valign": "vcenter", "bg_color": "#D9E1F2",
                       "bottom": 1}),
        "label": add({"bold": True}),
        "text": add({}),
        "math": add({"font_name": "Consolas"}),
        "step": add({"num_format": "0", "font_color": "#808080"}),
        # Given values (starting weights, inputs, targets, η) stand out as the cells to edit.
        "given": add({"num_format": "0.000000000", "font_color": "#1F4E79", "bg_color": "#FFF2CC",
                      "bold": True}),
        "given_later": add({"num_format": "0.000000000", "font_color": "#1F4E79"}),
        "computed": add({"num_format": "0.000000000"}),
        "learning_rate": add({"num_format": "General", "font_color": "#1F4E79",
                              "bg_color": "#FFF2CC", "bold": True, "border": 1}),
    }


class FormulaTemplates:
    """Each column's formulas printed once, with numbered slots for the cell references of this
    row, of the row before, and of the learning-rate cell; a row then only fills the slots."""

    def __init__(self, columns: Sequence[Column], learning_rate: Expr, printer=None):
        printer = printer or ExcelPrinter()
        n = len(columns)
        refs = {c.node: f"{{{k}}}" for k, c in enumerate(columns)}
        refs.update({c.previous: f"{{{n + k}}}" for k, c in enumerate(columns) if c.previous is not None})
        refs[learning_rate] = f"{{{2 * n}}}"
        self.first = [None if c.given else printer.doprint(c.node, refs) for c in columns]
        self.later = [printer.doprint(c.next_row, refs) if c.given else self.first[k]
                      for k, c in enumerate(columns)]

    def fill(self, templates: list, refs: list[str]) -> list:
        return [t.format(*refs) if t is not None else None for t in templates]


def add_steps_sheet(workbook, formats, name: str, learning_rate_text: str, learning_rate: Expr,
                    columns: Sequence[Column], rows: Iterable[Sequence[float]],
                    chart_title: str, loss_label: str) -> StepsSheet:
    """One sheet: the η cell, a header row, one row of formulas per step, a chart of the loss."""
    sheet = workbook.add_worksheet(name, worksheet_class=StepsWorksheet)
    first_col = 1  # column A holds the step number
    lr_row, lr_col = LEARNING_RATE_CELL

    # The learning rate: one labelled cell that every update formula references.
    sheet.write_string(lr_row, lr_col - 1, "learning rate η", formats["label"])
    sheet.write_number(lr_row, lr_col, float(learning_rate_text), formats["learning_rate"])
    sheet.write_string(lr_row, lr_col + 1, "← change η or any starting value in the first data row; "
                       "every later row recalculates", formats["text"])
    lr_ref = xl_rowcol_to_cell(lr_row, lr_col, row_abs=True, col_abs=True)

    # Header row, with each computed column's derivation as a note.
    sheet.write_string(HEADER_ROW, 0, STEP_LABEL, formats["header"])
    for k, column in enumerate(columns):
        sheet.write_string(HEADER_ROW, first_col + k, column.label, formats["header"])
        if column.note:
            sheet.write_comment(HEADER_ROW, first_col + k, column.note,
                                {"x_scale": 3, "y_scale": 1.2 if len(column.note) < 120 else 2})
    sheet.set_column(0, 0, 6)
    sheet.set_column(first_col, first_col + len(columns) - 1, 12.5)
    sheet.freeze_panes(HEADER_ROW + 1, first_col)
    sheet.set_landscape()
    sheet.repeat_rows(HEADER_ROW)

    templates = FormulaTemplates(columns, learning_rate)
    first_row = row = HEADER_ROW + 1
    first_values: Sequence[float] = ()
    values: Sequence[float] = ()
    previous_refs: list[str] = []
    for step, values in enumerate(rows):
        refs = [xl_rowcol_to_cell(row, first_col + k) for k in range(len(columns))]
        formulas = templates.fill(templates.first if step == 0 else templates.later,
                                  refs + (previous_refs or refs) + [lr_ref])
        sheet.write_number(row, 0, step, formats["step"])
        for k, (column, formula, value) in enumerate(zip(columns, formulas, values)):
            cached = value if math.isfinite(value) else ERROR_VALUE
            if formula is None:
                sheet.write_number(row, first_col + k, value, formats["given"])
            else:
                fmt = formats["given_later"] if column.given else formats["computed"]
                sheet.write_formula(row, first_col + k, formula, fmt, cached)
        previous_refs = refs
        first_values = first_values or values
        row += 1
    last_row = row - 1

    col_of = {c.label: first_col + k for k, c in enumerate(columns)}
    chart = loss_chart(workbook, chart_title, last_row - first_row + 1)
    add_loss_series(chart, name, first_row, last_row, col_of[loss_label], name)
    sheet.insert_chart(HEADER_ROW + 1, first_col + len(columns) + 1, chart)
    return StepsSheet(name, first_row, last_row, col_of, tuple(first_values), tuple(values))


def loss_chart(workbook, title: str, steps: int):
    chart = workbook.add_chart({"type": "line"})
    chart.set_title({"name": title})
    # About ten labelled steps on the axis, however many rows there are.
    interval = max(1, steps // 10)
    chart.set_x_axis({"name": "step", "interval_unit": interval, "interval_tick": interval})
    chart.set_y_axis({"name": "E_total", "major_gridlines": {"visible": True}})
    chart.set_size({"width": 720, "height": 400})
    return chart


def add_loss_series(chart, sheet_name: str, first_row: int, last_row: int, loss_col: int,
                    series_name: str) -> None:
    chart.add_series({
        "name": series_name,
        "categories": [sheet_name, first_row, 0, last_row, 0],
        "values": [sheet_name, first_row, loss_col, last_row, loss_col],
        "line": {"width": 1.75},
    })


def cross_sheet_ref(sheet_name: str, row: int, col: int) -> str:
    return f"{quote_sheetname(sheet_name)}!{xl_rowcol_to_cell(row, col)}"


def add_summary_sheet(workbook, formats, title: str, lines: Sequence[str],
                      starting_values: Sequence[tuple[str, float]], derivations: Sequence[str]):
    """The first sheet: what the network is, where to start, and every formula as math.
    Returns the sheet and its first free row, for ``add_summary_results``."""
    sheet = workbook.add_worksheet("summary")
    sheet.set_landscape()
    sheet.fit_to_pages(1, 0)  # printed or exported to PDF, the chart is not cut in half
    sheet.set_column(0, 0, 16)
    sheet.set_column(1, 1, 14)
    sheet.set_column(2, 4, 16)
    sheet.write_string(0, 0, title, formats["title"])
    for row, line in enumerate(lines, start=1):
        sheet.write_string(row, 0, line, formats["text"])

    row = len(lines) + 2
    sheet.write_string(row, 0, "Starting values", formats["heading"])
    for row, (label, value) in enumerate(starting_values, start=row + 1):
        sheet.write_string(row, 0, label, formats["label"])
        sheet.write_number(row, 1, value, formats["given"])
    chart_anchor = (len(lines) + 2, 3)

    # Leave room for the chart beside the starting values before the derivations begin.
    row = max(row + 2, chart_anchor[0] + 22)
    sheet.write_string(row, 0, "The chain rule, derived by the engine (each is one column's formula)",
                       formats["heading"])
    for row, text in enumerate(derivations, start=row + 1):
        sheet.write_string(row, 0, text, formats["math"])
    return sheet, row + 2, chart_anchor


def add_summary_results(workbook, formats, summary, first_row: int, chart_anchor,
                        sheets: Sequence[tuple[str, StepsSheet]], loss_label: str) -> None:
    """The loss of every learning rate at the first and last step (live links into each sheet),
    and one chart with a line per learning rate."""
    sheet = summary
    sheet.write_string(first_row, 0, "Loss per learning rate", formats["heading"])
    header = ["learning rate", "sheet", f"{loss_label} first", f"{loss_label} last"]
    for col, text in enumerate(header):
        sheet.write_string(first_row + 1, col, text, formats["header"])
    steps = max(s.last_row - s.first_row + 1 for _, s in sheets)
    chart = loss_chart(workbook, f"{loss_label} per step, one line per learning rate", steps)
    for row, (lr_text, steps) in enumerate(sheets, start=first_row + 2):
        loss_col = steps.columns[loss_label]
        first_value, last_value = steps.first_values[loss_col - 1], steps.last_values[loss_col - 1]
        sheet.write_number(row, 0, float(lr_text), formats["learning_rate"])
        sheet.write_url(row, 1, f"internal:{cross_sheet_ref(steps.name, 0, 0)}", string=steps.name)
        for col, (value_row, value) in enumerate(((steps.first_row, first_value),
                                                  (steps.last_row, last_value)), start=2):
            cached = value if math.isfinite(value) else ERROR_VALUE
            sheet.write_formula(row, col, "=" + cross_sheet_ref(steps.name, value_row, loss_col),
                                formats["computed"], cached)
        add_loss_series(chart, steps.name, steps.first_row, steps.last_row, loss_col, steps.name)
    chart.set_size({"width": 760, "height": 420})
    sheet.insert_chart(*chart_anchor, chart)
