"""Cell references in the .xlsx reader: column letters and numbers, and shared formulas, whose
first cell's formula is written out again at each other cell of the range (``xlsx_cells``)."""

from __future__ import annotations

import functools
import re

COLUMN_NUMBERS: dict[str, int] = {}


def column_number(letters: str) -> int:
    number = COLUMN_NUMBERS.get(letters)
    if number is None:
        number = 0
        for letter in letters.upper():
            number = number * 26 + ord(letter) - 64
        COLUMN_NUMBERS[letters] = number
    return number


@functools.lru_cache(maxsize=1024)
def column_letters(number: int) -> str:
    letters = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


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
