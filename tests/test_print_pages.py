"""Pages a person can read: lr sheets print a column group per page with the step column
repeated, at full size; the summary's loss table has no helper column; titles say the
optimizer used."""

from __future__ import annotations

import re
import zipfile

import openpyxl
import pytest

from sheetprop.writer.print_pages import PRINT_COLUMNS_PER_PAGE, PRINT_SCALE


def test_lr_sheets_print_column_groups_scaled_to_a_readable_size(build):
    built = build("--steps", "20", "--lrs", "0.1,2")
    book = openpyxl.load_workbook(built)
    sheet = book["lr=0.1"]
    assert sheet.print_title_cols == "A:A" or sheet.print_title_cols == "$A:$A"
    assert "16:17" in str(sheet.print_title_rows).replace("$", "")
    assert not (sheet.sheet_properties.pageSetUpPr and sheet.sheet_properties.pageSetUpPr.fitToPage)
    assert sheet.page_setup.scale == PRINT_SCALE and sheet.page_setup.orientation == "landscape"
    breaks = [b.id for b in sheet.col_breaks.brk]
    assert breaks, "the table is cut into pages"
    header = {c.column - 1: c.value for c in sheet[17] if c.value}
    # The constants' columns are hidden (openpyxl reports a hidden range on its first column only,
    # so they are told by their band).
    band_of, current = {}, None
    for k in sorted(header):
        current = sheet.cell(16, k + 1).value or current
        band_of[k] = current
    visible = [k for k in sorted(header) if k > 0 and band_of[k] != "constants"]
    edges = [visible[0], *breaks, max(header) + 1]
    for start, end in zip(edges, edges[1:]):
        shown = [k for k in visible if start <= k < end]
        assert 0 < len(shown) <= PRINT_COLUMNS_PER_PAGE, (start, end)
    # Each break starts a group (the band row names it) or cuts a group wider than a page.
    band = {c.column - 1: c.value for c in sheet[16] if c.value}
    for b in breaks:
        assert b in band or all(b - k not in band for k in range(1, PRINT_COLUMNS_PER_PAGE)), b


def test_summary_table_has_no_helper_column_and_legends_follow_each_eta(build):
    built = build("--steps", "5", "--lrs", "0.1,2")
    summary = openpyxl.load_workbook(built)["summary"]
    header = next(row for row in summary.iter_rows() if row[0].value == "learning rate")
    assert [c.value for c in header if c.value] == ["learning rate", "sheet", "E_total first", "E_total last"]
    body = summary.iter_rows(min_row=header[0].row + 1, max_row=header[0].row + 2)
    assert all(c.value is None for row in body for c in row[4:])
    with zipfile.ZipFile(built) as z:
        charts = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/charts/chart")]
    names = {ref for chart in charts for ref in re.findall(r"<c:tx><c:strRef><c:f>([^<]+)</c:f>", chart)}
    # Each legend entry is its sheet's "η = …" cell, which follows that sheet's η.
    assert {n.split("!")[0] for n in names} == {"'lr=0.1'", "'lr=2'"}, names
    cell = next(n for n in names if n.startswith("'lr=2'")).split("!")[1].replace("$", "")
    shown = openpyxl.load_workbook(built)["lr=2"][cell].value
    assert shown == '="η = "&$A$2' 


def test_titles_follow_the_optimizer(build):
    for template, optimizer, absent, present in (("deep", "adam", "RMSprop", "Adam"),
                                                 ("xor", "sgd", "Adam", "SGD"),
                                                 ("era", "momentum", None, "momentum")):
        built = build("--template", template, "--optimizer", optimizer, "--steps", "2", "--lrs", "0.1",
                      name=f"{template}.xlsx")
        title = openpyxl.load_workbook(built)["summary"]["A1"].value
        assert present in title and (absent is None or absent not in title), title


def test_the_metrics_sheet_prints_one_page_wide_with_its_header_repeated(tmp_path):
    import xlsxwriter

    from sheetprop.metrics_sheet import add_metrics_sheet

    path = tmp_path / "m.xlsx"
    book = xlsxwriter.Workbook(str(path))
    add_metrics_sheet(book, [{"epoch": 1, "train_loss": 0.5, "train_accuracy": 90, "test_loss": 0.4,
                              "test_accuracy": 95, "lr": 0.05, "seconds": 3}], name="epochs")
    book.close()
    with zipfile.ZipFile(path) as z:
        xml = z.read("xl/worksheets/sheet1.xml").decode()
        names = z.read("xl/workbook.xml").decode()
    assert '<pageSetUpPr fitToPage="1"/>' in xml and 'fitToWidth=' not in xml and 'fitToHeight="0"' in xml  # width 1: the default
    assert 'orientation="landscape"' in xml
    assert "_xlnm.Print_Titles" in names and "epochs!$1:$1" in names


def _pdf_pages(pdf) -> int:
    import subprocess

    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"Pages:\s+(\d+)", info).group(1))


@pytest.mark.slow
def test_the_default_workbook_and_a_metrics_workbook_print_in_tens_of_pages(build, tmp_path):
    import shutil

    import xlsxwriter

    from sheetprop.handin.screens import print_all_to_pdf
    from sheetprop.libreoffice import find_soffice
    from sheetprop.metrics_sheet import add_metrics_sheet

    if find_soffice() is None or shutil.which("pdfinfo") is None:
        import pytest

        pytest.skip("LibreOffice or pdfinfo not installed")
    built = build(name="default.xlsx")  # build's defaults: 6 learning rates, 100 steps
    metrics = tmp_path / "metrics.xlsx"
    book = xlsxwriter.Workbook(str(metrics))
    add_metrics_sheet(book, [{"epoch": k, "train_loss": 1 / k, "train_accuracy": 90 + k / 10, "test_loss": 1 / k,
                              "test_accuracy": 95 + k / 10, "lr": 0.05, "seconds": 3} for k in range(1, 41)],
                      name="epochs")
    book.close()
    default_pdf, metrics_pdf = print_all_to_pdf([built, metrics], tmp_path / "pdf")
    assert 10 <= _pdf_pages(default_pdf) < 100
    assert _pdf_pages(metrics_pdf) <= 2  # 40 epochs and both charts, one page wide
