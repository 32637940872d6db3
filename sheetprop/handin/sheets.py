"""A built (or a student's edited) workbook's numbers, as the hand-in shows them: each lr sheet's
band, header and rows, the summary's text and the network's record. Values a program saved
without computing (openpyxl saves none) or that no longer follow the formulas are computed
first, by check's own calculator, and by LibreOffice only where it cannot."""

from __future__ import annotations

import math
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from sheetprop import layout
from sheetprop.errors import UserError
from sheetprop.network import labels
from sheetprop.record import read_exercise_record


@dataclass
class StepSheet:
    name: str                 # lr=0.5
    learning_rate: float      # the value in A2, as the sheet holds it now
    bands: list[str]          # per column: forward pass, loss, backward pass, … ("" for column A)
    labels: list[str]         # the header row
    rows: list[list]          # one per step, from step 0

    @property
    def learning_rate_text(self) -> str:
        return self.name.removeprefix(layout.SHEET_PREFIX)

    def column(self, label: str) -> list[float]:
        k = self.labels.index(label)
        return [_number(row[k]) for row in self.rows]

    def first_row(self) -> dict[str, float]:
        return {label: _number(value) for label, value in zip(self.labels, self.rows[0]) if label}


@dataclass
class HandinBook:
    path: Path
    record: dict | None                 # {"template", "steps", "sheets"} from the _sheetprop sheet
    sheets: list[StepSheet]
    summary_lines: list[tuple[str, object]] = field(default_factory=list)  # column A's text, B beside it
    recalculated: str = ""              # "", "sheetprop" or "LibreOffice"
    stale_cells: int = 0                # formula cells whose saved value was missing or out of date


def _number(value) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan


def _open(path: Path):
    from sheetprop.check.read.xlsx_reader import read_xlsx

    try:
        with zipfile.ZipFile(path) as archive:
            return read_xlsx(archive)
    except (OSError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise UserError(f"cannot read {path.name} as an .xlsx workbook: {exc}") from None


def _step_sheet(sheet, name: str) -> StepSheet | None:
    header_row = next((r for r in range(1, min(sheet.max_row, 200) + 1)
                       if sheet.value(r, layout.STEP_COLUMN + 1) == layout.STEP_LABEL), None)
    if header_row is None:
        return None
    width = sheet.max_column
    header = [sheet.value(header_row, c) for c in range(1, width + 1)]
    while header and header[-1] is None:
        header.pop()
    names = [str(v) if v is not None else "" for v in header]
    bands, current = [], ""
    for c in range(1, len(names) + 1):
        band = sheet.value(header_row - 1, c)
        current = str(band) if isinstance(band, str) and band.strip() else (current if c > 1 else "")
        bands.append(current)
    rows = []
    for r in range(header_row + 1, sheet.max_row + 1):
        if sheet.value(r, 1) is None:
            break
        rows.append([sheet.value(r, c) for c in range(1, len(names) + 1)])
    eta = sheet.value(layout.LEARNING_RATE_CELL[0] + 1, layout.LEARNING_RATE_CELL[1] + 1)
    return StepSheet(name, _number(eta), bands, names, rows)


def _lr_names(book, record) -> list[str]:
    if record is not None:
        return [name for name in record["sheets"] if name in book]
    return [name for name in book.sheetnames if name.startswith(layout.SHEET_PREFIX)]


def _stale(formulas, saved, computed, names) -> int:
    """Formula cells of the lr sheets whose saved value is missing or differs from the computed."""
    count = 0
    for name in names:
        f, s, c = formulas[name], saved[name], computed[name]
        for row, column in ((r, col) for r in range(1, f.max_row + 1) for col in range(1, f.max_column + 1)):
            if f.formula(row, column) is None:
                continue
            old, new = s.value(row, column), c.value(row, column)
            if isinstance(new, float) and isinstance(old, (int, float)) and not isinstance(old, bool):
                if math.isclose(old, new, rel_tol=1e-9, abs_tol=1e-300) or (math.isnan(new) and math.isnan(old)):
                    continue
            elif old == new:
                continue
            count += 1
    return count


def read_handin_book(path: Path, calculate: bool = True) -> HandinBook:
    """``path``'s lr sheets and summary with values that follow its formulas (``calculate=False``:
    as saved, for a workbook sheetprop has just written with every value)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"--from {path}: no such file")
    formulas, saved = _open(path)
    record = read_exercise_record(saved)
    names = _lr_names(saved, record)
    if not names:
        raise UserError(f"{path.name} has no learning-rate sheet (named {layout.sheet_name('…')})")
    values, how, stale, unknown = saved, "", 0, set()
    if calculate:
        from sheetprop.check.read.calculate import calculate as calculate_book

        calculation = calculate_book(formulas, saved)
        values = calculation.values
        stale = _stale(formulas, saved, values, names)
        how = "sheetprop" if stale else ""
        # What a table shows (a chart's legend text, "η = "&A2, is no number the hand-in reads).
        unknown = {sheet for sheet, row, _ in calculation.unknown if sheet in names and row > layout.HEADER_ROW + 1}
    if unknown and stale:
        from sheetprop.libreoffice import find_soffice, recalculate

        if find_soffice() is None:
            raise UserError(f"{path.name} has formulas sheetprop cannot calculate (sheets {', '.join(sorted(unknown))}) "
                            "and no saved values; open and save it in Excel or LibreOffice, or install LibreOffice")
        with tempfile.TemporaryDirectory(prefix="sheetprop-handin-") as folder:
            _, values = _open(recalculate(path, Path(folder)))
        how = "LibreOffice"
    sheets = [s for s in (_step_sheet(values[name], name) for name in names) if s is not None]
    if not sheets or any(labels.LOSS not in s.labels for s in sheets):
        raise UserError(f"{path.name}: every learning-rate sheet needs a header row starting with "
                        f"{layout.STEP_LABEL!r} and a column {labels.LOSS!r}")
    summary = []
    if layout.SUMMARY_SHEET in values:
        sheet = values[layout.SUMMARY_SHEET]
        summary = [(sheet.value(r, 1), sheet.value(r, 2)) for r in range(1, sheet.max_row + 1)
                   if isinstance(sheet.value(r, 1), str) and sheet.value(r, 1).strip()]
    return HandinBook(path, record, sheets, summary, how, stale)
