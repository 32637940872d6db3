"""The ``_sheetprop`` record every built workbook carries: what network, rows and sheets it was
built from. The writer puts it in; ``check`` reads it back (one home, so the two cannot drift).

The record is a very hidden sheet, ``_sheetprop`` (no spreadsheet program's menu shows it), of
key / value rows, so that ``check`` knows the exact network a workbook was built from rather than
inferring it from the labels:

    A1 format     B1 sheetprop-exercise-1
    A2 template   B2 the template as JSON (``template.template_record``)
    A3 steps      B3 rows per lr sheet
    A4 sheets     B4 the lr sheets' names as a JSON list
    A5 student    B5 the student's id, in a variant built from a roster (absent otherwise)

A cell holds at most 32,767 characters; the JSON of the largest templates is longer, so it
runs on in C2, D2, … and is read back joined.
"""

from __future__ import annotations

import json
from typing import Sequence

from sheetprop.errors import UserError
from sheetprop.layout import MAX_ROWS
from sheetprop.network.template import Template, parse_template, template_record

RECORD_SHEET = "_sheetprop"
RECORD_FORMAT = "sheetprop-exercise-1"
RECORD_KEYS = ("format", "template", "steps", "sheets")
STUDENT_KEY = "student"  # the optional fifth row: whose variant the workbook is
MAX_CELL_CHARACTERS = 32_767  # Excel's limit; past it a cell is cut short
MAX_RECORD_CHARACTERS = 1 << 20  # the largest template's JSON is ~60 KB; a hostile file may hold GBs
MAX_SHEET_ROWS = MAX_ROWS

__all__ = ["RECORD_SHEET", "RECORD_FORMAT", "template_record", "write_exercise_record", "read_exercise_record"]


def write_exercise_record(book, template: Template, steps: int, sheet_names: Sequence[str],
                          student: str | None = None) -> None:
    """Add the very hidden ``_sheetprop`` sheet to an xlsxwriter workbook (last, so it moves no
    other sheet's index); ``student``: the id whose variant it is."""
    sheet = book.add_worksheet(RECORD_SHEET)
    sheet.very_hidden()
    template_json = json.dumps(template_record(template), ensure_ascii=False, allow_nan=False,
                               separators=(",", ":"))
    values = [RECORD_FORMAT, template_json, steps, json.dumps(list(sheet_names), ensure_ascii=False)]
    # Rows in order: the workbook may be in constant_memory mode.
    for row, (key, value) in enumerate(zip(RECORD_KEYS, values)):
        sheet.write_string(row, 0, key)
        if isinstance(value, int):
            sheet.write_number(row, 1, value)
            continue
        for k in range(0, max(len(value), 1), MAX_CELL_CHARACTERS):
            sheet.write_string(row, 1 + k // MAX_CELL_CHARACTERS, value[k:k + MAX_CELL_CHARACTERS])
    if student is not None:
        sheet.write_string(len(RECORD_KEYS), 0, STUDENT_KEY)
        sheet.write_string(len(RECORD_KEYS), 1, student)


def read_exercise_record(book) -> dict | None:
    """The record of an openpyxl workbook: {"template": Template, "steps": int, "sheets": [names],
    "student": id or None}, or None when it has no ``_sheetprop`` sheet. A damaged record is a
    one-line UserError."""
    if RECORD_SHEET not in book.sheetnames:
        return None
    rows = [list(row) for row in book[RECORD_SHEET].iter_rows(min_row=1, max_row=len(RECORD_KEYS) + 1,
                                                              values_only=True)]
    extra = rows[len(RECORD_KEYS):]
    rows = rows[:len(RECORD_KEYS)]
    rows += [[] for _ in range(len(RECORD_KEYS) - len(rows))]
    for number, (key, row) in enumerate(zip(RECORD_KEYS, rows), start=1):
        found = row[0] if row else None
        if found != key:
            _damaged(f"A{number} should say {key!r}, it holds {_shown(found)}")
    format_, template_text, steps, sheets_text = (_value(row) for row in rows)
    if format_ != RECORD_FORMAT:
        _damaged(f"B1 names the format {format_!r}; this sheetprop reads {RECORD_FORMAT!r}")
    data = _json(template_text, "B2 (template)", dict, "a JSON object")
    try:
        template = parse_template(data, source=f"{RECORD_SHEET}!B2")
    except UserError as exc:
        _damaged(str(exc))
    sheets = _json(sheets_text, "B4 (sheets)", list, "a JSON list of sheet names")
    if not sheets or not all(isinstance(name, str) and 0 < len(name) <= 31 for name in sheets):
        _damaged("B4 (sheets) must list the names of the learning-rate sheets")
    student = None
    if extra and extra[0] and extra[0][0] == STUDENT_KEY and isinstance(_value(extra[0]), str):
        student = _value(extra[0])[:100]
    return {"template": template, "steps": _steps(steps), "sheets": sheets, "student": student}


def _value(row: list):
    """Column B's value; a text that runs on into C, D, … is joined back together."""
    cells = row[1:]
    if not cells or not isinstance(cells[0], str):
        return cells[0] if cells else None
    parts = []
    for cell in cells:
        if not isinstance(cell, str):
            break
        parts.append(cell)
    return "".join(parts)


def _json(text, where: str, kind: type, what: str):
    if not isinstance(text, str):
        _damaged(f"{where} should be {what}, it holds {_shown(text)}")
    if len(text) > MAX_RECORD_CHARACTERS:
        _damaged(f"{where} is {len(text):,} characters long; a template needs far fewer")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        _damaged(f"{where} is not valid JSON ({exc.msg} at character {exc.pos})")
    except RecursionError:
        _damaged(f"{where} nests too deep to be a template")
    except ValueError:  # a number of more than 4,300 digits, past Python's limit for int()
        _damaged(f"{where} holds a number too long to be one")
    if not isinstance(value, kind):
        _damaged(f"{where} should be {what}")
    return value


def _steps(value) -> int:
    # A spreadsheet program that saved the file may have turned 100 into 100.0.
    if isinstance(value, float) and value.is_integer() and abs(value) <= MAX_SHEET_ROWS:
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_SHEET_ROWS:
        _damaged(f"B3 (steps) should be a whole number of rows, it holds {_shown(value)}")
    return value


def _shown(value) -> str:
    """A cell's value, short, for a message (repr of an int of 5,000 digits raises)."""
    try:
        text = repr(value)
    except ValueError:
        return "a number too long to show"
    return text if len(text) <= 60 else text[:57] + "..."


def _damaged(detail: str):
    raise UserError(f"the workbook's {RECORD_SHEET} record is damaged: {detail}")
