"""The streaming reader's date rules and defined names answer as openpyxl's do (the reference
here; check itself no longer imports openpyxl)."""

from __future__ import annotations

import pytest
from openpyxl.styles.numbers import builtin_format_code, is_date_format, is_timedelta_format
from openpyxl.workbook.defined_name import DefinedName as OpenpyxlDefinedName

from sheetprop.spreadsheet import number_formats
from sheetprop.check.read.xlsx_reader import DefinedName, NotStreamable

CUSTOM_CODES = [
    "General", "0", "0.00", "0%", "0.00E+00", "yyyy-mm-dd", "dd/mm/yyyy", "d-mmm-yy", "mmm yyyy", "h:mm",
    "hh:mm:ss AM/PM", "[h]:mm:ss", "[hh]:mm", "[mm]:ss", "[m]:ss.00", "[ss].0", "[s]", "[H]:MM", "[$-409]mmmm d, yyyy",
    "[$-F800]dddd\\, mmmm dd\\, yyyy", "[Red]0.00", "[Blue]#,##0;[Red]-#,##0", '"days"0', '0" days"', '0 "hrs"',
    "0_);(0)", "_d0", "\\d0", "\\h0.00", "#,##0.00 [$€-407]", "[$EUR ]#,##0.00_-", "0;yyyy", "yyyy;0",
    '"$"#,##0', "@", "d", "D", "Y", "s", "0.0 \\s", "[>=100]0;0.00", "[Green]General", "mmss.0", "[h]", "[hh",
    'yy"x"', '"a"yy"b"', "[DBNum1]0", "#\\ ?/?", "m/d/yy h:mm;@", "", " ", "e", "ggg", "B2yyyy",
]


@pytest.mark.parametrize("ident", [str(i) for i in range(-1, 200)] + ["", "x", " 14", "14.0", "1e1"])
def test_every_builtin_format_id(ident):
    try:
        theirs = builtin_format_code(int(ident))
    except ValueError:
        theirs = None
    ours = number_formats.builtin_date_format(ident)
    if ours is None:  # a format openpyxl does not know, or one without a date
        assert not (theirs and (is_date_format(theirs) or is_timedelta_format(theirs)))
    else:
        assert ours == theirs and is_date_format(theirs)


def test_the_builtin_dates_are_those_of_the_standard():
    assert sorted(number_formats.BUILTIN_DATE_FORMATS) == [*range(14, 23), 45, 46, 47]


@pytest.mark.parametrize("code", CUSTOM_CODES)
def test_custom_codes(code):
    assert number_formats.is_date_format(code) == is_date_format(code)
    assert number_formats.is_duration_format(code) == is_timedelta_format(code)


def test_the_codes_hold_both_answers():
    dates = [number_formats.is_date_format(code) for code in CUSTOM_CODES]
    durations = [number_formats.is_duration_format(code) for code in CUSTOM_CODES]
    assert any(dates) and not all(dates) and any(durations) and not all(durations)


NAME_TEXTS = [
    "Sheet1!$A$1", "Sheet1!A1", "'Sheet 1'!$B$2", "'a''b'!C3", "Sheet1!$A$1:$B$2", "Sheet1!$A:$A", "Sheet1!$1:$1",
    "Sheet1!$A$1,Sheet1!$B$2", "$A$1", "A1", "0.01", "1E-3", '"text"', "TRUE", "#REF!", "Sheet1!#REF!", "eta",
    "other_name", "SUM(Sheet1!A1:A3)", "Sheet1!A1+1", "'unterminated!A1", "[1]Sheet1!$A$1", "", " ", "=Sheet1!A1",
    "Sheet1!A1:B", "OFFSET(Sheet1!$A$1,0,0)", "{1,2}", "(Sheet1!A1)",
]


def answers(defined):
    try:
        kind = defined.type
    except Exception:  # noqa: BLE001 - openpyxl raises IndexError, TokenizerError… on such text
        kind = "error"
    try:
        destinations = list(defined.destinations)
    except Exception:  # noqa: BLE001
        destinations = "error"
    return kind, destinations


@pytest.mark.parametrize("text", NAME_TEXTS)
def test_defined_names(text):
    ours = DefinedName("eta", None, text)
    theirs = OpenpyxlDefinedName(name="eta", attr_text=text)
    assert (ours.name, ours.value, ours.attr_text) == (theirs.name, theirs.value, theirs.attr_text)
    assert answers(ours) == answers(theirs)


def test_defined_names_of_each_kind():
    found = [answers(DefinedName("eta", None, text)) for text in NAME_TEXTS]
    assert ("RANGE", [("Sheet 1", "$B$2")]) in found and ("NUMBER", []) in found
    assert any(destinations == "error" for _, destinations in found)


@pytest.mark.parametrize("local, kept", [(None, None), ("0", 0), ("3", 3), ("x", NotStreamable), ("1.5", NotStreamable)])
def test_a_defined_names_sheet_number(local, kept):
    # What openpyxl's Integer refuses, the streaming reader leaves to openpyxl (to refuse as ever).
    if kept is NotStreamable:
        with pytest.raises(NotStreamable):
            DefinedName("eta", local, "Sheet1!A1")
    else:
        assert DefinedName("eta", local, "Sheet1!A1").localSheetId == kept
