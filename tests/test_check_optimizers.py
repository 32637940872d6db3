"""`check` on workbooks built with momentum, RMSprop and Adam: the recorded network tells it the
optimizer, so a correct sheet is clean and a slip in a state column or an update is found where
it enters. Slips are edits of the built formulas; where each enters is known from the edit."""

import json
import re

import openpyxl
import pytest

from sheetprop.cli import main
from sheetprop.libreoffice import find_soffice

needs_libreoffice = pytest.mark.skipif(find_soffice() is None, reason="LibreOffice (soffice) not installed")


def built(build, optimizer):
    return build("--template", "era", "--optimizer", optimizer, "--steps", "5", "--lrs", "0.5,2")


def run(path, capsys):
    code = main(["check", "--json", str(path)])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("optimizer", ["momentum", "rmsprop", "adam"])
def test_a_correct_sheet_is_clean_and_every_state_cell_is_scored(build, capsys, optimizer):
    code, report = run(built(build, optimizer), capsys)
    assert code == 0 and report["findings"] == []
    columns = {c["label"] for s in report["scores"]["sheets"] for c in s["columns"]}
    state = {"momentum": "v_w1", "rmsprop": "s_w1", "adam": "m_w1"}[optimizer]
    assert {state, "w1", "∂E/∂w1"} <= columns
    assert report["scores"]["score"] == 1.0


def header(sheet):
    for row in sheet.iter_rows(max_row=40):
        if row[0].value == "step":
            return row[0].row, {c.value: c.column_letter for c in row if isinstance(c.value, str)}
    raise AssertionError("no header row")


@needs_libreoffice
def test_slips_in_adam_are_found_where_they_enter(build, tmp_path, capsys):
    book = openpyxl.load_workbook(built(build, "adam"))
    sheet = book["lr=0.5"]
    first, columns = header(sheet)
    row = first + 2  # the third step
    m_w3, s_w6, w2 = (f"{columns[label]}{row}" for label in ("m_w3", "s_w6", "w2"))
    beta1, beta2 = "$A$4", "$A$6"  # the hyper-parameter cells below their labels
    assert sheet["A3"].value.startswith("β1") and sheet["A5"].value.startswith("β2")
    # m_w3 decays with β2 where β1 belongs; s_w6 forgets to square the gradient; w2 drops Adam's
    # bias correction of m.
    sheet[m_w3] = sheet[m_w3].value.replace(beta1, beta2)
    sheet[s_w6] = re.sub(r"\^2$", "", sheet[s_w6].value)
    sheet[w2] = sheet[w2].value.replace(f"/(1-{beta1}^{columns['t']}{row})", "")
    edited = tmp_path / "adam_slips.xlsx"
    book.save(edited)
    code, report = run(edited, capsys)
    assert code == 1
    assert {(f["sheet"], f["cell"]) for f in report["findings"]} == {("lr=0.5", m_w3), ("lr=0.5", s_w6), ("lr=0.5", w2)}
    kinds = {f["cell"]: f["kind"] for f in report["findings"]}
    assert kinds[w2] == "wrong update" and "adam update" in next(
        f["message"] for f in report["findings"] if f["cell"] == w2)
    scores = {s["sheet"]: {c["label"]: (c["right"], c["cells"]) for c in s["columns"]} for s in report["scores"]["sheets"]}
    assert scores["lr=0.5"]["m_w3"] == (3, 4) and scores["lr=0.5"]["w2"] == (3, 4)
    assert all(right == cells for right, cells in scores["lr=2"].values())


@needs_libreoffice
def test_momentum_reading_the_wrong_gradient(build, tmp_path, capsys):
    book = openpyxl.load_workbook(built(build, "momentum"))
    sheet = book["lr=2"]
    first, columns = header(sheet)
    row = first + 2  # the first step's update (the row under the header holds the zero start)
    v_w1 = f"{columns['v_w1']}{row}"
    # v_w1 ← μ·v_w1 + ∂E/∂w2 of the row above, where ∂E/∂w1 belongs
    sheet[v_w1] = sheet[v_w1].value.replace(f"{columns['∂E/∂w1']}{row - 1}", f"{columns['∂E/∂w2']}{row - 1}")
    edited = tmp_path / "momentum_slip.xlsx"
    book.save(edited)
    code, report = run(edited, capsys)
    assert code == 1
    (finding,) = report["findings"]
    assert (finding["sheet"], finding["cell"], finding["kind"]) == ("lr=2", v_w1, "wrong update")
    assert "∂E/∂w2" in finding["hint"] and "∂E/∂w1" in finding["hint"]
