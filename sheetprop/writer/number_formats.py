"""How numbers read: like the course's sheets, plain decimals with at least six significant digits.

One number format cannot say "six significant digits at any magnitude" in all three programs:
a format has at most two conditions, and LibreOffice drops the minus sign in a second condition's
section. So the sheet adds conditional formats that set the number format by magnitude, one for
every magnitude, and every number cell carries a base format they replace: six significant
digits in E-notation, which reads right at any magnitude where a program drops conditional
number formats (Google Sheets, Apple Numbers: 9e-05 would read 0.000090 in a plain decimal
format, and anything below 5e-7 as 0.000000). Excel, LibreOffice and
Gnumeric all apply the first rule that matches (Excel: the highest priority, the same order), and
each rule is a closed range, so they agree cell by cell:

    0                 0
    |x| < 1e-4        5.00000E-05     (six significant digits; E-notation only here)
    |x| < 1e-3        0.000450000
    |x| < 1e-2        0.00300000
    |x| < 0.1         -0.0500000
    |x| < 1000        -0.400000
    |x| < 1e6         123456.789
    beyond            1.23457E+06
"""

from __future__ import annotations

from xlsxwriter.utility import xl_rowcol_to_cell

SMALL_FORMAT = "0.00000E+00"
MIDDLE_FORMAT = "0.000000"  # 0.1 ≤ |x| < 1000
# The cell's own format, shown where no rule is applied: six significant digits at any magnitude.
BASE_FORMAT = SMALL_FORMAT

# (upper bound of |x|, exclusive; the format below it), checked in this order after the zero rule.
_BELOW = [
    (1e-4, SMALL_FORMAT),
    (1e-3, "0.000000000"),
    (1e-2, "0.00000000"),
    (1e-1, "0.0000000"),
]
_LARGE = [(1e6, SMALL_FORMAT), (1e3, "0.000")]  # |x| ≥ bound, checked largest first


def rules(top_left: str) -> list[tuple[dict, str]]:
    """The conditional rules in priority order, as xlsxwriter options without their format, each
    with the number format it sets. A rule is a formula on the range's top-left cell (relative,
    so it moves with each cell): ABS(x) < bound, a strict bound as no "between" range can say."""
    out = [({"type": "cell", "criteria": "==", "value": 0}, "0")]
    for bound, number_format in _BELOW:
        out.append(({"type": "formula", "criteria": f"=ABS({top_left})<{bound:g}"}, number_format))
    for bound, number_format in _LARGE:
        out.append(({"type": "formula", "criteria": f"=ABS({top_left})>={bound:g}"}, number_format))
    out.append(({"type": "formula", "criteria": f"=ABS({top_left})<{_LARGE[-1][0]:g}"}, MIDDLE_FORMAT))
    return out


class NumberFormats:
    """The rules' formats, made once per workbook; ``apply`` puts the rules on a range."""

    def __init__(self, workbook):
        self._formats = {number_format: workbook.add_format({"num_format": number_format})
                         for _, number_format in rules("A1")}

    def apply(self, sheet, first_row: int, first_col: int, last_row: int, last_col: int) -> None:
        if last_row < first_row or last_col < first_col:
            return
        for options, number_format in rules(xl_rowcol_to_cell(first_row, first_col)):
            sheet.conditional_format(first_row, first_col, last_row, last_col,
                                     {**options, "format": self._formats[number_format],
                                      "stop_if_true": True})


def expected_text(value: float) -> str:
    """The text the rules give ``value`` (Python's formatting of the same formats), for tests and
    for the README's tables, so a number reads the same there as in the sheet."""
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude < 1e-4 or magnitude >= 1e6:
        mantissa, exponent = f"{value:.5E}".split("E")
        return f"{mantissa}E{exponent[0]}{int(exponent[1:]):02d}"
    for bound, number_format in _BELOW[1:]:
        if magnitude < bound:
            return f"{value:.{len(number_format) - 2}f}"
    return f"{value:.3f}" if magnitude >= 1e3 else f"{value:.6f}"
