"""The workbook recalculated by a real spreadsheet program gives the engine's numbers."""

import math

import openpyxl
import pytest
import xlsxwriter

from sheetprop.libreoffice import find_soffice, recalculate

pytestmark = pytest.mark.skipif(find_soffice() is None, reason="LibreOffice (soffice) not installed")


def relative_error(a, b):
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


def compare_every_cell(original, recalculated, legend_texts=None):
    """Every cell of every sheet: same text, same error, numbers within 1e-9 relative.
    Returns how many numeric formula cells and error cells were compared. ``legend_texts(a, b)``
    may accept two texts that differ only in how a program writes a number into text."""
    formulas = openpyxl.load_workbook(original)
    cached = openpyxl.load_workbook(original, data_only=True)
    fresh = openpyxl.load_workbook(recalculated, data_only=True)
    assert fresh.sheetnames == cached.sheetnames
    compared, errors = 0, 0
    for name in cached.sheetnames:
        # The gradient check subtracts nearly equal numbers (E(w+h) − E(w−h), then ∂E/∂w minus
        # that): the last digits are rounding noise in any program, ~1e-13 absolute, so those
        # columns are compared in absolute terms, far below a real slip (~1e-4).
        cancelling = {c.column for row in cached[name].iter_rows(max_row=40) for c in row
                      if isinstance(c.value, str) and c.value.startswith(("Δ ", "fd "))}
        for row in cached[name].iter_rows():
            for cell in row:
                value = fresh[name][cell.coordinate].value
                if isinstance(cell.value, float) or isinstance(value, float):
                    assert isinstance(value, (int, float)), (name, cell.coordinate, value)
                    if cell.column in cancelling and cell.row > 1:
                        assert abs(cell.value - value) <= 1e-12, (name, cell.coordinate, cell.value, value)
                    else:
                        # A δ column's sum of opposite terms can land near 0 (~1e-10), where the
                        # last bit of rounding is a large relative error: 1e-15 absolute is
                        # still far below any slip.
                        error = relative_error(cell.value, value)
                        assert error <= 1e-9 or abs(cell.value - value) <= 1e-15, (
                            name, cell.coordinate, cell.value, value)
                    is_formula = str(formulas[name][cell.coordinate].value).startswith("=")
                    compared += is_formula
                elif not (legend_texts and legend_texts(cell.value, value)):
                    assert value == cell.value, (name, cell.coordinate, cell.value, value)
                    errors += value == "#NUM!"
    return compared, errors


def test_recalculation_really_happens(tmp_path):
    source = tmp_path / "in" / "wrong.xlsx"
    source.parent.mkdir()
    book = xlsxwriter.Workbook(source)
    sheet = book.add_worksheet("lr=0.5")
    sheet.write_number(0, 0, 2.0)
    sheet.write_formula(0, 1, "=A1*3+1", None, 999.0)         # deliberately wrong cache
    sheet.write_formula(0, 2, "=1/(1+EXP(-A1))", None, 0.0)
    book.close()
    fresh = openpyxl.load_workbook(recalculate(source, tmp_path / "out"), data_only=True)["lr=0.5"]
    assert fresh["B1"].value == 7
    assert fresh["C1"].value == pytest.approx(1 / (1 + math.exp(-2)), rel=1e-15)


@pytest.mark.parametrize("options, overflows", [
    (["--lrs", "0.1,0.2,0.5,0.8,1,2"], False),
    (["--template", "mazur", "--lrs", "0.5,3"], False),
    (["--lrs", "0.5,2", "--steps", "30", "--gradcheck"], False),
    (["--template", "{tanh_template}", "--lrs", "0.05,0.4", "--steps", "60"], False),
    # η so large that EXP overflows from the second row: both must show #NUM! in the same cells.
    (["--lrs", "1e8", "--steps", "5"], True),
])
def test_libreoffice_recalculates_every_cell_to_the_engines_values(build, tmp_path, options,
                                                                   overflows):
    tanh_template = tmp_path / "tanh.toml"
    tanh_template.write_text(
        'layers = [3, 4, 2]\nactivations = ["tanh", "relu"]\ninputs = [0.1, -0.2, 0.3]\n'
        'targets = [0.2, 0.7]\nbiases = [0.1, -0.1]\n'
        f'weights = [{", ".join(str(round(0.07 * k - 0.6, 2)) for k in range(20))}]\n')
    options = [o.format(tanh_template=tanh_template) for o in options]
    built = build(*options)
    compared, errors = compare_every_cell(built, recalculate(built, tmp_path / "recalculated"))
    assert compared >= 40  # the comparison really covered the formula cells
    assert (errors > 0) == overflows
