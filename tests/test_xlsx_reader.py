"""The one-pass reader of check (sheetprop.check.read.xlsx_reader) reads what openpyxl's two loads read.

Each workbook here is built by the test: by hand, XML part by XML part (namespace prefixes,
shared formulas, every cell type), by openpyxl, and by `build`; the real workbooks of
../shared/wild are compared too where present. openpyxl, loaded twice, is the independent
reference for the last three.
"""

from __future__ import annotations

import datetime
import io
import random
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import pytest

from sheetprop.check.read.xlsx_reader import NotStreamable, read_xlsx

WILD = Path(__file__).resolve().parents[1].parent / "shared" / "wild"
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"


def _package(parts: dict[str, str]) -> zipfile.ZipFile:
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return zipfile.ZipFile(io.BytesIO(data.getvalue()))


def _prefixed_workbook(sheet_data: str, doctype: str = "") -> zipfile.ZipFile:
    """A workbook as Google Sheets or WPS write it: every element with the x: prefix."""
    sheet_rel = f"{RELS}/worksheet"
    return _package({
        "[Content_Types].xml": "<Types/>",
        "_rels/.rels": f'<Relationships xmlns="{PACKAGE_RELS}"><Relationship Id="r1" '
                       f'Type="{RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": (
            f'<x:workbook xmlns:x="{MAIN}" xmlns:r="{RELS}"><x:sheets>'
            '<x:sheet name="lr=0.5" sheetId="1" r:id="rId1"/>'
            '<x:sheet name="_sheetprop" sheetId="2" state="veryHidden" r:id="rId2"/></x:sheets>'
            '<x:definedNames><x:definedName name="eta">\'lr=0.5\'!$B$1</x:definedName>'
            '<x:definedName name="local_eta" localSheetId="0">\'lr=0.5\'!$B$2</x:definedName>'
            "</x:definedNames></x:workbook>"),
        "xl/_rels/workbook.xml.rels": (
            f'<Relationships xmlns="{PACKAGE_RELS}">'
            f'<Relationship Id="rId1" Type="{sheet_rel}" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{sheet_rel}" Target="/xl/worksheets/sheet2.xml"/>'
            f'<Relationship Id="rId3" Type="{RELS}/sharedStrings" Target="sharedStrings.xml"/>'
            f'<Relationship Id="rId4" Type="{RELS}/styles" Target="styles.xml"/></Relationships>'),
        "xl/sharedStrings.xml": (f'<x:sst xmlns:x="{MAIN}"><x:si><x:t>w1</x:t></x:si>'
                                 "<x:si><x:r><x:t>∂E/</x:t></x:r><x:r><x:t>∂w1</x:t></x:r></x:si></x:sst>"),
        "xl/styles.xml": (f'<x:styleSheet xmlns:x="{MAIN}"><x:cellXfs count="2"><x:xf numFmtId="0"/>'
                          '<x:xf numFmtId="14"/></x:cellXfs></x:styleSheet>'),
        "xl/worksheets/sheet1.xml": f'{doctype}<x:worksheet xmlns:x="{MAIN}"><x:sheetData>{sheet_data}'
                                    "</x:sheetData></x:worksheet>",
        "xl/worksheets/sheet2.xml": f'<x:worksheet xmlns:x="{MAIN}"><x:sheetData><x:row r="1">'
                                    '<x:c r="A1" t="inlineStr"><x:is><x:t>format</x:t></x:is></x:c>'
                                    "</x:row></x:sheetData></x:worksheet>",
    })


CELLS = (
    '<x:row r="1"><x:c r="A1" t="s"><x:v>0</x:v></x:c><x:c r="B1"><x:v>0.5</x:v></x:c>'
    '<x:c r="C1" t="s"><x:v>1</x:v></x:c><x:c r="D1" t="b"><x:v>1</x:v></x:c>'
    '<x:c r="E1" t="inlineStr"><x:is><x:t xml:space="preserve"> η &amp; lr </x:t></x:is></x:c>'
    '<x:c r="F1" s="1"><x:v>45000</x:v></x:c><x:c r="G1"><x:v>3</x:v></x:c></x:row>'
    '<x:row r="2"><x:c r="A2"><x:f t="shared" ref="A2:A4" si="0">A1*$B$1+SUM(B2:C2)+\'lr=0.5\'!B2&amp;"A1"</x:f>'
    "<x:v>1.25</x:v></x:c>"
    '<x:c r="B2" t="e"><x:f>1/0</x:f><x:v>#DIV/0!</x:v></x:c>'
    '<x:c r="C2" t="str"><x:f>IF(B1&gt;0,"yes","no")</x:f><x:v>yes</x:v></x:c>'
    '<x:c r="D2"><x:f>LOG10(B1)</x:f></x:c></x:row>'
    '<x:row r="3"><x:c r="A3"><x:f t="shared" si="0"/><x:v>2</x:v></x:c></x:row>'
    '<x:row r="4"><x:c r="A4"><x:f t="shared" si="0"/><x:v>3</x:v></x:c><x:c r="C4" s="1"/></x:row>'
)


def test_a_prefixed_workbook_reads_every_cell_type_and_expands_shared_formulas():
    formulas, values = read_xlsx(_prefixed_workbook(CELLS))
    assert formulas.sheetnames == ["lr=0.5", "_sheetprop"]
    assert formulas["_sheetprop"].sheet_state == "veryHidden"
    sheet, saved = formulas["lr=0.5"], values["lr=0.5"]
    assert (sheet.max_row, sheet.max_column) == (4, 7)
    assert [saved.cell(1, c).value for c in range(1, 8)] == [
        "w1", 0.5, "∂E/∂w1", True, " η & lr ", datetime.datetime(2023, 3, 15), 3]
    assert type(saved["G1"].value) is int
    # Each cell of a shared formula gets its own, relative references moved; $B$1, the quoted
    # sheet's B2 (moved too: it is relative) and the text "A1" as the first cell has them.
    assert sheet["A2"].value == "=A1*$B$1+SUM(B2:C2)+'lr=0.5'!B2&\"A1\""
    assert sheet["A3"].value == "=A2*$B$1+SUM(B3:C3)+'lr=0.5'!B3&\"A1\""
    assert sheet["A4"].value == "=A3*$B$1+SUM(B4:C4)+'lr=0.5'!B4&\"A1\""
    assert [saved.cell(r, 1).value for r in (2, 3, 4)] == [1.25, 2, 3]
    assert (sheet["B2"].value, saved["B2"].value) == ("=1/0", "#DIV/0!")
    assert (sheet["C2"].value, saved["C2"].value) == ('=IF(B1>0,"yes","no")', "yes")
    assert (sheet["D2"].value, saved["D2"].value) == ("=LOG10(B1)", None)
    assert saved["C4"].value is None and saved["Z9"].value is None
    assert [list(destination) for destination in [formulas.defined_names["eta"].destinations]] == [
        [("lr=0.5", "$B$1")]]
    assert list(sheet.defined_names) == ["local_eta"]
    rows = list(values["_sheetprop"].iter_rows(min_row=1, max_row=2, values_only=True))
    assert rows == [("format",), (None,)]


def test_cells_the_scanner_does_not_read_go_to_the_element_reader_with_the_same_result():
    # No r on the cells, a comment and a CDATA section: the ElementTree reader reads them.
    odd = ('<x:row r="1"><!-- typed by hand --><x:c t="s"><x:v>0</x:v></x:c><x:c><x:v>0.5</x:v></x:c>'
           '<x:c t="str"><x:f><![CDATA[B1&"<"]]></x:f><x:v>0.5&lt;</x:v></x:c></x:row>')
    formulas, values = read_xlsx(_prefixed_workbook(odd))
    sheet = formulas["lr=0.5"]
    assert [values["lr=0.5"].cell(1, c).value for c in (1, 2, 3)] == ["w1", 0.5, "0.5<"]
    assert sheet["C1"].value == '=B1&"<"'


def test_a_part_with_a_dtd_is_left_to_openpyxl():
    with pytest.raises(NotStreamable):
        read_xlsx(_prefixed_workbook(CELLS, doctype='<!DOCTYPE x [<!ENTITY a "b">]>'))


def _same_as_openpyxl(data: bytes) -> None:
    from openpyxl import load_workbook

    formulas, values = read_xlsx(zipfile.ZipFile(io.BytesIO(data)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        books = load_workbook(io.BytesIO(data)), load_workbook(io.BytesIO(data), data_only=True)
    for mine, theirs in zip((formulas, values), books):
        assert mine.sheetnames == [sheet.title for sheet in theirs.worksheets]
        assert set(mine.defined_names) == set(theirs.defined_names)
        for sheet in theirs.worksheets:
            view = mine[sheet.title]
            assert (view.max_row, view.max_column, view.sheet_state) == (
                sheet.max_row, sheet.max_column, sheet.sheet_state)
            for (row, column), cell in list(sheet._cells.items()):
                expected = cell.value.text if hasattr(cell.value, "text") else cell.value
                got = view.cell(row, column).value
                assert (got, type(got)) == (expected, type(expected)), (sheet.title, cell.coordinate)


def test_an_openpyxl_workbook_reads_as_openpyxl_reads_it(tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Sheet 1"
    sheet.append(["i1", "w1", "h1", "flag", "when"])
    sheet.append([0.05, 0.15, "=A2*B2", True, datetime.datetime(2024, 1, 2)])
    sheet["C3"] = "=C2*2"
    sheet["A5"] = "text with _x000D_ & <angle>"
    book.create_sheet("other").sheet_state = "hidden"
    path = tmp_path / "made.xlsx"
    book.save(path)
    _same_as_openpyxl(path.read_bytes())


def test_a_long_sheet_with_a_wide_character_in_its_header_reads_as_openpyxl_reads_it(tmp_path):
    # "η" in the header: the reader scans such a sheet a piece of rows at a time (PIECE_CHARS),
    # and every cell on either side of each piece's edge must read as openpyxl reads it.
    import xlsxwriter

    from sheetprop.check.read import xlsx_cells

    path = tmp_path / "long.xlsx"
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})  # its strings inline, as build writes
    sheet = book.add_worksheet("lr=0.5")
    sheet.write_row(0, 0, ["learning rate η", "w1", "∂E/∂w1 (σ′)"])
    for row in range(1, 3000):
        sheet.write_number(row, 0, row / 7)
        sheet.write_formula(row, 1, f"=A{row + 1}*2-B{row}", None, row / 3.5)
        sheet.write_string(row, 2, "é" if row % 500 == 0 else "x")
    book.close()
    with zipfile.ZipFile(path) as archive:
        text = archive.read("xl/worksheets/sheet1.xml").decode()
    assert len(text) > 3 * xlsx_cells.PIECE_CHARS and not text.isascii()
    _same_as_openpyxl(path.read_bytes())


def test_a_built_workbook_and_its_exercise_read_as_openpyxl_reads_them(tmp_path):
    key = tmp_path / "key.xlsx"
    subprocess.run([sys.executable, "-m", "sheetprop", "build", "--quiet", "--exercise", "--lrs", "0.5,1",
                    "--steps", "5", "--out", str(key)], check=True)
    _same_as_openpyxl(key.read_bytes())
    _same_as_openpyxl((tmp_path / "key_exercise.xlsx").read_bytes())


@pytest.mark.slow
@pytest.mark.parametrize("path", sorted(WILD.glob("*.xlsx")) if WILD.is_dir() else [], ids=lambda p: p.name[:2])
def test_the_wild_workbooks_read_as_openpyxl_reads_them(path):
    from openpyxl import load_workbook

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            load_workbook(path)
    except Exception:  # noqa: BLE001 - openpyxl cannot read it (56: x: prefixes); nothing to compare
        pytest.skip("openpyxl cannot read it")
    _same_as_openpyxl(path.read_bytes())


PLAIN_CELLS = (
    '<row r="1"><c r="A1" t="inlineStr"><is><t>w1</t></is></c><c r="B1"><v>0.5</v></c><c r="C1" t="b"><v>1</v></c>'
    '<c r="D1" t="inlineStr"><is><t xml:space="preserve"> η &amp; lr </t></is></c>'
    '<c r="E1" s="1"><v>45000</v></c><c r="F1"><v>3</v></c><c r="G1"><v>1E-3</v></c></row>'
    '<row r="2"><c r="A2"><f>A1*$B$1+SUM(B2:C2)&amp;"A1"</f><v>1.25</v></c>'
    '<c r="B2" t="e"><f>1/0</f><v>#DIV/0!</v></c>'
    '<c r="C2" t="str"><f>IF(B1&gt;0,"yes","no")</f><v>yes</v></c>'
    '<c r="D2"><f>LOG10(B1)</f></c><c r="E2" s="1" /><c r="F2" t="inlineStr"><is><t/></is></c></row>'
    '<row r="3"><c r="A3"><f t="shared" ref="A3:A4" si="0">A2*2+$B$1</f><v>3</v></c></row>'
    '<row r="4"><c r="A4"><f t="shared" si="0"/><v>6.5</v></c>'
    '<c r="C4" s="1"/><c r="D4" t="str"><f>"a"&amp;"b"</f><v>a&#13;&#10;b</v></c></row>'
)


def test_plain_cells_are_read_in_one_pass_as_openpyxl_reads_them(tmp_path, monkeypatch):
    # The shape xlsxwriter, Excel and LibreOffice write (no prefix, a plain <f>, <v> or one-run
    # inline string) is read by the scanner's fast path: the same values as openpyxl's.
    import re

    from openpyxl import Workbook

    from sheetprop.check.read import xlsx_cells

    book = Workbook()
    book.active["A1"] = "w1"
    book.active["B1"] = datetime.datetime(2024, 1, 2)  # so that style 1 shows a date
    source = tmp_path / "source.xlsx"
    book.save(source)
    data = io.BytesIO()
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(data, "w") as copy:
        for item in original.infolist():
            part = original.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                part = re.sub(rb"<sheetData>.*</sheetData>|<sheetData/>",
                              b"<sheetData>" + PLAIN_CELLS.encode() + b"</sheetData>", part, flags=re.S)
                part = re.sub(rb"<dimension[^>]*/>", b"", part)
            copy.writestr(item, part)
    taken = []
    plain = xlsx_cells._scan_plain
    monkeypatch.setattr(xlsx_cells, "_scan_plain", lambda *args: taken.append(plain(*args)) or taken[-1])
    _same_as_openpyxl(data.getvalue())
    assert taken and all(taken)
    _, values = read_xlsx(zipfile.ZipFile(io.BytesIO(data.getvalue())))
    assert [values["Sheet"].cell(1, c).value for c in (1, 2, 3, 4, 6, 7)] == ["w1", 0.5, True, " η & lr ", 3, 0.001]
    assert values["Sheet"]["D4"].value == "a\r\nb"  # a character reference keeps its \r, as in any XML parser
    formulas, _ = read_xlsx(zipfile.ZipFile(io.BytesIO(data.getvalue())))
    assert formulas["Sheet"]["A4"].value == "=A3*2+$B$1"  # a shared formula, moved to its cell


def test_a_shared_formula_is_written_at_each_cell_as_filling_it_would():
    from sheetprop.spreadsheet.references import SharedFormula

    first = SharedFormula('=B2*$C$1+SUM(D2:E2)+"{a}"&F$3', 2, 2)  # its first cell: B2
    assert first.at(5, 2) == '=B5*$C$1+SUM(D5:E5)+"{a}"&F$3'  # filled down
    assert first.at(5, 3) == '=C5*$C$1+SUM(E5:F5)+"{a}"&G$3'  # and across
    assert first.at(1, 1) == '=A1*$C$1+SUM(C1:D1)+"{a}"&E$3'
    assert SharedFormula("=A2+1", 2, 2).at(2, 1) == "=#REF!+1"  # a column left of A
    assert SharedFormula("=A3+1", 4, 2).at(1, 2) == "=#REF!+1"  # a row above 1
    assert SharedFormula("=SUM(2:$3)+A$0", 2, 1).at(4, 1) == "=SUM(4:$3)+#REF!"
    # Its template (one str.format per cell) writes what the rule written piece by piece does.
    rng = random.Random(5)
    pieces = ["B2", "$C$1", "C$0", "AA17", "$XFD3", "D2:E2", "$A:B", "2:$3", "$1:1", "+", "*", '"{x}"&', "'a{b}'!A1"]
    for _ in range(2000):
        formula = SharedFormula("=" + "+".join(rng.choices(pieces, k=rng.randint(1, 5))), rng.randint(1, 9),
                                rng.randint(1, 9))
        for _ in range(10):
            row, column = rng.randint(1, 20), rng.randint(1, 20)
            assert formula.at(row, column) == formula.written_at(row, column)
