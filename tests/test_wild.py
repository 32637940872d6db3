"""`check` on the real hand-made workbooks of ../shared/wild (never committed; skipped where absent).

Each file's findings are held against an independent judge (``wild_reference``: hand-written
Python, cell by cell, with the rounding each file's digits allow), and against what a teacher
reading the formulas finds (the comments say what each slip is).
"""

import json
import re
from pathlib import Path

import pytest

from sheetprop.cli import main
from wild_reference import wrong_cells

WILD = Path(__file__).resolve().parents[1].parent / "shared" / "wild"

# Each sheet's η, read off the sheet (the cell its updates reference).
ETA = {
    "02": {"Rohan": 1.0, "Backprop - HimankJ": 0.6},
    "06": {"Rohan": 1.0, "Self": 1.0},
    "07": {"Sheet1": 1.0},
    "12": {"Sheet1": 2.0},
    "14": {"Sheet1": 0.5},
    "15": {f"LR_{lr}": float(lr) for lr in ("0.1", "0.2", "0.5", "0.8", "1", "2")},
    "19": {"Back Prop": 1.0},
    "22": {f"L.R. {lr}": float(lr) for lr in ("0.1", "0.2", "0.5", "0.8", "1", "2")},
    "25": {"Sheet1": 2.0},
    "29": {"Sheet1": 1.0},
}
# What a teacher finds reading the formulas: (exit code, {(sheet, first cell, last cell, label)}),
# for the files whose every slip is one run down a column.
BY_HAND = {
    # σ'(h1) where σ'(h2) belongs in ∂E/∂w3 and ∂E/∂w4, copied down both sheets.
    "02": (1, {("Rohan", "Z33", "Z100", "∂E/∂w3"), ("Rohan", "AA33", "AA100", "∂E/∂w4"),
               ("Backprop - HimankJ", "Z31", "Z100", "∂E/∂w3"), ("Backprop - HimankJ", "AA31", "AA100", "∂E/∂w4")}),
    # The same slip in 'Rohan'; in 'Self' ∂E/∂w1…w4 lack the brackets around δ_h (only the
    # second term is multiplied by σ'(h)·i).
    "06": (1, {("Rohan", "Z33", "Z100", "∂E/∂w3"), ("Rohan", "AA33", "AA100", "∂E/∂w4"),
               ("Self", "X33", "X103", "∂E/∂w1"), ("Self", "Y33", "Y103", "∂E/∂w2"),
               ("Self", "Z33", "Z103", "∂E/∂w3"), ("Self", "AA33", "AA103", "∂E/∂w4")}),
    "07": (1, {("Sheet1", "AA49", "AA149", "∂E/∂w3"), ("Sheet1", "AB49", "AB149", "∂E/∂w4")}),
    "14": (1, {("Sheet1", "Z29", "Z90", "∂E/∂w3"), ("Sheet1", "AA29", "AA90", "∂E/∂w4")}),
    "12": (0, set()),
    "19": (0, set()),
    "25": (0, set()),  # its E_0.1 … E_2 columns (a loss per η, right of the table) are not E1, E2
    "29": (0, set()),
}


def wild(prefix: str) -> Path:
    found = sorted(WILD.glob(f"{prefix}_*.xlsx")) if WILD.is_dir() else []
    if not found:
        pytest.skip(f"../shared/wild/{prefix}_*.xlsx not present")
    return found[0]


def run(path, capsys):
    code = main(["check", "--json", str(path)])
    return code, json.loads(capsys.readouterr().out)


def finding_cells(report, weights_of_rows) -> set:
    """Every cell a finding names; an η drift, one finding a row, stands for the row's weights
    (the cells of ``weights_of_rows`` in that row)."""
    cells = {(f["sheet"], f["cell"]) for f in report["findings"]}
    for f in report["findings"]:
        if f["kind"] == "η drift":
            row = re.sub(r"^[A-Z]+", "", f["cell"])
            cells |= {(sheet, cell) for sheet, cell in weights_of_rows
                      if sheet == f["sheet"] and re.sub(r"^[A-Z]+", "", cell) == row}
    return cells


@pytest.mark.parametrize("prefix", sorted(BY_HAND))
def test_findings_are_the_slips_a_teacher_finds(prefix, capsys):
    path = wild(prefix)
    code, report = run(path, capsys)
    expected_code, groups = BY_HAND[prefix]
    assert code == expected_code
    assert {(g["sheet"], g["first_cell"], g["last_cell"], g["label"]) for g in report["groups"]} == groups
    ref = wrong_cells(path, ETA[prefix])
    assert finding_cells(report, ref) == ref


def test_the_classic_slip_is_named(capsys):
    _, report = run(wild("02"), capsys)
    first = report["findings"][0]
    assert first["kind"] == "wrong formula"
    assert "uses a_h1·(1 − a_h1) where ∂E_total/∂w3 needs a_h2·(1 − a_h2)" in first["hint"]


def test_missing_brackets_read_as_written(capsys):
    _, report = run(wild("06"), capsys)
    (w1,) = [f for f in report["findings"] if f["sheet"] == "Self" and f["cell"] == "X33"]
    # The formula computes δ_o1·w5 + δ_o2·w7·σ'(h1)·i1: the brackets around the sum are missing.
    assert w1["reads"].startswith("(a_o1 − t1)·a_o1·(1 − a_o1)·w5 + ")


def test_a_google_sheets_export_with_drifting_eta(capsys):
    # 15: a Google Sheets export (10 digits) of six sheets typed with many slips, η read through
    # relative references that drift down the rows. Every cell the independent judge finds wrong
    # is found; beyond them only drifted-η rows whose numbers agree within rounding.
    path = wild("15")
    code, report = run(path, capsys)
    assert code == 1
    assert sum("10 significant digits" in note for note in report["notes"]) == 6
    ref = wrong_cells(path, ETA["15"])
    ours = finding_cells(report, ref)
    assert ref <= ours
    drifted = {(f["sheet"], f["cell"]) for f in report["findings"] if f["kind"] == "η drift"}
    assert ours - ref <= drifted


def test_pasted_sheets_and_a_results_block(capsys):
    # 22: 'L.R. 0.1' has formulas (σ'(h1) for σ'(h2) in ∂E/∂w3, ∂E/∂w4) and a per-η block of
    # results right under its table; the other five sheets are those values pasted, rounded to
    # what the columns showed, and from row 44 or so their weights stop changing.
    path = wild("22")
    code, report = run(path, capsys)
    assert code == 1
    assert sum("pasted values" in note for note in report["notes"]) == 5
    assert any("'L.R. 0.1'" in note and "row 76 is not a step" in note for note in report["notes"])
    assert {(g["first_cell"], g["last_cell"]) for g in report["groups"] if g["sheet"] == "L.R. 0.1"} == {
        ("Z29", "Z75"), ("AA29", "AA75")}
    ref = wrong_cells(path, ETA["22"])
    ours = finding_cells(report, ref)
    assert ref <= ours
    # Beyond the judge, only cells of the slipped columns, where the slip (2.6e-4 relative) sits
    # near what the pasted digits can show.
    assert {re.sub(r"\d+$", "", cell) for _, cell in ours - ref} <= {"Z", "AA"}
    stalled = [f for f in report["findings"] if f["sheet"] == "L.R. 1" and f["kind"] == "wrong update"]
    assert {f["cell"] for f in stalled} >= {f"{c}44" for c in "EFGHMNOP"}
    # Rows that repeat the row above are one mistake, not one per weight.
    (repeat,) = [g for g in report["groups"] if g["sheet"] == "L.R. 1" and g["kind"] == "wrong update"]
    assert repeat["labels"] == [f"w{k}" for k in range(1, 9)] and repeat["first_cell"] == "E44"
    assert repeat["count"] == 8 * 7


def test_a_table_of_givens_only_has_nothing_to_check(capsys):
    code = main(["check", str(wild("08"))])
    assert code == 2 and "unfinished" in capsys.readouterr().err


def test_a_slip_inside_a_helper_column_is_named_there(capsys):
    # 36: δ of h2 kept in column Y (headed "B") is written with a_h1; ∂E/∂w3 and ∂E/∂w4 read it.
    code, report = run(wild("36"), capsys)
    assert code == 1
    assert {(g["sheet"], g["first_cell"], g["last_cell"], g["count"]) for g in report["groups"]} == {
        ("Sheet1", "Y41", "Y125", 85)}


def test_the_students_own_weight_numbering_is_read(capsys):
    # 43: weights numbered by (from, to), every formula consistent with it.
    code, report = run(wild("43"), capsys)
    assert (code, report["findings"]) == (0, [])
    assert sum("numbered its own way" in note for note in report["notes"]) == 1


@pytest.mark.parametrize("prefix", ["44", "45"])
def test_labels_in_other_scripts_are_read_and_the_files_are_clean(prefix, capsys):
    code, report = run(wild(prefix), capsys)
    assert (code, report["findings"]) == (0, []) and report["sheets"]


def test_a_hancom_office_file_opens(capsys):
    # 56 (Hancom Office "Cell", x:-prefixed XML): opened, not "cannot read … IndexError".
    main(["check", str(wild("56"))])
    assert "cannot read" not in capsys.readouterr().err


# The files without a labelled table, read from their formulas alone (formula_graph): the cells
# where each slip enters, and nothing else.
FROM_FORMULAS = {
    # 2-2-1 on XOR, a weight a row, per-neuron biases: σ′ of the other hidden neuron in the rows of
    # x2→h1 and x1→h2 (R5, R6); the bias updates read η from $O4, an updated weight (V8, V9).
    "56": {("시트1", "R5"), ("시트1", "R6"), ("시트1", "V8"), ("시트1", "V9")},
    # 2-4-1, one step: the output's sum reads the hidden sums where their sigmoids belong (AB4);
    # N4 reads w7 where w4 belongs (Y4), which changes no value (its input is 0): a wrong reference.
    "57": {("Planilha1", "AB4"), ("Planilha1", "Y4")},
}


@pytest.mark.parametrize("prefix", sorted(FROM_FORMULAS))
def test_networks_without_a_labelled_table_are_read_from_their_formulas(prefix, capsys):
    code, report = run(wild(prefix), capsys)
    assert code == 1
    assert {(f["sheet"], f["cell"]) for f in report["findings"]} == FROM_FORMULAS[prefix]
    assert any("read from the formulas alone" in note for note in report["notes"])


def test_the_wrong_weight_that_changes_no_value_is_a_wrong_reference(capsys):
    _, report = run(wild("57"), capsys)
    (y4,) = [f for f in report["findings"] if f["cell"] == "Y4"]
    assert y4["kind"] == "wrong reference" and "J4 where G4 belongs" in y4["message"]
