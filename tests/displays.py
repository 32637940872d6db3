"""What three spreadsheet programs display for a workbook's numbers, cell by cell where they can
say: Gnumeric (ssconvert's "preserve" text export, formats applied, conditional ones too),
Excel 365 (formulon: the cell's own format, or the number format of the highest-priority
conditional rule that matches) and LibreOffice (its print to PDF, read back by pdftotext: its
CSV export writes a cell's own format and ignores conditional ones, its printing does not)."""

from __future__ import annotations

import csv
import shutil
import subprocess
from pathlib import Path

MINUS = "\u2212"


def gnumeric_text(workbook: Path, sheet: str, out_dir: Path) -> list[list[str]]:
    """Every cell of ``sheet`` as Gnumeric displays it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "sheet.csv"
    subprocess.run(["ssconvert", "-T", "Gnumeric_stf:stf_assistant", "-O",
                    f"sheet='{sheet}' format=preserve separator=,",
                    str(workbook), str(target)], check=True, capture_output=True, timeout=300)
    with open(target, newline="", encoding="utf-8") as handle:
        return [[cell.replace(MINUS, "-") for cell in row] for row in csv.reader(handle)]


def has_gnumeric() -> bool:
    return shutil.which("ssconvert") is not None


def excel_texts(workbook: Path, sheet_index: int, cells) -> dict[tuple[int, int], str]:
    """Excel 365's display text of each of ``cells`` ((row, col), 0-based), by formulon: the
    cell's own format, or the number format of the highest-priority conditional rule that
    matches. (formulon takes ~10-100 ms a cell for conditional formats: pass a sample.)"""
    import formulon

    book = _load(Path(workbook).read_bytes())
    texts = {}
    for row, col in cells:
        value = book.get_value(sheet_index, row, col)
        if value.kind != formulon.ValueKind.NUMBER:
            continue
        text = book.get_display_text(sheet_index, row, col)[0]
        [result] = book.evaluate_cf_range(sheet_index, row, col, row, col) or [None]
        for match in sorted(result.matches if result else [], key=lambda m: m.priority):
            dxf = book.get_dxf(match.dxf_id) if match.dxf_id_engaged else None
            if dxf is not None and dxf.num_fmt_code:
                text = book.format_value(value, dxf.num_fmt_code)[0]
                break
        texts[(row, col)] = text
    return texts


def _load(data: bytes):
    import formulon

    return formulon.Workbook.load(data)
