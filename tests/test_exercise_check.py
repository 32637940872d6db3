"""The teacher's kit round trip: `build --exercise` hands out a student version, a student fills it
in, `check --json` scores it per column and per sheet. A correct fill scores 100 %; each planted
slip costs its own column and nothing else. The fills here are the answer key's formulas, copied
cell by cell into the blanks (the key is proven right elsewhere, against torch and LibreOffice);
the slips are edits of those formulas, and what they cost is counted here from the edit itself."""

import json
import re

import openpyxl
import pytest

import exercise_fill
from exercise_fill import header
from sheetprop.cli import main
from sheetprop.libreoffice import find_soffice

pytestmark = pytest.mark.skipif(find_soffice() is None, reason="LibreOffice (soffice) not installed")

STEPS = 5
SHEETS = ("lr=0.5", "lr=1")


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kit")
    key = folder / "BackPropagation.xlsx"
    assert main(["build", "--quiet", "--exercise", "--steps", str(STEPS), "--lrs", ",".join(s[3:] for s in SHEETS),
                 "--out", str(key)]) == 0
    return key, folder / "BackPropagation_exercise.xlsx"


def fill(key, exercise, out, rows: int = STEPS, edit=None):
    """Copy the key's formulas into the student version's blank cells of the first ``rows`` rows;
    ``edit(sheet name, label, row, formula)`` may change one on the way."""
    return exercise_fill.fill(key, exercise, out, SHEETS, rows, edit)


def run_check(path, capsys):
    code = main(["check", "--json", str(path)])
    return code, json.loads(capsys.readouterr().out)


def column_scores(report, sheet):
    (entry,) = [s for s in report["scores"]["sheets"] if s["sheet"] == sheet]
    return {c["label"]: (c["right"], c["cells"]) for c in entry["columns"]}


def test_the_student_version_scores_zero_until_filled(kit, capsys):
    _, exercise = kit
    code, report = run_check(exercise, capsys)
    # Nothing wrong, and nothing done: short of full marks, so not a clean exit.
    assert code == 1 and report["findings"] == [] and report["scores"]["exercise"] is True
    assert report["scores"]["right"] == 0 and report["scores"]["cells"] > 0
    assert any("rows " in note and "unfinished" in note for note in report["notes"])


def test_a_correct_fill_scores_100_percent(kit, tmp_path, capsys):
    filled = fill(*kit, tmp_path / "filled.xlsx")
    code, report = run_check(filled, capsys)
    assert code == 0, report["findings"][:3]
    assert report["findings"] == []
    # What the student works out: 19 computed columns in every row, 8 new weights in every later row.
    per_sheet = 19 * STEPS + 8 * (STEPS - 1)
    assert [(s["sheet"], s["right"], s["cells"], s["score"]) for s in report["scores"]["sheets"]] == [
        (name, per_sheet, per_sheet, 1.0) for name in SHEETS]
    assert report["scores"]["score"] == 1.0


def test_a_slip_copied_down_a_column_costs_that_column_only(kit, tmp_path, capsys):
    key, exercise = kit
    _, columns = header(openpyxl.load_workbook(exercise)["lr=0.5"])

    def sigma_of_h1_for_h2(sheet, label, row, formula):  # the classic slip, in one sheet's ∂E/∂w3
        if sheet == "lr=0.5" and label == "∂E/∂w3":
            return re.sub(rf"\b{columns['a_h2']}{row}\b", f"{columns['a_h1']}{row}", formula)
        return formula

    code, report = run_check(fill(key, exercise, tmp_path / "slip.xlsx", edit=sigma_of_h1_for_h2), capsys)
    assert code == 1
    scores = column_scores(report, "lr=0.5")
    assert scores["∂E/∂w3"] == (0, STEPS)
    assert all(right == cells for label, (right, cells) in scores.items() if label != "∂E/∂w3")
    assert all(right == cells for right, cells in column_scores(report, "lr=1").values())
    assert [(g["label"], g["count"]) for g in report["groups"]] == [("∂E/∂w3", STEPS)]


def test_one_wrong_update_costs_one_cell(kit, tmp_path, capsys):
    key, exercise = kit
    _, columns = header(openpyxl.load_workbook(exercise)["lr=1"])
    planted = []

    def plus_for_minus(sheet, label, row, formula):
        if sheet == "lr=1" and label == "w5" and not planted:
            planted.append(f"{columns['w5']}{row}")
            return formula.replace("-", "+", 1)
        return formula

    code, report = run_check(fill(key, exercise, tmp_path / "update.xlsx", edit=plus_for_minus), capsys)
    assert code == 1
    assert [(f["sheet"], f["cell"], f["kind"]) for f in report["findings"]] == [("lr=1", planted[0], "wrong update")]
    assert column_scores(report, "lr=1")["w5"] == (STEPS - 2, STEPS - 1)


def test_rows_not_started_count_as_not_done(kit, tmp_path, capsys):
    code, report = run_check(fill(*kit, tmp_path / "half.xlsx", rows=2), capsys)
    assert code == 1 and report["findings"] == []  # right so far, short of full marks
    done, total = 19 * 2 + 8 * 1, 19 * STEPS + 8 * (STEPS - 1)
    assert [(s["right"], s["cells"]) for s in report["scores"]["sheets"]] == [(done, total)] * len(SHEETS)
    assert report["sheets"] == [{"sheet": name, "rows": 2} for name in SHEETS]


def test_the_text_report_shows_the_scores(kit, tmp_path, capsys):
    key, exercise = kit
    _, columns = header(openpyxl.load_workbook(exercise)["lr=0.5"])

    def e2_from_t1(sheet, label, row, formula):
        if sheet == "lr=0.5" and label == "E2":
            return re.sub(rf"\b{columns['t2']}{row}\b", f"{columns['t1']}{row}", formula)
        return formula

    assert main(["check", str(fill(key, exercise, tmp_path / "e2.xlsx", edit=e2_from_t1))]) == 1
    text = capsys.readouterr().out
    per_sheet = 19 * STEPS + 8 * (STEPS - 1)
    assert f"score 'lr=0.5': {per_sheet - STEPS}/{per_sheet} cells right" in text and "short in E2 0/5" in text
    assert f"score 'lr=1': {per_sheet}/{per_sheet} cells right (100.0%)" in text


@pytest.mark.parametrize("options, state", [(("--optimizer", "adam"), "s_w7"), (("--template", "xor"), "m_w2"),
                                            (("--template", "deep", "--optimizer", "momentum"), "v_w5")])
def test_an_optimizer_exercise_round_trip(tmp_path, capsys, options, state):
    key = tmp_path / "BP.xlsx"
    assert main(["build", "--quiet", "--exercise", "--steps", "4", "--lrs", "0.5", "--out", str(key), *options]) == 0
    exercise = tmp_path / "BP_exercise.xlsx"
    book = openpyxl.load_workbook(exercise)
    sheet = book["lr=0.5"]
    first, columns = header(sheet)
    key_book = openpyxl.load_workbook(key)
    for row in sheet.iter_rows(min_row=first + 1, max_row=first + 4):
        for cell in row:
            formula = key_book["lr=0.5"][cell.coordinate].value
            if cell.value is None and isinstance(formula, str) and formula.startswith("="):
                cell.value = formula
    book.save(tmp_path / "filled.xlsx")
    code, report = run_check(tmp_path / "filled.xlsx", capsys)
    assert code == 0 and report["findings"] == [] and report["scores"]["score"] == 1.0
    # The state column's last cell reads the gradient of the row two above (a slip copying down
    # from the wrong row): it costs that one cell.
    last = first + 4
    cell = sheet[f"{columns[state]}{last}"]
    cell.value = re.sub(rf"([A-Z]+){last - 1}\b", rf"\g<1>{last - 2}", cell.value)
    book.save(tmp_path / "slip.xlsx")
    code, report = run_check(tmp_path / "slip.xlsx", capsys)
    assert code == 1 and [f["cell"] for f in report["findings"]] == [cell.coordinate]
    (entry,) = report["scores"]["sheets"]
    lost = {c["label"]: (c["right"], c["cells"]) for c in entry["columns"] if c["right"] < c["cells"]}
    assert lost == {state: (2, 3)}


def test_a_renamed_header_is_read_by_its_labels(kit, tmp_path, capsys):
    # The student relabelled columns ("T1", "E_tot"), so the sheet no longer has the header the
    # record names: it is read the way a hand-made sheet is, and still checked, with a note.
    filled = fill(*kit, tmp_path / "filled.xlsx")
    book = openpyxl.load_workbook(filled)
    first, columns = header(book["lr=1"])
    book["lr=1"][f"{columns['E_total']}{first}"] = "E_tot"
    book["lr=1"][f"{columns['t1']}{first}"] = "T1"
    book.save(tmp_path / "relabelled.xlsx")
    code, report = run_check(tmp_path / "relabelled.xlsx", capsys)
    assert code == 0 and report["findings"] == []
    assert {s["sheet"] for s in report["sheets"]} == set(SHEETS)
    assert any("'lr=1'" in note and "read by its labels" in note for note in report["notes"])


def test_a_weight_left_blank_is_one_finding(kit, tmp_path, capsys):
    # Row 3's w1 left empty: that cell is the finding. The row's other formulas are right (they
    # read the right cells, whatever the blank makes them show), and so is the next row's update.
    filled = fill(*kit, tmp_path / "filled.xlsx")
    book = openpyxl.load_workbook(filled)
    first, columns = header(book["lr=0.5"])
    blank = f"{columns['w1']}{first + 3}"
    book["lr=0.5"][blank] = None
    book.save(tmp_path / "blank.xlsx")
    code, report = run_check(tmp_path / "blank.xlsx", capsys)
    assert code == 1
    assert [(f["sheet"], f["cell"], f["kind"]) for f in report["findings"]] == [("lr=0.5", blank, "blank")]
    assert column_scores(report, "lr=0.5")["w1"] == (STEPS - 2, STEPS - 1)
