"""Values computed by check itself for a workbook saved without them (``check.calculate``).

The reference is always independent of the code under test: the values xlsxwriter saved in the
built file (the engine's, written by ``build``), the values real spreadsheet programs saved in
../shared/wild, spreadsheet rules written out by hand, and (slow tier) LibreOffice's own
recalculation. The copies without values are made by dropping each formula cell's <v> from the
sheet XML, or by saving with openpyxl, as a student's script would."""

from __future__ import annotations

import math
import re
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

import exercise_fill
from exercise_fill import header
from sheetprop.check.find import audit
from sheetprop.check.read import calculate as calculation
from sheetprop.check.find.audit import read_workbook
from sheetprop.check.read.calculate import calculate
from sheetprop.check.judge.exercise import read_key
from sheetprop.check.judge.workbook import check_workbook
from sheetprop.check.read.workbook_input import open_workbook
from sheetprop.cli import main
from sheetprop.errors import UserError
from sheetprop.libreoffice import find_soffice

WILD = Path(__file__).resolve().parents[1].parent / "shared" / "wild"
STEPS = 6
SHEETS = ("lr=0.5", "lr=1")
PER_SHEET = 19 * STEPS + 8 * (STEPS - 1)  # the cells a student owes a sheet (see test_class_grading)


def without_saved_values(source: Path, target: Path) -> Path:
    """``source`` with the saved value (<v>) of every formula cell dropped, nothing else changed."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as copy:
        for item in original.infolist():
            data = original.read(item.filename)
            if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", item.filename):
                text, dropped = re.subn(r"(<(?:\w+:)?f\b[^>]*(?:/>|>[^<]*</(?:\w+:)?f>))<(?:\w+:)?v>[^<]*</(?:\w+:)?v>",
                                        r"\1", data.decode("utf-8"))
                data = text.encode("utf-8")
            copy.writestr(item, data)
    return target


def formula_cells(book):
    for sheet in book.worksheets:
        if hasattr(sheet, "formula_cells"):
            for row, column, text in sheet.formula_cells():
                yield sheet.title, row, column, text


def saved_digits_tolerance(saved: float) -> float:
    """Half a unit of the last digit a file saved (Google Sheets keeps 10), and 1e-12 besides."""
    exponent = Decimal(repr(float(saved))).as_tuple().exponent
    return 0.5 * 10.0 ** exponent + 1e-12 * abs(saved)


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kit")
    key = folder / "BackPropagation.xlsx"
    assert main(["build", "--quiet", "--exercise", "--steps", str(STEPS), "--lrs", ",".join(s[3:] for s in SHEETS),
                 "--out", str(key)]) == 0
    return key, folder / "BackPropagation_exercise.xlsx", without_saved_values(key, folder / "stripped.xlsx")


@pytest.fixture
def no_libreoffice(monkeypatch):
    monkeypatch.setattr(audit, "find_soffice", lambda: None)


def filled(key, exercise, out, edit=None):
    """The student copy with the key's formulas in every blank cell of the table (``edit(row,
    formula)`` may change each), saved by openpyxl: formulas without saved values."""
    return exercise_fill.fill(key, exercise, out, SHEETS, STEPS,
                              (lambda sheet, label, row, source: edit(row, source)) if edit else None)


def eta_copied_down(key, exercise, out):
    """η typed as A2 (not $A$2) in the first update row and copied down: the row below reads A3,
    which holds the text "↑ change η", then empty cells."""
    first = header(openpyxl.load_workbook(exercise)[SHEETS[0]])[0] + 1
    return filled(key, exercise, out,
                  lambda row, formula: formula.replace("$A$2", f"A{row - first + 1}") if isinstance(formula, str) else formula)


# --- the computed values -------------------------------------------------------------------------

def test_computed_values_are_the_saved_ones_of_the_built_file(kit):
    key, _, stripped = kit
    formulas, saved = open_workbook(key)
    assert saved[SHEETS[0]].cell(19, 6).value not in (None, 0)  # the reference holds values…
    bare_formulas, bare = open_workbook(stripped)
    assert bare[SHEETS[0]].cell(19, 6).value is None  # …and the stripped copy none
    result = calculate(bare_formulas, bare)
    compared = 0
    for sheet, row, column, text in formula_cells(formulas):
        if (sheet, row, column) in result.unknown:
            continue
        expected, got = saved[sheet].cell(row, column).value, result.values[sheet].cell(row, column).value
        if isinstance(expected, str):
            assert got == expected, (sheet, row, column, text)
        else:
            assert got == pytest.approx(expected, rel=1e-12, abs=1e-300), (sheet, row, column, text)
        compared += 1
    assert compared == result.cells > 19 * STEPS * len(SHEETS)
    # Left as saved: only the legend's ="η = "&$A$2 above each table (text joined with &).
    assert {(s, bare_formulas[s].cell(r, c).value) for s, r, c in result.unknown} == {
        (sheet, '="η = "&$A$2') for sheet in SHEETS}


def test_check_grades_the_file_without_saved_values_as_the_original_without_libreoffice(kit, no_libreoffice, capsys):
    key, _, stripped = kit
    original, computed = check_workbook(key), check_workbook(stripped)
    assert computed.score == original.score and computed.score.right == computed.score.cells == PER_SHEET * len(SHEETS)
    assert [(f.sheet, f.cell, f.kind) for f in computed.findings] == [(f.sheet, f.cell, f.kind) for f in original.findings]
    assert "stripped.xlsx had no saved values; sheetprop calculated them" in computed.notes
    assert main(["check", str(stripped)]) == 0
    assert "sheetprop calculated them" in capsys.readouterr().out


def test_eta_copied_down_without_dollar_is_value_errors_from_the_second_update(kit, tmp_path, no_libreoffice):
    key, exercise, _ = kit
    slip = eta_copied_down(key, exercise, tmp_path / "eta.xlsx")
    table = read_workbook(slip, record=read_key(key))
    assert table.recalculated == "sheetprop"
    for sheet in (t for t in table.tables if t.sheet in SHEETS):
        weights = [[row[f"w{k}"].value for k in range(1, 9)] for row in sheet.rows]
        assert all(isinstance(w, float) for w in weights[0] + weights[1])  # the start, and the update reading A2
        assert all(w == "#VALUE!" for row in weights[2:] for w in row)      # A3 is text, then it spreads
        assert {row["E_total"].value for row in sheet.rows[2:]} == {"#VALUE!"}
    report = check_workbook(slip, key=read_key(key))
    wrong_weights = 8 * (STEPS - 2) * len(SHEETS)  # every weight from the second update on (test_class_grading)
    assert (report.score.right, report.score.cells) == (PER_SHEET * len(SHEETS) - wrong_weights, PER_SHEET * len(SHEETS))
    assert len(report.findings) == wrong_weights and {f.found for f in report.findings} == {"#VALUE!"}


@pytest.mark.slow
@pytest.mark.skipif(find_soffice() is None, reason="LibreOffice (soffice) not installed")
def test_eta_copied_down_is_graded_as_after_libreoffice_recalculates(kit, tmp_path, monkeypatch):
    key, exercise, _ = kit
    slip = eta_copied_down(key, exercise, tmp_path / "eta.xlsx")
    own = check_workbook(slip, key=read_key(key))
    monkeypatch.setattr(calculation.Calculation, "covers", lambda self, tables: False)  # LibreOffice, as before
    libreoffice = check_workbook(slip, key=read_key(key))
    assert any("LibreOffice recalculated them" in note for note in libreoffice.notes)
    assert own.score == libreoffice.score
    assert [(f.sheet, f.cell, f.kind, f.found, f.message, f.error_from) for f in own.findings] == [
        (f.sheet, f.cell, f.kind, f.found, f.message, f.error_from) for f in libreoffice.findings]


# --- where the reader cannot, LibreOffice ---------------------------------------------------------

def with_table_formula(source: Path, target: Path, wrap) -> Path:
    """``source`` saved by openpyxl, the first data row's E_total formula of its first sheet rewritten."""
    book = openpyxl.load_workbook(source)
    sheet = book[SHEETS[0]]
    first, columns = header(sheet)
    cell = sheet[f"{columns['E_total']}{first + 1}"]
    cell.value = wrap(cell.value, cell.coordinate)
    book.save(target)
    return target


@pytest.mark.parametrize("wrap", [
    lambda formula, at: "=N(" + formula[1:] + ")",   # a function the reader does not know
    lambda formula, at: formula + "+0*" + at,        # the cell reads itself: circular
], ids=["unsupported", "circular"])
def test_a_table_cell_beyond_the_reader_leaves_it_to_libreoffice(kit, tmp_path, no_libreoffice, wrap):
    key = kit[0]
    odd = with_table_formula(key, tmp_path / "odd.xlsx", wrap)
    formulas, values = open_workbook(odd)
    result = calculate(formulas, values)
    first, columns = header(openpyxl.load_workbook(odd)[SHEETS[0]])
    e_total = (SHEETS[0], first + 1, openpyxl.utils.column_index_from_string(columns["E_total"]))
    assert e_total in result.unknown
    below = (SHEETS[0], first + 2, openpyxl.utils.column_index_from_string(columns["w1"]))
    assert below not in result.unknown  # the update reads ∂E/∂w1, not E_total: computed
    with pytest.raises(UserError, match="LibreOffice is not installed to calculate them"):
        read_workbook(odd)


@pytest.mark.slow
@pytest.mark.skipif(find_soffice() is None, reason="LibreOffice (soffice) not installed")
def test_libreoffice_calculates_what_the_reader_cannot(kit, tmp_path):
    odd = with_table_formula(kit[0], tmp_path / "odd.xlsx", lambda formula, at: "=N(" + formula[1:] + ")")
    assert read_workbook(odd).recalculated == "LibreOffice"


# --- a spreadsheet's rules, written out by hand ---------------------------------------------------

def sheet_of(tmp_path, cells: dict, reader: str = "streaming") -> tuple:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "s"
    for ref, content in cells.items():
        sheet[ref] = content
    other = book.create_sheet("other")
    other["B2"] = 4
    book.save(tmp_path / "rules.xlsx")
    if reader == "streaming":
        formulas, values = open_workbook(tmp_path / "rules.xlsx")
    else:  # what open_workbook falls back to where the streaming reader cannot read a file
        formulas, values = (openpyxl.load_workbook(tmp_path / "rules.xlsx", data_only=data_only) for data_only in (False, True))
    result = calculate(formulas, values)
    return result, lambda ref: result.values["s"][ref].value


@pytest.mark.parametrize("reader", ["streaming", "openpyxl"])
def test_spreadsheet_rules(tmp_path, reader):
    result, value = sheet_of(tmp_path, {
        "A1": "↑ change η", "A2": 0.5, "A4": "0.25", "A5": True, "A6": -1,
        "B1": "=A1*2",              # text in arithmetic
        "B2": "=A3*2+1",            # an empty cell reads 0
        "B3": "=A2/A3",             # division by zero
        "B4": "=EXP(1000)",         # overflow
        "B5": "=B1+B3",             # the first error spreads
        "B6": "=B3*B1",
        "B7": "=A4*4",              # a number typed as text is a number
        "B8": "=A5+1",              # TRUE is 1
        "B9": "=A1",                # one reference shows what the cell holds
        "B10": "=A3",
        "B11": "=LN(0)",
        "B12": "=SQRT(A6)",
        "B13": "=1E308*10",
        "B14": "=other!B2^0.5+'other'!$B$2",
        "B15": "=B16*2",            # a cell below, computed first
        "B16": "=A2+1",
        "B17": "=1/(1+EXP(-B2))",
        "B18": "=SUM(A1:A2)",       # SUM skips text in a range: left to LibreOffice
        "B19": "=CONCATENATE(A1)",  # a function the reader does not know
        "B20": "=B21",              # circular
        "B21": "=B20+1",
        "B22": "=B20*2",            # computed from a circle
        "B23": "=0^-1",
    }, reader)
    assert [value(f"B{k}") for k in range(1, 18)] == [
        "#VALUE!", 1.0, "#DIV/0!", "#NUM!", "#VALUE!", "#DIV/0!", 1.0, 2.0, "↑ change η", 0, "#NUM!", "#NUM!",
        "#NUM!", 6.0, 3.0, 1.5, 0.7310585786300049]
    assert value("B23") == "#DIV/0!"  # 0 to a negative power, as Excel and LibreOffice show it
    # Left to LibreOffice: SUM's range with text, an unknown function, a circle and what reads it.
    assert {f"B{row}" for _, row, _ in result.unknown} == {"B18", "B19", "B20", "B21", "B22"}


# Issue #28 item 10: values check computed that no spreadsheet shows. IF evaluates only the
# branch it takes, comparisons are exact, and an error spreads through a product with 0.
@pytest.mark.parametrize("reader", ["streaming", "openpyxl"])
@pytest.mark.parametrize("formula, expected", [
    ("=IF(B1>0,1,1/0)", 1.0),             # the error is in the branch not taken
    ("=IF(B1>0,1,EXP(B1*1000))", 1.0),    # so is the overflow
    ("=IF(B2>=0,1,0)", 1.0),              # relu′ at 0: 0 >= 0 holds
    ("=IF(B2<=0,1,0)", 1.0),
    ("=IF(B2>0,1,0)", 0.0),
    ("=IF(B1>0,1/0,1)", "#DIV/0!"),       # the error in the branch taken shows
    ("=IF(1/0>0,1,2)", "#DIV/0!"),        # and one in the condition
    ("=IF(B2=0,3,4)", 3.0),
    ("=IF(B1<>1,3,4)", 4.0),
    ("=(1/0)*0", "#DIV/0!"),
    ("=0*(1/0)", "#DIV/0!"),
    ("=0/0", "#DIV/0!"),
    ("=B3*0", "#VALUE!"),                 # the text's error spreads through the 0 too
])
def test_values_a_spreadsheet_shows(tmp_path, reader, formula, expected):
    result, value = sheet_of(tmp_path, {"B1": 1, "B2": 0, "B3": "text", "C1": formula}, reader)
    assert value("C1") == expected and not result.unknown


@pytest.mark.parametrize("formula, shown", [("=IF(A1>0,1,1/0)", {0: "#DIV/0!", 1: 1.0}),
                                            ("=IF(A1>=0,1,0)", {0: 1.0, 1: 1.0}),
                                            ("=(A1/0)*0", {0: "#DIV/0!", 1: "#DIV/0!"})])
def test_a_column_copied_down_is_compiled_and_keeps_the_spreadsheet_rules(tmp_path, formula, shown):
    rows = 4 * calculation.spreadsheet.COMPILE_FROM_USES  # past the uses that pay for compiling
    cells = {f"A{k}": k % 2 for k in range(1, rows + 1)}  # 1, 0, 1, 0…
    cells.update({f"C{k}": formula.replace("A1", f"A{k}") for k in range(1, rows + 1)})
    result, value = sheet_of(tmp_path, cells)
    assert [value(f"C{k}") for k in range(1, rows + 1)] == [shown[k % 2] for k in range(1, rows + 1)]
    assert not result.unknown


@pytest.mark.slow
def test_a_chain_of_18000_cells_written_bottom_up_needs_no_recursion(tmp_path):
    rows = 18_000
    result, value = sheet_of(tmp_path, {**{f"A{k}": f"=A{k + 1}+1" for k in range(1, rows)}, f"A{rows}": 1})
    assert value("A1") == rows and not result.unknown


# --- the real workbooks ---------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("path", sorted(WILD.glob("*.xlsx")) if WILD.is_dir() else [], ids=lambda p: p.name[:2])
def test_computed_values_are_those_real_spreadsheets_saved(path, tmp_path):
    formulas, saved = open_workbook(path)
    bare_formulas, bare = open_workbook(without_saved_values(path, tmp_path / "stripped.xlsx"))
    result = calculate(bare_formulas, bare)
    compared = 0
    for sheet, row, column, text in formula_cells(formulas):
        if (sheet, row, column) in result.unknown:
            continue  # beyond the reader (MAX of a range with empty cells…): LibreOffice's
        expected, got = saved[sheet].cell(row, column).value, result.values[sheet].cell(row, column).value
        if isinstance(expected, (int, float)) and not isinstance(expected, bool) and isinstance(got, float):
            assert math.isclose(got, expected, rel_tol=0, abs_tol=saved_digits_tolerance(expected)), (sheet, row, column, text)
        else:
            assert got == expected or (expected is None and got == 0), (sheet, row, column, text, expected, got)
        compared += 1
    if not compared:
        pytest.skip(f"{path.name}: no formula the reader can read")
