"""The summary sheet's layout, pinned by what a reader sees: the starting values sit under their
heading, each beside its label, and every lr sheet's first row reads exactly that value; every
chart series covers its sheet's loss column from the first step to the last."""

import re
import zipfile

import openpyxl
import pytest

from sheetprop import layout

STEPS = 5
RATES = ("0.5", "1")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from sheetprop.cli import main
    out = tmp_path_factory.mktemp("summary") / "BackPropagation.xlsx"
    assert main(["build", "--quiet", "--lrs", ",".join(RATES), "--steps", str(STEPS), "--out", str(out)]) == 0
    return out


def _cells(sheet):
    return {cell.coordinate: cell.value for row in sheet.iter_rows() for cell in row if cell.value is not None}


def test_starting_values_sit_below_their_heading_each_beside_its_label(built):
    summary = openpyxl.load_workbook(built)[layout.SUMMARY_SHEET]
    heading = next(c for c in summary["A"] if c.value == "Starting values")
    labels = []
    for row in range(heading.row + 1, heading.row + 40):
        label, value = summary.cell(row, 1).value, summary.cell(row, 2).value
        if label is None:
            break
        assert isinstance(label, str) and isinstance(value, (int, float)), (row, label, value)
        labels.append((label, row))
    # The era network's givens: t1, t2, i1, i2, w1..w8, each once, in one block under the heading.
    assert [label for label, _ in labels] == ["t1", "t2", "i1", "i2"] + [f"w{k}" for k in range(1, 9)]


def test_every_first_row_reads_the_summary_value_of_its_label(built):
    book = openpyxl.load_workbook(built)
    summary = book[layout.SUMMARY_SHEET]
    value_cell = {summary.cell(r, 1).value: f"$B${r}" for r in range(1, summary.max_row + 1)
                  if isinstance(summary.cell(r, 2).value, (int, float))}
    for rate in RATES:
        sheet = book[layout.sheet_name(rate)]
        header = {sheet.cell(layout.HEADER_ROW + 1, c).value: c for c in range(1, sheet.max_column + 1)}
        for label in ["t1", "t2", "i1", "i2"] + [f"w{k}" for k in range(1, 9)]:
            formula = sheet.cell(layout.FIRST_DATA_ROW + 1, header[label]).value
            assert formula == f"=summary!{value_cell[label]}", (rate, label, formula)


def test_every_chart_series_spans_its_sheets_loss_column(built):
    book = openpyxl.load_workbook(built)
    loss_columns = {}
    for rate in RATES:
        sheet = book[layout.sheet_name(rate)]
        col = next(c for c in range(1, sheet.max_column + 1) if sheet.cell(layout.HEADER_ROW + 1, c).value == "E_total")
        loss_columns[layout.sheet_name(rate)] = openpyxl.utils.get_column_letter(col)
    first, last = layout.FIRST_DATA_ROW + 1, layout.FIRST_DATA_ROW + STEPS
    with zipfile.ZipFile(built) as archive:
        charts = [archive.read(n).decode() for n in archive.namelist() if re.fullmatch(r"xl/charts/chart\d+\.xml", n)]
    values = [ref for chart in charts for ref in re.findall(r"<c:val><c:numRef><c:f>([^<]+)</c:f>", chart)]
    # A chart per lr sheet, and two summary charts (linear and log) with a line per sheet.
    assert len(charts) == len(RATES) + 2 and len(values) == len(RATES) * 3
    for ref in values:
        sheet, cells = ref.rsplit("!", 1)
        name = sheet.strip("'")
        col = loss_columns[name]
        assert cells == f"${col}${first}:${col}${last}", ref
