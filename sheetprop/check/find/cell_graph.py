"""The workbook as a graph of cells: every formula read as an engine expression over cell
variables, which cells each reads and is read by, the typed numbers and saved values, and the
words above each column (to name things, never to find them).

Formulas are read by ``spreadsheet.formulas`` after a small expansion of what it does not read:
``ROW()``, ``INDEX(B:B, <row arithmetic>)`` (a cell chosen by its row number) and
``AVERAGE(range)``.
"""

from __future__ import annotations

import math
import re

from sheetprop import engine
from sheetprop.check.find import arrays
from sheetprop.check.read.cells import as_number, present_rows
from sheetprop.spreadsheet import formulas
from sheetprop.spreadsheet.references import column_letters, column_number

Key = tuple[str, str]  # (sheet, "A1")
MAX_ROWS, MAX_COLUMNS = 5000, 1024
# Past this many formulas the search is not attempted (a grid of 80,000 weights asks for
# another reading): the route answers "not read" at once instead of taking minutes.
MAX_FORMULAS = 100_000
MAX_ANCESTORS = 20_000  # cells visited to learn whether Δ depends on w


def name(key: Key) -> str:
    return f"{key[0]}!{key[1]}"


def key_of(text: str) -> Key:
    sheet, _, cell = text.rpartition("!")
    return sheet, cell


# --- the expansion of what the formula reader does not read ----------------------------------

_ARITHMETIC = re.compile(r"[\d\s+\-*/().]*")
_WHOLE_COLUMN = re.compile(r"\$?([A-Z]{1,3}):\$?([A-Z]{1,3})")
_RANGE = re.compile(r"\$?([A-Z]{1,3})\$?(\d+):\$?([A-Z]{1,3})\$?(\d+)")


def _call_spans(text: str, function: str):
    """(start, end, [arguments]) of each call of ``function`` (outermost first), by balanced
    parentheses; arguments split at the commas of its own level."""
    upper = text.upper()
    position = 0
    while (start := upper.find(function + "(", position)) >= 0:
        if start and (upper[start - 1].isalnum() or upper[start - 1] in "_."):
            position = start + 1
            continue
        depth, args, begin = 0, [], start + len(function) + 1
        for k in range(begin - 1, len(text)):
            if text[k] == "(":
                depth += 1
            elif text[k] == ")":
                depth -= 1
                if depth == 0:
                    args.append(text[begin:k])
                    yield start, k + 1, args
                    break
            elif text[k] == "," and depth == 1:
                args.append(text[begin:k])
                begin = k + 1
        position = start + 1


def _integer(text: str) -> int | None:
    """The value of row arithmetic such as ``14 + INT((22-14)/8)*8``, or None."""
    plain = re.sub(r"\bINT\b", "", text, flags=re.IGNORECASE)
    if not _ARITHMETIC.fullmatch(plain) or len(plain) > 200:
        return None
    try:
        value = eval(re.sub(r"\bINT\b", "_floor", text, flags=re.IGNORECASE),  # noqa: S307 (digits and + − × ÷ only)
                     {"__builtins__": {}, "_floor": math.floor})
    except (ArithmeticError, SyntaxError, TypeError):
        return None
    return int(value) if isinstance(value, (int, float)) and value == int(value) else None


def expand(formula: str, row: int) -> str:
    """``formula`` without ROW(), INDEX of a column by row arithmetic and AVERAGE of a range."""
    text = re.sub(r"\bROW\(\s*\)", str(row), formula, flags=re.IGNORECASE)
    for function in ("INDEX", "AVERAGE"):
        while True:
            for start, end, args in _call_spans(text, function):
                replacement = _replacement(function, args)
                if replacement is not None:
                    text = text[:start] + replacement + text[end:]
                    break
            else:
                break
    return text


def _replacement(function: str, args: list[str]) -> str | None:
    if function == "INDEX" and len(args) == 2:
        column = _WHOLE_COLUMN.fullmatch(args[0].strip())
        number = _integer(args[1])
        if column and column.group(1) == column.group(2) and number and number > 0:
            return f"{column.group(1)}{number}"
    if function == "AVERAGE" and len(args) == 1 and (cells := _RANGE.fullmatch(args[0].strip())):
        first, top, last, bottom = cells.groups()
        from sheetprop.spreadsheet.references import column_number
        count = (abs(int(bottom) - int(top)) + 1) * (abs(column_number(last) - column_number(first)) + 1)
        return f"(SUM({args[0].strip()})/{count})"
    return None


# --- a formula read once for all its copies ---------------------------------------------------

# A formula is read at an anchor far from every cell a sheet uses: its relative references there
# say by their size that they are relative, and its copies share the text.
ANCHOR_ROW, ANCHOR_COLUMN = 500_000, 8_000
_SPECIAL = re.compile(r"\b(ROW|INDEX|AVERAGE)\(", re.IGNORECASE)


class _CopiedFormulas:
    """Formulas read as engine expressions, each formula copied down a column or along a row
    read once: its copies are the expression read at the anchor with the cells moved (80,000
    updates of a weight grid are one formula)."""

    def __init__(self):
        self._read: dict[tuple[str, str], tuple | None] = {}

    def read(self, sheet: str, formula: str, row: int, column: int) -> tuple | None:
        """(expression, the cells it reads) of ``formula`` in (``row``, ``column``); None where
        the formula reader does not read it."""
        text = formula.replace("\n", " ")
        anchored = None if _SPECIAL.search(text) else _anchored(text, row, column)
        if anchored is None:
            return self._parse(sheet, expand(text, row))
        template = self._read.get((sheet, anchored), False)
        if template is False:
            template = self._read[(sheet, anchored)] = self._template(sheet, anchored)
        if template is None:
            return None
        expr, variables = template
        moved = {}
        for node, (where, letters, number, relative_column, relative_row) in variables.items():
            if relative_column:
                letters = column_letters(column_number(letters) - ANCHOR_COLUMN + column)
            moved[node] = engine.var(name((where, f"{letters}{number - ANCHOR_ROW + row if relative_row else number}")))
        return engine.substitute(expr, moved), [key_of(v.payload) for v in moved.values()]

    @staticmethod
    def _parse(sheet: str, text: str) -> tuple | None:
        try:
            expr = formulas.parse(text, lambda ref: engine.var(name((ref[0] or sheet, f"{ref[1]}{ref[2]}"))))
        except (formulas.FormulaError, RecursionError, ValueError):
            return None
        return expr, [key_of(v.payload) for v in engine.topological_order([expr]) if v.op == "var"]

    def _template(self, sheet: str, anchored: str) -> tuple | None:
        read = self._parse(sheet, anchored)
        if read is None:
            return None
        expr, cells = read
        variables = {}
        for where, address in cells:
            letters, number = re.fullmatch(r"([A-Z]+)(\d+)", address).groups()
            variables[engine.var(name((where, address)))] = (
                where, letters, int(number), column_number(letters) > ANCHOR_COLUMN // 2, int(number) > ANCHOR_ROW // 2)
        return expr, variables


def _anchored(formula: str, row: int, column: int) -> str | None:
    """``formula`` copied from (``row``, ``column``) to the anchor; None where an absolute
    reference is so far out that it would read as moved."""
    for column_mark, letters, row_mark, digits in formulas.REFERENCE.findall(formula):
        if (column_mark and column_number(letters) > ANCHOR_COLUMN // 2) or (row_mark and int(digits) > ANCHOR_ROW // 2):
            return None
    try:
        return formulas.copied_to(formula, ANCHOR_ROW - row, ANCHOR_COLUMN - column)
    except formulas.FormulaError:
        return None


# --- the workbook as a graph of cells ----------------------------------------------------------

class CellGraph:
    """Every formula of the workbook as an expression over cell variables; typed numbers, the
    saved values, and the header text above each column (to name things, never to find them)."""

    def __init__(self, books):
        formula_book, value_book = books
        self.exprs: dict[Key, engine.Expr] = {}
        self.texts: dict[Key, str] = {}
        self.numbers: dict[Key, float] = {}   # typed numbers
        self.saved: dict[Key, float] = {}     # the values saved with the formulas
        self.words: dict[Key, str] = {}       # text cells, for the names of columns
        self.formula_count = 0
        self._subtractions: dict[Key, list[tuple[Key, Key]]] = {}
        self._index: dict[Key, int] = {}                # each cell's bit, for _reach_by_bits
        self._ancestors: dict[Key, int | None] = {}     # each cell's ancestors' bits; None in a circle
        self.reads: dict[Key, list[Key]] = {}           # the cells each formula reads, in order
        copies = _CopiedFormulas()
        for sheet in formula_book.worksheets:
            values = value_book[sheet.title]
            contents: dict[tuple[int, int], object] = {}
            for row in present_rows(sheet, 1, min(sheet.max_row, MAX_ROWS)):
                for found in row:
                    if found.value is not None and found.column <= MAX_COLUMNS:
                        content = found.value
                        contents[(found.row, found.column)] = content.text if hasattr(content, "text") else content
            arrays = self._arrays(contents)
            for (r, c), content in contents.items():
                key = (sheet.title, f"{column_letters(c)}{r}")
                if isinstance(content, str) and content.startswith("="):
                    self.formula_count += 1
                    if self.formula_count > MAX_FORMULAS:
                        return
                    text = arrays.get((r, c), (content, content))
                    self.texts[key] = text[0]
                    read = copies.read(sheet.title, text[1], r, c)
                    if read is not None:
                        self.exprs[key], self.reads[key] = read
                    saved = as_number(values.cell(r, c).value)
                    if saved is not None:
                        self.saved[key] = saved
                elif (number := as_number(content)) is not None:
                    self.numbers[key] = number
                elif isinstance(content, str) and content.strip():
                    self.words[key] = content.strip()
        self.readers: dict[Key, list[Key]] = {}
        for key, refs in self.reads.items():
            for ref in refs:
                self.readers.setdefault(ref, []).append(key)

    @staticmethod
    def _arrays(contents: dict) -> dict[tuple[int, int], tuple[str, str]]:
        """(the array's formula, this cell's own formula) of every cell of an array formula
        (``find.arrays``): MMULT and TRANSPOSE, or a formula over ranges whose "=" cells beside it
        say it fills a range."""
        found = {}

        def placeholder(r: int, c: int) -> bool:
            return contents.get((r, c)) == "=" and (r, c) not in found

        for (r, c), content in contents.items():
            if not (isinstance(content, str) and content.startswith("=") and content != "="):
                continue
            rows, columns = arrays.array_extent(placeholder, r, c)
            if not (arrays.is_array_formula(content) or (rows * columns > 1 and ":" in content)):
                continue
            elements = arrays.element_formulas(content, rows, columns)
            if elements is None:
                continue
            shown = "{" + content + "}"
            for i, line in enumerate(elements):
                for j, element in enumerate(line):
                    if element is not None:
                        found[(r + i, c + j)] = (shown, element)
        return found

    def subtractions(self, key: Key) -> list[tuple[Key, Key]]:
        """The (a, b) of every a − b of two cells in ``key``'s formula (t − y, as a loss or δ
        has it), worked out once per cell."""
        found = self._subtractions.get(key)
        if found is None:
            found = self._subtractions[key] = [
                (key_of(node.args[0].payload), key_of(node.args[1].payload))
                for node in engine.topological_order([self.exprs[key]])
                if node.op == "sub" and all(a.op == "var" for a in node.args)]
        return found

    @property
    def too_large(self) -> bool:
        return self.formula_count > MAX_FORMULAS

    def header(self, key: Key) -> str | None:
        """The text nearest above ``key`` in its column (within 60 rows): the column's name."""
        column, row = re.fullmatch(r"([A-Z]+)(\d+)", key[1]).groups()
        for r in range(int(row) - 1, max(0, int(row) - 60), -1):
            text = self.words.get((key[0], f"{column}{r}"))
            if text is not None:
                return text
        return None

    def ancestors_reach(self, start: list[Key], target: Key, within: set[Key] | None = None) -> bool:
        """Whether ``target`` is among the cells ``start`` reads, directly or through others
        (only through the cells ``within``, where given)."""
        if within is None:
            found = self._reach_by_bits(start, target)
            if found is not None:
                return found
        seen = set(start)
        stack = list(start)
        while stack and len(seen) < MAX_ANCESTORS:
            key = stack.pop()
            if key == target:
                return True
            for ref in self.reads.get(key, ()):
                if ref not in seen and (within is None or ref in within or ref == target):
                    seen.add(ref)
                    stack.append(ref)
        return False


    def _reach_by_bits(self, start: list[Key], target: Key) -> bool | None:
        """``ancestors_reach`` by each cell's ancestors as the bits of one integer, worked out once
        per cell and kept (finding the updates asks it for every ``= x ± Δ`` of the workbook); None
        where a cell's ancestors run in a circle, which the walk above handles."""
        if target in start:
            return True
        bit = self._bit_of(target)
        reached = 0
        for key in start:
            ancestors = self._ancestor_bits(key)
            if ancestors is None:
                return None
            reached |= ancestors
        return bool(reached & bit)

    def _bit_of(self, key: Key) -> int:
        return 1 << self._index.setdefault(key, len(self._index))

    def _ancestor_bits(self, root: Key) -> int | None:
        """The bits of every cell ``root`` reads, directly or through others; None in a circle."""
        self._bit_of(root)
        memo = self._ancestors
        if root in memo:
            return memo[root]
        on_path, stack = {root}, [(root, iter(self.reads.get(root, ())))]
        while stack:
            key, refs = stack[-1]
            for ref in refs:
                if ref in memo:
                    continue
                if ref in on_path:  # a circle: leave it to the walk
                    for member in on_path:
                        memo[member] = None
                    return None
                on_path.add(ref)
                stack.append((ref, iter(self.reads.get(ref, ()))))
                break
            else:
                stack.pop()
                on_path.discard(key)
                bits = 0
                for ref in self.reads.get(key, ()):
                    below = memo.get(ref)
                    if below is None and ref in memo:
                        memo[key] = None
                        break
                    bits |= self._bit_of(ref) | (below or 0)
                else:
                    memo[key] = bits
        return memo[root]
