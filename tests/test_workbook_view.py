"""What a student sees: readable numbers, the chart on the first screen, one place to play,
a gradient check that agrees with the chain rule and breaks with a planted slip."""

import re
import zipfile

import openpyxl
import pytest

from displays import gnumeric_text, has_gnumeric
from sheetprop.libreoffice import find_soffice, recalculate
from sheetprop.network import Network
from sheetprop.network.template import load_template

needs_libreoffice = pytest.mark.skipif(find_soffice() is None, reason="LibreOffice (soffice) not installed")


def header_row(ws) -> int:
    return next(row[0].row for row in ws.iter_rows(max_col=1) if row[0].value == "step")


def column_of(ws, label) -> int:
    return next(c.column for c in ws[header_row(ws)] if c.value == label)


def significant_digits(text: str) -> int:
    mantissa = re.split("[eE]", text)[0].lstrip("-").replace(".", "").lstrip("0")
    return len(mantissa)


@pytest.mark.skipif(not has_gnumeric(), reason="Gnumeric (ssconvert) not installed")
def test_every_loss_a_viewer_sees_has_six_significant_digits(build, tmp_path):
    built = build("--steps", "1000", "--lrs", "2")
    # Gnumeric applies the conditional number formats as it displays the values the file carries
    # (LibreOffice's CSV export would not: it writes each cell's own format; see test_number_display).
    shown = gnumeric_text(built, "lr=2", tmp_path / "csv")
    values = openpyxl.load_workbook(built, data_only=True)["lr=2"]
    top = header_row(values)
    k = shown[top - 1].index("E_total")
    texts = [row[k] for row in shown[top:]]
    numbers = [row[0].value for row in values.iter_rows(min_row=top + 1, min_col=k + 1, max_col=k + 1)]
    assert len(texts) == len(numbers) == 1000
    nonzero = [(text, number) for text, number in zip(texts, numbers) if number != 0]
    assert min(abs(n) for _, n in nonzero) < 1e-20, "the run reaches tiny losses"
    for text, number in nonzero:
        assert significant_digits(text) >= 6, (text, number)
        assert float(text) == pytest.approx(number, rel=1e-5), (text, number)
    # The last loss that is not exactly zero (float64 reaches 0.0 at step ~530) is not shown as 0.
    assert float(nonzero[-1][0]) != 0 and significant_digits(nonzero[-1][0]) >= 3


@needs_libreoffice
def test_a_summary_weight_drives_every_sheet(build, tmp_path):
    built = build("--steps", "6", "--lrs", "0.5,2")
    book = openpyxl.load_workbook(built)
    summary = book["summary"]
    w1 = next(row[1] for row in summary.iter_rows(max_col=2) if row[0].value == "w1")
    w1.value = -0.7
    edited = tmp_path / "edited" / "edited.xlsx"
    edited.parent.mkdir()
    book.save(edited)
    fresh = openpyxl.load_workbook(recalculate(edited, tmp_path / "recalculated"), data_only=True)

    network = Network(load_template("era"))
    start = {**network.starting_values(), "w1": -0.7}
    loss_column = [q.label for q in network.quantities].index("E_total")
    for name, rate in (("lr=0.5", 0.5), ("lr=2", 2.0)):
        ws = fresh[name]
        first = header_row(ws) + 1
        assert ws.cell(first, column_of(ws, "w1")).value == -0.7
        expected = [row[loss_column] for row in network.rows(rate, 6, start)]
        shown = [ws.cell(first + k, column_of(ws, "E_total")).value for k in range(6)]
        assert shown == pytest.approx(expected, rel=1e-9)
        untouched = [row[loss_column] for row in network.rows(rate, 6)]
        assert shown[-1] != pytest.approx(untouched[-1], rel=1e-6), "the edit changed the run"


def test_each_sheets_chart_is_on_its_first_screen(build):
    built = build("--lrs", "0.5,1", "--steps", "50", "--gradcheck")
    with zipfile.ZipFile(built) as archive:
        drawings = sorted(n for n in archive.namelist() if re.fullmatch(r"xl/drawings/drawing\d+\.xml", n))
        anchors = [re.search(r"<xdr:from><xdr:col>(\d+)</xdr:col>.*?<xdr:row>(\d+)</xdr:row>",
                             archive.read(name).decode()) for name in drawings]
    assert len(anchors) == 3  # the summary and two lr sheets
    for anchor in anchors:
        col, row = map(int, anchor.groups())
        assert col <= 12 and row <= 10, (col, row)  # a laptop screen shows about 12 columns, 30 rows


def test_band_row_names_each_part_of_backprop(build):
    ws = openpyxl.load_workbook(build("--lrs", "0.5", "--steps", "3"))["lr=0.5"]
    top = header_row(ws)
    band = {c.column: c.value for c in ws[top - 1] if c.value}
    label_at = {c.value: c.column for c in ws[top]}
    assert band[label_at["t1"]] == "constants"
    assert band[label_at["w1"]] == "weights" and band[label_at["w5"]] == "weights"
    assert band[label_at["h1"]] == "forward pass" and band[label_at["o1"]] == "forward pass"
    assert band[label_at["E1"]] == "loss" and band[label_at["∂E/∂w1"]] == "backward pass"
    # Constants are a collapsed outline group; η and the chart stay in view.
    hidden = {c for d in ws.column_dimensions.values() if d.hidden for c in range(d.min, d.max + 1)}
    assert {label_at[label] for label in ("t1", "t2", "i1", "i2")} == hidden
    assert ws["A1"].value == "learning rate η" and ws["A2"].value == 0.5
    # Printing: landscape at full size (not shrunk to one page wide), a page per column group
    # with the step column repeated (tests/test_print_pages.py checks the groups).
    assert ws.page_setup.orientation == "landscape" and not ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.print_title_cols.replace("$", "") == "A:A"
    assert ws.print_title_rows.replace("$", "") == f"{top - 1}:{top}"


def test_gradient_check_agrees_with_the_chain_rule(build):
    values = openpyxl.load_workbook(build("--lrs", "0.5", "--steps", "20", "--gradcheck"), data_only=True)["lr=0.5"]
    top = header_row(values)
    labels = [c.value for c in values[top]]
    for k in range(1, 9):
        chain, numeric, gap = (labels.index(f"{prefix}∂E/∂w{k}") + 1 for prefix in ("", "fd ", "Δ "))
        assert numeric == chain + 1 and gap == chain + 2  # beside each other
        for row in range(top + 1, top + 21):
            g, fd, diff = (values.cell(row, c).value for c in (chain, numeric, gap))
            assert fd == pytest.approx(g, rel=1e-6, abs=1e-12)
            assert diff == pytest.approx(g - fd, abs=1e-15)


@needs_libreoffice
def test_gradient_check_catches_a_planted_slip(build, tmp_path):
    built = build("--lrs", "0.5", "--steps", "3", "--gradcheck")
    book = openpyxl.load_workbook(built)
    ws = book["lr=0.5"]
    top = header_row(ws)
    slipped = ws.cell(top + 1, column_of(ws, "∂E/∂w5"))
    slipped.value = slipped.value + "*1.1"  # a student's slip in the chain rule
    edited = tmp_path / "slip" / "slip.xlsx"
    edited.parent.mkdir()
    book.save(edited)
    fresh = openpyxl.load_workbook(recalculate(edited, tmp_path / "recalculated"), data_only=True)["lr=0.5"]
    gaps = {k: fresh.cell(top + 1, column_of(fresh, f"Δ ∂E/∂w{k}")).value for k in range(1, 9)}
    gradient = fresh.cell(top + 1, column_of(fresh, "∂E/∂w5")).value
    assert abs(gaps[5]) > 0.05 * abs(gradient / 1.1)
    assert all(abs(gaps[k]) < 1e-9 for k in gaps if k != 5), gaps
