"""What a submission's file shows beside its grade, gathered where it is graded (in the pool's
worker, while the file is at hand): its sha256, the document's metadata (docProps/core.xml:
creator, lastModifiedBy, created), the hash of its styles (xl/styles.xml), the numbers typed near
the top of its first graded sheet (a variant's starting values sit there), and the student id its
``_sheetprop`` record names. Variants and similarity read it; nothing here judges a cell.
"""

from __future__ import annotations

import hashlib
import html
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree.ElementTree import iterparse

from sheetprop.check.classroom.grading import Outcome, grade

TOP_ROWS = 45             # the header and step 0 of a built sheet sit in its first rows
MAX_PART_BYTES = 8 * 2**20
_CORE_FIELDS = ("creator", "lastModifiedBy", "created")


@dataclass
class Evidence:
    sha256: str = ""
    metadata: dict[str, str] = field(default_factory=dict)  # of _CORE_FIELDS, those the file has
    styles: str = ""                                        # sha256 of xl/styles.xml
    numbers: frozenset = frozenset()                        # typed numbers of the first rows, rounded
    record_student: str | None = None                       # the id the file's _sheetprop record names


def grade_with_evidence(task) -> Outcome:
    """``grading.grade``, with the graded (or best) file's evidence as ``outcome.evidence``."""
    outcome = grade(task)
    submission, settings = task
    path = outcome.path or (submission.candidates[0] if submission.candidates else None)
    sheets = settings.key["sheets"] if settings.key else None
    outcome.evidence = gather(path, sheets) if path is not None else Evidence()
    return outcome


def gather(path: Path, sheets: list[str] | None = None) -> Evidence:
    evidence = Evidence()
    try:
        data = Path(path).read_bytes()
    except OSError:
        return evidence
    evidence.sha256 = hashlib.sha256(data).hexdigest()
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            evidence.metadata = _core(_part(archive, "docProps/core.xml"))
            styles = _part(archive, "xl/styles.xml")
            evidence.styles = hashlib.sha256(styles).hexdigest() if styles else ""
            members = _sheet_members(archive)
            first = next((members[s] for s in (sheets or []) if s in members), None)
            if first is None:
                first = next((m for name, m in members.items() if name.startswith("lr=")), None)
            evidence.numbers = frozenset(_typed_numbers(archive, first)) if first else frozenset()
            record = members.get("_sheetprop")
            evidence.record_student = _record_student(archive, record) if record else None
    except (zipfile.BadZipFile, OSError, ValueError, KeyError, NotImplementedError, EOFError):
        pass
    return evidence


def _part(archive: zipfile.ZipFile, name: str) -> bytes:
    try:
        info = archive.getinfo(name)
    except KeyError:
        return b""
    return archive.read(info) if info.file_size <= MAX_PART_BYTES else b""


def _core(xml: bytes) -> dict[str, str]:
    found = {}
    for name in _CORE_FIELDS:
        match = re.search(rb"<(?:\w+:)?" + name.encode() + rb"\b[^>]*>([^<]{1,300})</", xml)
        if match:
            found[name] = html.unescape(match.group(1).decode("utf-8", "replace")).strip()
    return {k: v for k, v in found.items() if v}


_SHEET = re.compile(rb'<(?:\w+:)?sheet\b[^>]*?\bname="([^"]*)"[^>]*?\br:id="([^"]*)"')
_RELATION = re.compile(rb'<Relationship\b[^>]*?\bId="([^"]*)"[^>]*?\bTarget="([^"]*)"')
_RELATION_REVERSED = re.compile(rb'<Relationship\b[^>]*?\bTarget="([^"]*)"[^>]*?\bId="([^"]*)"')


def _sheet_members(archive: zipfile.ZipFile) -> dict[str, str]:
    """{sheet name: its part}, read from the workbook's directory and relationships."""
    book, rels = _part(archive, "xl/workbook.xml"), _part(archive, "xl/_rels/workbook.xml.rels")
    targets = {i.decode(): t.decode() for i, t in _RELATION.findall(rels)}
    targets.update({i.decode(): t.decode() for t, i in _RELATION_REVERSED.findall(rels)})
    members = {}
    for name, rel in _SHEET.findall(book):
        target = targets.get(rel.decode())
        if target:
            target = target.lstrip("/")
            members[html.unescape(name.decode("utf-8", "replace"))] = target if target.startswith("xl/") else f"xl/{target}"
    return members


def _rows(archive: zipfile.ZipFile, member: str, last_row: int):
    """(row, cell element) of the sheet's first ``last_row`` rows, streamed: the rest is never read.
    A part that declares entities (a DTD) is not read at all."""
    if not _plain_xml(archive, member):
        return
    with archive.open(member) as stream:
        row = 0
        for _, element in iterparse(stream, events=("end",)):
            tag = element.tag.rpartition("}")[2]
            if tag == "c":
                match = re.match(r"[A-Z]+(\d+)", element.get("r", ""))
                row = int(match.group(1)) if match else row
                if row > last_row:
                    return
                yield row, element
            elif tag == "row":
                element.clear()


def _typed_numbers(archive: zipfile.ZipFile, member: str):
    """The numbers typed (not computed) in the sheet's first rows, to 9 digits."""
    for _, cell in _rows(archive, member, TOP_ROWS):
        if cell.get("t") not in (None, "n"):
            continue
        children = {child.tag.rpartition("}")[2]: child for child in cell}
        if "f" in children or "v" not in children:
            continue
        try:
            yield round(float(children["v"].text), 9)
        except (TypeError, ValueError):
            continue


def _record_student(archive: zipfile.ZipFile, member: str) -> str | None:
    strings = None
    cells = {}
    for row, cell in _rows(archive, member, 5):
        if row != 5:
            continue
        children = {child.tag.rpartition("}")[2]: child for child in cell}
        kind = cell.get("t")
        if kind == "inlineStr":
            text = "".join(cell.itertext())
        elif "v" in children and children["v"].text is not None:
            text = children["v"].text
            if kind == "s":
                strings = strings if strings is not None else _shared_strings(archive)
                index = int(text)
                text = strings[index] if 0 <= index < len(strings) else ""
        else:
            continue
        cells[re.sub(r"\d+", "", cell.get("r", ""))] = text
    return cells.get("B")[:100] if cells.get("A") == "student" and cells.get("B") else None


def _plain_xml(archive: zipfile.ZipFile, member: str) -> bool:
    with archive.open(member) as stream:
        head = stream.read(4096)
    return b"<!DOCTYPE" not in head and b"<!ENTITY" not in head


def _shared_strings(archive: zipfile.ZipFile) -> list[str]:
    found = []
    try:
        if archive.getinfo("xl/sharedStrings.xml").file_size > MAX_PART_BYTES:
            return found
        if not _plain_xml(archive, "xl/sharedStrings.xml"):
            return found
        with archive.open("xl/sharedStrings.xml") as stream:
            for _, element in iterparse(stream, events=("end",)):
                if element.tag.rpartition("}")[2] == "si":
                    found.append("".join(t.text or "" for t in element.iter() if t.tag.rpartition("}")[2] == "t"))
                    element.clear()
    except KeyError:
        pass
    return found
