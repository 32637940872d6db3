"""The values a workbook's formulas would show, computed here where the file saved none.

A workbook written by a program (openpyxl, a script) and never opened in a spreadsheet has
formulas without saved values, and ``check`` grades values as well as formulas. LibreOffice can
compute them, but it takes seconds a file and many teachers' machines have none. This module
computes them with check's own formula reader (``formulas.parse``) and the engine: a formula is
read once into an expression over the cells it references (once per column, for a formula
copied down: its references are kept relative to its row), compiled (``engine.numeric``) and
evaluated cell by cell, each after the cells it reads (an explicit stack: a chain of 18,000 rows
is no recursion).

What it cannot compute it leaves unknown, with every cell computed from it: a formula the reader
does not know (text joined with &, a function such as VLOOKUP), a circular reference, and the few
places where a spreadsheet skips what arithmetic would not (text or TRUE in SUM's range, an empty
cell in MAX, an error in IF's branch not taken). ``Calculation.covers`` says whether the tables
check grades are free of unknown cells; where they are not, LibreOffice calculates the file, as
before this module.

A spreadsheet's rules, as Excel and LibreOffice have them: an empty cell reads 0 and TRUE 1; text
in arithmetic is #VALUE! (η copied down without $ reads "↑ change η"), unless it is a number
("0.5"); x/0 is #DIV/0!; an overflow (EXP(1000), 1E308*10) and LN, SQRT or a power outside their
domain are #NUM!; an error spreads to every cell computed from it; a formula that is one
reference shows what that cell holds (text stays text). Errors are the texts the .xlsx reader
gives a cell saved with t="e" ("#VALUE!"), which is what ``check`` reads an error value as.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from sheetprop import engine
from sheetprop.spreadsheet import formulas
from sheetprop.check.judge.formula import named_cell
from sheetprop.check.read.xlsx_reader import BookView, SheetView, with_values
from sheetprop.spreadsheet.references import column_number
from sheetprop.engine.numeric import compile_function

VALUE, DIV0, NUM, REF = "#VALUE!", "#DIV/0!", "#NUM!", "#REF!"
ERROR_VALUES = frozenset({"#NULL!", DIV0, VALUE, REF, "#NAME?", NUM, "#N/A", "#GETTING_DATA", "#SPILL!", "#CALC!"})

COMPILE_FROM_USES = 3  # a formula used in fewer cells is evaluated node by node, not compiled

_UNKNOWN = object()   # a cell this module cannot compute
_VISITING = object()  # a cell on the stack, waiting for the cells it reads
_NUMBER_TEXT = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*")
_OFFSET = re.compile(r"\[(-?\d+)\]")
_SKIPS_TEXT = re.compile(r"\b(?:SUM|MAX|MIN|IF)\(|:", re.IGNORECASE)  # where text by reference is skipped
_SKIPS_EMPTY = re.compile(r"\b(?:MAX|MIN)\(", re.IGNORECASE)          # where an empty cell is skipped
_CHOOSES = re.compile(r"\bIF\(", re.IGNORECASE)                       # where an error may go untaken


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


@dataclass
class _Reading:
    """A formula read into an expression over its references, each one input ``cell<k>``."""
    expr: engine.Expr
    refs: tuple           # per input: (sheet or None, column number, row, relative) — row an offset if relative
    bare: bool            # the formula is one reference: it shows what that cell holds
    unused: bool          # a reference the expression lost (0*A1): an error there would not spread
    skips_text: bool
    skips_empty: bool
    chooses: bool
    uses: int = 0
    function: object = None

    def inputs(self, sheet: str, row: int) -> list[tuple[str, int, int]]:
        """(sheet, row, column) of each input, for the formula in ``row`` of ``sheet``."""
        return [(ref_sheet or sheet, row + at if relative else at, column)
                for ref_sheet, column, at, relative in self.refs]


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
            value = _value(frame[3], raw, frame[6])
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
        refs = []

        def resolve(ref):
            ref_sheet, letters, ref_row = ref
            refs.append((ref_sheet, column_number(letters), ref_row, False))
            return engine.var(f"cell{len(refs) - 1}")

        try:
            expr = formulas.parse(text, resolve, lambda name: named_cell(self.book, sheet, name), row)
        except (formulas.FormulaError, RecursionError, KeyError):
            return None
        used = {node.payload for node in engine.topological_order([expr]) if node.op == "var"}
        return _Reading(expr, tuple(refs), bare=expr.op == "var", unused=len(used) < len(refs),
                        skips_text=bool(_SKIPS_TEXT.search(text)), skips_empty=bool(_SKIPS_EMPTY.search(text)),
                        chooses=bool(_CHOOSES.search(text)))


def _value(reading: _Reading | None, raw: list, circular: bool):
    """The value of a formula cell from what its inputs hold (``raw``, in reference order)."""
    if reading is None or circular or _UNKNOWN in raw:
        return _UNKNOWN
    if reading.bare:
        return 0 if raw[0] is None else raw[0]  # =A1 shows A1's text, TRUE or error as it is
    if reading.skips_empty and None in raw:
        return _UNKNOWN
    operands = [_operand(value) for value in raw]
    if reading.skips_text and any(isinstance(value, (str, bool)) and value not in ERROR_VALUES for value in raw):
        return _UNKNOWN
    errors = [operand for operand in operands if type(operand) is str]
    if errors and (reading.unused or reading.chooses):
        return _UNKNOWN
    if not errors:
        function = _compiled(reading)
        if function is not None:
            value = function(*operands)[0]
            if value == value:  # NaN: an error value somewhere; the exact rules say which
                return value
    return _exact(reading.expr, operands)


def _compiled(reading: _Reading):
    """The reading's compiled function, once it is used often enough to pay for compiling."""
    reading.uses += 1
    if reading.function is None and reading.uses >= COMPILE_FROM_USES and reading.expr.op != "const":
        # compile_function keeps what it compiled: one formula copied down many columns, sheets
        # or submissions of a class compiles once in a process.
        reading.function = compile_function([reading.expr], [engine.var(f"cell{k}") for k in range(len(reading.refs))])
    return reading.function


def _operand(value):
    """A cell's content as arithmetic reads it: a float, or an error value's text."""
    kind = type(value)
    if kind is float or kind is int or kind is bool:
        try:
            number = float(value)
        except OverflowError:  # an integer of 400 digits
            return NUM
        return number if math.isfinite(number) else NUM
    if value is None:
        return 0.0
    if isinstance(value, str):
        if value in ERROR_VALUES:
            return value
        return _operand(float(value)) if _NUMBER_TEXT.fullmatch(value) else VALUE
    try:  # a date or a time: its serial number, as the spreadsheet holds it
        from openpyxl.utils.datetime import to_excel

        return _operand(to_excel(value))
    except (TypeError, ValueError, AttributeError):
        return VALUE


def _exact(expr: engine.Expr, operands: list):
    """``expr`` evaluated with a spreadsheet's error values: the first error among a node's
    arguments is its value, else what the operation gives (#DIV/0!, #NUM! where it has none)."""
    values = {}
    for node in engine.topological_order([expr]):
        op = node.op
        if op == "const":  # the reader folds constants: 1E308*10 arrives as inf
            value = node.payload if math.isfinite(node.payload) else NUM
        elif op == "var":
            value = operands[int(node.payload[4:])]
        else:
            args = [values[arg] for arg in node.args]
            value = next((arg for arg in args if type(arg) is str), None)
            if value is None:
                rule = _RULES.get(op)
                value = rule(node, *args) if rule is not None else NUM
                if type(value) is float and not math.isfinite(value):
                    value = NUM
        values[node] = value
    return values[expr]


def _power(base: float, exponent: float):
    if base == 0 and exponent < 0:
        return DIV0
    try:
        value = base ** exponent
    except OverflowError:
        return NUM
    except ZeroDivisionError:
        return DIV0
    return value if isinstance(value, float) else NUM  # (−8)^0.5 is complex


def _exp(x: float):
    try:
        return math.exp(x)
    except OverflowError:
        return NUM


_RULES = {
    "add": lambda node, a, b: a + b,
    "sub": lambda node, a, b: a - b,
    "mul": lambda node, a, b: a * b,
    "div": lambda node, a, b: DIV0 if b == 0 else a / b,
    "neg": lambda node, a: -a,
    "exp": lambda node, a: _exp(a),
    "log": lambda node, a: math.log(a) if a > 0 else NUM,
    "pow": lambda node, a: _power(a, node.payload),
    "raise_to": lambda node, a, b: _power(a, b),
    "tanh": lambda node, a: math.tanh(a),
    "relu": lambda node, a: a if a > 0 else 0.0,
    "step": lambda node, a: 1.0 if a > 0 else 0.0,
    "sigmoid": lambda node, a: (lambda e: e if type(e) is str else 1.0 / (1.0 + e))(_exp(-a)),
}

