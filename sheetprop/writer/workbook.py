"""Writes step tables of live formulas, with their cached values and native charts.

Knows cells, formats and charts, not calculus: each column comes with expressions, and a
printer turns them into formulas whose references point at this row, the row before, or the
learning-rate cell. Rows are written in order, so xlsxwriter's constant_memory mode keeps
memory flat however many steps there are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

from xlsxwriter.utility import quote_sheetname, xl_rowcol_to_cell

from sheetprop.engine import Expr
from sheetprop.errors import UserError
from sheetprop.layout import (BAND_ROW, CHART_HEIGHT_ROWS, CHART_ROW, HEADER_ROW, LEARNING_RATE_CELL, MAX_COLUMNS,
                              MAX_FORMULA_CHARACTERS, MAX_ROWS, STEP_LABEL, SUMMARY_SHEET, parameter_cell,
                              parameter_label_cell)
from sheetprop.limits import MAX_SHEET_PART_BYTES, MAX_WORKBOOK_BYTES
from sheetprop.engine.printers import ExcelPrinter
from sheetprop.fast_worksheet import StepsWorksheet
from sheetprop.writer.number_formats import BASE_FORMAT, NumberFormats
from sheetprop.writer.print_pages import runs, set_print_pages

# The layout (η in A2, band, header, first data row, Excel's limits) has its home in sheetprop.layout.
ROW_HEIGHT_PX = 20  # Excel's and LibreOffice's default row height, for sizing the chart
# Every number cell's own format; conditional rules by magnitude (number_formats) give at least
# six significant digits at any size, zeros as 0, E-notation only below 1e-4.
NUMBER_FORMAT = BASE_FORMAT
# Band colours per column group: (band fill, header fill).
GROUP_COLOURS = {
    "constants": ("#7F7F7F", "#EDEDED"),
    "weights": ("#2F5597", "#DAE3F3"),
    "forward pass": ("#548235", "#E2EFDA"),
    "loss": ("#C55A11", "#FBE5D6"),
    "backward pass": ("#7030A0", "#E4D7F0"),
    "gradient check": ("#BF8F00", "#FFF2CC"),
}
NEUTRAL_GROUP = ("#595959", "#F2F2F2")
# Excel has no NaN: where the numbers overflow (EXP of a huge argument) the cell shows #NUM!,
# which is also what Excel and LibreOffice compute for the same formula.
ERROR_VALUE = "#NUM!"


@dataclass(frozen=True)
class Column:
    label: str
    node: Expr               # what the column holds; other columns' nodes print as their cells
    given: bool              # a number in the first row (a starting value the user may change)
    next_row: Expr | None    # given columns: the expression for every later row
    previous: Expr | None    # the node later rows use for this column's value one row up
    note: str = ""           # shown as a comment on the header cell
    group: str = ""          # the band above the header: "forward pass", "loss", ...


@dataclass(frozen=True)
class StepsSheet:
    name: str
    first_row: int
    last_row: int
    columns: dict[str, int]  # label -> column index
    first_values: tuple      # one row of values, in column order (column index - 1)
    last_values: tuple
    series_name_cell: tuple[int, int] = (0, 0)  # "η = …", following the η cell: a chart's legend


@dataclass(frozen=True)
class Parameter:
    """A sheet-wide constant in column A (η, a hyper-parameter, the gradient check's h): one labelled cell."""
    label: str
    node: Expr
    value: float


def make_formats(workbook) -> dict:
    """Every format the workbook uses, made once."""
    add = workbook.add_format
    formats = {
        "title": add({"bold": True, "font_size": 14}),
        "heading": add({"bold": True, "font_size": 12}),
        "header": add({"bold": True, "align": "center", "valign": "vcenter", "bg_color": "#D9E1F2",
                       "bottom": 1}),
        "label": add({"bold": True}),
        "text": add({}),
        "hint": add({"italic": True, "font_color": "#595959"}),
        "math": add({"font_name": "Consolas"}),
        "step": add({"num_format": "0", "font_color": "#808080"}),
        # Given values (starting weights, inputs, targets, η) stand out as the cells to edit.
        "given": add({"num_format": NUMBER_FORMAT, "font_color": "#1F4E79", "bg_color": "#FFF2CC",
                      "bold": True}),
        # A first-row cell that follows the summary: edit it there, or type over it here.
        "given_linked": add({"num_format": NUMBER_FORMAT, "font_color": "#1F4E79", "bold": True,
                             "bg_color": "#FFF9E5"}),
        "given_later": add({"num_format": NUMBER_FORMAT, "font_color": "#1F4E79"}),
        "computed": add({"num_format": NUMBER_FORMAT}),
        "learning_rate": add({"num_format": "General", "font_color": "#1F4E79",
                              "bg_color": "#FFF2CC", "bold": True, "border": 1}),
        "linked_learning_rate": add({"num_format": "General", "font_color": "#1F4E79"}),
        "numbers": NumberFormats(workbook),
    }
    for group, (band, header) in [*GROUP_COLOURS.items(), ("", NEUTRAL_GROUP)]:
        formats[f"band {group}"] = add({"bold": True, "align": "center", "font_color": "#FFFFFF",
                                        "bg_color": band, "border": 1})
        formats[f"header {group}"] = add({"bold": True, "align": "center", "valign": "vcenter",
                                          "bg_color": header, "bottom": 1})
    return formats


class FormulaTemplates:
    """Each column's formulas printed once, with numbered slots for the cell references of this
    row, of the row before, and of the parameter cells (η, ...); a row then only fills the slots."""

    def __init__(self, columns: Sequence[Column], parameters: Sequence[Expr], printer=None):
        printer = printer or ExcelPrinter()
        n = len(columns)
        refs = {c.node: f"{{{k}}}" for k, c in enumerate(columns)}
        refs.update({c.previous: f"{{{n + k}}}" for k, c in enumerate(columns) if c.previous is not None})
        refs.update({node: f"{{{2 * n + k}}}" for k, node in enumerate(parameters)})
        self.first = [None if c.given else printer.doprint(c.node, refs) for c in columns]
        self.later = [printer.doprint(c.next_row, refs) if c.given else self.first[k]
                      for k, c in enumerate(columns)]

    def fill(self, templates: list, refs: list[str]) -> list:
        return [t.format(*refs) if t is not None else None for t in templates]


# A cell's XML besides its formula, <c r="AB1048576" s="12"><f>…</f><v>-0.123456789012345</v></c>,
# and a row's, <row r="1048576" spans="1:242">…</row>: a little more than measured, so the
# estimate is never short (deep with Adam: 21.4 MB written for 1,004 rows, 21.6 MB estimated).
CELL_XML_BYTES, ROW_XML_BYTES = 53, 60


GRADCHECK_GROUP = "gradient check"


def check_sheet_limits(columns: Sequence[Column], parameters: Sequence[Expr], steps: int, sheets: int = 1) -> None:
    """Refuse, before anything is written, a steps sheet that would pass Excel's limits, or
    ``sheets`` of them that would pass what `check` reads."""
    last_col, last_row = len(columns), HEADER_ROW + steps  # column A holds the step number
    if last_col + 1 > MAX_COLUMNS:
        raise UserError(f"this network needs {last_col + 1:,} columns per sheet; Excel allows "
                        f"{MAX_COLUMNS:,} (use fewer examples, neurons or layers)")
    if last_row + 1 > MAX_ROWS:
        raise UserError(f"{steps:,} steps need {last_row + 1:,} rows; Excel allows {MAX_ROWS:,}")
    refs = last_row_refs(columns, parameters, steps)
    row_bytes = ROW_XML_BYTES
    for column in columns:
        expr = column.next_row if column.given else column.node
        length = 0
        if expr is not None:
            length = ExcelPrinter().printed_length(expr, refs)
            check_formula_length(column.label, length, column.group == GRADCHECK_GROUP)
        row_bytes += length + CELL_XML_BYTES
    estimate = steps * row_bytes
    if estimate > MAX_SHEET_PART_BYTES:
        raise UserError(f"{steps:,} steps of this network make a sheet of about {estimate / 2**20:,.0f} MB "
                        f"({steps * len(columns):,} cells); 'check' reads sheets up to "
                        f"{MAX_SHEET_PART_BYTES // 2**20} MB, so build writes no larger one: use at most "
                        f"{max(1, MAX_SHEET_PART_BYTES // row_bytes):,} steps")
    if estimate * sheets > MAX_WORKBOOK_BYTES:
        raise UserError(f"{sheets} sheets of {steps:,} steps make a workbook of about "
                        f"{estimate * sheets / 2**20:,.0f} MB inflated; 'check' reads workbooks up to "
                        f"{MAX_WORKBOOK_BYTES // 2**20} MB, so build writes no larger one: use fewer "
                        f"learning rates or at most {max(1, MAX_WORKBOOK_BYTES // (row_bytes * sheets)):,} steps")


def last_row_refs(columns: Sequence[Column], parameters: Sequence[Expr], steps: int) -> dict[Expr, str]:
    """What each node prints as in the last row: the longest references a formula can get (the
    row above's are no longer, so the previous value prints as this row's cell)."""
    last_row = HEADER_ROW + steps
    refs = {}
    for k, column in enumerate(columns):
        cell = xl_rowcol_to_cell(last_row, 1 + k)
        refs[column.node] = cell
        if column.previous is not None:
            refs.setdefault(column.previous, cell)
    for k, node in enumerate(parameters):
        refs[node] = xl_rowcol_to_cell(*parameter_cell(k), True, True)
    return refs


def check_formula_length(label: str, length: int, gradcheck: bool = False) -> None:
    if length <= MAX_FORMULA_CHARACTERS:
        return
    if gradcheck:
        raise UserError(f"the --gradcheck column {label} needs a formula of {length:,} characters, and "
                        f"Excel allows {MAX_FORMULA_CHARACTERS:,}: it recomputes the whole loss from the "
                        "row's given cells, which is too long for this network (drop --gradcheck, or "
                        "use fewer examples, neurons or layers)")
    raise UserError(f"the formula of column {label} has {length:,} characters; Excel "
                    f"allows {MAX_FORMULA_CHARACTERS:,} (use fewer examples, neurons or layers)")


def add_steps_sheet(workbook, formats, name: str, parameters: Sequence[Parameter],
                    columns: Sequence[Column], rows: Iterable[Sequence[float]],
                    chart_title: str, loss_label: str,
                    first_row_sources: dict[str, str] | None = None,
                    exercise: bool = False) -> StepsSheet:
    """One sheet: the parameter cells, the loss chart on the first screen, a band row naming each
    part of backprop, a header row, one row of formulas per step.

    ``first_row_sources`` maps a given column's label to the cell (on another sheet) its first row
    follows. ``exercise``: the student's copy of the same sheet, with only the given numbers
    (``given_to_student``) filled in, every other cell of the table left blank and no header
    note that would give a formula away."""
    sheet = workbook.add_worksheet(name, worksheet_class=StepsWorksheet)
    first_col = 1  # column A holds the step number
    first_row_sources = first_row_sources or {}

    # The chart goes right of column A, past the collapsed constants, on the first screen. Its
    # legend names η by a formula in a cell behind the chart, so it follows the η cell.
    chart_col = first_col + next((k for k, c in enumerate(columns) if c.group != "constants"), 0)
    series_cell = (LEARNING_RATE_CELL[0], chart_col)

    # Column A: each parameter as a labelled cell that every formula using it references. Rows
    # are written in order (constant_memory), so the series name goes in with η's row.
    param_refs = []
    for k, parameter in enumerate(parameters):
        row, col = parameter_cell(k)
        ref = xl_rowcol_to_cell(row, col, row_abs=True, col_abs=True)
        sheet.write_string(*parameter_label_cell(k), parameter.label, formats["label"])
        sheet.write_number(row, col, parameter.value, formats["learning_rate"])
        if k == 0:
            sheet.write_formula(*series_cell, f'="η = "&{ref}', formats["text"],
                                f"η = {general_number(parameter.value)}")
            sheet.write_comment(row, col, STUDENT_ETA_NOTE if exercise else KEY_ETA_NOTE, {"x_scale": 2})
        param_refs.append(ref)
    sheet.write_string(*parameter_label_cell(len(parameters)),
                       "↑ change η" if len(parameters) == 1 else "↑ change any of these", formats["hint"])

    # Band row and header row, coloured by group, each computed column's derivation as a note.
    sheet.write_blank(BAND_ROW, 0, None, formats["band "])
    for first, last, group in runs([c.group for c in columns]):
        # Not merged (constant_memory mode cannot): the name runs on over its blank coloured cells.
        band = formats.get(f"band {group}", formats["band "])
        sheet.write_string(BAND_ROW, first_col + first, group, band)
        for k in range(first + 1, last + 1):
            sheet.write_blank(BAND_ROW, first_col + k, None, band)
    sheet.write_string(HEADER_ROW, 0, STEP_LABEL, formats["header "])
    for k, column in enumerate(columns):
        header = formats.get(f"header {column.group}", formats["header "])
        sheet.write_string(HEADER_ROW, first_col + k, column.label, header)
        if column.note and (column.given or not exercise):  # a computed column's note is its solution
            sheet.write_comment(HEADER_ROW, first_col + k, column.note,
                                {"x_scale": 3, "y_scale": 1.2 if len(column.note) < 120 else 2})
    sheet.set_column(0, 0, 15)
    for k, column in enumerate(columns):
        # Constants sit in a collapsed group: out of the way, one click to show.
        collapsed = column.group == "constants"
        after_group = k > 0 and columns[k - 1].group == "constants" and not collapsed
        options = {"level": 1, "hidden": True} if collapsed else ({"collapsed": True} if after_group else {})
        sheet.set_column(first_col + k, first_col + k, 12.5, None, options)
    sheet.freeze_panes(HEADER_ROW + 1, first_col)
    set_print_pages(sheet, [c.group for c in columns], first_col, BAND_ROW, HEADER_ROW)

    templates = FormulaTemplates(columns, [p.node for p in parameters])
    first_row = row = HEADER_ROW + 1
    first_values: Sequence[float] = ()
    values: Sequence[float] = ()
    previous_refs: list[str] = []
    for step, values in enumerate(rows):
        refs = [xl_rowcol_to_cell(row, first_col + k) for k in range(len(columns))]
        formulas = templates.fill(templates.first if step == 0 else templates.later,
                                  refs + (previous_refs or refs) + param_refs)
        sheet.write_number(row, 0, step, formats["step"])
        for k, (column, formula, value) in enumerate(zip(columns, formulas, values)):
            cached = value if math.isfinite(value) else ERROR_VALUE
            if exercise:
                _write_student_cell(sheet, row, first_col + k, column, step, value, formats)
            elif formula is None and column.label in first_row_sources:
                sheet.write_formula(row, first_col + k, "=" + first_row_sources[column.label],
                                    formats["given_linked"], cached)
            elif formula is None:
                sheet.write_number(row, first_col + k, value, formats["given"])
            else:
                fmt = formats["given_later"] if column.given else formats["computed"]
                sheet.write_formula(row, first_col + k, formula, fmt, cached)
        previous_refs = refs
        first_values = first_values or values
        row += 1
    last_row = row - 1
    formats["numbers"].apply(sheet, first_row, first_col, last_row, first_col + len(columns) - 1)

    col_of = {c.label: first_col + k for k, c in enumerate(columns)}
    chart = loss_chart(workbook, chart_title, last_row - first_row + 1, loss_label)
    add_loss_series(chart, name, first_row, last_row, col_of[loss_label], [name, *series_cell])
    chart.set_legend({"position": "top"})
    chart.set_size({"width": 760, "height": CHART_HEIGHT_ROWS * ROW_HEIGHT_PX})
    sheet.insert_chart(CHART_ROW, chart_col, chart, {"object_position": 3})
    return StepsSheet(name, first_row, last_row, col_of, tuple(first_values), tuple(values), series_cell)


KEY_ETA_NOTE = ("Change η here: every later row of this sheet recalculates. The starting values are "
                "on the summary sheet (edit them there for every sheet at once, or type over this "
                "sheet's first data row).")
STUDENT_ETA_NOTE = ("η of this sheet: each later row's weights are the row above's w − η·∂E/∂w, "
                    "with η read from this cell (an absolute reference, $A$2, so it stays put when a "
                    "formula is copied down).")


def given_to_student(column: Column, step: int) -> bool:
    """Whether the student's copy shows this cell's number: every given value of the first row,
    and later the constants (targets, inputs, fixed biases: their next row is the row above).
    What the student works out (computed cells, each step's new weights) stays blank."""
    return column.given and (step == 0 or column.next_row is column.previous)


def _write_student_cell(sheet, row: int, col: int, column: Column, step: int, value: float,
                        formats) -> None:
    if given_to_student(column, step):
        sheet.write_number(row, col, value, formats["given"] if step == 0 else formats["given_later"])
    else:
        # Blank but formatted, so what the student types shows as the key's numbers do.
        sheet.write_blank(row, col, None, formats["given_later"] if column.given else formats["computed"])


def general_number(value: float) -> str:
    """A number as a spreadsheet's General format turns it into text (for cached values)."""
    return f"{value:.15g}".replace("e", "E")


def loss_chart(workbook, title, steps: int, loss_label: str, log_scale: bool = False):
    """A line chart of the loss per step."""
    chart = workbook.add_chart({"type": "line"})
    chart.set_title({"name": title, "name_font": {"size": 12}})
    # About ten labelled steps on the axis, however many rows there are.
    interval = max(1, steps // 10)
    chart.set_x_axis({"name": "step", "interval_unit": interval, "interval_tick": interval})
    y_axis = {"name": loss_label + (" (log scale)" if log_scale else ""),
              "major_gridlines": {"visible": True}}
    if log_scale:
        y_axis.update({"log_base": 10, "num_format": "0E+00"})
    chart.set_y_axis(y_axis)
    return chart


def add_loss_series(chart, sheet_name: str, first_row: int, last_row: int, loss_col: int,
                    series_name) -> None:
    chart.add_series({
        "name": series_name,
        "categories": [sheet_name, first_row, 0, last_row, 0],
        "values": [sheet_name, first_row, loss_col, last_row, loss_col],
        "line": {"width": 1.75},
    })


def cross_sheet_ref(sheet_name: str, row: int, col: int, absolute: bool = False) -> str:
    return f"{quote_sheetname(sheet_name)}!{xl_rowcol_to_cell(row, col, absolute, absolute)}"


SUMMARY = SUMMARY_SHEET


def add_summary_sheet(workbook, formats, title: str, lines: Sequence[str],
                      starting_values: Sequence[tuple[str, float]], derivations: Sequence[str]):
    """The first sheet: what the network is, the starting values every lr sheet follows, and
    every formula as math. Returns the sheet, its first free row and chart anchor (for
    ``add_summary_results``) and each starting value's cell, by label."""
    sheet = workbook.add_worksheet(SUMMARY)
    sheet.set_landscape()
    sheet.fit_to_pages(1, 0)  # printed or exported to PDF, the charts are not cut in half
    sheet.set_column(0, 0, 16)
    sheet.set_column(1, 1, 14)
    sheet.set_column(2, 4, 16)
    sheet.write_string(0, 0, title, formats["title"])
    for row, line in enumerate(lines, start=1):
        sheet.write_string(row, 0, line, formats["text"])

    # The one place to play: every lr sheet's first row reads these cells.
    row = len(lines) + 2
    sheet.write_string(row, 0, "Starting values", formats["heading"])
    sheet.write_string(row, 1, "← edit: every lr sheet follows", formats["hint"])
    sources = {}
    for row, (label, value) in enumerate(starting_values, start=row + 1):
        sheet.write_string(row, 0, label, formats["label"])
        sheet.write_number(row, 1, value, formats["given"])
        sources[label] = cross_sheet_ref(SUMMARY, row, 1, absolute=True)
    formats["numbers"].apply(sheet, len(lines) + 3, 1, row, 1)
    chart_anchor = (len(lines) + 2, 3)

    # Leave room for the charts beside the starting values before the derivations begin.
    row = max(row + 2, chart_anchor[0] + 22)
    sheet.write_string(row, 0, "The chain rule, derived by the engine (each is one column's formula)",
                       formats["heading"])
    for row, text in enumerate(derivations, start=row + 1):
        sheet.write_string(row, 0, text, formats["math"])
    return sheet, row + 2, chart_anchor, sources


def add_summary_results(workbook, formats, summary, first_row: int, chart_anchor,
                        sheets: Sequence[tuple[float, StepsSheet]], loss_label: str) -> None:
    """Each sheet's η and its loss at the first and last step (live links into each sheet), and
    two charts with a line per learning rate: linear, and logarithmic for the small losses."""
    sheet = summary
    sheet.write_string(first_row, 0, "Loss per learning rate", formats["heading"])
    header = ["learning rate", "sheet", f"{loss_label} first", f"{loss_label} last"]
    for col, text in enumerate(header):
        sheet.write_string(first_row + 1, col, text, formats["header"])
    steps = max(s.last_row - s.first_row + 1 for _, s in sheets)
    title = f"{loss_label} per step, one line per learning rate"
    charts = [loss_chart(workbook, title, steps, loss_label),
              loss_chart(workbook, title, steps, loss_label, log_scale=True)]
    for row, (learning_rate, steps) in enumerate(sheets, start=first_row + 2):
        loss_col = steps.columns[loss_label]
        first_value, last_value = steps.first_values[loss_col - 1], steps.last_values[loss_col - 1]
        # η lives on its sheet; this row, the legend and the sheet's chart follow it.
        eta = cross_sheet_ref(steps.name, *LEARNING_RATE_CELL, absolute=True)
        sheet.write_formula(row, 0, "=" + eta, formats["linked_learning_rate"], learning_rate)
        sheet.write_url(row, 1, f"internal:{cross_sheet_ref(steps.name, 0, 0)}", string=steps.name)
        for col, (value_row, value) in enumerate(((steps.first_row, first_value),
                                                  (steps.last_row, last_value)), start=2):
            cached = value if math.isfinite(value) else ERROR_VALUE
            sheet.write_formula(row, col, "=" + cross_sheet_ref(steps.name, value_row, loss_col),
                                formats["computed"], cached)
        for chart in charts:  # the legend names η by the sheet's own "η = …" cell
            add_loss_series(chart, steps.name, steps.first_row, steps.last_row, loss_col,
                            [steps.name, *steps.series_name_cell])
    formats["numbers"].apply(sheet, first_row + 2, 2, first_row + 1 + len(sheets), 3)
    for k, chart in enumerate(charts):
        chart.set_size({"width": 700, "height": 420})
        sheet.insert_chart(chart_anchor[0], chart_anchor[1] + 11 * k, chart)
