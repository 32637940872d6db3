"""A formula is judged by what it computes, never by the number saved with it: a wrong formula
whose saved value is still the right one (edited without recalculating, or typed over a copy)
is a finding, and a right formula whose saved value is stale is not. Each file is a built
workbook with one cell's formula or saved value edited in the sheet's XML."""

import json
import re
import zipfile

import openpyxl
import pytest
from openpyxl.utils import get_column_letter

from sheetprop.cli import main

SHEET = "lr=0.5"


@pytest.fixture
def built(build):
    """The built workbook, the path of its sheet's XML in the zip, and a cell finder
    (label, data row counted from 0) -> "K18", read off the header row."""
    path = build("--lrs", "0.5", "--steps", "5")
    book = openpyxl.load_workbook(path, read_only=True)
    rows = list(book[SHEET].iter_rows(values_only=True))
    header = next(k for k, row in enumerate(rows) if row[0] == "step")
    columns = {value: k for k, value in enumerate(rows[header]) if value is not None}
    index = book.sheetnames.index(SHEET) + 1
    book.close()

    def cell(label: str, data_row: int) -> str:
        return f"{get_column_letter(columns[label] + 1)}{header + 2 + data_row}"

    return path, f"xl/worksheets/sheet{index}.xml", cell


def edited(source, target, member: str, ref: str, formula=None, value=None):
    """``source`` with cell ``ref``'s formula text or its saved value replaced, nothing recalculated."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as copy:
        for item in original.infolist():
            data = original.read(item.filename)
            if item.filename == member:
                text = data.decode()
                match = re.search(rf'<c r="{ref}"[^>]*><f>([^<]*)</f><v>([^<]*)</v>', text)
                assert match, f"{ref} has no formula with a saved value"
                start, end = match.span(1) if formula is not None else match.span(2)
                data = (text[:start] + (formula if formula is not None else repr(value)) + text[end:]).encode()
            copy.writestr(item, data)
    return target


def check(path, capsys):
    code = main(["check", "--json", str(path)])
    return code, json.loads(capsys.readouterr().out)


def test_a_wrong_formula_with_the_right_saved_value_is_found(built, tmp_path, capsys):
    path, member, cell = built
    ref = cell("a_h1", 0)
    # σ(h1) typed as 1/(1+EXP(h1)): reads the right cell, computes 1 − σ(h1); the saved value stays σ(h1).
    slipped = edited(path, tmp_path / "slip.xlsx", member, ref, formula=f"1/(1+EXP({cell('h1', 0)}))")
    code, report = check(slipped, capsys)
    assert code == 1
    assert [(f["cell"], f["label"], f["kind"]) for f in report["findings"]] == [(ref, "a_h1", "wrong formula")]
    (finding,) = report["findings"]
    assert "stale" in finding["message"] and finding["reads"] == "1/(1 + exp(h1))"
    assert report["scores"]["right"] == report["scores"]["cells"] - 1


def test_a_wrong_update_with_the_right_saved_value_is_found(built, tmp_path, capsys):
    path, member, cell = built
    ref = cell("w1", 1)
    # The sign of the step flipped (w + η·∂E/∂w), the saved value left as w − η·∂E/∂w.
    flipped = f"{cell('w1', 0)}+$A$2*{cell('∂E/∂w1', 0)}"
    code, report = check(edited(path, tmp_path / "flip.xlsx", member, ref, formula=flipped), capsys)
    assert code == 1
    assert [(f["cell"], f["kind"]) for f in report["findings"]] == [(ref, "wrong update")]


def test_a_right_formula_with_a_stale_saved_value_is_right(built, tmp_path, capsys):
    path, member, cell = built
    code, report = check(edited(path, tmp_path / "stale.xlsx", member, cell("a_h1", 0), value=0.25), capsys)
    assert (code, report["findings"]) == (0, [])
    assert report["scores"]["right"] == report["scores"]["cells"]


def test_the_untouched_build_is_right(built, capsys):
    code, report = check(built[0], capsys)
    assert (code, report["findings"]) == (0, [])
