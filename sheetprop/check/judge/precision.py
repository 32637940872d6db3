"""How many digits a table's numbers keep, and so how far a right value may sit from the chain rule.

Spreadsheets save full doubles (15–17 significant digits), but a Google Sheets export keeps 10,
and numbers pasted as values keep what their cell showed, as many digits as the column's width
let General format show (0.506875, −0.00822, 6.08e-05). Such a number is right when it is the
chain rule's value rounded to its own last digit, computed from inputs rounded alike. A table
in which hardly any number has 15 significant digits or more is taken to be rounded so; one
whose numbers have full precision is exact.
"""

from __future__ import annotations

import math

FULL_PRECISION_DIGITS = 15
MIN_NUMBERS = 10  # fewer numbers than this say nothing about the digits a file keeps


ROUNDED_SHARE = 0.1  # a rounded file still has the odd 0.19975300000000001 from its own arithmetic


def stored_digits(value: float, at_most: int = 17) -> tuple[int, int]:
    """(significant digits, exponent of the last one) of the shortest text that gives ``value``,
    read to ``at_most`` significant digits."""
    # Read off the text, not through Decimal: this runs for every number of a table. At 17
    # digits every double is its own shortest text (repr).
    text = repr(float(value) if at_most >= 17 else float(f"{value:.{at_most}g}"))
    mantissa, _, exponent = text.lstrip("-").partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    significant = digits.rstrip("0")
    if not significant:  # zero
        return 1, 0
    return len(significant), int(exponent or 0) - len(fraction) + len(digits) - len(significant)


class StoredPrecision:
    """Whether a table's numbers are rounded, and how much each one may be off."""

    def __init__(self, numbers: list[float], exact_labels: set[str]):
        self.exact_labels = exact_labels  # inputs and targets, typed once (0.05) and exact however short
        self.rounded, self.significant = False, None  # the most digits a rounded number keeps
        # A table of full doubles is known exact once its full numbers pass the share a rounded
        # one may have of them all: most tables stop reading their numbers a tenth of the way in.
        most_full = ROUNDED_SHARE * len(numbers)
        significant, full = [], 0
        for v in numbers:
            if math.isfinite(v) and v != 0:
                digits = stored_digits(v)[0]
                significant.append(digits)
                full += digits >= FULL_PRECISION_DIGITS
                if full > most_full:
                    return
        self.rounded = len(significant) >= MIN_NUMBERS and full <= ROUNDED_SHARE * len(significant)
        if self.rounded:
            self.significant = max((s for s in significant if s < FULL_PRECISION_DIGITS), default=None)

    def uncertainty(self, label: str, value: float | None) -> float:
        """Half a unit of ``value``'s last digit, in a rounded table; 0 where it is exact."""
        if not self.rounded or label in self.exact_labels or value is None or not math.isfinite(value) or value == 0:
            return 0.0
        return 0.5 * 10.0 ** stored_digits(value, FULL_PRECISION_DIGITS - 1)[1]

    def describe(self) -> str:
        return f"at most {self.significant} significant digits"
