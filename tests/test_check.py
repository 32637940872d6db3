"""`sheetprop check` on student-style workbooks: each slip is reported in the cell where it
enters and nowhere else. Expected cells come from the slips the tests inject, never from the
code under test."""

import json

import openpyxl
import pytest
import xlsxwriter

from check_workbooks import DEFAULT_LABELS, Layout, write_workbook
from sheetprop.check.find.audit import canonical_label
from sheetprop.check.read.cells import references
from sheetprop.check import check_workbook
from sheetprop.cli import main
from sheetprop.libreoffice import find_soffice, recalculate

needs_libreoffice = pytest.mark.skipif(find_soffice() is None, reason="LibreOffice (soffice) not installed")

# Header in row 1, canonical labels, η labelled "η" far to the right, t and i typed in every row.
ROW_ONE = Layout()
# Header in row 20, a blank column A, E_tot / dE_total/dw / out_h spellings, biases, extra
# columns in between, η in C3 labelled "learning rate", later inputs as =cell above.
ROW_TWENTY = Layout(
    header_row=19, first_col=1, biases=True, eta_cell=(2, 2), eta_label="learning rate",
    labels={"E_total": "E_tot", "a_h1": "out_h1", "a_h2": "out_h2", "a_o1": "out_o1",
            "a_o2": "out_o2", **{f"dw{k}": f"dE_total/dw{k}" for k in range(1, 9)}},
    extra_columns={"h1": "note", "E1": "delta"}, typed_inputs=False)
LAYOUTS = {"row one": ROW_ONE, "row twenty": ROW_TWENTY}

_DELTA_O1 = "({a_o1}-{t1})*{a_o1}*(1-{a_o1})"
_DELTA_O2 = "({a_o2}-{t2})*{a_o2}*(1-{a_o2})"
# One typical slip per (step, column); the named column is where each one enters.
SLIPS = {
    # σ'(h1) where σ'(h2) belongs
    (1, "dw3"): f"=({_DELTA_O1}*{{w6}}+{_DELTA_O2}*{{w8}})*{{a_h1}}*(1-{{a_h1}})*{{i1}}",
    # the factor i2 left out
    (1, "dw2"): f"=({_DELTA_O1}*{{w5}}+{_DELTA_O2}*{{w7}})*{{a_h1}}*(1-{{a_h1}})",
    # a number pasted where a formula belongs
    (1, "a_h2"): 0.6,
    # E2 written with t1
    (2, "E2"): "=0.5*({t1}-{a_o2})^2",
    # the sign of the update flipped
    (2, "w6"): "={prev_w6}+{eta}*{prev_dw6}",
    # a slip of one part in 10^7, invisible in any chart
    (3, "dw5"): f"={_DELTA_O1}*{{a_h1}}*1.0000001",
}
STEPS = 5


@pytest.fixture(scope="module")
def workbooks(tmp_path_factory):
    """A correct workbook and one with every slip, in both layouts, recalculated by LibreOffice
    so they carry cached values like a file saved by a spreadsheet program."""
    if find_soffice() is None:
        pytest.skip("LibreOffice (soffice) not installed")
    source = tmp_path_factory.mktemp("written")
    saved = tmp_path_factory.mktemp("saved")
    write_workbook(source / "correct.xlsx", [(name, layout, {}) for name, layout in LAYOUTS.items()], STEPS)
    write_workbook(source / "slips.xlsx", [(name, layout, SLIPS) for name, layout in LAYOUTS.items()], STEPS)
    return {"source": source / "correct.xlsx",
            "correct": recalculate(source / "correct.xlsx", saved),
            "slips": recalculate(source / "slips.xlsx", saved)}


def findings_by_cell(report):
    return {(f.sheet, f.cell): f for f in report.findings}


@needs_libreoffice
def test_correct_workbook_passes(workbooks, capsys):
    assert main(["check", str(workbooks["correct"])]) == 0
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-1] == f"2 sheets, {2 * STEPS} rows checked, 0 findings"


@needs_libreoffice
def test_every_slip_is_found_where_it_enters_and_nowhere_else(workbooks):
    report = check_workbook(workbooks["slips"])
    expected = {(sheet, layout.cell(step, name)) for sheet, layout in LAYOUTS.items()
                for step, name in SLIPS}
    assert set(findings_by_cell(report)) == expected
    assert len(report.findings) == len(expected)


@needs_libreoffice
@pytest.mark.parametrize("sheet", LAYOUTS)
def test_findings_say_what_went_wrong(workbooks, sheet):
    layout = LAYOUTS[sheet]
    found = findings_by_cell(check_workbook(workbooks["slips"]))

    def at(step, name):
        finding = found[(sheet, layout.cell(step, name))]
        assert finding.label == (f"∂E/∂w{name[2:]}" if name.startswith("dw") else name)
        return finding

    sigma = at(1, "dw3")
    assert sigma.kind == "wrong formula"
    assert "a_h1·(1 − a_h1)" in sigma.hint and "needs a_h2·(1 − a_h2)" in sigma.hint
    assert sigma.formula.startswith("=(") and sigma.formula.endswith(layout.cell(1, "i1"))  # as written
    assert sigma.relative_error > 1e-3

    assert "leaves out the factor i2" in at(1, "dw2").hint
    assert "t1 − a_o2" in at(2, "E2").hint and "needs t2 − a_o2" in at(2, "E2").hint

    pasted = at(1, "a_h2")
    assert pasted.kind == "typed number" and pasted.formula is None and pasted.found == 0.6

    flipped = at(2, "w6")
    assert flipped.kind == "wrong update"
    assert "w6 + η·∂E/∂w6" in flipped.hint

    tiny = at(3, "dw5")
    assert tiny.kind == "wrong formula"
    assert tiny.relative_error == pytest.approx(1e-7, rel=1e-3)
    assert tiny.hint is None  # no simple variant explains it, and none is claimed


@needs_libreoffice
def test_exit_code_and_readable_report(workbooks, capsys):
    assert main(["check", str(workbooks["slips"])]) == 1
    out = capsys.readouterr().out
    cell = ROW_ONE.cell(1, "dw3")
    assert f"'row one'!{cell}  ∂E/∂w3: wrong formula" in out
    assert out.strip().splitlines()[-1] == (
        f"2 sheets, {2 * STEPS} rows checked, {2 * len(SLIPS)} findings")


@needs_libreoffice
def test_json_output_parses(workbooks, capsys):
    assert main(["check", "--json", str(workbooks["slips"])]) == 1
    data = json.loads(capsys.readouterr().out)
    assert {(f["sheet"], f["cell"]) for f in data["findings"]} == {
        (sheet, layout.cell(step, name)) for sheet, layout in LAYOUTS.items() for step, name in SLIPS}
    assert {"label", "kind", "formula", "found", "expected", "relative_error", "hint"} <= set(data["findings"][0])
    assert data["sheets"] == [{"sheet": name, "rows": STEPS} for name in LAYOUTS]


@needs_libreoffice
def test_tolerance_option(workbooks, capsys):
    # At 30 % only the gross slips remain by value: E2 from t1 (≈ 70 % off), the missing i2
    # (factor 10) and the pasted number (a finding whatever its value). σ'(h1) for σ'(h2) in dw3
    # is within 30 %, but its formula reads a_h1 where a_h2 belongs: that no tolerance hides.
    assert main(["check", "--json", "--tolerance", "0.3", str(workbooks["slips"])]) == 1
    data = json.loads(capsys.readouterr().out)
    assert {(f["sheet"], f["cell"], f["kind"]) for f in data["findings"]} == {
        (sheet, layout.cell(step, name), kind) for sheet, layout in LAYOUTS.items()
        for step, name, kind in [(2, "E2", "wrong formula"), (1, "dw2", "wrong formula"),
                                 (1, "a_h2", "typed number"), (1, "dw3", "wrong reference")]}


@needs_libreoffice
def test_workbook_without_saved_values_is_recalculated(workbooks, capsys):
    # Straight from xlsxwriter: every formula's saved value is 0, as in a file never opened. Check
    # computes them itself (check.calculate), and grades them as LibreOffice's (the fixture's).
    assert main(["check", str(workbooks["source"])]) == 0
    out = capsys.readouterr().out
    assert "sheetprop calculated them" in out and "LibreOffice" not in out


def test_built_workbook_passes_its_own_check(build, capsys):
    for template in ("era", "mazur"):
        path = build("--steps", "5", "--lrs", "0.5,2", "--template", template, name=f"{template}.xlsx")
        assert main(["check", str(path)]) == 0
        assert capsys.readouterr().out.strip().endswith("2 sheets, 10 rows checked, 0 findings")


@pytest.mark.slow  # a workbook without saved values: LibreOffice recalculates it
def test_typed_number_in_a_built_workbook_is_found(build, tmp_path):
    path = build("--steps", "3", "--lrs", "0.5")
    book = openpyxl.load_workbook(path)
    sheet = book["lr=0.5"]
    header_row = next(row for row in sheet.iter_rows(max_col=1) if row[0].value == "step")[0].row
    header = {cell.value: cell.column_letter for cell in sheet[header_row]}
    cached = openpyxl.load_workbook(path, data_only=True)["lr=0.5"]
    # Paste the value over the formula, as "paste values" does: right now, wrong tomorrow.
    cell = f"{header['a_o2']}{header_row + 2}"
    sheet[cell] = cached[cell].value
    book.save(tmp_path / "pasted.xlsx")  # openpyxl keeps formulas but drops saved values...
    if find_soffice() is None:
        pytest.skip("the edited file needs LibreOffice to recalculate")
    report = check_workbook(tmp_path / "pasted.xlsx")
    assert [(f.sheet, f.cell, f.kind) for f in report.findings] == [("lr=0.5", cell, "typed number")]


@pytest.mark.parametrize("header, canonical", [
    ("E_tot", "E_total"), ("E_total", "E_total"), ("E_Total", "E_total"), ("Etotal", "E_total"),
    ("∂E/∂w1", "∂E/∂w1"), ("∂E_total/∂w1", "∂E/∂w1"), ("dE/dw1", "∂E/∂w1"),
    ("dE_total/dw7", "∂E/∂w7"), ("a_h1", "a_h1"), ("out_h1", "a_h1"), ("out_o2", "a_o2"),
    ("OUT O1", "a_o1"), (" w 5 ", "w5"), ("net_h2", "h2"), ("step", None), ("η", None), (0.5, None),
    # Spellings from real hand-ins, read by meaning: δ or ∂ or d, E/E_t/E_tot, act_ prefixes.
    ("δE_tot/δw1", "∂E/∂w1"), ("E∂w1", "∂E/∂w1"), ("Edw3", "∂E/∂w3"), ("dw1", "∂E/∂w1"),
    ("dE_t/dw2", "∂E/∂w2"), ("δE/δw8", "∂E/∂w8"), ("act_h1", "a_h1"), ("ACT_O2", "a_o2"), ("E_t", "E_total"),
    ("w12", "w12"), ("E1", "E1"), ("h", None), ("dx1", None), ("E/w1", None), ("notes", None),
])
def test_label_variants(header, canonical):
    assert canonical_label(header) == canonical


@pytest.mark.parametrize("formula, refs", [
    ("=F4-$B$1*AB4", [(None, "F", 4), (None, "B", 1), (None, "AB", 4)]),
    ("='lr=0.5'!$B$1*LOG10(A2)+EXP(-H4)", [("lr=0.5", "B", 1), (None, "A", 2), (None, "H", 4)]),
    ("=Sheet2!C3/2", [("Sheet2", "C", 3)]),
    ("=0.52", []),
])
def test_formula_references(formula, refs):
    assert references(formula) == refs


def test_every_fixture_label_is_understood():
    for name, text in {**DEFAULT_LABELS, **ROW_TWENTY.labels}.items():
        assert canonical_label(text) is not None, text


def run_check_expecting_error(path, capsys):
    assert main(["check", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sheetprop check: error:")
    return lines[0]


def test_missing_file(tmp_path, capsys):
    assert "not found" in run_check_expecting_error(tmp_path / "nothing.xlsx", capsys)


def test_not_a_workbook(tmp_path, capsys):
    path = tmp_path / "notes.xlsx"
    path.write_text("w1, w2\n0.15, 0.2\n")
    assert "notes.xlsx is a CSV (text) file" in run_check_expecting_error(path, capsys)


def test_csv_is_not_a_workbook(tmp_path, capsys):
    path = tmp_path / "table.csv"
    path.write_text("w1,w2\n0.15,0.2\n")
    assert "holds values only, no formulas" in run_check_expecting_error(path, capsys)


def test_workbook_without_a_table(tmp_path, capsys):
    path = tmp_path / "shopping.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("list")
    sheet.write_row(0, 0, ["item", "price"])
    sheet.write_row(1, 0, ["bread", 2.5])
    book.close()
    assert "no backpropagation table found" in run_check_expecting_error(path, capsys)


def test_table_missing_a_given_column_is_explained(tmp_path, capsys):
    path = tmp_path / "no_targets.xlsx"
    write_workbook(path, [("steps", ROW_ONE, {})], steps=2)
    book = openpyxl.load_workbook(path)
    book["steps"]["A1"] = "target"  # t1's header no longer says t1
    book.save(path)
    message = run_check_expecting_error(path, capsys)
    assert "no column for t1" in message


@pytest.mark.parametrize("activations", [("tanh", "relu"), ("linear", "sigmoid"), ("relu", "tanh")])
def test_activation_is_read_from_the_formulas(build, tmp_path, capsys, activations):
    template = tmp_path / "custom.toml"
    template.write_text(
        'layers = [3, 2, 1]\n'
        f'activations = ["{activations[0]}", "{activations[1]}"]\n'
        'inputs = [0.05, 0.1, -0.2]\ntargets = [0.3]\n'
        'weights = [0.15, -0.2, 0.25, 0.3, 0.4, -0.45, 0.5, 0.55]\nbiases = [0.1, -0.05]\n')
    path = build("--steps", "4", "--lrs", "0.1", "--template", str(template))
    assert main(["check", str(path)]) == 0, capsys.readouterr().out


@needs_libreoffice
@pytest.mark.parametrize("eta_label, checked", [("learning rate", True), ("remark", False)])
def test_learning_rate_typed_into_the_updates(tmp_path, eta_label, checked):
    # The updates type η as 0.5 instead of referencing a cell: η comes from a cell labelled
    # "learning rate"; without such a label the updates cannot be checked, and the report says so.
    layout = Layout(header_row=4, eta_cell=(1, 3), eta_label=eta_label)
    updates = {(step, f"w{k}"): f"={{prev_w{k}}}-0.5*{{prev_dw{k}}}" for step in range(1, 3) for k in range(1, 9)}
    updates[(2, "w1")] = "={prev_w1}-0.5*{prev_dw2}"  # the gradient of the wrong weight
    write_workbook(tmp_path / "typed_eta.xlsx", [("steps", layout, updates)], steps=3)
    report = check_workbook(recalculate(tmp_path / "typed_eta.xlsx", tmp_path / "saved"))
    if checked:
        assert [(f.cell, f.kind) for f in report.findings] == [(layout.cell(2, "w1"), "wrong update")]
        assert "∂E/∂w2" in report.findings[0].hint
        assert report.notes == []
    else:
        assert report.findings == []
        assert any("weight updates not checked" in note for note in report.notes)


@needs_libreoffice
def test_a_slip_copied_down_a_column_is_one_finding(tmp_path, capsys):
    slip = f"=({_DELTA_O1}*{{w6}}+{_DELTA_O2}*{{w8}})*{{a_h1}}*(1-{{a_h1}})*{{i1}}"  # σ'(h1) for σ'(h2)
    steps = 8
    copied = {(step, "dw3"): slip for step in range(steps)}
    copied[(5, "dw1")] = f"=({_DELTA_O1}*{{w5}}+{_DELTA_O2}*{{w7}})*{{a_h1}}*(1-{{a_h1}})"
    source = tmp_path / "in" / "copied.xlsx"
    source.parent.mkdir()
    write_workbook(source, [("copied", ROW_ONE, copied)], steps)
    saved = recalculate(source, tmp_path / "saved")
    assert main(["check", str(saved)]) == 1
    text = capsys.readouterr().out
    assert f"repeated  down to {ROW_ONE.cell(steps - 1, 'dw3')}: the same mistake in {steps} cells" in text
    assert text.count("∂E/∂w3: wrong formula") == 1 and text.rstrip().endswith(f"2 findings ({steps + 1} cells)")
    assert main(["check", "--json", str(saved)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert len(report["findings"]) == steps + 1
    groups = {(g["first_cell"], g["last_cell"], g["count"]) for g in report["groups"]}
    assert groups == {(ROW_ONE.cell(0, "dw3"), ROW_ONE.cell(steps - 1, "dw3"), steps),
                      (ROW_ONE.cell(5, "dw1"), ROW_ONE.cell(5, "dw1"), 1)}


@needs_libreoffice
def test_a_drifting_learning_rate_reference_is_one_finding(build, tmp_path, capsys):
    book = openpyxl.load_workbook(build("--lrs", "0.5", "--steps", "6"))
    sheet = book["lr=0.5"]
    header = next(row[0].row for row in sheet.iter_rows(max_col=1) if row[0].value == "step")
    for k in range(2, 6):
        sheet.cell(k + 1, 1).value = 0.9  # numbers below the η cell (A2), as in a handout
    for row in range(header + 2, header + 7):
        for cell in sheet[row]:
            if isinstance(cell.value, str) and "$A$2" in cell.value:
                # copied down with a relative reference: row 2 reads A2, row 3 reads A3, …
                cell.value = cell.value.replace("$A$2", f"A{row - header}")
    edited = tmp_path / "drift.xlsx"
    book.save(edited)
    assert main(["check", "--json", str(edited)]) == 1
    report = json.loads(capsys.readouterr().out)
    # One finding: every weight of the four drifted rows, each cell named (so each counts as wrong).
    assert [(g["kind"], g["count"]) for g in report["groups"]] == [("η drift", 4 * 8)]
    assert report["groups"][0]["labels"] == [f"w{k}" for k in range(1, 9)]
    first = report["findings"][0]
    assert first["cell"] == f"F{header + 3}" and "reads η from A3 (= 0.9), not the table's η cell A2" in first["message"]
    assert "$A$2" in first["message"]


@pytest.mark.slow  # a workbook without saved values: LibreOffice recalculates it
def test_an_unfinished_last_row_ends_the_table(build, tmp_path, capsys):
    book = openpyxl.load_workbook(build("--lrs", "0.5", "--steps", "4"))
    sheet = book["lr=0.5"]
    header = next(row[0].row for row in sheet.iter_rows(max_col=1) if row[0].value == "step")
    labels = {c.column: c.value for c in sheet[header]}
    last = header + 4
    for cell in sheet[last]:
        if labels.get(cell.column) not in ("step", "t1", "t2", "i1", "i2") and not str(labels.get(cell.column)).startswith("w"):
            cell.value = None  # the student typed the new weights and stopped
    edited = tmp_path / "stopped.xlsx"
    book.save(edited)
    assert main(["check", str(edited)]) == 1  # no finding, but the row not done is short of full marks
    text = capsys.readouterr().out
    assert f"row {last} is unfinished" in text and text.count("is unfinished") == 1
    assert text.rstrip().endswith("1 sheet, 3 rows checked, 0 findings")



@needs_libreoffice
def test_a_wrong_reference_that_gives_the_right_number_is_found(tmp_path, capsys):
    """With t1 = t2 (the ERA targets), E2 written with t1 is numerically right: its formula is not."""
    import check_workbooks

    slips = {(1, "E2"): "=0.5*({t1}-{a_o2})^2"}
    source = tmp_path / "in" / "equal_targets.xlsx"
    source.parent.mkdir()
    original = dict(check_workbooks.TARGETS)
    check_workbooks.TARGETS.update({"t1": 0.5, "t2": 0.5})
    try:
        write_workbook(source, [("equal", ROW_ONE, slips)], 3)
    finally:
        check_workbooks.TARGETS.update(original)
    assert main(["check", "--json", str(recalculate(source, tmp_path / "saved"))]) == 1
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert [(f["cell"], f["kind"]) for f in findings] == [(ROW_ONE.cell(1, "E2"), "wrong reference")]
    assert "uses t1 where E2 needs t2" in findings[0]["message"]
