"""The student's own workbook handed back marked up: every wrong cell coloured, with what is wrong,
the expected value and the hint in a cell note. Everything else stays as the student saved it.

openpyxl would drop charts and images on saving, so the parts are edited in place instead: one
fill and a coloured copy of each cell style used go into styles.xml, each wrong cell points at its
copy, and each sheet gets a comments part and its VML drawing (the two parts a note needs). All
other parts of the file are copied byte for byte.
"""

from __future__ import annotations

import html
import posixpath
import re
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from xlsxwriter.utility import xl_cell_to_rowcol

from sheetprop.check.report.findings import Finding
from sheetprop.errors import UserError
from sheetprop.record import RECORD_SHEET

WRONG_FILL = "FFFFC7CE"  # the light red of Excel's own "bad" cell style
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_COMMENTS_TYPE = _REL + "/comments"
_VML_TYPE = _REL + "/vmlDrawing"
_ATTR = re.compile(r'([\w:.-]+)\s*=\s*"([^"]*)"')


def annotate_workbook(source: Path, findings: list[Finding], target: Path) -> None:
    """Write ``source`` with ``findings`` marked to ``target`` (an .xlsx or .xlsm)."""
    try:
        archive = zipfile.ZipFile(source)
        names = archive.namelist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise UserError(f"cannot annotate {source.name}: not an .xlsx workbook ({exc})") from None
    if "xl/workbook.xml" not in names or "xl/styles.xml" not in names:
        raise UserError(f"cannot annotate {source.name}: not an .xlsx workbook")
    with archive:
        parts = {name: archive.read(name).decode("utf-8") for name in names
                 if name.endswith((".xml", ".rels", ".vml"))}
        by_sheet: dict[str, list[Finding]] = {}
        for finding in findings:
            if finding.sheet == RECORD_SHEET:
                continue  # a record that differs from the key: nothing a student sees
            by_sheet.setdefault(finding.sheet, []).append(finding)
        styles = _Styles(parts["xl/styles.xml"])
        for number, (sheet, part) in enumerate(_sheet_parts(parts).items(), start=1):
            marked = by_sheet.get(sheet)
            if not marked or part not in parts:
                continue
            parts[part] = _restyle(parts[part], {f.cell for f in marked}, styles)
            _add_notes(parts, part, number, {f.cell: _note(f) for f in marked})
        parts["xl/styles.xml"] = styles.xml()
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
            for info in archive.infolist():
                if info.filename in parts:
                    out.writestr(info, parts.pop(info.filename).encode("utf-8"))
                else:
                    out.writestr(info, archive.read(info))
            for name, text in parts.items():  # the new comments and drawings
                if name not in names:
                    out.writestr(name, text.encode("utf-8"))


def _note(finding: Finding) -> str:
    lines = [f"{finding.label}: {finding.kind}, {finding.message}"]
    if isinstance(finding.expected, float) and finding.expected == finding.expected:
        lines.append(f"expected {finding.expected:.15g}")
    if finding.error_from:
        lines.append(f"the error value comes from {finding.error_from}")
    if finding.hint:
        lines.append(f"hint: {finding.hint}")
    if finding.chain_rule:
        lines.append(f"should be {finding.chain_rule}")
    return "\n".join(lines)


def _sheet_parts(parts: dict[str, str]) -> dict[str, str]:
    """Sheet name -> its part's path in the zip."""
    rels = {}
    for element in re.findall(r"<(?:\w+:)?Relationship\b[^>]*>", parts.get("xl/_rels/workbook.xml.rels", "")):
        attributes = dict(_ATTR.findall(element))
        target = attributes.get("Target", "")
        rels[attributes.get("Id")] = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
            posixpath.join("xl", target))
    sheets = {}
    for element in re.findall(r"<(?:\w+:)?sheet\b[^>]*>", parts["xl/workbook.xml"]):
        attributes = dict(_ATTR.findall(element))
        rid = next((v for k, v in attributes.items() if k.endswith(":id")), None)
        if "name" in attributes and rid in rels:
            sheets[html.unescape(attributes["name"])] = rels[rid]
    return sheets


class _Styles:
    """styles.xml with one solid fill added, and a coloured copy of each cell format asked for."""

    def __init__(self, xml: str):
        self.text = xml
        fills = re.search(r"<((?:\w+:)?)fills\b[^>]*>(.*?)</(?:\w+:)?fills>", xml, re.S)
        xfs = re.search(r"<((?:\w+:)?)cellXfs\b[^>]*>(.*?)</(?:\w+:)?cellXfs>", xml, re.S)
        if fills is None or xfs is None:
            raise UserError("cannot annotate: the workbook's styles part has no fills or cell formats")
        self.prefix = fills.group(1)
        self.fill_id = len(re.findall(rf"<{re.escape(self.prefix)}fill\b", fills.group(2)))
        self.xfs = re.findall(rf"<{re.escape(xfs.group(1))}xf\b[^>]*?/>|<{re.escape(xfs.group(1))}xf\b[^>]*>.*?"
                              rf"</{re.escape(xfs.group(1))}xf>", xfs.group(2), re.S)
        self.original = len(self.xfs)
        self.copies: dict[int, int] = {}

    def coloured(self, style: int) -> int:
        if style not in self.copies:
            base = self.xfs[style] if 0 <= style < self.original else self.xfs[0]
            head = re.match(r"(<(?:\w+:)?xf\b)([^>]*?)(/?>)", base)
            attributes = re.sub(r'\s(?:fillId|applyFill)="[^"]*"', "", head.group(2))
            self.copies[style] = self.original + len(self.copies)
            self.xfs.append(f'{head.group(1)}{attributes} fillId="{self.fill_id}" applyFill="1"{head.group(3)}'
                            + base[head.end():])
        return self.copies[style]

    def xml(self) -> str:
        p = self.prefix
        fill = (f'<{p}fill><{p}patternFill patternType="solid"><{p}fgColor rgb="{WRONG_FILL}"/>'
                f'<{p}bgColor indexed="64"/></{p}patternFill></{p}fill>')
        text = re.sub(r"(<(?:\w+:)?fills\b[^>]*>)(.*?)(</(?:\w+:)?fills>)",
                      lambda m: _count(m.group(1), self.fill_id + 1) + m.group(2) + fill + m.group(3),
                      self.text, count=1, flags=re.S)
        added = "".join(self.xfs[self.original:])
        return re.sub(r"(<(?:\w+:)?cellXfs\b[^>]*>)(.*?)(</(?:\w+:)?cellXfs>)",
                      lambda m: _count(m.group(1), len(self.xfs)) + m.group(2) + added + m.group(3),
                      text, count=1, flags=re.S)


def _count(tag: str, count: int) -> str:
    return re.sub(r'count="\d+"', f'count="{count}"', tag) if "count=" in tag else tag[:-1] + f' count="{count}">'


_ROWS = re.compile(r"<(?:\w+:)?row\b[^>]*?/>|<(?:\w+:)?row\b[^>]*>.*?</(?:\w+:)?row>", re.S)
_CELLS = re.compile(r"<(?:\w+:)?c\b[^>]*?/>|<(?:\w+:)?c\b[^>]*>.*?</(?:\w+:)?c>", re.S)
_TAG = re.compile(r"<((?:\w+:)?)(\w+)\b([^>]*?)(/?)>")
_R = re.compile(r'\sr="([A-Z]*)(\d*)"')


def _restyle(xml: str, refs: set[str], styles: _Styles) -> str:
    """The sheet with each cell of ``refs`` pointing at a coloured copy of its format (the cell
    created where absent), in one pass over its rows. Rows and cells that leave their number
    implied (no ``r``: the one after the last) are given it, so that a row or cell put in
    between does not move the ones after it."""
    wanted: dict[int, dict[int, str]] = {}
    for ref in refs:
        row, col = xl_cell_to_rowcol(ref)
        wanted.setdefault(row + 1, {})[col] = ref
    data = re.search(r"<((?:\w+:)?)sheetData\b[^>]*?(/?)>", xml)
    if data is None:
        return xml
    prefix = data.group(1)
    if data.group(2):  # <sheetData/>
        rows = "".join(_new_row(prefix, number, wanted[number], styles) for number in sorted(wanted))
        return xml[:data.start()] + f"<{prefix}sheetData>{rows}</{prefix}sheetData>" + xml[data.end():]
    end = xml.index(f"</{prefix}sheetData>", data.end())
    body, out, at, number = xml[data.end():end], [], 0, 0
    pending = sorted(wanted)
    for match in _ROWS.finditer(body):
        out.append(body[at:match.start()])
        at = match.end()
        row = match.group(0)
        head = _TAG.match(row)
        given = _R.search(head.group(3))
        number = int(given.group(2)) if given and given.group(2) else number + 1
        while pending and pending[0] < number:
            out.append(_new_row(prefix, pending[0], wanted[pending.pop(0)], styles))
        if pending and pending[0] == number:
            pending.pop(0)
            row = _restyle_row(row, head, number, wanted[number], styles)
        elif given is None:
            row = f"<{head.group(1)}row r=\"{number}\"{head.group(3)}{head.group(4)}>" + row[head.end():]
        out.append(row)
    out.append(body[at:])
    out.extend(_new_row(prefix, n, wanted[n], styles) for n in pending)
    return xml[:data.end()] + "".join(out) + xml[end:]


def _restyle_row(row: str, head, number: int, marks: dict[int, str], styles: _Styles) -> str:
    """One row with its marked cells coloured (or added, in column order), every cell numbered."""
    p, attributes, closed = head.group(1), head.group(3), head.group(4)
    if not _R.search(attributes):
        attributes = f' r="{number}"{attributes}'
    body = "" if closed else row[head.end():row.rindex("</")]
    out, at, col = [], 0, -1
    marks = dict(marks)
    for match in _CELLS.finditer(body):
        out.append(body[at:match.start()])
        at = match.end()
        cell = match.group(0)
        tag = _TAG.match(cell)
        given = _R.search(tag.group(3))
        col = xl_cell_to_rowcol(given.group(1) + "1")[1] if given and given.group(1) else col + 1
        for missing in sorted(c for c in marks if c < col):
            out.append(_new_cell(p, marks.pop(missing), styles))
        cell_attributes = tag.group(3) if given else f' r="{_ref(number, col)}"{tag.group(3)}'
        if col in marks:
            marks.pop(col)
            style = re.search(r'\ss="(\d+)"', cell_attributes)
            new = styles.coloured(int(style.group(1)) if style else 0)
            cell_attributes = (re.sub(r'\ss="\d+"', f' s="{new}"', cell_attributes) if style
                               else f'{cell_attributes} s="{new}"')
        out.append(f"<{tag.group(1)}c{cell_attributes}{tag.group(4)}>" + cell[tag.end():])
    out.append(body[at:])
    out.extend(_new_cell(p, marks[c], styles) for c in sorted(marks))
    return f"<{p}row{attributes}>" + "".join(out) + f"</{p}row>"


def _ref(row: int, col: int) -> str:
    from xlsxwriter.utility import xl_rowcol_to_cell

    return xl_rowcol_to_cell(row - 1, col)


def _new_cell(prefix: str, ref: str, styles: _Styles) -> str:
    return f'<{prefix}c r="{ref}" s="{styles.coloured(0)}"/>'


def _new_row(prefix: str, number: int, marks: dict[int, str], styles: _Styles) -> str:
    return f'<{prefix}row r="{number}">' + "".join(_new_cell(prefix, marks[c], styles) for c in sorted(marks)) + \
        f"</{prefix}row>"


def _rels_path(part: str) -> str:
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", name + ".rels")


def _add_notes(parts: dict[str, str], part: str, number: int, notes: dict[str, str]) -> None:
    """Cell notes on the sheet ``part``: in its comments part, a new one unless it has one already."""
    rels_path = _rels_path(part)
    rels = parts.get(rels_path, '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                                '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                                '</Relationships>')
    targets = {}
    for element in re.findall(r"<(?:\w+:)?Relationship\b[^>]*>", rels):
        attributes = dict(_ATTR.findall(element))
        target = attributes.get("Target", "")
        resolved = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
            posixpath.join(posixpath.dirname(part), target))
        targets[attributes.get("Type")] = resolved
    comments_part, vml_part = targets.get(_COMMENTS_TYPE), targets.get(_VML_TYPE)
    if comments_part in parts and vml_part in parts:
        _append_notes(parts, comments_part, vml_part, notes)
        return
    if comments_part or vml_part:
        return  # a drawing of form controls but no comments part, or the reverse: left as it is
    comments_part, vml_part = f"xl/comments_sheetprop{number}.xml", f"xl/drawings/vmlDrawing_sheetprop{number}.vml"
    parts[comments_part] = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<comments xmlns="{_MAIN}">'
                            f"<authors><author>sheetprop check</author></authors><commentList>"
                            + "".join(_comment(ref, text, 0) for ref, text in notes.items())
                            + "</commentList></comments>")
    parts[vml_part] = (f'<xml xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" '
                       f'xmlns:x="urn:schemas-microsoft-com:office:excel"><o:shapelayout v:ext="edit">'
                       f'<o:idmap v:ext="edit" data="{number + 100}"/></o:shapelayout>'
                       f'<v:shapetype id="_x0000_t202" coordsize="21600,21600" o:spt="202" '
                       f'path="m,l,21600r21600,l21600,xe"><v:stroke joinstyle="miter"/>'
                       f'<v:path gradientshapeok="t" o:connecttype="rect"/></v:shapetype>'
                       + "".join(_shape(ref, 1024 * (number + 100) + k + 1) for k, ref in enumerate(notes))
                       + "</xml>")
    rel_ids = {int(m) for m in re.findall(r'Id="rId(\d+)"', rels)}
    comments_id, vml_id = f"rId{max(rel_ids, default=0) + 1}", f"rId{max(rel_ids, default=0) + 2}"
    folder = posixpath.dirname(part)
    new_rels = (f'<Relationship Id="{comments_id}" Type="{_COMMENTS_TYPE}" '
                f'Target="{posixpath.relpath(comments_part, folder)}"/>'
                f'<Relationship Id="{vml_id}" Type="{_VML_TYPE}" Target="{posixpath.relpath(vml_part, folder)}"/>')
    parts[rels_path] = re.sub(r"(</(?:\w+:)?Relationships>)", lambda m: new_rels + m.group(1), rels, count=1)
    xml = parts[part]
    prefix = (re.search(r"<(\w+:)?worksheet\b", xml) or re.search(r"()", "")).group(1) or ""
    legacy = f'<{prefix}legacyDrawing xmlns:r="{_REL}" r:id="{vml_id}"/>'
    later = re.search(rf"<{re.escape(prefix)}(?:legacyDrawingHF|drawingHF|picture|oleObjects|controls|"
                      rf"webPublishItems|tableParts|extLst)\b", xml)
    at = later.start() if later else xml.rindex(f"</{prefix}worksheet>")
    parts[part] = xml[:at] + legacy + xml[at:]
    types = parts["[Content_Types].xml"]
    if not re.search(r'Extension="vml"', types, re.I):
        types = types.replace("</Types>", '<Default Extension="vml" '
                              'ContentType="application/vnd.openxmlformats-officedocument.vmlDrawing"/></Types>')
    types = types.replace("</Types>", f'<Override PartName="/{comments_part}" ContentType='
                          '"application/vnd.openxmlformats-officedocument.spreadsheetml.comments+xml"/></Types>')
    parts["[Content_Types].xml"] = types


def _append_notes(parts: dict[str, str], comments_part: str, vml_part: str, notes: dict[str, str]) -> None:
    """Notes added to a sheet that has some already; a cell with a note of the student's keeps it."""
    comments = parts[comments_part]
    taken = set(re.findall(r'<(?:\w+:)?comment\b[^>]*\sref="([A-Z]+\d+)"', comments))
    notes = {ref: text for ref, text in notes.items() if ref not in taken}
    if not notes or "</commentList>" not in comments and not re.search(r"</\w+:commentList>", comments):
        return
    author = len(re.findall(r"<(?:\w+:)?author\b", comments))
    comments = re.sub(r"(</(?:\w+:)?authors>)", lambda m: "<author>sheetprop check</author>" + m.group(1),
                      comments, count=1)
    added = "".join(_comment(ref, text, author) for ref, text in notes.items())
    parts[comments_part] = re.sub(r"(</(?:\w+:)?commentList>)", lambda m: added + m.group(1), comments, count=1)
    shapes = "".join(_shape(ref, 60_000 + k) for k, ref in enumerate(notes))
    parts[vml_part] = parts[vml_part].replace("</xml>", shapes + "</xml>")


def _comment(ref: str, text: str, author: int) -> str:
    return (f'<comment ref="{ref}" authorId="{author}"><text><r><t xml:space="preserve">{escape(text)}</t></r>'
            f"</text></comment>")


def _shape(ref: str, shape_id: int) -> str:
    row, col = xl_cell_to_rowcol(ref)
    return (f'<v:shape id={quoteattr(f"_x0000_s{shape_id}")} type="#_x0000_t202" '
            f'style="position:absolute;margin-left:59.25pt;margin-top:1.5pt;width:240pt;height:110pt;z-index:1;'
            f'visibility:hidden" fillcolor="#ffffe1" o:insetmode="auto"><v:fill color2="#ffffe1"/>'
            f'<v:shadow on="t" color="black" obscured="t"/><v:path o:connecttype="none"/>'
            f'<v:textbox style="mso-direction-alt:auto"><div style="text-align:left"></div></v:textbox>'
            f'<x:ClientData ObjectType="Note"><x:MoveWithCells/><x:SizeWithCells/>'
            f"<x:Anchor>{col + 1}, 15, {row}, 10, {col + 5}, 15, {row + 7}, 4</x:Anchor>"
            f"<x:AutoFill>False</x:AutoFill><x:Row>{row}</x:Row><x:Column>{col}</x:Column></x:ClientData></v:shape>")
