"""Where an error value comes from. A spreadsheet passes `#VALUE!` or `#DIV/0!` on to every cell
that reads it, so a student sees a sheet full of them; the report names the one cell where the
error starts, and what that cell holds (text where a number belongs, or its own formula)."""

from __future__ import annotations

import math

from sheetprop.check.read.cells import references
from sheetprop.spreadsheet.error_values import is_error_value
from sheetprop.spreadsheet.references import WHERE, quoted_sheet, unquoted_sheet

MAX_TRAIL = 10_000  # cells followed back; a table's error chain is at most rows × columns long


def describe_cell(table, where: str, value: float | None = None) -> str:
    """What a cell holds, for a message: '= 0.5', 'the text "↑ change η"', 'empty'."""
    if value is not None and math.isfinite(value):
        return f"= {value:g}"
    content = _value(table, *_split(where, table.sheet))
    if content is None or content == "":
        return "which is empty"
    if is_error_value(content):
        return f"which shows {content}"
    if isinstance(content, str):
        return f"which holds the text {content!r}"
    return f"= {content!r}"


def error_origin(table, ref: str) -> str | None:
    """'A3, which holds the text "↑ change η"' for a cell whose error value starts there: the chain
    of error values it reads followed back to a cell that reads text, or whose own formula makes
    the error from numbers. None when the workbook cannot be read through."""
    if table.books is None:
        return None
    sheet, cell = table.sheet, ref
    seen = set()
    while len(seen) < MAX_TRAIL and (sheet, cell) not in seen:
        seen.add((sheet, cell))
        formula = _formula(table, sheet, cell)
        upstream = None
        for ref_sheet, column, row in references(formula or ""):
            ref_sheet = ref_sheet or sheet
            value = _value(table, ref_sheet, f"{column}{row}")
            if isinstance(value, str) and not is_error_value(value) and value.strip():
                return f"{_name(ref_sheet, column + str(row), table.sheet)}, which holds the text {value!r}"
            if upstream is None and is_error_value(value):
                upstream = ref_sheet, f"{column}{row}"
        if upstream is None:
            shown = _value(table, sheet, cell)
            if (sheet, cell) == (table.sheet, ref):
                return f"its own formula ({shown})" if formula else None
            return f"{_name(sheet, cell, table.sheet)}, whose own formula makes {shown}"
        sheet, cell = upstream
    return None


def _split(where: str, default_sheet: str) -> tuple[str, str]:
    match = WHERE.fullmatch(where)
    if match is None:
        return default_sheet, where
    sheet = unquoted_sheet(match[1], match[2]) or default_sheet
    return sheet, f"{match[3]}{match[4]}"


def _name(sheet: str, cell: str, own_sheet: str) -> str:
    return cell if sheet == own_sheet else f"{quoted_sheet(sheet)}!{cell}"


def _formula(table, sheet: str, cell: str) -> str | None:
    books = table.books
    if sheet not in books[0].sheetnames:
        return None
    content = books[0][sheet][cell].value
    content = getattr(content, "text", content)  # an array formula
    return content if isinstance(content, str) and content.startswith("=") else None


def _value(table, sheet: str, cell: str):
    books = table.books
    if books is None or sheet not in books[1].sheetnames:
        return None
    return books[1][sheet][cell].value
