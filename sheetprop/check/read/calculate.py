"""The values a workbook's formulas would show, computed here where the file saved none.

A workbook written by a program (openpyxl, a script) and never opened in a spreadsheet has
formulas without saved values, and ``check`` grades values as well as formulas. LibreOffice can
compute them, but it takes seconds a file and many teachers' machines have none. This module
computes them with check's own formula reader (``formulas.parse``) and the engine: a formula is
read once into an expression over the cells it references (once per column, for a formula
copied down: its references are kept relative to its row), compiled (``engine.numeric``) and
evaluated cell by cell, each after the cells it reads (an explicit stack: a chain of 18,000 rows
is no recursion).

What it cannot compute it leaves unknown, with every cell computed from it: a formula the
spreadsheet evaluator cannot read or compute (``sheetprop.spreadsheet.evaluate``, which holds
the spreadsheet's rules), and a circular reference. ``Calculation.covers`` says whether the
tables check grades are free of unknown cells; where they are not, LibreOffice calculates the
file, as before this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sheetprop.check.read.cells import named_cell
from sheetprop.check.read.xlsx_reader import BookView, SheetView, with_values
from sheetprop.spreadsheet import evaluate as spreadsheet
from sheetprop.spreadsheet import formulas
from sheetprop.spreadsheet.error_values import REF
from sheetprop.spreadsheet.evaluate import UNKNOWN as _UNKNOWN, Reading as _Reading

_VISITING = object()  # a cell on the stack, waiting for the cells it reads
_OFFSET = re.compile(r"\[(-?\d+)\]")


@dataclass
class Calculation:
    values: object        # the values view, each formula cell holding its computed value
    unknown: set          # (sheet, row, column) of the formula cells left as the file saved them
    cells: int            # formula cells computed

    def covers(self, tables) -> bool:
        """Whether every cell of ``tables`` (audit's) was computed. The cells they read besides
        (η, an optimizer's β) need no look: a cell computed from an unknown one is unknown."""
        for table in tables:
            first, last = table.header_row + 1, table.header_row + len(table.rows)
            columns = set(table.columns.values())
            if any(sheet == table.sheet and first <= row <= last and column in columns
                   for sheet, row, column in self.unknown):
                return False
        return True


def calculate(formula_book, value_book) -> Calculation:
    """Every formula cell's value, from ``open_workbook``'s two views (the streaming reader's or
    openpyxl's); saved values of formula cells are ignored (xlsxwriter saves 0 in each)."""
    calculator = _Calculator(formula_book, value_book)
    calculator.run()
    changed = {title: {row: {column: value for column, value in cells.items() if value is not _UNKNOWN}
                       for row, cells in rows.items()}
               for title, rows in calculator.results.items()}
    count = sum(len(cells) for rows in changed.values() for cells in rows.values())
    if isinstance(value_book, BookView):
        values = with_values(value_book, changed)
    else:  # openpyxl's, loaded for this read alone: filled in where it stands
        values = value_book
        for title, rows in changed.items():
            sheet = values[title]
            for row, cells in rows.items():
                for column, value in cells.items():
                    sheet.cell(row, column).value = value
    return Calculation(values, calculator.unknown, count)


class _Worksheet:
    """One worksheet's formulas and saved values, whichever reader read them."""

    def __init__(self, formula_sheet, value_sheet):
        self.streamed = isinstance(formula_sheet, SheetView)
        self.formulas, self.values = formula_sheet, value_sheet

    def formula(self, row: int, column: int) -> str | None:
        if self.streamed:
            return self.formulas.formula(row, column)
        cell = self.formulas._cells.get((row, column))  # openpyxl's: .cell() would create the cell
        return _formula_text(cell.value) if cell is not None else None

    def saved(self, row: int, column: int):
        if self.streamed:
            return self.values.value(row, column)
        cell = self.values._cells.get((row, column))
        return cell.value if cell is not None else None

    def formula_cells(self):
        if self.streamed:
            yield from self.formulas.formula_cells()
            return
        for (row, column), cell in sorted(self.formulas._cells.items()):
            text = _formula_text(cell.value)
            if text is not None:
                yield row, column, text


def _formula_text(content) -> str | None:
    content = getattr(content, "text", content)  # an array formula
    return content if isinstance(content, str) and content.startswith("=") else None


class _Calculator:
    def __init__(self, formula_book, value_book):
        self.book = formula_book
        self.sheets = {sheet.title: _Worksheet(sheet, value_book[sheet.title]) for sheet in formula_book.worksheets
                       if hasattr(sheet, "iter_rows")}  # a chartsheet holds no cells
        self.results: dict[str, dict[int, dict[int, object]]] = {title: {} for title in self.sheets}
        self.unknown: set[tuple[str, int, int]] = set()
        self._readings: dict[tuple[str, str], _Reading | None] = {}

    def run(self) -> None:
        for title, sheet in self.sheets.items():
            results = self.results[title]
            for row, column, text in sheet.formula_cells():
                if column not in results.get(row, ()):
                    self._compute(title, row, column, text)

    def _compute(self, sheet: str, row: int, column: int, text: str) -> None:
        """The cell and every formula cell it needs, each after the cells it reads. A frame is
        [sheet, row, column, reading, inputs, what the inputs read so far hold, circular]."""
        self._store(sheet, row, column, _VISITING)
        stack = [self._frame(sheet, row, column, text)]
        results, sheets = self.results, self.sheets
        while stack:
            frame = stack[-1]
            inputs, raw = frame[4], frame[5]
            pending = None
            while len(raw) < len(inputs):  # one input at a time; a formula not yet computed waits
                ref_sheet, ref_row, ref_column = inputs[len(raw)]
                done = results.get(ref_sheet)
                if done is None:
                    raw.append(REF)  # no such worksheet
                    continue
                cells = done.get(ref_row)
                if cells is not None and ref_column in cells:
                    value = cells[ref_column]
                    if value is _VISITING:  # on the stack, waiting for this cell: circular
                        frame[6] = True
                        value = _UNKNOWN
                    raw.append(value)
                    continue
                worksheet = sheets[ref_sheet]
                formula = worksheet.formula(ref_row, ref_column)
                if formula is not None:
                    pending = (ref_sheet, ref_row, ref_column, formula)
                    break
                raw.append(worksheet.saved(ref_row, ref_column))
            if pending is not None:
                self._store(pending[0], pending[1], pending[2], _VISITING)
                stack.append(self._frame(*pending))
                continue
            stack.pop()
            value = _UNKNOWN if frame[6] else spreadsheet.value(frame[3], raw, _serial)
            if value is _UNKNOWN:
                self.unknown.add((frame[0], frame[1], frame[2]))
            self._store(frame[0], frame[1], frame[2], value)

    def _store(self, sheet: str, row: int, column: int, value) -> None:
        cells = self.results[sheet].get(row)
        if cells is None:
            cells = self.results[sheet][row] = {}
        cells[column] = value

    def _frame(self, sheet: str, row: int, column: int, text: str) -> list:
        reading = self._reading(sheet, row, text)
        inputs = reading.inputs(sheet, row) if reading is not None else []
        return [sheet, row, column, reading, inputs, [], False]

    def _reading(self, sheet: str, row: int, text: str) -> _Reading | None:
        """The formula's reading, kept for every cell of its relative form (a column copied
        down); None where the reader cannot read it."""
        if "[" in text:  # brackets of its own (a structured reference) would read as offsets
            return self._read(sheet, row, text)
        key = (sheet, formulas.relative_to_row(text, row))
        reading = self._readings.get(key, False)
        if reading is False:
            reading = self._readings[key] = self._shared_reading(sheet, row, text, key[1])
        if reading is None or reading.refs is not None:
            return reading
        return self._read(sheet, row, text)  # its references do not move with the row

    def _shared_reading(self, sheet: str, row: int, text: str, relative: str) -> _Reading | None:
        """A reading whose references are relative rows where they move with the formula's row:
        the formula read at its row and as if one row below, and each reference compared."""
        here = self._read(sheet, row, text)
        if here is None:
            return None
        below = self._read(sheet, row + 1, _OFFSET.sub(lambda m: str(row + 1 + int(m[1])), relative))
        if below is None or below.expr is not here.expr or len(below.refs) != len(here.refs):
            here.refs = None  # read cell by cell
            return here
        refs = []
        for (ref_sheet, column, at, _), (other_sheet, other_column, other_at, _) in zip(here.refs, below.refs):
            if (ref_sheet, column) != (other_sheet, other_column) or other_at - at not in (0, 1):
                here.refs = None
                return here
            moves = other_at - at == 1
            refs.append((ref_sheet, column, at - row if moves else at, moves))
        here.refs = tuple(refs)
        return here

    def _read(self, sheet: str, row: int, text: str) -> _Reading | None:
        return spreadsheet.read(text, row, lambda name: named_cell(self.book, sheet, name))


def _serial(moment) -> float:
    """A date or a time as the spreadsheet holds it: its serial number."""
    from openpyxl.utils.datetime import to_excel

    return to_excel(moment)
