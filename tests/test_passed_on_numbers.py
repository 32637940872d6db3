"""A right number wrapped in a formula is still a pasted number (issue #28, item 1).

Each copy here is the answer key's exercise with every blank cell filled by a formula that only
passes the key's own number on: a function check does not read, a volatile or circular formula,
a link to another file, a constant, a cell of a hidden sheet of pasted numbers, a block read by
SUM. Every such cell shows the right number (the copies are saved with the key's values, as a
spreadsheet program would save them), and none computes anything from the table, so each earns
nothing; with --accept-values right numbers are credited, as typed ones are. The last case is a
formula that is right at every random point and wrong in its own row (IF(i1 > 0.06, …, 0) where
i1 = 0.05): the row's own values are one of the points tried."""

from __future__ import annotations

import json

import openpyxl
import pytest
from openpyxl.workbook.defined_name import DefinedName

import exercise_fill
from sheetprop.cli import main

STEPS = 4
SHEET = "lr=0.5"
# 19 computed cells a row, 8 weight updates a row after the first (the classic 2-2-2 network).
CELLS = 19 * STEPS + 8 * (STEPS - 1)


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gaming")
    key = folder / "key.xlsx"
    assert main(["build", "--quiet", "--exercise", "--steps", str(STEPS), "--lrs", "0.5", "--out", str(key)]) == 0
    exercise = folder / "key_exercise.xlsx"
    return key, exercise, exercise_fill.key_values(key), exercise_fill.header(openpyxl.load_workbook(exercise)[SHEET])


def gamed(kit, out, formula, extra=None, shown=None):
    """The exercise filled with ``formula(cell, number the key saved there, row)`` in every blank
    cell that the key gives a formula, saved with the key's values."""
    key, exercise, numbers, (_, columns) = kit

    def edit(sheet, label, row, source):
        if not (isinstance(source, str) and source.startswith("=")):
            return source
        cell = f"{columns[label]}{row}"
        return formula(cell, repr(float(numbers[(sheet, cell)])), row)

    return exercise_fill.fill(key, exercise, out, [SHEET], edit=edit, saved_values=True, extra=extra, shown=shown)


def pasted_sheet(numbers):
    """A hidden sheet "v0" holding the key's numbers, each in the cell it belongs to."""
    def add(book):
        sheet = book.create_sheet("v0")
        sheet.sheet_state = "hidden"
        for (name, cell), value in numbers.items():
            if name == SHEET:
                sheet[cell] = value
    return add


def defined_names(numbers):
    """A defined name v_J18 holding the number J18 should show, for every cell."""
    def add(book):
        for (name, cell), value in numbers.items():
            if name == SHEET:
                book.defined_names[f"v_{cell}"] = DefinedName(f"v_{cell}", attr_text=repr(float(value)))
    return add


def graded(key, path, capsys, *options):
    code = main(["check", "--json", "--key", str(key), *options, str(path)])
    report = json.loads(capsys.readouterr().out)
    return code, report["scores"]["right"], report["scores"]["cells"], report["findings"]


GAMES = {
    "ROUND": lambda cell, v, row: f"=ROUND({v},15)+0*$A$2",
    "VALUE": lambda cell, v, row: f'=VALUE("{v}")+0*$A$2',
    "CHOOSE": lambda cell, v, row: f"=CHOOSE(1,{v},$A$2)",
    "ISNUMBER": lambda cell, v, row: f"=IF(ISNUMBER($A$2),{v},0)",
    "RAND": lambda cell, v, row: f"=RAND()*0+{v}+0*$A$2",
    "NOW": lambda cell, v, row: f"=IF(NOW()>0,{v},0)",
    "external link": lambda cell, v, row: f"=[1]v0!{cell}",
    "circular": lambda cell, v, row: f"=0*{cell}+{v}",
    "step number": lambda cell, v, row: f"={v}+0*$A{row}",
    "constant": lambda cell, v, row: f"={v}+0*$A$2",
}
FROM_SHEET = {
    "INDIRECT": lambda cell, v, row: '=INDIRECT("v0!"&ADDRESS(ROW(),COLUMN()))',
    "hidden sheet": lambda cell, v, row: f"=v0!{cell}",
    "INDEX": lambda cell, v, row: "=INDEX(v0!$A$1:$AF$40,ROW(),COLUMN())",
    "OFFSET": lambda cell, v, row: "=OFFSET(v0!$A$1,ROW()-1,COLUMN()-1)",
    "SUM": lambda cell, v, row: f"=SUM(v0!{cell})",
    "SUM with η": lambda cell, v, row: f"=SUM(v0!{cell})+0*$A$2",
}
NAMED = {
    "defined name": lambda cell, v, row: f"=v_{cell}",
    "defined name with η": lambda cell, v, row: f"=v_{cell}+0*$A$2",
}


def test_the_honest_fill_scores_every_cell(kit, tmp_path, capsys):
    """The fixture's baseline: the key's own formulas, saved with the key's values, score in full."""
    key, exercise, _, _ = kit
    path = exercise_fill.fill(key, exercise, tmp_path / "honest.xlsx", [SHEET], saved_values=True)
    assert graded(key, path, capsys)[:3] == (0, CELLS, CELLS)


@pytest.mark.parametrize("name", [*GAMES, *FROM_SHEET, *NAMED])
def test_a_number_passed_on_by_a_formula_earns_nothing(kit, tmp_path, capsys, name):
    key, _, numbers, _ = kit
    formula = {**GAMES, **FROM_SHEET, **NAMED}[name]
    extra = pasted_sheet(numbers) if name in FROM_SHEET else defined_names(numbers) if name in NAMED else None
    path = gamed(kit, tmp_path / "gamed.xlsx", formula, extra)
    code, right, cells, findings = graded(key, path, capsys)
    assert (code, right, cells) == (1, 0, CELLS)
    # Each computed cell is named: a number passed on, a typed number (a formula without a reference),
    # or for a weight an update that reads no η or a stray one.
    assert "passed-on number" in {f["kind"] for f in findings} or name in ("NOW", "INDIRECT", "defined name")


@pytest.mark.parametrize("name", ["ROUND", "external link", "circular", "CHOOSE"])
def test_accept_values_credits_the_right_numbers_passed_on(kit, tmp_path, capsys, name):
    key, _, numbers, _ = kit
    formula = {**GAMES, **FROM_SHEET}[name]
    path = gamed(kit, tmp_path / "gamed.xlsx", formula, pasted_sheet(numbers) if name in FROM_SHEET else None)
    code, right, cells, _ = graded(key, path, capsys, "--accept-values")
    assert (right, cells) == (CELLS, CELLS)


def test_a_target_typed_once_above_the_table_is_still_a_formula_of_the_row(kit, tmp_path, capsys):
    """E1 = 0.5·(target − a_o1)² reading the target from a cell outside the table that holds the
    row's t1: it moves with a_o1 as the chain rule does, so it is right (not a number passed on)."""
    key, exercise, numbers, (_, columns) = kit
    target = numbers[(SHEET, f"{columns['t1']}18")]

    def typed_target(book):
        book[SHEET]["AZ1"] = target

    def edit(sheet, label, row, source):
        if label == "E1":
            return f"=0.5*($AZ$1-{columns['a_o1']}{row})^2"
        return source

    path = exercise_fill.fill(key, exercise, tmp_path / "target.xlsx", [SHEET], edit=edit, saved_values=True,
                              extra=typed_target)
    code, right, cells, findings = graded(key, path, capsys)
    assert (right, cells) == (CELLS, CELLS) and not findings


def test_a_branch_right_at_the_random_points_is_tried_at_its_own_row(kit, tmp_path, capsys):
    """∂E/∂w1…w4 as IF(i1 > 0.06, right, 0): every random point draws i1 above 0.06, the exercise's
    i1 is 0.05, so the cells show 0. Each of those cells is wrong; nothing else is."""
    key, exercise, numbers, (first, columns) = kit
    gradients = {f"∂E/∂w{k}" for k in range(1, 5)}
    assert numbers[(SHEET, f"{columns['i1']}{first + 1}")] < 0.06  # the exercise's own input

    def branch(sheet, label, row, source):
        return f"=IF(${columns['i1']}{row}>0.06,{source[1:]},0)" if label in gradients else source

    shown = {(SHEET, f"{columns[label]}{first + k}"): 0.0 for label in gradients for k in range(1, STEPS + 1)}
    path = exercise_fill.fill(key, exercise, tmp_path / "branch.xlsx", [SHEET], edit=branch, saved_values=True,
                              shown=shown)
    code, right, cells, findings = graded(key, path, capsys)
    assert (code, right, cells) == (1, CELLS - 4 * STEPS, CELLS)
    assert sorted(f["label"] for f in findings) == sorted(sorted(gradients) * STEPS)
    assert {f["kind"] for f in findings} == {"wrong formula"}
