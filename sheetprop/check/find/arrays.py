"""Array formulas read as one plain formula per cell.

A network written in matrix formulas (``{=MMULT($J$4:$K$124,$C$3:$G$4)}`` over C10:G130,
``{=$C$3:$G$4 - $C$1112:$G$1113}``) computes each cell of its range from certain cells of the
ranges it reads. ``element_formulas`` writes that out: cell (i, j) of ``MMULT(A, B)`` is
``A[i,1]*B[1,j] + … + A[i,n]*B[n,j]``, of ``TRANSPOSE(X)`` it is ``X[j,i]``, of an elementwise
expression (``1/(1+EXP(-R))``, ``R*(1-R)``) the same expression of each range's cell (i, j),
a single row or column broadcast across the other. So the rest of check reads the formulas of
an array like any others. A file keeps only the array's first cell's text; the others are
"=", and the array's range is read from them (``array_extent``).
"""

from __future__ import annotations

import re

from sheetprop.spreadsheet.references import column_letters, column_number

MAX_ELEMENT_CHARACTERS = 200_000  # a cell's written-out formula: past this it is left unread
_TOKEN = re.compile(r"""\s*(?:
    (?P<ref>(?:(?:'[^']+'|[A-Za-z_][\w.]*)!)?\$?[A-Z]{1,3}\$?\d+(?::\$?[A-Z]{1,3}\$?\d+)?(?![\w(]))
  | (?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+)
  | (?P<function>[A-Za-z_][\w.]*)\(
  | (?P<op>[-+*/^(),&%])
)""", re.VERBOSE)
_CELL = re.compile(r"\$?([A-Z]{1,3})\$?(\d+)")
ARRAY_FUNCTIONS = ("MMULT", "TRANSPOSE")
_REDUCING = {"SUM": "+", "PRODUCT": "*"}
_BINDING = {"&": 1, "+": 2, "-": 2, "*": 3, "/": 3, "^": 4}


class NotAnArray(ValueError):
    pass


def array_extent(has_placeholder, row: int, column: int) -> tuple[int, int]:
    """(rows, columns) of the array whose first cell is (row, column): the "=" cells that a file
    keeps for an array's other cells, to its right and below. ``has_placeholder(r, c)``."""
    columns = 1
    while has_placeholder(row, column + columns):
        columns += 1
    rows = 1
    while has_placeholder(row + rows, column):
        rows += 1
    return rows, columns


def is_array_formula(text: str) -> bool:
    """A formula that needs reading as an array: one that calls MMULT or TRANSPOSE."""
    upper = text.upper()
    return any(f"{name}(" in upper for name in ARRAY_FUNCTIONS)


def element_formulas(text: str, rows: int, columns: int) -> list[list[str]] | None:
    """The plain formula ("=…") of each cell of an array of ``rows`` × ``columns`` whose formula
    is ``text``; None where the formula is beyond this reading."""
    try:
        tree = _Parser(text.lstrip("=")).parse()
        shape = _shape(tree)
        out = []
        for i in range(rows):
            line = []
            for j in range(columns):
                # A cell past the formula's own shape shows #N/A in a spreadsheet: left unread.
                if (shape[0] > 1 and i >= shape[0]) or (shape[1] > 1 and j >= shape[1]):
                    line.append(None)
                    continue
                element = _element(tree, i, j)
                if len(element) > MAX_ELEMENT_CHARACTERS:
                    return None
                line.append("=" + element)
            out.append(line)
        return out
    except (NotAnArray, RecursionError, IndexError):
        return None


class _Parser:
    def __init__(self, text: str):
        self.tokens, position = [], 0
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None or match.end() == position:
                if text[position:].strip():
                    raise NotAnArray(f"cannot read {text[position:position + 10]!r}")
                break
            kind = match.lastgroup
            self.tokens.append((kind, match.group(kind)))
            position = match.end()
        self.at = 0

    def peek(self):
        return self.tokens[self.at] if self.at < len(self.tokens) else (None, None)

    def take(self):
        token = self.peek()
        self.at += 1
        return token

    def parse(self):
        tree = self.expression(0)
        if self.at != len(self.tokens):
            raise NotAnArray("trailing text")
        return tree

    def expression(self, binding: int):
        left = self.unary()
        while True:
            kind, value = self.peek()
            if kind != "op" or value not in _BINDING or _BINDING[value] <= binding:
                return left
            self.take()
            # ^ binds to the right in algebra; spreadsheets read it to the left as well, as here.
            left = ("bin", value, left, self.expression(_BINDING[value]))

    def unary(self):
        kind, value = self.take()
        if kind == "op" and value in "+-":
            operand = self.unary()
            return operand if value == "+" else ("neg", operand)
        if kind == "number":
            return ("number", value)
        if kind == "ref":
            return _range(value)
        if kind == "op" and value == "(":
            inner = self.expression(0)
            if self.take() != ("op", ")"):
                raise NotAnArray("unbalanced parentheses")
            return inner
        if kind == "function":
            args = []
            if self.peek() == ("op", ")"):
                self.take()
            else:
                while True:
                    args.append(self.expression(0))
                    closing = self.take()
                    if closing == ("op", ")"):
                        break
                    if closing != ("op", ","):
                        raise NotAnArray("a function's arguments")
            return ("call", value.upper(), args)
        raise NotAnArray(f"unexpected {value!r}")


def _range(text: str):
    sheet, _, cells = text.rpartition("!")
    first, _, last = cells.partition(":")
    (c1, r1), (c2, r2) = (_CELL.fullmatch(first).groups(), _CELL.fullmatch(last or first).groups())
    top, bottom = sorted((int(r1), int(r2)))
    left, right = sorted((column_number(c1), column_number(c2)))
    return ("range", sheet + "!" if sheet else "", top, left, bottom - top + 1, right - left + 1)


def _shape(node) -> tuple[int, int]:
    kind = node[0]
    if kind == "number":
        return 1, 1
    if kind == "range":
        return node[4], node[5]
    if kind == "neg":
        return _shape(node[1])
    if kind == "bin":
        a, b = _shape(node[2]), _shape(node[3])
        return max(a[0], b[0]), max(a[1], b[1])
    name, args = node[1], node[2]
    if name == "MMULT" and len(args) == 2:
        a, b = _shape(args[0]), _shape(args[1])
        if a[1] != b[0]:
            raise NotAnArray("MMULT of ranges that do not fit")
        return a[0], b[1]
    if name == "TRANSPOSE" and len(args) == 1:
        rows, columns = _shape(args[0])
        return columns, rows
    if name in _REDUCING:
        return 1, 1
    if len(args) == 1:
        return _shape(args[0])
    if all(_shape(arg) == (1, 1) for arg in args):
        return 1, 1
    raise NotAnArray(f"{name} of arrays")


def _element(node, i: int, j: int) -> str:
    kind = node[0]
    if kind == "number":
        return node[1]
    if kind == "range":
        _, sheet, top, left, rows, columns = node
        return f"{sheet}{column_letters(left + (j if columns > 1 else 0))}{top + (i if rows > 1 else 0)}"
    if kind == "neg":
        return f"(-{_element(node[1], i, j)})"
    if kind == "bin":
        return f"({_element(node[2], i, j)}{node[1]}{_element(node[3], i, j)})"
    name, args = node[1], node[2]
    if name == "MMULT":
        inner = _shape(args[0])[1]
        return "(" + "+".join(f"{_element(args[0], i, k)}*{_element(args[1], k, j)}" for k in range(inner)) + ")"
    if name == "TRANSPOSE":
        return _element(args[0], j, i)
    if name in _REDUCING:
        terms = [_element(arg, r, c) for arg in args for r in range(_shape(arg)[0]) for c in range(_shape(arg)[1])]
        return "(" + _REDUCING[name].join(terms) + ")"
    return f"{name}(" + ",".join(_element(arg, i, j) for arg in args) + ")"
