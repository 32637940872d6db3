"""Excel's own arithmetic, by a stand-in: formulon, a calculation engine that reproduces Excel 365's
results. Every built-in template × optimizer, recalculated by it after η is changed in its cell,
gives the engine's numbers for that η; and `check` finds nothing wrong in what it saved.

Tolerance: 1e-9 relative to the cell, or to the largest value of its column where a cell lands
near 0 by cancellation (a δ summing opposite terms, RMSprop's tiny gradients late in a run: there
Excel's last bits differ from Python's — formulon's TANH is an ulp off — by ~1e-16 of the column's
scale, which is 3e-5 of a 1e-11 cell). A slip is the size of the column's values.
"""

import itertools

import openpyxl
import pytest

from sheetprop import layout
from sheetprop.cli import main

formulon = pytest.importorskip("formulon")
pytestmark = pytest.mark.slow  # formulon compiles its WebAssembly engine once per process (~13 s)

TEMPLATES = ("era", "mazur", "xor", "softmax", "deep")
LAYERED = ("rnn", "conv", "attention")  # a convolution, a recurrent net and an attention head
OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam")
STEPS = 8


def _build(tmp_path, template, optimizer, rate):
    out = tmp_path / f"{template}-{optimizer}-{rate}.xlsx"
    assert main(["build", "--quiet", "--template", template, "--optimizer", optimizer, "--lrs", rate,
                 "--steps", str(STEPS), "--out", str(out)]) == 0
    return out


def _close(a: float, b: float, scale: float) -> bool:
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b), scale)


def test_formulon_really_recalculates():
    book = formulon.Workbook.create_default()
    book.set_number(0, 0, 0, 2.0)
    book.set_formula(0, 0, 1, "=A1*3+1")
    book.recalc()
    assert book.get_value(0, 0, 1).to_python() == 7


@pytest.mark.parametrize("template, optimizer", list(itertools.product(TEMPLATES, OPTIMIZERS))
                         + [(template, optimizer) for template in LAYERED for optimizer in ("sgd", "adam")])
def test_excel_arithmetic_gives_the_engines_numbers(tmp_path, template, optimizer):
    played = _build(tmp_path, template, optimizer, "0.5")
    expected = openpyxl.load_workbook(_build(tmp_path, template, optimizer, "0.7"), data_only=True).worksheets[1]
    formulas = openpyxl.load_workbook(played).worksheets[1]
    book = formulon.Workbook.load(played.read_bytes())
    sheet = 1  # the summary, then the one lr sheet
    book.set_number(sheet, *layout.LEARNING_RATE_CELL, 0.7)  # as a student would: type another η
    book.recalc()
    cells = [(cell, expected.cell(cell.row + 1, cell.col + 1).value) for cell in book.iter_cells(sheet)
             if str(formulas.cell(cell.row + 1, cell.col + 1).value).startswith("=")]
    cells = [(cell, want) for cell, want in cells if isinstance(want, (int, float)) and not isinstance(want, bool)]
    scale = {}
    for cell, want in cells:
        scale[cell.col] = max(scale.get(cell.col, 0.0), abs(want))
    wrong = []
    for cell, want in cells:
        got = book.get_value(sheet, cell.row, cell.col).to_python()
        if not (isinstance(got, (int, float)) and _close(want, got, scale[cell.col])):
            wrong.append((formulas.cell(cell.row + 1, cell.col + 1).coordinate, want, got))
    assert len(cells) >= 200 and not wrong, (len(cells), wrong[:5])


def test_check_is_clean_on_what_excels_arithmetic_saved(tmp_path, capsys):
    book = formulon.Workbook.load(_build(tmp_path, "era", "adam", "0.5").read_bytes())
    book.set_number(1, *layout.LEARNING_RATE_CELL, 0.7)
    book.recalc()
    saved = tmp_path / "saved.xlsx"
    saved.write_bytes(book.save())
    assert main(["check", str(saved)]) == 0
    assert "0 findings" in capsys.readouterr().out
