"""Read an .xlsx workbook's cells in one streaming pass: each cell's formula and saved value.

``check`` needs, per cell, the formula text and the value last saved with it. openpyxl gives
those only by loading the whole file twice (``data_only`` off, then on), which was most of
check's time and memory. This reader goes through each sheet's XML once, streaming (the C
ElementTree parser, fed in chunks; elements cleared as soon as a row is read), and keeps both.
It hands ``audit`` two views of what it read that answer like openpyxl workbooks do
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

import posixpath
import re
import zipfile
import zlib
from xml.etree.ElementTree import ParseError, XMLPullParser

CHUNK_BYTES = 1 << 16
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_DOCTYPE = re.compile(rb"<!DOCTYPE|<!ENTITY", re.IGNORECASE)
_COORDINATE = re.compile(r"\$?([A-Za-z]{1,3})\$?(\d+)")


class NotStreamable(Exception):
    """This reader cannot read the file the way openpyxl would: let openpyxl load it."""


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


# --- the parts -------------------------------------------------------------------------------

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


def _elements(archive: zipfile.ZipFile, member: str, wanted: set[str]):
    """(local name, element) of every element named in ``wanted``, streamed, as each ends. The
    caller clears what it is done with; a part with a DTD is left to openpyxl (see the module)."""
    parser = XMLPullParser(events=("end",))
    prolog = True
    try:
        with archive.open(member) as stream:
            while chunk := stream.read(CHUNK_BYTES):
                if prolog:
                    if _DOCTYPE.search(chunk):
                        raise NotStreamable(f"{member} declares a DTD")
                    prolog = re.search(rb"<[A-Za-z_]", chunk) is None
                parser.feed(chunk)
                for _, element in parser.read_events():
                    name = _local(element.tag)
                    if name in wanted:
                        yield name, element
            parser.close()
            for _, element in parser.read_events():
                name = _local(element.tag)
                if name in wanted:
                    yield name, element
    except (ParseError, KeyError, zipfile.BadZipFile, EOFError, ValueError, OSError, zlib.error) as exc:
        raise NotStreamable(f"{member}: {exc}") from None


def _relationships(archive: zipfile.ZipFile, part: str) -> dict[str, tuple[str, str]]:
    """Id -> (type, target member) of a part's relationships."""
    folder, name = posixpath.split(part)
    rels = posixpath.join(folder, "_rels", name + ".rels")
    if rels not in archive.namelist():
        return {}
    found = {}
    for _, element in _elements(archive, rels, {"Relationship"}):
        target = element.get("Target", "")
        if element.get("TargetMode") == "External":
            continue
        member = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
        found[element.get("Id")] = (element.get("Type", ""), member)
    return found


def _text(element) -> str:
    """A string item's text as openpyxl's ``Text.content`` has it: the plain <t>, then each run's
    <t>; phonetic runs (<rPh>) left out."""
    parts = []
    for child in element:
        name = _local(child.tag)
        if name == "t":
            parts.append(child.text or "")
        elif name == "r":
            for grandchild in child:
                if _local(grandchild.tag) == "t":
                    parts.append(grandchild.text or "")
    return "".join(parts)


def _shared_strings(archive: zipfile.ZipFile, member: str | None) -> list[str]:
    if member is None or member not in archive.namelist():
        return []
    strings = []
    for _, element in _elements(archive, member, {"si"}):
        strings.append(_text(element).replace("x005F_", ""))
        element.clear()
    return strings


def _date_styles(archive: zipfile.ZipFile, member: str | None) -> tuple[set[int], set[int]]:
    """(date styles, duration styles): the indices of cellXfs whose number format shows a date,
    whose numbers openpyxl reads as datetimes (or timedeltas)."""
    if member is None or member not in archive.namelist():
        return set(), set()
    from openpyxl.styles.numbers import builtin_format_code, is_date_format, is_timedelta_format

    custom, formats = {}, []
    for name, element in _elements(archive, member, {"numFmt", "cellXfs"}):
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
            try:
                code = builtin_format_code(int(ident))
            except ValueError:
                code = None
        if code and is_date_format(code):
            dates.add(index)
        if code and is_timedelta_format(code):
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
        for name, element in _elements(archive, root, {"sheet", "definedName", "workbookPr"}):
            if name == "sheet":
                entries.append((element.get("name"), element.get("state", "visible"), _attribute(element, "id")))
            elif name == "definedName":
                names_found.append((element.get("name"), element.get("localSheetId"), element.text or ""))
            else:
                self.date1904 = element.get("date1904") in ("1", "true")
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
            sheet = SheetData(title, state)
            _read_cells(archive, member, sheet, self)
            self.sheets.append(sheet)
            all_sheets.append(sheet)
        self.defined_names = {}
        if names_found:
            from openpyxl.workbook.defined_name import DefinedName

            for name, local, text in names_found:
                defined = DefinedName(name=name, localSheetId=local, attr_text=text)
                if local is None:
                    self.defined_names[name] = defined
                elif local.isdigit() and int(local) < len(all_sheets) and all_sheets[int(local)] is not None:
                    if not name.startswith("_xlnm."):  # print areas and titles, which openpyxl files elsewhere
                        all_sheets[int(local)].defined_names[name] = defined


class SheetData:
    """One worksheet's cells: row -> column -> saved value, and the same for formulas."""

    def __init__(self, title: str, state: str):
        self.title, self.sheet_state = title, state
        self.values: dict[int, dict[int, object]] = {}
        self.formulas: dict[int, dict[int, str]] = {}
        self.max_row = self.max_column = 1
        self.defined_names: dict = {}


_COLUMNS: dict[str, int] = {}


def _column_number(letters: str) -> int:
    number = _COLUMNS.get(letters)
    if number is None:
        number = 0
        for letter in letters.upper():
            number = number * 26 + ord(letter) - 64
        _COLUMNS[letters] = number
    return number


def _cast_number(text: str):
    # As openpyxl: an int unless the text has a point or an exponent.
    if "." in text or "E" in text or "e" in text:
        return float(text)
    return int(text)


def _read_cells(archive: zipfile.ZipFile, member: str, sheet: SheetData, book: _Book) -> None:
    shared: dict[str, SharedFormula] = {}
    strings, dates = book.shared_strings, book.date_styles
    row_number = 0
    max_row = max_column = 0
    values, formulas = sheet.values, sheet.formulas
    for _, row in _elements(archive, member, {"row"}):
        number = row.get("r")
        row_number = int(float(number)) if number else row_number + 1
        column = 0
        row_values: dict[int, object] = {}
        row_formulas: dict[int, str] = {}
        for cell in row:
            if _local(cell.tag) != "c":
                continue
            ref = cell.get("r")
            if ref:
                split = len(ref.rstrip("0123456789"))
                column = _column_number(ref[:split])
                this_row = int(ref[split:])
            else:
                column += 1
                this_row = row_number
            kind = cell.get("t", "n")
            value_text = formula = inline = None
            for child in cell:
                name = _local(child.tag)
                if name == "v":
                    value_text = child.text
                elif name == "f":
                    formula = child
                elif name == "is":
                    inline = child
            value = None
            if kind == "inlineStr":
                value = _text(inline) if inline is not None else None
            elif value_text:
                if kind == "n":
                    value = _cast_number(value_text)
                    style = cell.get("s")
                    if style and int(style) in dates:
                        value = _as_date(value, int(style) in book.duration_styles, book.date1904)
                elif kind == "s":
                    value = strings[int(value_text)]
                elif kind == "b":
                    value = bool(int(value_text))
                elif kind == "d":
                    from openpyxl.utils.datetime import from_ISO8601

                    value = from_ISO8601(value_text)
                else:  # str, e
                    value = value_text
            target_values, target_formulas = row_values, row_formulas
            if this_row != row_number:  # a cell whose reference names another row than its <row>
                target_values = values.setdefault(this_row, {})
                target_formulas = formulas.setdefault(this_row, {})
            target_values[column] = value
            if formula is not None:
                target_formulas[column] = _formula(formula, this_row, column, shared)
            max_row = max(max_row, this_row)
            max_column = max(max_column, column)
        if row_values:
            values.setdefault(row_number, {}).update(row_values)
        if row_formulas:
            formulas.setdefault(row_number, {}).update(row_formulas)
        row.clear()
    sheet.max_row, sheet.max_column = max(max_row, 1), max(max_column, 1)


def _as_date(value, duration: bool, date1904: bool):
    from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, from_excel

    try:
        return from_excel(value, CALENDAR_MAC_1904 if date1904 else CALENDAR_WINDOWS_1900, timedelta=duration)
    except (OverflowError, ValueError):
        return "#VALUE!"  # as openpyxl: a serial outside the dates is an error value


def _formula(element, row: int, column: int, shared: dict) -> str:
    """The cell's formula as openpyxl gives it: "=" and the text; a shared formula's other
    cells get the first cell's formula shifted to their own place."""
    text = "=" + (element.text or "")
    if element.get("t") == "shared":
        index = element.get("si")
        if index in shared:
            return shared[index].at(row, column)
        if text != "=":
            shared[index] = SharedFormula(text, row, column)
    return text


# --- shared formulas ---------------------------------------------------------------------------

# A string literal or a quoted sheet name (kept as they are), or a reference: a cell (A1, $B$2),
# a range of whole columns (A:C) or of whole rows (1:3). Not a function name (LOG10() nor part of
# a longer name or number.
_PIECE = re.compile(
    r'"(?:[^"]|"")*"|\'(?:[^\']|\'\')*\'!'
    r"|(?<![\w.$])(\$?)([A-Z]{1,3})(\$?)(\d+)(?![\w(!])"
    r"|(?<![\w.$:])(\$?)([A-Z]{1,3}):(\$?)([A-Z]{1,3})(?![\w(!])"
    r"|(?<![\w.$:])(\$?)(\d+):(\$?)(\d+)(?![\w.(!])")


def _column_letters(number: int) -> str:
    letters = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


class SharedFormula:
    """A shared formula's text, split once into literal pieces and references, to be written out
    at any cell: each relative row and column moved by the cell's offset from the first cell
    (what filling a formula down or across does)."""

    def __init__(self, text: str, row: int, column: int):
        self.row, self.column = row, column
        self.pieces: list = []
        position = 0
        for match in _PIECE.finditer(text):
            if match.group(2) is None and match.group(6) is None and match.group(10) is None:
                continue  # a string or a sheet name: literal text
            self.pieces.append(text[position:match.start()])
            if match.group(2) is not None:
                self.pieces.append(("cell", match.group(1), _column_number(match.group(2)),
                                    match.group(3), int(match.group(4))))
            elif match.group(6) is not None:
                self.pieces.append(("columns", match.group(5), _column_number(match.group(6)),
                                    match.group(7), _column_number(match.group(8))))
            else:
                self.pieces.append(("rows", match.group(9), int(match.group(10)),
                                    match.group(11), int(match.group(12))))
            position = match.end()
        self.pieces.append(text[position:])

    def at(self, row: int, column: int) -> str:
        down, across = row - self.row, column - self.column
        out = []
        for piece in self.pieces:
            if isinstance(piece, str):
                out.append(piece)
                continue
            kind, first_fixed, first, second_fixed, second = piece
            if kind == "cell":
                col = first if first_fixed else first + across
                r = second if second_fixed else second + down
                out.append("#REF!" if col < 1 or r < 1 else f"{first_fixed}{_column_letters(col)}{second_fixed}{r}")
            elif kind == "columns":
                a = first if first_fixed else first + across
                b = second if second_fixed else second + across
                out.append("#REF!" if min(a, b) < 1 else
                           f"{first_fixed}{_column_letters(a)}:{second_fixed}{_column_letters(b)}")
            else:
                a = first if first_fixed else first + down
                b = second if second_fixed else second + down
                out.append("#REF!" if min(a, b) < 1 else f"{first_fixed}{a}:{second_fixed}{b}")
        return "".join(out)


# --- openpyxl-like views -----------------------------------------------------------------------

class CellView:
    """What audit asks of an openpyxl cell: its value, row, column and coordinate."""

    __slots__ = ("value", "row", "column")

    def __init__(self, value, row: int, column: int):
        self.value, self.row, self.column = value, row, column

    @property
    def coordinate(self) -> str:
        return f"{_column_letters(self.column)}{self.row}"


class SheetView:
    def __init__(self, sheet: SheetData, formulas: bool):
        self._sheet, self._formulas = sheet, formulas
        self.title, self.sheet_state = sheet.title, sheet.sheet_state
        self.max_row, self.max_column = sheet.max_row, sheet.max_column
        self.defined_names = sheet.defined_names

    def value(self, row: int, column: int):
        if self._formulas:
            formula = self._sheet.formulas.get(row)
            if formula is not None and column in formula:
                return formula[column]
        values = self._sheet.values.get(row)
        return None if values is None else values.get(column)

    def cell(self, row: int, column: int) -> CellView:
        return CellView(self.value(row, column), row, column)

    def __getitem__(self, coordinate: str) -> CellView:
        match = _COORDINATE.fullmatch(coordinate)
        if match is None:
            raise KeyError(coordinate)
        return self.cell(int(match[2]), _column_number(match[1]))

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
