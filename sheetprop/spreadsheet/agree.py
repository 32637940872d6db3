"""When two numbers agree: the one test, and its constants, for every place that compares a
value a spreadsheet shows with one computed here (or two evaluations of one formula).

Spreadsheets and the engine both compute in IEEE doubles; a right formula differs from the
engine only in rounding order, a few ulps (~1e-16 relative each, ~1e-15 after a dozen ops),
while a chain-rule slip shifts a value by ~1e-7 relative or more (σ'(h1) for σ'(h2) in the
classic exercise is 3e-2; smaller slips come from inputs that nearly coincide).
"""

from __future__ import annotations

# A student's value against the engine's: 1e-9 leaves several orders of magnitude on both sides.
DEFAULT_TOLERANCE = 1e-9
# Two float64 evaluations of one formula in another order differ by ~1e-15 relative; any slip at
# a random point differs by far more (a factor 1.0000001 typed in is 1e-7).
SYMBOLIC_TOLERANCE = 1e-10
# Values that should be 0 (E where an output hits its target, a relu gradient) come out as
# rounding noise of order 1e-17; no relative test can judge those, so differences below this
# absolute floor never count.
ABSOLUTE_FLOOR = 1e-15
# One function recognised by its values at a few points in [-3, 3] (σ, tanh): an absolute test.
SAME_FUNCTION_FLOOR = 1e-12


def agree(a: float, b: float, tolerance: float = DEFAULT_TOLERANCE, floor: float = ABSOLUTE_FLOOR,
          slack: float = 0.0, nan_agrees: bool = True) -> bool:
    """|a − b| within ``tolerance`` of the larger, plus ``floor`` and ``slack`` (what rounding
    to the digits a table keeps explains). NaN (a spreadsheet's error value) agrees with NaN
    alone, or with nothing where ``nan_agrees`` is false."""
    if a != a or b != b:
        return nan_agrees and a != a and b != b
    return abs(a - b) <= tolerance * max(abs(a), abs(b)) + floor + slack
