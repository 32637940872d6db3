"""Numbers read like the course's in Excel (formulon), LibreOffice and Gnumeric alike: plain
decimals with six significant digits from 1e-4 up, negatives too, zeros as 0, E-notation only
below 1e-4. What each program displays is read back, never computed by the code under test."""

from __future__ import annotations

import importlib.util
import itertools
import math
import re

import openpyxl
import pytest
import xlsxwriter

from sheetprop.handin.screens import print_all_to_pdf, print_to_pdf, printed_text
from sheetprop.libreoffice import find_soffice
from sheetprop.network.optimizers import OPTIMIZERS
from sheetprop.network.template import builtin_templates
from sheetprop.writer.number_formats import BASE_FORMAT, NumberFormats
from displays import MINUS, excel_texts, gnumeric_text, has_gnumeric

# Each value with the text the course's sheets show for it, typed out by hand.
CASES = [
    (0.0, "0"), (-0.4, "-0.400000"), (0.05, "0.0500000"), (-0.05, "-0.0500000"), (0.15, "0.150000"),
    (0.1, "0.100000"), (0.0275, "0.0275000"), (0.003, "0.00300000"), (-0.003, "-0.00300000"),
    (0.00045, "0.000450000"), (-0.00045, "-0.000450000"), (0.0001, "0.000100000"),
    (0.00005, "5.00000E-05"), (-0.00005, "-5.00000E-05"), (1e-9, "1.00000E-09"), (1.0, "1.000000"),
    (-2.5, "-2.500000"), (999.5, "999.500000"), (123456.789, "123456.789"), (-999999.5, "-999999.500"),
    (2.5e7, "2.50000E+07"),
]


def _fixture(path):
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("numbers")
    base = book.add_format({"num_format": BASE_FORMAT})
    for row, (value, _) in enumerate(CASES):
        sheet.write_number(row, 0, value, base)
    sheet.set_column(0, 0, 30)
    NumberFormats(book).apply(sheet, 0, 0, len(CASES) - 1, 0)
    book.close()
    return path


@pytest.mark.slow
@pytest.mark.skipif(not has_gnumeric(), reason="Gnumeric (ssconvert) not installed")
def test_gnumeric_shows_each_case_as_the_course_does(tmp_path):
    shown = gnumeric_text(_fixture(tmp_path / "n.xlsx"), "numbers", tmp_path / "g")
    assert [row[0] for row in shown] == [text for _, text in CASES]


@pytest.mark.slow
@pytest.mark.skipif(find_soffice() is None, reason="LibreOffice not installed")
def test_libreoffice_prints_each_case_as_the_course_does(tmp_path):
    pytest.importorskip("shutil").which("pdftotext") or pytest.skip("pdftotext not installed")
    text = printed_text(print_to_pdf(_fixture(tmp_path / "n.xlsx"), tmp_path / "pdf"))
    lines = [line.strip().replace(MINUS, "-") for line in text.splitlines() if line.strip()]
    assert lines == [text for _, text in CASES]


@pytest.mark.slow  # formulon compiles its engine on first use: ~20 s
def test_excel_shows_each_case_as_the_course_does(tmp_path):
    pytest.importorskip("formulon")
    texts = excel_texts(_fixture(tmp_path / "n.xlsx"), 0, [(row, 0) for row in range(len(CASES))])
    assert [texts[(row, 0)] for row in range(len(CASES))] == [text for _, text in CASES]


E_NOTATION = re.compile(r"^-?\d\.\d+E[-+]\d+$")


def _reads_right(text: str, value: float) -> str | None:
    """Why ``text`` is not how the course shows ``value``, or None."""
    if value == 0:
        return None if text == "0" else "a zero not shown as 0"
    if abs(value) >= 1e-4 and abs(value) < 1e6 and E_NOTATION.match(text):
        return "E-notation from 1e-4 up"
    digits = re.split("E", text)[0].lstrip("-").replace(".", "").lstrip("0")
    if len(digits) < (6 if abs(value) >= 1e-4 else 3):
        return "too few significant digits"
    if float(text) != pytest.approx(value, rel=1e-5):
        return "not the value"
    return None


def _number_cells(path, sheet):
    values = openpyxl.load_workbook(path, data_only=True)[sheet]
    return {(c.row - 1, c.column - 1): c.value for row in values.iter_rows() for c in row
            if isinstance(c.value, float) and c.number_format != "General" and c.number_format != "0"}


def _sample(cells: dict, per_kind: int = 4) -> list[tuple[int, int]]:
    """A few cells of each kind of number (zero, each magnitude band, each sign), first seen first."""
    kinds: dict[tuple, list] = {}
    for cell, value in sorted(cells.items()):
        kind = (value == 0, value < 0, max(-5, min(6, math.floor(math.log10(abs(value))))) if value else 0)
        kinds.setdefault(kind, []).append(cell)
    return [cell for group in kinds.values() for cell in group[:per_kind]]


@pytest.mark.slow
@pytest.mark.skipif(not has_gnumeric(), reason="Gnumeric (ssconvert) not installed")
def test_every_template_and_optimizer_reads_right_in_gnumeric_and_excel(build, tmp_path):
    has_formulon = importlib.util.find_spec("formulon") is not None
    bad, checked = [], 0
    for template, optimizer in itertools.product(builtin_templates(), OPTIMIZERS):
        built = build("--template", template, "--optimizer", optimizer, "--steps", "6", "--lrs", "0.5",
                      name=f"{template}-{optimizer}.xlsx")
        cells = _number_cells(built, "lr=0.5")
        shown = gnumeric_text(built, "lr=0.5", tmp_path / f"g-{template}-{optimizer}")
        excel = excel_texts(built, 1, _sample(cells)) if has_formulon else {}
        for (row, col), value in cells.items():
            for program, text in (("Gnumeric", shown[row][col]), ("Excel", excel.get((row, col)))):
                if text is None:
                    continue
                checked += 1
                why = _reads_right(text, value)
                if why:
                    bad.append(f"{template}/{optimizer} {program} R{row + 1}C{col + 1}: {value!r} as {text!r}: {why}")
    assert checked > 5000
    assert not bad, "\n".join(bad[:20])


@pytest.mark.slow
@pytest.mark.skipif(find_soffice() is None, reason="LibreOffice not installed")
def test_every_template_and_optimizer_prints_right_in_libreoffice(build, tmp_path):
    pytest.importorskip("shutil").which("pdftotext") or pytest.skip("pdftotext not installed")
    combinations = list(itertools.product(builtin_templates(), OPTIMIZERS))
    built = [build("--template", template, "--optimizer", optimizer, "--steps", "6", "--lrs", "0.5",
                   name=f"{template}-{optimizer}.xlsx") for template, optimizer in combinations]
    for (template, optimizer), pdf in zip(combinations, print_all_to_pdf(built, tmp_path / "pdf")):
        text = printed_text(pdf)
        tokens = [t.replace(MINUS, "-") for t in re.findall(r"[-−]?\d+\.\d{5,}(?:E[-+−]\d+)?", text)]
        assert len(tokens) > 100, (template, optimizer)
        # The sheets' E format has five decimals: any such token from 1e-4 up, or a zero, is wrong.
        wrong = [t for t in tokens if E_NOTATION.match(t) and (float(t) == 0 or 1e-4 <= abs(float(t)) < 1e6)]
        assert not wrong, (template, optimizer, wrong[:10])
        assert "0.00000E+00" not in text.replace(MINUS, "-")


def _without_conditional_formats(source, target):
    """``source`` as a program that drops conditional formats reads it (Google Sheets, Apple
    Numbers): every <conditionalFormatting> element taken out of each sheet's XML."""
    import zipfile

    with zipfile.ZipFile(source) as inside, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for item in inside.infolist():
            data = inside.read(item.filename)
            if item.filename.startswith("xl/worksheets/sheet"):
                data = re.sub(rb"<conditionalFormatting\b.*?</conditionalFormatting>", b"", data, flags=re.S)
            out.writestr(item, data)
    return target


@pytest.mark.slow
@pytest.mark.skipif(not has_gnumeric(), reason="Gnumeric (ssconvert) not installed")
def test_numbers_read_right_without_conditional_formats(build, tmp_path):
    built = build("--lrs", "2", "--steps", "1000", name="long.xlsx")
    stripped = _without_conditional_formats(built, tmp_path / "stripped.xlsx")
    with __import__("zipfile").ZipFile(stripped) as z:
        assert all(b"conditionalFormatting" not in z.read(n) for n in z.namelist() if n.startswith("xl/worksheets/"))
    shown = gnumeric_text(stripped, "lr=2", tmp_path / "g")
    values = openpyxl.load_workbook(built, data_only=True)["lr=2"]
    header = [c.value for c in values[17]]
    columns = [k for k, label in enumerate(header) if label == "E_total" or str(label).startswith("∂E/∂w")]
    checked, bad = 0, []
    for row in values.iter_rows(min_row=18):
        for k in columns:
            value = row[k].value
            if not isinstance(value, float) or value == 0:
                continue
            text = shown[row[k].row - 1][k]
            digits = text.split("E")[0].lstrip("-").replace(".", "").lstrip("0")
            checked += 1
            if len(digits) < 3 or float(text) != pytest.approx(value, rel=1e-2):
                bad.append((row[k].coordinate, value, text))
    assert checked > 4000
    assert not bad, bad[:10]
