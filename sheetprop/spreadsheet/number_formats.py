"""Which number formats show a date or a duration, by openpyxl's rules (``openpyxl.styles.numbers``),
so that the streaming reader turns the same cells into datetimes as openpyxl does without
importing it. ``tests/test_number_formats.py`` compares the two over every format id and a list
of custom codes."""

from __future__ import annotations

import re

# The built-in formats whose codes hold a date or time letter (ECMA-376 18.8.30, as openpyxl
# lists them); every other built-in id (0-13, 37-44, 48, 49) is a number or text format, and
# an id openpyxl does not list has no code at all.
BUILTIN_DATE_FORMATS = {
    14: "mm-dd-yy", 15: "d-mmm-yy", 16: "d-mmm", 17: "mmm-yy", 18: "h:mm AM/PM", 19: "h:mm:ss AM/PM",
    20: "h:mm", 21: "h:mm:ss", 22: "m/d/yy h:mm", 45: "mm:ss", 46: "[h]:mm:ss", 47: "mmss.0",
}

# Text in quotes and anything in square brackets but [h], [m], [s] (a colour, a locale) hold no
# date letter; a letter after _ (a space as wide as it) or \ (shown as itself) is none either.
_IGNORED = re.compile(r'".*?"|\[(?!hh?\]|mm?\]|ss?\])[^\]]*\]')
_DATE_LETTER = re.compile(r"(?<![_\\])[dmhysDMHYS]")
_DURATION = re.compile(r"\[hh?\](:mm(:ss(\.0*)?)?)?|\[mm?\](:ss(\.0*)?)?|\[ss?\](\.0*)?", re.I)


def builtin_date_format(ident: str) -> str | None:
    """The code of built-in format ``ident`` (the numFmtId text) where it is a date or time."""
    try:
        return BUILTIN_DATE_FORMATS.get(int(ident))
    except ValueError:
        return None


def is_date_format(code: str) -> bool:
    """Whether the first section of ``code`` (positive numbers) shows a date or a time."""
    return _DATE_LETTER.search(_IGNORED.sub("", code.split(";")[0])) is not None


def is_duration_format(code: str) -> bool:
    """Whether the first section of ``code`` counts elapsed hours, minutes or seconds ([h]:mm)."""
    return _DURATION.search(code.split(";")[0]) is not None
