"""The `step view` sheet of a layered template: one step of one run, drawn as the course draws it.

Two picker cells (a step, by data validation a whole number; a learning-rate sheet, from a list)
choose a row; below them every grid the network names (``Network.grids``: an image, its kernels,
feature maps and their gradients; Q, K, V, the scores and attention weights; the states h_t along
time) reads that row live, each cell =INDEX(the column on the chosen sheet, step + 1), coloured
by a colour scale. Plain INDEX, CHOOSE and MATCH: every spreadsheet program since Excel 2007.
"""

from __future__ import annotations

import math
from typing import Sequence

from xlsxwriter.utility import quote_sheetname, xl_col_to_name, xl_rowcol_to_cell

from sheetprop.writer.workbook import ERROR_VALUE, StepsSheet

STEP_VIEW_SHEET = "step view"
STEP_CELL, SHEET_CELL, CHOICE_CELL = (2, 1), (3, 1), (3, 3)   # B3, B4, D4
NAMES_ROW, FIRST_GRID_ROW = 4, 6                             # the sheet names in row 5, grids from row 7
GAP = 1                                                       # blank columns between grids
# Values from blue (low) to red (high); gradients white at 0, so their sign shows.
COLOURS = {"min_color": "#5A8AC6", "mid_color": "#FFFFFF", "max_color": "#F8696B"}


def add_step_view(book, formats, grids: Sequence, sheets: Sequence[StepsSheet], steps: int) -> None:
    """The sheet, after the lr sheets it reads. ``grids``: the network's (``stacked.Grid``)."""
    if not grids or not sheets:
        return
    sheet = book.add_worksheet(STEP_VIEW_SHEET)
    sheet.set_column(0, 0, 16)
    widest = max(sum(max(len(r) for r in g.rows) + GAP for g in grids if g.example == e)
                 for e in {g.example for g in grids})
    sheet.set_column(1, widest + 1, 11)  # room for -0.0123456
    sheet.set_landscape()
    sheet.fit_to_pages(1, 0)
    sheet.write_string(0, 0, "Step view: one step of one run, drawn as grids", formats["title"])
    sheet.write_string(1, 0, "Pick a step and a learning-rate sheet: every grid below reads that row of that "
                             "sheet (=INDEX of its column), so it follows any change there.", formats["hint"])
    step_ref = xl_rowcol_to_cell(*STEP_CELL, True, True)
    choice_ref = xl_rowcol_to_cell(*CHOICE_CELL, True, True)
    names = [s.name for s in sheets]

    sheet.write_string(STEP_CELL[0], 0, "step", formats["label"])
    sheet.write_number(*STEP_CELL, steps - 1, formats["learning_rate"])
    sheet.data_validation(*STEP_CELL, *STEP_CELL, {"validate": "integer", "criteria": "between", "minimum": 0,
                                       "maximum": steps - 1, "input_title": "step",
                                       "input_message": f"0 (the starting row) to {steps - 1}"})
    sheet.write_string(STEP_CELL[0], 2, f"← 0 to {steps - 1}", formats["hint"])
    sheet.write_string(SHEET_CELL[0], 0, "sheet", formats["label"])
    sheet.write_string(*SHEET_CELL, names[0], formats["learning_rate"])
    sheet.data_validation(*SHEET_CELL, *SHEET_CELL, {"validate": "list", "source": names})
    last_name = xl_rowcol_to_cell(NAMES_ROW, 2 + len(names) - 1, True, True)
    sheet.write_string(SHEET_CELL[0], 2, "its number:", formats["hint"])
    sheet.write_formula(*CHOICE_CELL, f"=MATCH({xl_rowcol_to_cell(*SHEET_CELL, True, True)},"
                        f"{xl_rowcol_to_cell(NAMES_ROW, 2, True, True)}:{last_name},0)", formats["text"], 1)
    sheet.write_string(NAMES_ROW, 0, "lr sheets", formats["hint"])
    for k, name in enumerate(names):
        sheet.write_string(NAMES_ROW, 2 + k, name, formats["hint"])

    row = FIRST_GRID_ROW
    examples = sorted({g.example for g in grids})
    for example in examples:
        band = [g for g in grids if g.example == example]
        sheet.write_string(row, 0, "parameters" if example == 0 else f"example {example}", formats["heading"])
        row = _write_band(sheet, formats, band, row + 1, sheets, step_ref, choice_ref) + 1


def _write_band(sheet, formats, grids, row: int, sheets, step_ref: str, choice_ref: str) -> int:
    """Grids side by side from column B, each under its title; rows in order (constant_memory)."""
    placed, col = [], 1
    for grid in grids:
        placed.append((grid, col))
        col += max(len(r) for r in grid.rows) + GAP
    height = max(len(g.rows) for g in grids)
    for k in range(height + 1):
        for grid, first_col in placed:
            if k == 0:
                sheet.write_string(row, first_col, grid.title, formats["label"])
            elif k - 1 < len(grid.rows):
                for j, label in enumerate(grid.rows[k - 1]):
                    formula, cached = _cell(label, sheets, step_ref, choice_ref)
                    sheet.write_formula(row + k, first_col + j, formula, formats["computed"], cached)
    for grid, first_col in placed:
        last = (row + len(grid.rows), first_col + max(len(r) for r in grid.rows) - 1)
        scale = dict(COLOURS, type="3_color_scale")
        if grid.title.startswith("∂"):
            scale.update(mid_type="num", mid_value=0)
        sheet.conditional_format(row + 1, first_col, *last, scale)
        formats["numbers"].apply(sheet, row + 1, first_col, *last)
    return row + height + 1


def _cell(label: str, sheets: Sequence[StepsSheet], step_ref: str, choice_ref: str) -> tuple[str, object]:
    """=INDEX(column, step + 1) on the chosen sheet, and the value it shows as built (the last
    step of the first sheet)."""
    reads = []
    for s in sheets:
        letters = xl_col_to_name(s.columns[label])
        column = f"{quote_sheetname(s.name)}!${letters}${s.first_row + 1}:${letters}${s.last_row + 1}"
        reads.append(f"INDEX({column},{step_ref}+1)")
    formula = "=" + (reads[0] if len(reads) == 1 else f"CHOOSE({choice_ref},{','.join(reads)})")
    value = sheets[0].last_values[sheets[0].columns[label] - 1]
    return formula, value if math.isfinite(value) else ERROR_VALUE
