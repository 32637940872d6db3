"""Printed pages of a workbook as LibreOffice prints them (libreoffice.print_to_pdf), and their
text as poppler's pdftotext lays it out: what the display and printing tests read back."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from sheetprop.errors import UserError
from sheetprop.libreoffice import find_soffice
from sheetprop.libreoffice import print_to_pdf as _print_all


def missing_tools() -> list[str]:
    """What is missing to print the sheets to PDF, as install hints; empty when nothing is."""
    return [] if find_soffice() is not None else ["LibreOffice (soffice)"]


def print_to_pdf(workbook: Path, out_dir: Path, timeout: float = 300) -> Path:
    """The workbook as LibreOffice prints it (each sheet's print settings), into ``out_dir``."""
    return _print_all([workbook], out_dir, timeout)[0]


def print_all_to_pdf(workbooks, out_dir: Path, timeout: float = 600) -> list[Path]:
    """``print_to_pdf`` for several workbooks in one LibreOffice run (it starts once)."""
    return _print_all(list(workbooks), out_dir, timeout)


def printed_text(pdf: Path, timeout: float = 120) -> str:
    """The text of every page of ``pdf`` as it is laid out (pdftotext -layout)."""
    if shutil.which("pdftotext") is None:
        raise UserError("pdftotext (poppler-utils) is not installed")
    done = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True,
                          text=True, timeout=timeout)
    return done.stdout
