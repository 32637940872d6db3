"""Pictures of the sheets as a spreadsheet program draws them: LibreOffice prints the workbook to
PDF (conditional number formats, charts and all, as on screen) and poppler's pdftoppm turns each
page into a PNG. Both are optional tools; ``available`` says whether this machine has them."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from sheetprop.errors import UserError
from sheetprop.libreoffice import _convert, find_soffice

PDF = "pdf:calc_pdf_Export"
RESOLUTION_DPI = 110


def missing_tools() -> list[str]:
    """What is missing to draw the sheets, as install hints; empty when both are there."""
    missing = []
    if find_soffice() is None:
        missing.append("LibreOffice (soffice)")
    if shutil.which("pdftoppm") is None:
        missing.append("pdftoppm (poppler-utils)")
    return missing


def print_to_pdf(workbook: Path, out_dir: Path, timeout: float = 300) -> Path:
    """The workbook as LibreOffice prints it (each sheet's print settings), into ``out_dir``."""
    return print_all_to_pdf([workbook], out_dir, timeout)[0]


def print_all_to_pdf(workbooks, out_dir: Path, timeout: float = 600) -> list[Path]:
    """``print_to_pdf`` for several workbooks in one LibreOffice run (it starts once)."""
    _convert(list(workbooks), out_dir, PDF, timeout, recalculated=False)
    return [Path(out_dir).resolve() / (Path(w).stem + ".pdf") for w in workbooks]


def pdf_pages_to_png(pdf: Path, names: list[Path], timeout: float = 120) -> list[Path]:
    """Page k of ``pdf`` as the PNG ``names[k]``; a page more or less than names is an error."""
    with tempfile.TemporaryDirectory(prefix="sheetprop-pages-") as scratch:
        try:
            subprocess.run(["pdftoppm", "-png", "-r", str(RESOLUTION_DPI), str(pdf), f"{scratch}/page"],
                           check=True, capture_output=True, timeout=timeout)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            raise UserError(f"pdftoppm could not draw {Path(pdf).name}: {exc}") from None
        pages = sorted(Path(scratch).glob("page-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
        if len(pages) != len(names):
            raise UserError(f"{Path(pdf).name} has {len(pages)} pages, expected one per sheet ({len(names)})")
        for page, name in zip(pages, names):
            Path(name).parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(page), str(name))
    return list(names)


def printed_text(pdf: Path, timeout: float = 120) -> str:
    """The text of every page of ``pdf`` as it is laid out (pdftotext -layout)."""
    if shutil.which("pdftotext") is None:
        raise UserError("pdftotext (poppler-utils) is not installed")
    done = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True,
                          text=True, timeout=timeout)
    return done.stdout
