"""Where everything sits on a learning-rate sheet, and Excel's own limits: the one home of the
layout that the writer lays out, the help texts and docs/workbook.md describe, and ``check`` reads.

Column A, above the step numbers, holds the sheet's parameters, each a value under its label:
η in A2 (label in A1), then the optimizer's hyper-parameters (β1 in A4, …), then the gradient
check's h. Column A stays in view however far one scrolls. The loss chart fills rows 1–15 of the
first screen, right of column A; row 16 is the band naming each group of columns, row 17 the
header, and the steps start on row 18. Positions are kept as (row, column) numbers, counted from
0 as xlsxwriter does; ``cell_name`` spells one the way a person reads it.
"""

from __future__ import annotations

from typing import Sequence

# Excel's own limits: past them a file opens damaged, or not at all.
MAX_COLUMNS, MAX_ROWS, MAX_FORMULA_CHARACTERS = 16_384, 1_048_576, 8_192
MAX_SHEET_NAME = 31

STEP_COLUMN = 0               # column A: the step number, and the parameters above the table
LEARNING_RATE_CELL = (1, 0)   # A2
PARAMETER_SPACING = 2         # each parameter takes two rows: its label, then its value
CHART_ROW, CHART_HEIGHT_ROWS = 0, 15                 # the loss chart: rows 1-15
BAND_ROW = CHART_ROW + CHART_HEIGHT_ROWS             # row 16: which part of backprop each column is
HEADER_ROW = BAND_ROW + 1                            # row 17
FIRST_DATA_ROW = HEADER_ROW + 1                      # row 18: the starting values
STEP_LABEL = "step"
SHEET_PREFIX = "lr="
SUMMARY_SHEET = "summary"


def cell_name(cell: tuple[int, int], absolute: bool = False) -> str:
    """(1, 0) -> "A2" ("$A$2" when absolute)."""
    # Imported here: check reads this module's limits in every worker of a class, and never
    # names a cell with it, so it does not pay for xlsxwriter's import.
    from xlsxwriter.utility import xl_rowcol_to_cell

    return xl_rowcol_to_cell(cell[0], cell[1], row_abs=absolute, col_abs=absolute)


def parameter_cell(k: int) -> tuple[int, int]:
    """The value cell of the k-th parameter of a sheet: η is 0 (A2), the next is 1 (A4), …"""
    return LEARNING_RATE_CELL[0] + PARAMETER_SPACING * k, LEARNING_RATE_CELL[1]


def parameter_label_cell(k: int) -> tuple[int, int]:
    row, col = parameter_cell(k)
    return row - 1, col


def sheet_name(learning_rate_text: str) -> str:
    """The sheet of one learning rate, named as the rate was typed: "lr=0.5"."""
    return SHEET_PREFIX + learning_rate_text


def parameter_cells(labels: Sequence[str]) -> str:
    """Where parameters in this order sit, in words: "η in A2, μ in A4"."""
    return ", ".join(f"{label} in {cell_name(parameter_cell(k))}" for k, label in enumerate(labels))


def step_cell(step: int, column: int = STEP_COLUMN) -> tuple[int, int]:
    """The cell of a step's row (step 0 is the starting row) in a column."""
    return FIRST_DATA_ROW + step, column


def describe() -> str:
    """The layout in words, for help texts and docs/workbook.md."""
    return (f"η in {cell_name(LEARNING_RATE_CELL)} (its label above it), the optimizer's "
            f"hyper-parameters and the gradient check's h below it in column A, the loss chart in rows "
            f"{CHART_ROW + 1}–{CHART_ROW + CHART_HEIGHT_ROWS}, the band naming each group of columns in row "
            f"{BAND_ROW + 1}, the header in row {HEADER_ROW + 1}, and one row per step from row "
            f"{FIRST_DATA_ROW + 1}")
