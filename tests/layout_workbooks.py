"""Hand-laid student workbooks for the layouts of issue 19, written independently of sheetprop.

A sheet is a dict of cells, {"C5": 0.05, "D5": "=B5*C5", "A1": "i1"}; ``write`` works out every
formula's value with a few lines of plain Python (references replaced by numbers, ^ by **, EXP
by math.exp) and saves it as the cached value, as a spreadsheet program would, so check reads
the file without LibreOffice. A cell of a circular chain keeps the value given in ``stale``.
"""

from __future__ import annotations

import math
import re

import xlsxwriter
from xlsxwriter.utility import xl_cell_to_rowcol, xl_rowcol_to_cell

_REF = re.compile(r"\$?([A-Z]{1,3})\$?([0-9]+)(?![\w(])")


def evaluate(cells: dict, stale: dict | None = None) -> dict:
    """Every cell's value; formulas evaluated in Python, a cycle's cells from ``stale``."""
    stale = stale or {}
    values: dict = {}

    def value(ref: str, trail=()):
        if ref in values:
            return values[ref]
        content = cells.get(ref)
        if not (isinstance(content, str) and content.startswith("=")):
            return content if isinstance(content, (int, float)) else 0.0
        if ref in trail:
            raise RecursionError(ref)
        if ref in stale:
            values[ref] = stale[ref]
            return stale[ref]
        text = _REF.sub(lambda m: repr(float(value(m[1] + m[2], trail + (ref,)))), content[1:])
        text = text.replace("^", "**").replace("EXP(", "math.exp(")
        values[ref] = float(eval(text, {"math": math}))  # noqa: S307 - the test's own formulas
        return values[ref]

    for ref in cells:
        value(ref)
    return values


def write(path, sheets: dict[str, dict], stale: dict | None = None, bold: dict | None = None) -> None:
    """``sheets``: sheet name -> cells. ``stale``: sheet name -> {cell: cached value to save}.
    ``bold``: sheet name -> cells written in bold (so the file has a cell format besides the default)."""
    book = xlsxwriter.Workbook(str(path))
    strong = book.add_format({"bold": True})
    for name, cells in sheets.items():
        sheet = book.add_worksheet(name)
        values = evaluate(cells, (stale or {}).get(name))
        for ref, content in cells.items():
            row, col = xl_cell_to_rowcol(ref)
            if isinstance(content, str) and content.startswith("="):
                sheet.write_formula(row, col, content, None, values[ref])
            elif isinstance(content, str):
                sheet.write_string(row, col, content, strong if ref in (bold or {}).get(name, ()) else None)
            else:
                sheet.write_number(row, col, content)
    book.close()


def cell(row: int, col: int) -> str:
    """"C5" for (4, 2), 0-based."""
    return xl_rowcol_to_cell(row, col)
