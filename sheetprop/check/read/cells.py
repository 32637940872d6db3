"""A sheet's cells as check reads them: each cell's reference, formula and saved value (``Cell``),
the cells a formula references, the cells a sheet really holds, and the one cell a defined name
stands for. Below finding and judging: both read cells through here."""

from __future__ import annotations

import re

from sheetprop.spreadsheet import formulas
from sheetprop.spreadsheet.formulas import formula_at_row, relative_with_template
from sheetprop.spreadsheet.references import ANY_REFERENCE as _ANY_REFERENCE, MAX_ROW, reference_parts as _reference_parts

_COLUMN_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class Cell:
    """One cell of a table: its reference, its formula and the value saved with it, and what the
    checks ask of those several times a cell, worked out once when it is read. A plain class
    with slots, not a dataclass: a table of 18,000 rows makes half a million of them."""

    __slots__ = ("_where", "_row", "formula", "value", "number", "_typed")

    def __init__(self, ref: str, formula: str | None, value: object, row: int | None = None):
        # "AC5", or with ``row`` its column "AC" alone: the reference is then made when asked,
        # not held (a table of 18,000 rows would hold half a million such strings).
        self._where, self._row = ref, row
        self.formula = formula    # "=F4-$B$1*AB4", or None where the cell holds a typed value
        self.value = value        # the cached value: a float, an error text such as "#DIV/0!", or None
        self.number = value if type(value) is float else as_number(value)
        self._typed = formula is None or None  # None: not yet looked for (most cells are judged without)

    @property
    def ref(self) -> str:
        """The cell's reference, "AC5"."""
        return self._where if self._row is None else f"{self._where}{self._row}"

    @property
    def row(self) -> int:
        return int(self._where.lstrip(_COLUMN_LETTERS)) if self._row is None else self._row

    @property
    def is_typed(self) -> bool:
        """A number typed (or pasted) in, or a formula without a single cell reference (=0.52)."""
        typed = self._typed
        if typed is None:
            typed = self._typed = _ANY_REFERENCE.search(self.formula) is None
        return typed

    @property
    def is_blank(self) -> bool:
        return self.formula is None and self.value in (None, "")

    def _key(self) -> tuple:
        return self.ref, self.formula, self.value

    def __eq__(self, other) -> bool:
        return self._key() == other._key() if isinstance(other, Cell) else NotImplemented

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Cell(ref={self.ref!r}, formula={self.formula!r}, value={self.value!r})"


def as_number(value) -> float | None:
    """A cell's value as a float, or None where it is no number (text, TRUE, a date). An integer
    of 400 digits (openpyxl reads it exactly) is no number a spreadsheet holds either."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number


def references(formula: str) -> list[tuple[str | None, str, int]]:
    """(sheet or None, column letters, row) of every cell a formula references; a "cell" in row 0
    or past row 1,048,576 is none."""
    return [(sheet, column, row) for sheet, column, row, _ in _reference_parts(formula) if 1 <= row <= MAX_ROW]


class CopiedDownReferences:
    """``references`` of each formula of a column, read down the rows: a formula that is the one
    above's copied down (``formulas.formula_at_row``) references the same cells, its relative
    rows one further down, so only a column's first formula (and each that differs) is taken
    apart."""

    def __init__(self):
        self._last: dict[str, tuple] = {}  # per column: (template, its row, [(sheet, column, row, relative)])

    def at(self, key: str, formula: str, row: int) -> list[tuple[str | None, str, int]]:
        last = self._last.get(key)
        if last is not None and formula_at_row(last[0], row) == formula:
            _, base, found = last
            shift = row - base
        else:
            found = _reference_parts(formula)
            self._last[key] = (relative_with_template(formula, row)[1], row, found)
            shift = 0
        return [(sheet, column, number + shift if relative and number >= 0 else number)
                for sheet, column, number, relative in found
                if 1 <= (number + shift if relative and number >= 0 else number) <= MAX_ROW]


def present_rows(sheet, first: int, last: int):
    """The cells a sheet really holds in rows ``first``…``last``, row by row (rows without any
    left out). ``iter_rows`` makes every cell of the used range, and a sheet holding only A1
    and XFD200 has 3 million of them."""
    if hasattr(sheet, "present_rows"):  # check's own reader (xlsx_reader) knows its cells
        yield from sheet.present_rows(first, last)
        return
    cells = getattr(sheet, "_cells", None)
    if cells is None:  # not an openpyxl worksheet in memory: its own iteration
        yield from sheet.iter_rows(min_row=first, max_row=last)
        return
    rows: dict[int, list] = {}
    for (row, col), cell in list(cells.items()):
        if first <= row <= last:
            rows.setdefault(row, []).append(cell)
    for row in sorted(rows):
        yield sorted(rows[row], key=lambda cell: cell.column)


def count_cells(sheet, first: int, last: int) -> int:
    """How many cells ``present_rows`` gives for rows ``first``…``last``."""
    if hasattr(sheet, "count_cells"):  # check's own reader: counted without a cell made
        return sheet.count_cells(first, last)
    return sum(len(row) for row in present_rows(sheet, first, last))


def worksheet_names(book) -> set[str]:
    """The sheets that hold cells: a chartsheet (a chart on a tab of its own) has none."""
    return {sheet.title for sheet in book.worksheets}


def named_cell(book, sheet: str, name: str) -> formulas.CellRef | None:
    """The one cell a defined name stands for in a formula on ``sheet`` (the sheet's own names
    first, then the workbook's), or None where it names no single cell."""
    for scope in (book[sheet].defined_names, book.defined_names):
        defined = scope.get(name) if hasattr(scope, "get") else None
        if defined is None:
            continue
        try:  # a name may hold another name, a bare A1, an unterminated quote: none is one cell
            destinations = list(defined.destinations)
        except Exception:  # noqa: BLE001 - such text raises IndexError, ValueError… (either reader's names)
            return None
        if len(destinations) == 1 and (match := re.fullmatch(r"\$?([A-Z]{1,3})\$?(\d+)", destinations[0][1])):
            return destinations[0][0], match[1], int(match[2])
    return None
