"""The cells of one worksheet part: each cell's saved value and formula, read in one pass.

Two readers, one result. The scanner reads the part's text in chunks of whole rows with regular
expressions, several times faster than building elements for half a million cells; it reads
only the shapes of XML that every writer seen uses for cells (``<c r="A1" ...>`` holding
``<f>``, ``<v>`` or ``<is>``, any namespace prefix), after expat has parsed the whole part once
without a handler in Python, so a part that is not well-formed XML is never scanned. Anything
else (a cell without its reference, a CDATA section, a comment, phonetic runs, a part not in
UTF-8) is read by the element reader, ElementTree streaming, which knows all of XML. The values
follow openpyxl's rules (see ``xlsx_reader``).
"""

from __future__ import annotations

import codecs
import html
import re
import zipfile
import zlib
from xml.etree.ElementTree import ParseError, XMLPullParser
from xml.parsers import expat

from sheetprop.spreadsheet.references import COLUMN_NUMBERS, SharedFormula, column_letters, column_number

__all__ = ["CellValues", "NotStreamable", "SheetCells", "column_letters", "column_number", "element_text",
           "elements", "read_cells"]

CHUNK_BYTES = 1 << 20
PIECE_CHARS = 1 << 16  # a chunk that is not ASCII is scanned in pieces of whole rows this long
_DOCTYPE = re.compile(rb"<!DOCTYPE|<!ENTITY", re.IGNORECASE)
_PREFIX = r"(?:[A-Za-z_][\w.-]*:)?"
# A cell's start tag, its reference first (as every writer seen puts it), then its other
# attributes; its content runs to the matching end tag, found with str.find.
_CELL = re.compile(r"<([A-Za-z_][\w.-]*:)?c\s+r=\"([A-Z]{1,3})(\d+)\"([^>]*)>")
_ANY_CELL = re.compile(rf"<{_PREFIX}c[\s/>]")
_ATTRIBUTE = re.compile(r"([\w:.-]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
_CHILD = re.compile(rf"<{_PREFIX}(f|v|is)\b([^>]*?)/>|<{_PREFIX}(f|v|is)\b([^>]*)>([^<]*(?:<(?!/{_PREFIX}(?:f|v|is)>)[^<]*)*)</")
_TEXT_RUN = re.compile(rf"<{_PREFIX}t(?:\s[^>]*)?(?:/>|>([^<]*)</)")
_ROW_END = re.compile(rf"</{_PREFIX}row>")
# What the scanner leaves to the element reader.
_UNSCANNABLE = re.compile(r"<!\[CDATA\[|<!--|<(?:[\w.-]+:)?rPh\b")


class NotStreamable(Exception):
    """The reader cannot read the file the way openpyxl would: let openpyxl load it."""


class CellValues:
    """Turns a cell's type, style and saved text into the value openpyxl would give."""

    def __init__(self, shared_strings: list[str], date_styles: set[int], duration_styles: set[int],
                 date1904: bool):
        self.strings, self.dates, self.durations, self.date1904 = (
            shared_strings, date_styles, duration_styles, date1904)

    def value(self, kind: str, style: str | None, text: str | None, inline: str | None):
        if kind == "inlineStr":
            return inline
        if not text:
            return None
        if kind == "n":
            # As openpyxl: an int unless the text has a point or an exponent.
            number = float(text) if ("." in text or "E" in text or "e" in text) else int(text)
            if style and self.dates and int(style) in self.dates:
                return self._date(number, int(style) in self.durations)
            return number
        if kind == "s":
            return self.strings[int(text)]
        if kind == "b":
            return bool(int(text))
        if kind == "d":
            from openpyxl.utils.datetime import from_ISO8601

            return from_ISO8601(text)
        return text  # str (a formula's text result), e (an error value such as #VALUE!)

    def _date(self, number, duration: bool):
        from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, from_excel

        try:
            return from_excel(number, CALENDAR_MAC_1904 if self.date1904 else CALENDAR_WINDOWS_1900,
                              timedelta=duration)
        except (OverflowError, ValueError):
            return "#VALUE!"  # as openpyxl: a serial outside the calendar is an error value


class SheetCells:
    """One worksheet's cells: row -> column -> saved value, and the same for formulas. Once read
    (``pack``), a row that is mostly filled is a list, column 1 first: 8 bytes a cell, not a
    dict's ~40 (a key of 18,000 rows has half a million cells)."""

    def __init__(self):
        self.values: dict[int, dict[int, object] | list] = {}
        self.formulas: dict[int, dict[int, str] | list] = {}
        self.max_row = self.max_column = 1
        self._shared: dict[str, SharedFormula] = {}

    def pack(self) -> "SheetCells":
        for rows in (self.values, self.formulas):
            for row, cells in rows.items():
                last = max(cells)
                if last <= 2 * len(cells) + 8:  # dense: a sparse row stays a dict (one cell in XFD)
                    rows[row] = list(map(cells.get, range(1, last + 1)))
        self._shared = {}
        return self

    def put(self, row: int, column: int, value, formula_type: str | None, formula_si: str | None,
            formula_text: str | None) -> None:
        """One cell; ``formula_text`` None where it has no <f>, else its text ("" for <f/>)."""
        row_values = self.values.get(row)
        if row_values is None:
            row_values = self.values[row] = {}
        row_values[column] = value
        if formula_text is not None:
            row_formulas = self.formulas.get(row)
            if row_formulas is None:
                row_formulas = self.formulas[row] = {}
            row_formulas[column] = self.formula_at(formula_type, formula_si, formula_text, row, column)
        if row > self.max_row:
            self.max_row = row
        if column > self.max_column:
            self.max_column = column

    def formula_at(self, kind, index, text: str, row: int, column: int) -> str:
        """As openpyxl gives it: "=" and the text; a shared formula's other cells get the first
        cell's formula moved to their own place."""
        text = "=" + text
        if kind == "shared":
            if index in self._shared:
                return self._shared[index].at(row, column)
            if text != "=":
                self._shared[index] = SharedFormula(text, row, column)
        return text


def read_cells(archive: zipfile.ZipFile, member: str, values: CellValues) -> SheetCells:
    try:
        return _scanned(archive, member, values)
    except _Unscannable:
        return _parsed(archive, member, values)
    except (KeyError, zipfile.BadZipFile, EOFError, ValueError, OSError, zlib.error) as exc:
        raise NotStreamable(f"{member}: {exc}") from None


class _Unscannable(Exception):
    pass


def _chunks(archive: zipfile.ZipFile, member: str):
    with archive.open(member) as stream:
        while chunk := stream.read(CHUNK_BYTES):
            yield chunk


class _WellFormed:
    """Expat over the part's bytes, chunk by chunk, with nothing in Python but a DTD's refusal:
    a part that is not well-formed XML (or declares a DTD) is NotStreamable, whatever was
    scanned of it."""

    def __init__(self, member: str):
        self.member = member
        self.parser = expat.ParserCreate()
        self.parser.StartDoctypeDeclHandler = self.parser.EntityDeclHandler = self._refuse

    def _refuse(self, *_):
        raise NotStreamable(f"{self.member} declares a DTD")

    def parse(self, chunk: bytes, final: bool = False) -> None:
        try:
            self.parser.Parse(chunk, final)
        except expat.ExpatError as exc:
            raise NotStreamable(f"{self.member}: {exc}") from None

    def finish(self, chunks) -> None:
        for chunk in chunks:
            self.parse(chunk)
        self.parse(b"", True)


def _scanned(archive: zipfile.ZipFile, member: str, values: CellValues) -> SheetCells:
    """The part's cells read by the scanner, in the same pass over its bytes as expat's check
    (the part is inflated once). A part the scanner cannot read is checked to its end all the
    same before the element reader reads it (``_Unscannable``), as is one not in UTF-8; any other
    failure is NotStreamable either way (``read_cells``)."""
    well_formed = _WellFormed(member)
    chunks = _chunks(archive, member)
    decoder = codecs.getincrementaldecoder("utf-8")()
    cells = SheetCells()
    rest = ""
    attributes: dict[str, tuple[str, str | None]] = {}  # " s="3" t="s"" -> (type, style), once each
    first = True
    for chunk in chunks:
        well_formed.parse(chunk)
        try:
            if first:
                first = False
                if chunk.startswith((b"\xff\xfe", b"\xfe\xff")) or re.match(
                        rb"<\?xml[^>]*encoding=[\"'](?!utf-?8)", chunk[:200], re.I):
                    raise _Unscannable  # not UTF-8: ElementTree decodes it
            text = rest + decoder.decode(chunk)
            end = _last_row_end(text)
            if end is None:
                rest = text
                continue
            rest = text[end:]
            _scan_rows(text, end, cells, values, attributes)
        except _Unscannable:
            well_formed.finish(chunks)
            raise
    well_formed.parse(b"", True)
    _scan(rest + decoder.decode(b"", final=True), cells, values, attributes)
    return cells.pack()


def _scan_rows(text: str, end: int, cells: SheetCells, values: CellValues, attributes: dict) -> None:
    """The whole rows of ``text[:end]``, a piece of rows at a time where the text is not ASCII:
    one "η" in a header makes a chunk two bytes a character, which the patterns read a third
    slower; a slice is as narrow as its own text allows, so only the header's piece stays wide."""
    if text.isascii() or end <= PIECE_CHARS:
        _scan(text[:end], cells, values, attributes)
        return
    start = 0
    while start < end:
        match = _ROW_END.search(text, start + PIECE_CHARS, end) if end - start > PIECE_CHARS else None
        cut = match.end() if match else end
        _scan(text[start:cut], cells, values, attributes)
        start = cut


def _last_row_end(text: str) -> int | None:
    at = len(text)
    while (at := text.rfind("row>", 0, at)) != -1:
        match = _ROW_END.match(text, text.rfind("<", 0, at + 1))
        if match and match.end() == at + 4:
            return match.end()
    return None


def _unescape(text: str) -> str:
    # As an XML parser hands text over: entities replaced, line ends made \n.
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return html.unescape(text) if "&" in text else text


def _type_and_style(attributes: dict, rest: str) -> tuple[str, str | None]:
    """A cell's t (its type, "n" where absent) and s (its style) from the text of its other
    attributes, kept in ``attributes`` under that text."""
    pairs = {name.rpartition(":")[2]: first if first is not None else second
             for name, first, second in _ATTRIBUTE.findall(rest)}
    found = attributes[rest] = (pairs.get("t", "n"), pairs.get("s"))
    return found


def _scan(text: str, cells: SheetCells, values: CellValues, attributes: dict) -> None:
    if _scan_plain(text, cells, values, attributes):
        return
    if _UNSCANNABLE.search(text):
        raise _Unscannable
    found = 0
    columns = COLUMN_NUMBERS
    put, value_of = cells.put, values.value
    for match in _CELL.finditer(text):
        prefix, letters, row, rest = match.groups()
        found += 1
        column = columns.get(letters) or column_number(letters)
        content = None
        if rest.endswith("/"):
            rest = rest[:-1]
        else:
            end = text.find(f"</{prefix}c>" if prefix else "</c>", match.end())
            if end < 0:
                raise _Unscannable
            content = text[match.end():end]
        known = attributes.get(rest)  # the same few attribute strings on every cell: parsed once each
        if known is None:
            known = _type_and_style(attributes, rest)
        kind, style = known
        value_text = inline = formula_text = formula_type = formula_si = None
        if not content:
            pass
        elif content.startswith("<v>") and content.count("<") == 2:  # most cells: one saved value
            value_text = _unescape(content[3:-4]) or None
        elif content.startswith("<f>") and content.count("<") == 4 and (split := content.find("</f><v>")) > 0:
            formula_text = _unescape(content[3:split])  # a formula and its saved value
            value_text = _unescape(content[split + 7:-4]) or None
        else:
            for empty_name, empty_attributes, name, child_attributes, child_text in _CHILD.findall(content):
                name, child_attributes = name or empty_name, child_attributes or empty_attributes
                if name == "v":
                    value_text = _unescape(child_text) if child_text else None
                elif name == "f":
                    formula_text = _unescape(child_text)
                    if child_attributes:
                        pairs = {key: first or second for key, first, second in _ATTRIBUTE.findall(child_attributes)}
                        formula_type, formula_si = pairs.get("t"), pairs.get("si")
                else:
                    inline = _unescape("".join(_TEXT_RUN.findall(child_text)))
        put(int(row), column, value_of(kind, style, value_text, inline), formula_type, formula_si, formula_text)
    if len(_ANY_CELL.findall(text)) != found:
        raise _Unscannable  # a cell in a shape the pattern does not read (no r, r not first)


# The shape nearly every cell has (xlsxwriter, Excel, LibreOffice): no prefix, the reference
# first, a plain or shared <f> and/or <v>, an inline string of one run, or nothing. A chunk whose
# every cell has it is read by one findall, without a match object, a method call or an attribute
# parse per cell.
# Anything else that is a cell, or that the scanner leaves to the element reader (_UNSCANNABLE),
# is the pattern's last group: one pass over the text finds both.
_PLAIN_CELL = re.compile(r'<c r="([A-Z]{1,3})(\d+)"([^>/]*)'  # attributes without > or / in them
                         r'(?:/>|>(<f([^>/]*)(?:/>|>([^<]*)</f>))?(?:<v>([^<]*)</v>)?'
                         r'(?:(<is>)<t(?:\s[^>]*)?(?:/>|>([^<]*)</t>)</is>)?</c>)'
                         rf'|(<!|<{_PREFIX}rPh\b|<{_PREFIX}c[\s/>])')


def _scan_plain(text: str, cells: SheetCells, values: CellValues, attributes: dict) -> bool:
    """Read the chunk's cells when every one has the plain shape (False, nothing read, else)."""
    found = _PLAIN_CELL.findall(text)
    if found and not min(found)[0]:  # a match without a column: the last group's
        return False  # a cell of another shape, or what only the element reader reads
    columns, strings, dates = COLUMN_NUMBERS, values.strings, values.dates
    value_of = values.value
    row_values = row_formulas = current = row = None
    max_column = cells.max_column
    formula_kinds: dict[str, tuple] = {}  # a formula's attributes (t="shared" si="0") -> (t, si)
    for letters, row_text, rest, has_formula, formula_attributes, formula_text, value_text, has_inline, inline, _ \
            in found:
        known = attributes.get(rest)  # the same few attribute strings on every cell: parsed once each
        if known is None:
            known = _type_and_style(attributes, rest)
        kind, style = known
        if "&" in value_text or "\r" in value_text:
            value_text = _unescape(value_text)
        if has_inline:
            value = value_of(kind, style, value_text or None, _unescape(inline))
        elif not value_text:
            value = None
        elif kind == "n" and not (style and dates and int(style) in dates):
            # CellValues.value's rule for numbers and shared strings, written out on this hot
            # path: as openpyxl, an int unless the text has a point or an exponent.
            value = (float(value_text) if ("." in value_text or "E" in value_text or "e" in value_text)
                     else int(value_text))
        elif kind == "s":
            value = strings[int(value_text)]
        else:
            value = value_of(kind, style, value_text, None)
        column = columns.get(letters) or column_number(letters)
        if row_text != current:  # cells come a row at a time: the row's dicts looked up once
            current, row = row_text, int(row_text)
            row_values = cells.values.get(row)
            if row_values is None:
                row_values = cells.values[row] = {}
            row_formulas = cells.formulas.get(row)
            if row > cells.max_row:
                cells.max_row = row
        row_values[column] = value
        if has_formula:
            if "&" in formula_text or "\r" in formula_text:
                formula_text = _unescape(formula_text)
            kind_and_index = formula_kinds.get(formula_attributes) if formula_attributes else None
            if formula_attributes and kind_and_index is None:
                pairs = {key: first or second for key, first, second in _ATTRIBUTE.findall(formula_attributes)}
                kind_and_index = formula_kinds[formula_attributes] = (pairs.get("t"), pairs.get("si"))
            if row_formulas is None:
                row_formulas = cells.formulas[row] = {}
            if kind_and_index is not None and kind_and_index[0] == "shared":
                row_formulas[column] = cells.formula_at(*kind_and_index, formula_text, row, column)
            else:  # as SheetCells.put writes a formula that is not shared: "=" and its text
                row_formulas[column] = "=" + formula_text
        if column > max_column:
            max_column = column
    cells.max_column = max_column
    return True


# --- the element reader --------------------------------------------------------------------------

def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def element_text(element) -> str:
    """A string item's text as openpyxl's ``Text.content`` has it: the plain <t>, then each run's
    <t>; phonetic runs (<rPh>) left out."""
    parts = []
    for child in element:
        name = _local(child.tag)
        if name == "t":
            parts.append(child.text or "")
        elif name == "r":
            parts.extend(grandchild.text or "" for grandchild in child if _local(grandchild.tag) == "t")
    return "".join(parts)


def elements(archive: zipfile.ZipFile, member: str, wanted: set[str]):
    """(local name, element) of every element named in ``wanted``, streamed, as each ends; the
    caller clears what it is done with. A part with a DTD is left to openpyxl, which reads it
    through defusedxml and so refuses entity declarations in the words check reports."""
    parser = XMLPullParser(events=("end",))
    prolog = True
    try:
        for chunk in _chunks(archive, member):
            if prolog:
                if _DOCTYPE.search(chunk):
                    raise NotStreamable(f"{member} declares a DTD")
                prolog = re.search(rb"<[A-Za-z_]", chunk) is None
            parser.feed(chunk)
            for _, element in parser.read_events():
                if (name := _local(element.tag)) in wanted:
                    yield name, element
        parser.close()
        for _, element in parser.read_events():
            if (name := _local(element.tag)) in wanted:
                yield name, element
    except (ParseError, KeyError, zipfile.BadZipFile, EOFError, ValueError, OSError, zlib.error) as exc:
        raise NotStreamable(f"{member}: {exc}") from None


def _parsed(archive: zipfile.ZipFile, member: str, values: CellValues) -> SheetCells:
    cells = SheetCells()
    row_number = 0
    for _, row in elements(archive, member, {"row"}):
        number = row.get("r")
        row_number = int(float(number)) if number else row_number + 1
        column = 0
        for cell in row:
            if _local(cell.tag) != "c":
                continue
            ref = cell.get("r")
            if ref:
                split = len(ref.rstrip("0123456789"))
                column, this_row = column_number(ref[:split]), int(ref[split:])
            else:
                column, this_row = column + 1, row_number
            value_text = inline = formula = None
            for child in cell:
                name = _local(child.tag)
                if name == "v":
                    value_text = child.text
                elif name == "f":
                    formula = child
                elif name == "is":
                    inline = element_text(child)
            value = values.value(cell.get("t", "n"), cell.get("s"), value_text, inline)
            if formula is None:
                cells.put(this_row, column, value, None, None, None)
            else:
                cells.put(this_row, column, value, formula.get("t"), formula.get("si"), formula.text or "")
        row.clear()
    return cells.pack()
