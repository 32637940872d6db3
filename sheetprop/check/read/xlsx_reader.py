"""Read an .xlsx workbook's cells in one streaming pass: each cell's formula and saved value.

``check`` needs, per cell, the formula text and the value last saved with it. openpyxl gives
those only by loading the whole file twice (``data_only`` off, then on), which was most of
check's time and memory. This reader goes through each sheet's XML once, streaming, and keeps
both (``xlsx_cells`` reads the cells); the workbook's own parts (sheets, their names and states,
defined names, shared strings, date styles) are read here. It hands ``audit`` two views of what it read that answer like openpyxl workbooks do
(``sheetnames``, ``worksheets``, ``book[name]``, ``sheet.cell(r, c).value``, ``iter_rows``,
``max_row``, ``defined_names``), one showing formulas and one showing saved values, so that
what is read is the same whichever reader read it.

Values follow openpyxl's rules, so a file reads the same either way: ``t="s"`` a shared string
(``_x005F_`` escapes dropped as openpyxl does), ``str`` and ``inlineStr`` text, ``b`` a bool,
``e`` the error text (``#VALUE!``), a number an int unless it has a point or an exponent, and a
number in a date-formatted cell a datetime. A shared formula (``<f t="shared" si=..>``) is
expanded into each cell's own, its relative references shifted. Element names are matched by
local name: Gnumeric, Google Sheets, WPS and Hancom write namespace-prefixed ``x:`` XML.

Where this reader does not know a file's shape it raises ``NotStreamable`` and the caller loads
the file with openpyxl instead: a part with a DTD (openpyxl reads it through defusedxml, which
refuses entity declarations with the message ``check`` reports), or a workbook without the
parts named here.
"""

from __future__ import annotations

import copy
import posixpath
import re
import zipfile
from itertools import compress, count, repeat
from operator import is_not
from types import SimpleNamespace

from sheetprop.check.read.xlsx_cells import (CellValues, NotStreamable, SheetCells, column_letters, column_number,
                                        element_text, elements, read_cells)
from sheetprop.spreadsheet.references import CELL
from sheetprop.spreadsheet.tokens import tokens as formula_tokens
from sheetprop.spreadsheet.number_formats import builtin_date_format, is_date_format, is_duration_format


__all__ = ["NotStreamable", "read_xlsx", "BookView", "SheetView", "with_values"]


def read_xlsx(archive: zipfile.ZipFile) -> tuple["BookView", "BookView"]:
    """(formulas, values): the workbook in ``archive`` read once, as two openpyxl-like views."""
    try:
        book = _Book(archive)
    except NotStreamable:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged part (a bad shared-string index, a broken
        # stream): openpyxl reads it again and words the reason as check always has
        raise NotStreamable(f"{type(exc).__name__}: {exc}") from None
    return BookView(book, formulas=True), BookView(book, formulas=False)


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _attribute(element, name: str):
    """An attribute by local name (r:id is {relationships namespace}id)."""
    value = element.get(name)
    if value is None:
        for key, found in element.attrib.items():
            if _local(key) == name:
                return found
    return value


def _relationships(archive: zipfile.ZipFile, part: str) -> dict[str, tuple[str, str]]:
    """Id -> (type, target member) of a part's relationships."""
    folder, name = posixpath.split(part)
    rels = posixpath.join(folder, "_rels", name + ".rels")
    if rels not in archive.namelist():
        return {}
    found = {}
    for _, element in elements(archive, rels, {"Relationship"}):
        target = element.get("Target", "")
        if element.get("TargetMode") == "External":
            continue
        member = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
        found[element.get("Id")] = (element.get("Type", ""), member)
    return found


def _shared_strings(archive: zipfile.ZipFile, member: str | None) -> list[str]:
    if member is None or member not in archive.namelist():
        return []
    strings = []
    for _, element in elements(archive, member, {"si"}):
        strings.append(element_text(element).replace("x005F_", ""))
        element.clear()
    return strings


def _date_styles(archive: zipfile.ZipFile, member: str | None) -> tuple[set[int], set[int]]:
    """(date styles, duration styles): the indices of cellXfs whose number format shows a date,
    whose numbers openpyxl reads as datetimes (or timedeltas)."""
    if member is None or member not in archive.namelist():
        return set(), set()
    custom, formats = {}, []
    for name, element in elements(archive, member, {"numFmt", "cellXfs"}):
        if name == "numFmt":
            custom[element.get("numFmtId")] = element.get("formatCode")
        else:
            formats = [xf for xf in element if _local(xf.tag) == "xf"]
            break
    dates, durations = set(), set()
    for index, xf in enumerate(formats):
        ident = xf.get("numFmtId", "0")
        code = custom.get(ident)
        if code is None:
            code = builtin_date_format(ident)
        if code and is_date_format(code):
            dates.add(index)
        if code and is_duration_format(code):
            durations.add(index)
    return dates, durations


class _Book:
    """What was read: the sheets in workbook order, with their cells and defined names."""

    def __init__(self, archive: zipfile.ZipFile):
        names = set(archive.namelist())
        root = next((target for kind, target in _relationships(archive, "").values()
                     if kind.endswith("/officeDocument")), "xl/workbook.xml")
        if root not in names:
            raise NotStreamable("no workbook part")
        rels = _relationships(archive, root)
        strings = next((target for kind, target in rels.values() if kind.endswith("/sharedStrings")), None)
        styles = next((target for kind, target in rels.values() if kind.endswith("/styles")), None)
        self.shared_strings = _shared_strings(archive, strings)
        self.date_styles, self.duration_styles = _date_styles(archive, styles)
        self.date1904 = False
        entries, names_found = [], []
        for name, element in elements(archive, root, {"sheet", "definedName", "workbookPr"}):
            if name == "sheet":
                entries.append((element.get("name"), element.get("state", "visible"), _attribute(element, "id")))
            elif name == "definedName":
                names_found.append((element.get("name"), element.get("localSheetId"), element.text or ""))
            else:
                self.date1904 = element.get("date1904") in ("1", "true")
        cell_values = CellValues(self.shared_strings, self.date_styles, self.duration_styles, self.date1904)
        self.sheets: list[SheetData] = []
        all_sheets = []  # localSheetId counts chart sheets too
        for title, state, rel_id in entries:
            if not rel_id or rel_id not in rels:
                all_sheets.append(None)
                continue
            kind, member = rels[rel_id]
            if member not in names or "chartsheet" in kind or not kind.endswith("/worksheet"):
                all_sheets.append(None)  # openpyxl skips a missing part; chart sheets hold no cells
                continue
            sheet = SheetData(title, state, read_cells(archive, member, cell_values))
            self.sheets.append(sheet)
            all_sheets.append(sheet)
        self.defined_names = {}
        for name, local, text in names_found:
            defined = DefinedName(name, local, text)
            if local is None:
                self.defined_names[name] = defined
            elif local.isdigit() and int(local) < len(all_sheets) and all_sheets[int(local)] is not None:
                if not name.startswith("_xlnm."):  # print areas and titles, which openpyxl files elsewhere
                    all_sheets[int(local)].defined_names[name] = defined


# A reference's sheet and cells, as openpyxl's SHEETRANGE_RE reads them from a defined name.
_SHEET_RANGE = re.compile(r"(('(?P<quoted>([^']|'')*)')|(?P<notquoted>[^'^ ^!]*))!"
                          r"(?P<cells>[$]?([A-Za-z]{1,3})?[$]?(\d+)?(:[$]?([A-Za-z]{1,3})?[$]?(\d+)?)?)")


class DefinedName:
    """A defined name as openpyxl's ``DefinedName`` answers what check asks of it: its ``name``,
    its text (``value``, ``attr_text``) and the (sheet, cells) it refers to (``destinations``)."""

    __slots__ = ("name", "localSheetId", "attr_text")

    def __init__(self, name: str | None, local: str | None, text: str):
        if name is None:
            raise NotStreamable("a defined name without its name")  # openpyxl refuses it as it always has
        try:
            self.localSheetId = None if local is None else int(local)
        except ValueError:
            raise NotStreamable(f"the defined name {name[:40]!r} has the sheet number {local[:20]!r}") from None
        self.name, self.attr_text = name, text

    @property
    def value(self) -> str:
        return self.attr_text

    @property
    def type(self) -> str:
        """RANGE for a reference, the first token's type or subtype otherwise; IndexError for no text."""
        first = formula_tokens("=" + self.value)[0]
        return first.subtype if first.type == "OPERAND" else first.type

    @property
    def destinations(self):
        """(sheet, cells) of each reference; ValueError where openpyxl's fails (a reference
        without its sheet, text no formula is)."""
        if self.type != "RANGE":
            return
        for token in formula_tokens("=" + self.value):
            if token.subtype == "RANGE":
                match = _SHEET_RANGE.match(token.value)
                if match is None:
                    raise ValueError(f"the reference {token.value[:40]!r} names no sheet")
                yield match["notquoted"] or match["quoted"], match["cells"]


class SheetData:
    """One worksheet as read: its title, state, cells and sheet-level defined names."""

    def __init__(self, title: str, state: str, cells: SheetCells):
        self.title, self.sheet_state, self.cells = title, state, cells
        self.defined_names: dict = {}


# --- openpyxl-like views -----------------------------------------------------------------------

class CellView:
    """What audit asks of an openpyxl cell: its value, row, column and coordinate."""

    __slots__ = ("value", "row", "column")

    def __init__(self, value, row: int, column: int):
        self.value, self.row, self.column = value, row, column

    @property
    def coordinate(self) -> str:
        return f"{column_letters(self.column)}{self.row}"


class SheetView:
    def __init__(self, sheet: SheetData, formulas: bool):
        self._sheet, self._formulas = sheet, formulas
        self.title, self.sheet_state = sheet.title, sheet.sheet_state
        self._values, self._formula_rows = sheet.cells.values, sheet.cells.formulas
        self.max_row, self.max_column = sheet.cells.max_row, sheet.cells.max_column
        self.defined_names = sheet.defined_names

    def value(self, row: int, column: int):
        # Asked for every cell of a table: the lookups written out (a row is a list or a dict).
        if self._formulas:
            cells = self._formula_rows.get(row)
            if cells is not None:
                formula = ((cells[column - 1] if column <= len(cells) else None) if type(cells) is list
                           else cells.get(column))
                if formula is not None:  # a formula is text, never None
                    return formula
        cells = self._values.get(row)
        if cells is None:
            return None
        if type(cells) is list:
            return cells[column - 1] if column <= len(cells) else None
        return cells.get(column)

    def row_values(self, row: int, columns: list[int]) -> list:
        """``value(row, c)`` for each of ``columns``: a table's row read with one lookup of the row."""
        values = self._values.get(row)
        if values is None:
            found = [None] * len(columns)
        elif type(values) is list:
            size = len(values)
            found = [values[c - 1] if c <= size else None for c in columns]
        else:
            found = [values.get(c) for c in columns]
        formulas = self._formula_rows.get(row) if self._formulas else None
        if formulas is not None:
            if type(formulas) is list:
                size = len(formulas)
                texts = [formulas[c - 1] if c <= size else None for c in columns]
            else:
                texts = [formulas.get(c) for c in columns]
            found = [value if text is None else text for text, value in zip(texts, found)]
        return found

    def cell(self, row: int, column: int) -> CellView:
        return CellView(self.value(row, column), row, column)

    def __getitem__(self, coordinate: str) -> CellView:
        match = CELL.fullmatch(coordinate)
        if match is None:
            raise KeyError(coordinate)
        return self.cell(int(match[2]), column_number(match[1]))

    def count_cells(self, first: int, last: int) -> int:
        """How many cells ``present_rows(first, last)`` gives, without making them."""
        return sum(len(self._columns_in(row)) for row in self._rows_in(first, last))

    def _rows_in(self, first: int, last: int) -> list[int]:
        rows = set(self._values) | (set(self._formula_rows) if self._formulas else set())
        return sorted(r for r in rows if first <= r <= last)

    def _columns_in(self, row: int) -> set[int]:
        """The columns of ``row`` that hold a value (or, in the formulas view, a formula)."""
        columns: set[int] = set()
        for source in (self._values.get(row), self._formula_rows.get(row) if self._formulas else None):
            if type(source) is list:  # the columns 1, 2, … whose entry is not None, counted in C
                columns.update(compress(count(1), map(is_not, source, repeat(None))))
            elif source:
                columns.update(source)
        return columns

    def formula(self, row: int, column: int) -> str | None:
        """The formula of a cell, or None where it holds none (a typed text "=x" is no formula)."""
        cells = self._formula_rows.get(row)
        if cells is None:
            return None
        return (cells[column - 1] if column <= len(cells) else None) if type(cells) is list else cells.get(column)

    def formula_cells(self):
        """(row, column, formula text) of every cell holding a formula, in the file's order."""
        for row, cells in self._formula_rows.items():
            for column, formula in (enumerate(cells, 1) if type(cells) is list else cells.items()):
                if formula is not None:
                    yield row, column, formula

    def present_rows(self, first: int, last: int):
        """The cells this sheet really holds in rows ``first``…``last``, row by row: a sheet
        holding only A1 and XFD200 is two cells, not its used range's three million."""
        for row in self._rows_in(first, last):
            yield tuple(self.cell(row, column) for column in sorted(self._columns_in(row)))

    def iter_rows(self, min_row: int = 1, max_row: int | None = None, values_only: bool = False):
        last = self.max_row if max_row is None else max_row
        for row in range(min_row, last + 1):
            if values_only:
                yield tuple(self.value(row, column) for column in range(1, self.max_column + 1))
            else:
                yield tuple(self.cell(row, column) for column in range(1, self.max_column + 1))


class BookView:
    """The workbook as openpyxl shows it, with formulas (``data_only=False``) or saved values."""

    def __init__(self, book: _Book, formulas: bool):
        self.worksheets = [SheetView(sheet, formulas) for sheet in book.sheets]
        self._by_title = {sheet.title: sheet for sheet in self.worksheets}
        self.sheetnames = [sheet.title for sheet in self.worksheets]
        self.defined_names = book.defined_names

    def __getitem__(self, title: str) -> SheetView:
        return self._by_title[title]

    def __contains__(self, title: str) -> bool:
        return title in self._by_title


def with_values(book: BookView, changed: dict[str, dict[int, dict[int, object]]]) -> BookView:
    """A values view of ``book`` (a values view) in which the cells in ``changed`` (sheet -> row ->
    column -> value) hold those values instead: the values a file lacks, computed elsewhere
    (``calculate``). The cells read stay as they are, shared; only the rows changed are copied."""
    sheets = []
    for view in book.worksheets:
        data, rows = view._sheet, changed.get(view.title)
        if rows:
            cells = copy.copy(data.cells)
            cells.values = dict(data.cells.values)
            for row, columns in rows.items():
                if not columns:
                    continue
                saved = cells.values.get(row)
                if type(saved) is list and max(columns) <= len(saved):
                    saved = list(saved)
                    for column, value in columns.items():
                        saved[column - 1] = value
                else:
                    saved = {**(dict(enumerate(saved, 1)) if type(saved) is list else saved or {}), **columns}
                cells.values[row] = saved
            copied = SheetData(data.title, data.sheet_state, cells)
            copied.defined_names = data.defined_names
            data = copied
        sheets.append(data)
    return BookView(SimpleNamespace(sheets=sheets, defined_names=book.defined_names), formulas=False)
