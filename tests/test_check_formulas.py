"""`check` judges a formula by what it computes, and a number by the digits it keeps.

Fixtures are the student-style workbooks of ``check_workbooks`` (hand-typed formula strings),
saved by LibreOffice, then rewritten here as a Google Sheets export would be (every saved value
cut to 10 significant digits) or as a sheet of pasted values (numbers only, 6 significant
digits). Which cells are wrong is known from the slips planted, never from the code under test.
"""

import json

import openpyxl
import pytest
import xlsxwriter

from check_workbooks import Layout, write_workbook
from sheetprop.check import check_workbook
from sheetprop.cli import main
from sheetprop.libreoffice import find_soffice, recalculate

pytestmark = pytest.mark.skipif(find_soffice() is None, reason="LibreOffice (soffice) not installed")

LAYOUT = Layout()
STEPS = 5
_DELTA_O1 = "({a_o1}-{t1})*{a_o1}*(1-{a_o1})"
_DELTA_O2 = "({a_o2}-{t2})*{a_o2}*(1-{a_o2})"
SLIPS = {
    (1, "dw3"): f"=({_DELTA_O1}*{{w6}}+{_DELTA_O2}*{{w8}})*{{a_h1}}*(1-{{a_h1}})*{{i1}}",  # σ'(h1) for σ'(h2)
    (1, "dw2"): f"=({_DELTA_O1}*{{w5}}+{_DELTA_O2}*{{w7}})*{{a_h1}}*(1-{{a_h1}})",  # i2 left out
    (2, "E2"): "=0.5*({t1}-{a_o2})^2",  # t1 for t2
    (2, "w6"): "={prev_w6}+{eta}*{prev_dw6}",  # the update's sign flipped
    (3, "dw5"): f"={_DELTA_O1}*{{a_h1}}*1.0000001",  # one part in 10^7
}


def cells(report):
    return {(f.sheet, f.cell) for f in report.findings}


def planted(slips, sheet="steps"):
    return {(sheet, LAYOUT.cell(step, name)) for step, name in slips}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """name -> a LibreOffice-saved workbook (formulas with full-precision cached values)."""
    folder = tmp_path_factory.mktemp("formulas")
    out = {}
    for name, slips in (("correct", {}), ("slips", SLIPS)):
        write_workbook(folder / f"{name}.xlsx", [("steps", LAYOUT, slips)], STEPS)
        out[name] = recalculate(folder / f"{name}.xlsx", folder / "saved")
    return out


def rewrite(source, out, number, keep_formulas: bool):
    """A copy of ``source`` whose saved numbers pass through ``number``: with its formulas (an
    export that rounds) or without them (values pasted over the formulas)."""
    formulas = openpyxl.load_workbook(source)
    values = openpyxl.load_workbook(source, data_only=True)
    book = xlsxwriter.Workbook(str(out))
    for sheet in formulas.worksheets:
        target = book.add_worksheet(sheet.title)
        for row in sheet.iter_rows():
            for cell in row:
                value = values[sheet.title][cell.coordinate].value
                r, c = cell.row - 1, cell.column - 1
                if isinstance(cell.value, str) and cell.value.startswith("="):
                    if keep_formulas:
                        target.write_formula(r, c, cell.value, None, number(value))
                    else:
                        target.write_number(r, c, number(value))
                elif isinstance(cell.value, (int, float)):
                    target.write_number(r, c, cell.value)
                elif cell.value is not None:
                    target.write_string(r, c, str(cell.value))
    book.close()
    return out


def significant(digits):
    return lambda value: float(f"{value:.{digits}g}")


@pytest.mark.parametrize("name", ["correct", "slips"])
def test_a_google_sheets_export_is_judged_by_its_formulas(saved, tmp_path, name):
    export = rewrite(saved[name], tmp_path / "export.xlsx", significant(10), keep_formulas=True)
    report = check_workbook(export)
    # Rounding to 10 digits moves values by up to 5e-10 relative, beyond the default 1e-9 once
    # propagated: formulas, not numbers, decide. The 1e-7 slip is a wrong formula all the same.
    assert cells(report) == (planted(SLIPS) if name == "slips" else set())
    assert any("10 significant digits" in note for note in report.notes)


def test_pasted_values_are_one_note_and_judged_to_their_digits(saved, tmp_path):
    pasted = rewrite(saved["slips"], tmp_path / "pasted.xlsx", significant(6), keep_formulas=False)
    report = check_workbook(pasted)
    notes = [note for note in report.notes if "pasted values" in note]
    assert len(notes) == 1 and "'steps'" in notes[0]
    assert all(f.kind != "typed number" for f in report.findings)
    # Six digits hide the slip of one part in 10^7; every other slip is far beyond rounding.
    assert cells(report) == planted({k: v for k, v in SLIPS.items() if k != (3, "dw5")})


def test_the_correct_workbook_pasted_has_no_finding(saved, tmp_path):
    pasted = rewrite(saved["correct"], tmp_path / "pasted.xlsx", significant(6), keep_formulas=False)
    report = check_workbook(pasted)
    assert report.findings == [] and any("pasted values" in note for note in report.notes)


def test_a_wrong_reference_is_found_in_a_rounded_export(saved, tmp_path):
    # E2 with t1 for t2 gives a wrong number here (Mazur's targets differ); what the finding says
    # comes from the formula: which cell it reads instead of which.
    export = rewrite(saved["slips"], tmp_path / "export.xlsx", significant(10), keep_formulas=True)
    (e2,) = [f for f in check_workbook(export).findings if f.label == "E2"]
    assert e2.kind == "wrong formula" and "t1 − a_o2" in e2.hint and "needs t2 − a_o2" in e2.hint
    assert e2.reads == "0.5·(t1 − a_o2)²"


EQUIVALENT = {
    # σ'(o1) written from o1 rather than a_o1; E_total spelt out; a SUM; the update with SUM too.
    "dw5": "=({a_o1}-{t1})*EXP(-{o1})/(1+EXP(-{o1}))^2*{a_h1}",
    "E_total": "=0.5*({t1}-{a_o1})^2+0.5*POWER({t2}-{a_o2},2)",
    "dw8": "=SUM(({a_o2}-{t2})*{a_o2}*(1-{a_o2})*{a_h2})",
    "h1": "={i1}*{w1}+{w2}*{i2}+0",
}


def test_formulas_that_compute_the_same_function_are_right(tmp_path):
    slips = {(step, name): formula for step in range(STEPS) for name, formula in EQUIVALENT.items()}
    write_workbook(tmp_path / "in.xlsx", [("steps", LAYOUT, slips)], STEPS)
    report = check_workbook(recalculate(tmp_path / "in.xlsx", tmp_path / "saved"))
    assert report.findings == []


def test_a_helper_column_is_read_through(tmp_path):
    # δ_o1 in an unlabelled column (the "delta" extra column before E1 holds =a_o1*100 in the
    # fixture; here it holds the student's δ_o1), and ∂E/∂w5, ∂E/∂w6 built on it.
    layout = Layout(extra_columns={"E1": "delta o1"})
    helper = layout.columns()["E1"] - 1
    from xlsxwriter.utility import xl_col_to_name

    def delta(step):
        return f"{xl_col_to_name(helper)}{layout.header_row + 2 + step}"

    right = {(s, "dw5"): f"={delta(s)}*{{a_h1}}" for s in range(STEPS)}
    right.update({(s, "dw6"): f"={delta(s)}*{{a_h2}}" for s in range(STEPS)})
    source = tmp_path / "helper.xlsx"
    write_workbook(source, [("steps", layout, right)], STEPS)
    book = openpyxl.load_workbook(source)
    sheet = book["steps"]
    columns = layout.columns()
    for step in range(STEPS):
        row = layout.header_row + 2 + step
        refs = {name: f"{xl_col_to_name(col)}{row}" for name, col in columns.items()}
        sign = "-" if step != 2 else "+"  # row 3's δ_o1 has (a_o1 + t1): the slip enters there
        sheet[delta(step)] = f"=({refs['a_o1']}{sign}{refs['t1']})*{refs['a_o1']}*(1-{refs['a_o1']})"
    book.save(source)
    report = check_workbook(recalculate(source, tmp_path / "saved"))
    # The slip enters in the helper column (issue 19): it is named there, with its role, and
    # ∂E/∂w5, ∂E/∂w6, which only read it, are right.
    (finding,) = report.findings
    assert (finding.cell, finding.label) == (delta(2), "delta o1")
    assert "δ of o1" in finding.message


def test_a_bracket_slip_is_shown_as_it_reads(tmp_path, capsys):
    # The whole of δ_h1 is meant to be multiplied by σ'(h1)·i1; without the outer brackets only
    # the second term is.
    slip = {(1, "dw1"): f"={_DELTA_O1}*{{w5}}+{_DELTA_O2}*{{w7}}*{{a_h1}}*(1-{{a_h1}})*{{i1}}"}
    write_workbook(tmp_path / "in.xlsx", [("steps", LAYOUT, slip)], STEPS)
    saved_file = recalculate(tmp_path / "in.xlsx", tmp_path / "saved")
    assert main(["check", str(saved_file)]) == 1
    text = capsys.readouterr().out
    assert "reads as  ∂E/∂w1 = (a_o1 − t1)·a_o1·(1 − a_o1)·w5 + " in text


def test_a_block_of_results_under_the_table_is_not_a_step(saved, tmp_path, capsys):
    book = openpyxl.load_workbook(saved["correct"])
    sheet = book["steps"]
    below = LAYOUT.header_row + 2 + STEPS  # straight under the last step, no blank row
    sheet.cell(below, 1, "η")
    sheet.cell(below, 2, "E_total after 5 steps")
    for k, (eta, loss) in enumerate([(0.1, 0.29), (0.5, 0.28)], start=1):
        sheet.cell(below + k, 1, eta)
        sheet.cell(below + k, 2, loss)
    edited = tmp_path / "results.xlsx"
    book.save(edited)
    assert main(["check", "--json", str(edited)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["sheets"] == [{"sheet": "steps", "rows": STEPS}] and report["findings"] == []
    assert [n for n in report["notes"] if "not a step" in n] == [
        f"sheet 'steps': the table ends at row {below - 1}: row {below} is not a step of it "
        "(no inputs and weights there), so it and what follows are not checked"]


@pytest.mark.parametrize("labels, slip", [
    # net_h1 for the weighted sum and h1 for its activation: the formulas settle which is which
    ({"h1": "net_h1", "a_h1": "h1", "h2": "net_h2", "a_h2": "h2"}, (2, "a_h2")),
    # a lone E for the loss
    ({"E_total": "E"}, (2, "E_total")),
])
def test_ambiguous_labels_are_settled_by_the_formulas(tmp_path, labels, slip):
    layout = Layout(labels=labels)
    wrong = {slip: "=1/(1+EXP({h2}))" if slip[1] == "a_h2" else "={E1}-{E2}"}
    write_workbook(tmp_path / "in.xlsx", [("steps", layout, {}), ("slip", layout, wrong)], STEPS)
    report = check_workbook(recalculate(tmp_path / "in.xlsx", tmp_path / "saved"))
    assert {(f.sheet, f.cell, f.label) for f in report.findings} == {
        ("slip", layout.cell(*slip), slip[1])}
