"""A network in matrix formulas, as a workbook with iterative calculation writes one: the weights
are array formulas fed back from their updates below (W = W′, W′ = W − ∂J/∂W: circular on
purpose), every layer an MMULT, TRANSPOSE or elementwise formula over ranges. Each cell of an
array is read as its own plain formula and the updates are judged against the derivative of
those formulas; a δ that leaves out σ′ is found."""

import json

import openpyxl
import pytest

from openpyxl.worksheet.formula import ArrayFormula

from sheetprop.check.find.arrays import element_formulas
from sheetprop.cli import main

ARRAYS = {  # range: formula (a 2-3-1 network, four examples J4:K7 with targets L4:L7)
    "C3:E4": "=$C$30:$E$31", "H5:H7": "=$H$32:$H$34",
    "C10:E13": "=MMULT($J$4:$K$7,$C$3:$E$4)",
    "C14:E17": "=1/(1+EXP(-$C$10:$E$13))",
    "C18:E21": "=$C$14:$E$17*(1-$C$14:$E$17)",
    "H10:H13": "=MMULT($C$14:$E$17,$H$5:$H$7)",
    "H14:H17": "=1/(1+EXP(-$H$10:$H$13))",
    "H18:H21": "=$H$14:$H$17*(1-$H$14:$H$17)",
    "H22:H25": "=$H$14:$H$17-$L$4:$L$7",
    "H26:H29": "=$H$22:$H$25*$H$18:$H$21",
    "H35:H37": "=MMULT(TRANSPOSE($C$14:$E$17),$H$26:$H$29)",
    "C22:E25": "=MMULT($H$26:$H$29,TRANSPOSE($H$5:$H$7))*$C$18:$E$21",
    "C26:E27": "=MMULT(TRANSPOSE($J$4:$K$7),$C$22:$E$25)",
    "C30:E31": "=$C$3:$E$4-$C$26:$E$27",
    "H32:H34": "=$H$5:$H$7-$H$35:$H$37",
}


def workbook(path, change=None):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Net"
    for k, (x1, x2, y) in enumerate([(0, 0, 0.1), (0, 1, 0.8), (1, 0, 0.7), (1, 1, 0.2)]):
        sheet.cell(4 + k, 10, x1), sheet.cell(4 + k, 11, x2), sheet.cell(4 + k, 12, y)
    for where, formula in ARRAYS.items():
        formula = change(where, formula) if change else formula
        first = where.split(":")[0]
        sheet[first] = ArrayFormula(where, formula)
        for row in sheet[where]:
            for cell in row:
                if cell.coordinate != first:
                    cell.value = "="  # what a spreadsheet keeps in an array's other cells
    book.calculation.iterate = True
    book.save(path)
    return path


def check(path, capsys):
    code = main(["check", "--json", str(path)])
    return code, json.loads(capsys.readouterr().out)


def test_an_array_cell_is_read_as_its_own_formula():
    cells = element_formulas("=MMULT(TRANSPOSE($J$4:$K$7),$C$22:$E$25)", 2, 3)
    assert cells[1][2] == "=(K4*E22+K5*E23+K6*E24+K7*E25)"
    assert element_formulas("=$C$14:$E$17*(1-$C$14:$E$17)", 2, 3)[1][0] == "=(C15*(1-C15))"
    assert element_formulas("=MMULT($H$26:$H$29,TRANSPOSE($H$5:$H$7))", 1, 3)[0][2] == "=(H26*H7)"


def test_the_matrix_network_is_right(tmp_path, capsys):
    code, report = check(workbook(tmp_path / "net.xlsx"), capsys)
    assert code == 0, report.get("message")
    assert report["findings"] == []
    assert report["scores"]["cells"] >= 9  # the six W1 and three W2 updates


@pytest.mark.slow
def test_a_delta_without_the_slope_is_found(tmp_path, capsys):
    def slip(where, formula):
        return "=MMULT($H$26:$H$29,TRANSPOSE($H$5:$H$7))" if where == "C22:E25" else formula
    code, report = check(workbook(tmp_path / "slip.xlsx", slip), capsys)
    assert code == 1
    cells = {f["cell"] for f in report["findings"]}
    assert cells and cells <= {f"{c}{r}" for c in "CDE" for r in range(22, 32)}
