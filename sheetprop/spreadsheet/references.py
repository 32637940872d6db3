"""A1 references, the one home of their reading and writing: column letters and numbers (1-based,
as a worksheet numbers them), a cell's address, a reference with its sheet (quoted where the
name needs it), the references in a formula's text, and shared formulas, whose first cell's
formula is written out again at each other cell of the range (``xlsx_cells``). Written here, not
taken from ``xlsxwriter.utility``: grading reads references in every worker of a class, and
importing xlsxwriter would cost each of them its start-up (the letters are the same: a test
compares them)."""

from __future__ import annotations

import functools
import re

COLUMN_NUMBERS: dict[str, int] = {}
MAX_ROW, MAX_COLUMN = 1_048_576, 16_384

# A cell's address as a formula writes it, either part maybe absolute: B2, $B$2, b2.
CELL = re.compile(r"\$?([A-Za-z]{1,3})\$?([0-9]+)")
# An address as a program writes a cell's place (the .xlsx "r" attribute, check's own "AC5").
ADDRESS = re.compile(r"([A-Z]{1,3})([0-9]+)")
# A sheet before its "!": quoted ('lr=0.5'!, quotes inside doubled) or plain (Sheet1!).
SHEET = r"(?:'((?:[^']|'')+)'!|([A-Za-z_][\w.]*)!)"
# An address with its sheet or none, as check writes where a cell is ("B1", "'Sheet 2'!B1").
WHERE = re.compile(r"(?:'((?:[^']|'')+)'!|([^'!]+)!)?\$?([A-Z]{1,3})\$?([0-9]+)")
# A cell reference in a formula, with its sheet or none: $B$1, AB4, 'lr=0.5'!B1; not a function
# name (LOG10() nor part of a longer name or number.
REFERENCE = re.compile(r"(?<![\w.$])" + SHEET + r"?\$?([A-Z]{1,3})\$?([0-9]+)(?![\w(])")
# Whether a formula references any cell at all: REFERENCE without its sheet, which finds a
# reference exactly where REFERENCE does (a sheet's reference ends in a cell part after "!"), faster.
ANY_REFERENCE = re.compile(r"(?<![\w.$])\$?[A-Z]{1,3}\$?[0-9]+(?![\w(])")


def column_number(letters: str) -> int:
    """B → 2 (any number of letters, either case: xlsxwriter's reading warns past three)."""
    number = COLUMN_NUMBERS.get(letters)
    if number is None:
        number = 0
        for letter in letters.upper():
            number = number * 26 + ord(letter) - 64
        COLUMN_NUMBERS[letters] = number
    return number


@functools.lru_cache(maxsize=1024)
def column_letters(number: int) -> str:
    """2 → B, 27 → AA."""
    letters = ""
    while number > 0:
        number, remainder = divmod(number - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def quoted_sheet(name: str) -> str:
    """A sheet's name as a reference to another sheet writes it, always quoted: 'lr=0.5'."""
    return "'" + name.replace("'", "''") + "'"


def unquoted_sheet(quoted: str | None, plain: str | None = None) -> str | None:
    """A sheet's name from a reference's quoted or plain sheet part (``SHEET``'s two groups)."""
    return quoted.replace("''", "'") if quoted else (plain or None)


def reference_parts(formula: str) -> list[tuple[str | None, str, int, bool]]:
    """(sheet or None, column letters, row, whether the row is relative) of every reference as
    written, in range or not; a row of more than 7 digits is -1."""
    found = []
    for match in REFERENCE.finditer(formula):
        quoted, plain, column, digits = match.groups()
        row = int(digits) if len(digits.lstrip("0")) <= 7 else -1  # 5,000 digits would pass int()'s limit
        found.append((unquoted_sheet(quoted, plain), column, row, formula[match.start(4) - 1] != "$"))
    return found


# A string literal or a quoted sheet name (kept as they are), or a reference: a cell (A1, $B$2),
# a range of whole columns (A:C) or of whole rows (1:3). Not a function name (LOG10() nor part of
# a longer name or number.
_PIECE = re.compile(
    r'"(?:[^"]|"")*"|\'(?:[^\']|\'\')*\'!'
    r"|(?<![\w.$])(\$?)([A-Z]{1,3})(\$?)(\d+)(?![\w(!])"
    r"|(?<![\w.$:])(\$?)([A-Z]{1,3}):(\$?)([A-Z]{1,3})(?![\w(!])"
    r"|(?<![\w.$:])(\$?)(\d+):(\$?)(\d+)(?![\w.(!])")


class SharedFormula:
    """A shared formula's text, split once into literal pieces and references, to be written out
    at any cell: each relative row and column moved by the cell's offset from the first cell
    (what filling a formula down or across does)."""

    def __init__(self, text: str, row: int, column: int):
        self.row, self.column = row, column
        self._templates: dict[int, tuple | None] = {}
        self.pieces: list = []
        position = 0
        for match in _PIECE.finditer(text):
            groups = match.groups()
            if groups[1] is None and groups[5] is None and groups[9] is None:
                continue  # a string or a sheet name: literal text
            self.pieces.append(text[position:match.start()])
            if groups[1] is not None:
                self.pieces.append(("cell", groups[0], column_number(groups[1]), groups[2], int(groups[3])))
            elif groups[5] is not None:
                self.pieces.append(("columns", groups[4], column_number(groups[5]), groups[6],
                                    column_number(groups[7])))
            else:
                self.pieces.append(("rows", groups[8], int(groups[9]), groups[10], int(groups[11])))
            position = match.end()
        self.pieces.append(text[position:])

    def at(self, row: int, column: int) -> str:
        # A shared formula fills a column (or a row) of cells: per column offset, its text is one
        # template whose only blanks are its relative row numbers, printed by one str.format.
        down, across = row - self.row, column - self.column
        if across not in self._templates:
            self._templates[across] = self._template(across)
        template = self._templates[across]
        if template is None:
            return self.written_at(row, column)
        text, rows, lowest = template
        if not rows:
            return text
        if lowest + down < 1:  # a row above row 1: #REF!, as written_at writes it
            return self.written_at(row, column)
        return text.format(*[base + down for base in rows])

    def _template(self, across: int) -> tuple[str, list[int], int] | None:
        """(text with a {} for each relative row, those rows' numbers in the first cell, the
        least of them) at ``across`` columns from the first cell; None where a column or a fixed
        row falls outside the sheet there (written_at writes #REF!)."""
        text, rows = [], []
        for piece in self.pieces:
            if isinstance(piece, str):
                text.append(piece.replace("{", "{{").replace("}", "}}"))
                continue
            kind, first_fixed, first, second_fixed, second = piece
            if kind == "cell":
                col = first if first_fixed else first + across
                if col < 1 or (second_fixed and second < 1):
                    return None
                text.append(f"{first_fixed}{column_letters(col)}{second_fixed}")
                if second_fixed:
                    text.append(str(second))
                else:
                    text.append("{}")
                    rows.append(second)
            elif kind == "columns":
                a = first if first_fixed else first + across
                b = second if second_fixed else second + across
                if min(a, b) < 1:
                    return None
                text.append(f"{first_fixed}{column_letters(a)}:{second_fixed}{column_letters(b)}")
            else:
                for fixed, number, separator in ((first_fixed, first, ""), (second_fixed, second, ":")):
                    text.append(separator + fixed)
                    if fixed:
                        if number < 1:
                            return None
                        text.append(str(number))
                    else:
                        text.append("{}")
                        rows.append(number)
        text = "".join(text)
        return (text if rows else text.format()), rows, min(rows, default=0)

    def written_at(self, row: int, column: int) -> str:
        """``at``, piece by piece: the rule itself, and what ``at`` falls back on."""
        down, across = row - self.row, column - self.column
        out = []
        for piece in self.pieces:
            if isinstance(piece, str):
                out.append(piece)
                continue
            kind, first_fixed, first, second_fixed, second = piece
            if kind == "cell":
                col = first if first_fixed else first + across
                r = second if second_fixed else second + down
                out.append("#REF!" if col < 1 or r < 1 else f"{first_fixed}{column_letters(col)}{second_fixed}{r}")
            elif kind == "columns":
                a = first if first_fixed else first + across
                b = second if second_fixed else second + across
                out.append("#REF!" if min(a, b) < 1 else
                           f"{first_fixed}{column_letters(a)}:{second_fixed}{column_letters(b)}")
            else:
                a = first if first_fixed else first + down
                b = second if second_fixed else second + down
                out.append("#REF!" if min(a, b) < 1 else f"{first_fixed}{a}:{second_fixed}{b}")
        return "".join(out)


def location(where: str, default_sheet: str) -> tuple[str, str, int]:
    """"B1" or "'Sheet 2'!B1" as (sheet, column, row)."""
    match = WHERE.fullmatch(where)
    quoted, plain, column, row = match.groups()
    sheet = unquoted_sheet(quoted, plain) or default_sheet
    return sheet, column, int(row)
