"""Open a workbook handed to ``check``, whatever it really is, within documented limits.

Real files arrive misnamed (an .xlsx called .csv, no extension at all), in other formats (.ods,
.csv, an old or password-protected .xls) or hostile (a zip bomb, XML entities, a megabyte-long
comment). Each is read or refused here with one line that says why, before it can take minutes or
gigabytes: sizes are checked in the zip directory before anything is inflated, and the XML is
parsed by openpyxl with defusedxml, which refuses entities and external references.
"""

from __future__ import annotations

import io
import re
import tempfile
import warnings
import zipfile
from pathlib import Path

from sheetprop.check.read.xlsx_reader import NotStreamable, read_xlsx
from sheetprop.errors import UserError
from sheetprop.files import read_limited
from sheetprop.limits import MAX_SHEET_PART_BYTES, MAX_WORKBOOK_BYTES

MAX_FILE_BYTES = 50 * 2**20         # the workbook file itself
MAX_PART_BYTES = MAX_SHEET_PART_BYTES  # one part (a sheet) inflated: ~6,000 rows of the 2-2-2 table
MAX_TOTAL_BYTES = MAX_WORKBOOK_BYTES  # all parts inflated
MAX_RATIO = 100                     # inflated / compressed, for parts over 1 MB
MAX_PARTS = 10_000
_OLE = bytes.fromhex("D0CF11E0A1B11AE1")  # encrypted .xlsx and old .xls files are OLE containers
# Rights management (DRM): Microsoft's IRM names its transform in the OLE container (UTF-16);
# other vendors wrap the file in a header of their own that says DRM in plain ASCII.
_IRM = "DRMEncrypted".encode("utf-16-le")
_DRM_HEADER = re.compile(rb"DRM|Fasoo|SoftCamp|MarkAny|DocumentSafer", re.IGNORECASE)
_ODS = b"application/vnd.oasis.opendocument.spreadsheet"


def open_workbook(path: Path):
    """(formulas, values): the workbook as formulas and as cached values, two openpyxl-like views
    of one streaming read (``xlsx_reader``), or openpyxl's two loads where that reader cannot."""
    data = _read_limited(path)
    if _rights_protected(data):
        raise UserError(f"{path.name} is rights-protected (DRM): it is encrypted for its owner's account or "
                        "company, so no program without their key can read it; save an unprotected copy "
                        "as .xlsx and check that")
    if data.startswith(_OLE):
        raise UserError(f"{path.name} is password-protected (an encrypted workbook) or an old .xls file; "
                        "save it as an unencrypted .xlsx and check that")
    if not data.startswith(b"PK"):
        raise UserError(_not_a_workbook(path, data))
    archive = _checked_zip(path, data)
    if archive.namelist()[:1] == ["mimetype"] and archive.read("mimetype").startswith(_ODS):
        data = _converted_from_ods(path)
        archive = _checked_zip(path, data)
    elif "xl/workbook.xml" not in archive.namelist():
        raise UserError(f"{path.name} is a zip archive but not an Excel workbook (no xl/workbook.xml)")
    try:
        return read_xlsx(archive)  # one streaming pass (xlsx_reader); openpyxl twice where it cannot
    except NotStreamable:
        pass
    try:
        formulas = _load(path, data, data_only=False)
    except UserError as first:
        # Gnumeric writes cell notes without authors, which openpyxl cannot index; Hancom Office
        # wraps styles in markup-compatibility blocks openpyxl skips, so cells point past the
        # styles it kept. Check reads neither notes nor styles: repair both and try again.
        try:
            data = _with_fallback_content(_with_note_authors(data))
        except Exception:  # noqa: BLE001 - a damaged part: the first reason stands
            raise first from None
        formulas = _load(path, data, data_only=False)
    return formulas, _load(path, data, data_only=True)


def _read_limited(path: Path) -> bytes:
    return read_limited(path, "workbook", MAX_FILE_BYTES, f"check reads workbooks up to {MAX_FILE_BYTES // 2**20} MB")


def _not_a_workbook(path: Path, data: bytes) -> str:
    head = data[:4096]
    if not head.strip():
        return f"{path.name} is empty"
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError:
        return f"{path.name} is not an .xlsx workbook (nor any format check knows)"
    if any(sep in text for sep in ",;\t") and "\n" in text:
        return (f"{path.name} is a CSV (text) file: it holds values only, no formulas, so check cannot see "
                "the chain rule; save the workbook as .xlsx and check that")
    return f"{path.name} is a text file, not an .xlsx workbook"


def _checked_zip(path: Path, data: bytes) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        parts = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
        raise UserError(f"{path.name} is damaged: not a readable zip archive ({exc})") from None
    if len(parts) > MAX_PARTS:
        raise UserError(f"{path.name} has {len(parts):,} parts; a workbook check reads has at most {MAX_PARTS:,}")
    total = 0
    for part in parts:
        total += part.file_size
        ratio = part.file_size / max(part.compress_size, 1)
        if part.file_size > MAX_PART_BYTES or (part.file_size > 2**20 and ratio > MAX_RATIO):
            raise UserError(f"{path.name}: part {part.filename} inflates to {part.file_size / 2**20:.0f} MB "
                            f"({ratio:.0f}x its packed size); check reads parts up to "
                            f"{MAX_PART_BYTES // 2**20} MB, compressed at most {MAX_RATIO}x")
        if part.flag_bits & 0x1:
            raise UserError(f"{path.name} is encrypted; save it unencrypted and check that")
    if total > MAX_TOTAL_BYTES:
        raise UserError(f"{path.name} inflates to {total / 2**20:.0f} MB; check reads up to "
                        f"{MAX_TOTAL_BYTES // 2**20} MB")
    return archive


def _converted_from_ods(path: Path) -> bytes:
    from sheetprop.libreoffice import MAX_ODS_CONVERSION_BYTES, find_soffice, recalculate

    if find_soffice() is None:
        raise UserError(f"{path.name} is an OpenDocument spreadsheet (.ods); save it as .xlsx, or install "
                        "LibreOffice so check can convert it")
    with tempfile.TemporaryDirectory(prefix="sheetprop-ods-") as folder:
        source = Path(folder, "in", "workbook.ods")
        source.parent.mkdir()
        source.write_bytes(path.read_bytes())
        return recalculate(source, Path(folder, "out"), memory_bytes=MAX_ODS_CONVERSION_BYTES).read_bytes()


def _with_note_authors(data: bytes) -> bytes:
    source, result = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(result, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            part = source.read(item.filename)
            if re.fullmatch(r"xl/comments\d*\.xml", item.filename):
                part = re.sub(rb'authorId="\d+"', b'authorId="0"', part)
                part = re.sub(rb"<authors\s*/>|<authors>\s*</authors>", b"<authors><author>-</author></authors>", part)
            target.writestr(item, part)
    return result.getvalue()


def _rights_protected(data: bytes) -> bool:
    if data.startswith(_OLE):
        return _IRM in data
    head = data[:1024]
    binary = b"\x00" in head  # a wrapper's header, not a CSV or text file that mentions DRM
    return not data.startswith(b"PK") and binary and bool(_DRM_HEADER.search(head))


# <mc:AlternateContent><mc:Choice Requires="hs">…</mc:Choice><mc:Fallback>…</mc:Fallback></mc:AlternateContent>
_ALTERNATE = re.compile(rb"<(\w+):AlternateContent\b[^>]*>(?:(?!</\1:AlternateContent>).)*?"
                        rb"<\1:Fallback>(.*?)</\1:Fallback>\s*</\1:AlternateContent>", re.DOTALL)


def _with_fallback_content(data: bytes) -> bytes:
    """Each markup-compatibility block replaced by its fallback, the content every reader knows."""
    source, result = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(result, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            part = source.read(item.filename)
            if item.filename.startswith("xl/") and item.filename.endswith(".xml") and b"AlternateContent" in part:
                part = _ALTERNATE.sub(rb"\2", part)
            target.writestr(item, part)
    return result.getvalue()


def _load(path: Path, data: bytes, data_only: bool):
    # openpyxl takes a tenth of a second and ~20 MiB to import: only a file the streaming reader
    # cannot read pays for it (not `build`, nor a workbook `build` wrote). From
    # bytes, not the path: openpyxl refuses names without .xlsx/.xlsm even when the content is one.
    from openpyxl import load_workbook

    try:
        with warnings.catch_warnings():  # openpyxl's warnings about styles it fills in are not ours to print
            warnings.simplefilter("ignore")
            return load_workbook(io.BytesIO(data), data_only=data_only, read_only=False)
    except MemoryError:
        raise UserError(f"{path.name} is too large to read in this machine's memory") from None
    except Exception as exc:  # noqa: BLE001 - a damaged part raises anything from KeyError to XML errors
        detail = str(exc).splitlines()[0] if str(exc) else "invalid file"
        raise UserError(f"cannot read {path.name} as an .xlsx workbook ({type(exc).__name__}: {detail[:200]})"
                        ) from None
