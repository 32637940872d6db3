"""The error values a spreadsheet cell can show, the one list of them: the formula tokens read
them as literals, the evaluator makes and spreads them, and ``check`` recognises a cell's."""

from __future__ import annotations

NULL, DIV0, VALUE, REF, NAME, NUM, NA = "#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A"
# Excel's, in the order of its ERROR.TYPE; #SPILL! and #CALC! came with dynamic arrays.
ERROR_VALUES = (NULL, DIV0, VALUE, REF, NAME, NUM, NA, "#GETTING_DATA", "#SPILL!", "#CALC!")

_KNOWN = frozenset(ERROR_VALUES)


def is_error_value(value) -> bool:
    """Whether a cell's value (as the .xlsx reader gives an error: its text) is an error value."""
    return type(value) is str and value in _KNOWN
