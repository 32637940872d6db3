"""An exercise sheetprop built has an η cell; a student who types η's number into every update
(=F18-0.5*Y18 where =F18-$A$2*Y18 belongs) computes this sheet's numbers and stops following η
when the cell is changed. That is a finding, and those updates earn nothing. A hand-made sheet
may type η by its own choice: there it stays right."""

import json

import openpyxl
import pytest

from sheetprop.cli import main

SHEETS = ("lr=0.5", "lr=1")
STEPS = 4


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    folder = tmp_path_factory.mktemp("typed-eta")
    key = folder / "key.xlsx"
    assert main(["build", "--quiet", "--exercise", "--steps", str(STEPS), "--lrs", "0.5,1", "--out", str(key)]) == 0
    return key, folder / "key_exercise.xlsx"


def eta_cell(sheet) -> str:
    """The cell below the 'learning rate η' label (where build writes η)."""
    for row in sheet.iter_rows(max_row=15):
        for cell in row:
            if isinstance(cell.value, str) and cell.value.startswith("learning rate"):
                return f"${cell.column_letter}${cell.row + 1}"
    raise AssertionError("no η label")


def fill(key, exercise, out, typed: bool, record: bool = True):
    """The key's formulas in the student's blanks; with ``typed`` η's reference replaced by its number."""
    key_book, book = openpyxl.load_workbook(key), openpyxl.load_workbook(exercise)
    replaced = 0
    for name in SHEETS:
        where = eta_cell(key_book[name])
        for row in book[name].iter_rows():
            for cell in row:
                formula = key_book[name][cell.coordinate].value
                if cell.value is None and isinstance(formula, str) and formula.startswith("="):
                    if typed and where in formula:
                        formula = formula.replace(where, name[3:])
                        replaced += 1
                    cell.value = formula
    if not record:
        del book["_sheetprop"]
    book.save(out)
    return replaced


def check(path, capsys, *extra):
    code = main(["check", "--json", *extra, str(path)])
    return code, json.loads(capsys.readouterr().out)


def test_the_key_formulas_score_full(kit, tmp_path, capsys):
    fill(*kit, tmp_path / "right.xlsx", typed=False)
    code, report = check(tmp_path / "right.xlsx", capsys)
    assert code == 0 and report["findings"] == []


def test_eta_typed_in_every_update_is_named_and_costs_those_updates(kit, tmp_path, capsys):
    replaced = fill(*kit, tmp_path / "typed.xlsx", typed=True)
    assert replaced == len(SHEETS) * (STEPS - 1) * 8  # every weight update of every later row
    for extra in ((), ("--key", str(kit[0]))):
        code, report = check(tmp_path / "typed.xlsx", capsys, *extra)
        assert code == 1
        typed = [f for f in report["findings"] if "η typed as" in f["message"]]
        assert {f["sheet"] for f in typed} == set(SHEETS)
        assert any("η typed as 0.5" in f["message"] and "$A$2" in f["message"] for f in typed)
        assert report["scores"]["cells"] - report["scores"]["right"] == replaced


def test_a_hand_made_sheet_may_type_eta(kit, tmp_path, capsys):
    """Without the record nothing says where η lives: typing it is the student's choice."""
    fill(*kit, tmp_path / "own.xlsx", typed=True, record=False)
    code, report = check(tmp_path / "own.xlsx", capsys)
    assert not any("η typed as" in f["message"] for f in report["findings"])
