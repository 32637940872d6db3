"""A student's fill of `build --exercise`'s student version, made from the answer key: the one
helper every test that hands in a filled exercise uses.

``fill`` copies the key's formulas (or, with ``values``, the numbers the key saved) into the
blank cells of the student version's tables; ``edit`` may change each on the way. With
``saved_values`` every formula cell of the copy is saved with the number the key saved for that
cell (or the one ``shown`` gives), as a file a spreadsheet program saved: check then reads those
numbers instead of working them out, which is what a formula that only passes on a number (a
volatile function, an external link) needs to look right."""

from __future__ import annotations

import re
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Callable

import openpyxl


def header(sheet) -> tuple[int, dict[str, str]]:
    """The header row (the one starting with "step") and each label's column letters."""
    for row in sheet.iter_rows(max_row=40):
        if row[0].value == "step":
            return row[0].row, {c.value: c.column_letter for c in row if isinstance(c.value, str)}
    raise AssertionError("no header row")


def fill(key, exercise, out, sheets=None, rows: int | None = None, edit: Callable | None = None,
         values: bool = False, saved_values: bool = False, extra: Callable | None = None,
         shown: dict | None = None) -> Path:
    """The student copy of ``exercise`` with every blank cell of the first ``rows`` rows (all, by
    default) of each sheet in ``sheets`` (every sheet with a table, by default) given the key's
    formula, or with ``values`` the number the key saved; ``edit(sheet, label, row, content)`` may
    change it (None leaves the cell blank). ``extra(book)`` may change the workbook before it is
    saved; ``saved_values`` and ``shown`` ({(sheet, "J18"): number}) as in the module's docstring."""
    key_book = openpyxl.load_workbook(key, data_only=values)
    book = openpyxl.load_workbook(exercise)
    for name in sheets or [s.title for s in book.worksheets if _has_table(s)]:
        first, columns = header(book[name])
        by_column = {letter: label for label, letter in columns.items()}
        last = first + rows if rows is not None else book[name].max_row
        for row in book[name].iter_rows(min_row=first + 1, max_row=last):
            for cell in row:
                source = key_book[name][cell.coordinate].value
                if cell.value is None and source is not None:
                    cell.value = edit(name, by_column.get(cell.column_letter), cell.row, source) if edit else source
    if extra is not None:
        extra(book)
    book.save(out)
    if saved_values:
        save_values(out, key, shown or {})
    return Path(out)


def key_values(key) -> dict[tuple[str, str], object]:
    """Every number the key saved, by (sheet, cell)."""
    book = openpyxl.load_workbook(key, data_only=True)
    return {(sheet.title, cell.coordinate): cell.value for sheet in book.worksheets
            for row in sheet.iter_rows() for cell in row if isinstance(cell.value, (int, float))}


def save_values(path, key, shown: dict) -> None:
    """Give every formula cell of the workbook at ``path`` (as openpyxl saved it: no values) the
    number ``shown`` names for it, else the one the key saved for that cell."""
    numbers = {**key_values(key), **shown}
    book = openpyxl.load_workbook(path, read_only=True)
    names = book.sheetnames
    book.close()
    with tempfile.TemporaryDirectory() as work:
        copy = Path(work) / "copy.xlsx"
        with zipfile.ZipFile(path) as source, zipfile.ZipFile(copy, "w", zipfile.ZIP_DEFLATED) as target:
            for item in source.infolist():
                data = source.read(item)
                match = re.fullmatch(r"xl/worksheets/sheet(\d+)\.xml", item.filename)
                if match:
                    sheet = names[int(match[1]) - 1]

                    def value(m, sheet=sheet):
                        number = numbers.get((sheet, m[2].decode()))
                        return m[1] + (b"<v>%s</v>" % repr(float(number)).encode() if number is not None else b"")

                    data = re.sub(rb'(<c r="([A-Z]+\d+)"[^>]*>(?:<f>[^<]*</f>|<f [^>]*>[^<]*</f>))<v */>', value, data)
                target.writestr(item, data)
        shutil.copyfile(copy, path)


def _has_table(sheet) -> bool:
    try:
        header(sheet)
    except AssertionError:
        return False
    return True
