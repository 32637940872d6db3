"""What `check` reports: a finding per cell, a mistake copied down a column as one group, and
the scores per column and sheet. Knows nothing of how a cell is judged."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from sheetprop.spreadsheet.formulas import relative_to_row
from sheetprop.spreadsheet.references import column_number


@dataclass(frozen=True)
class Finding:
    sheet: str
    cell: str
    label: str
    kind: str                   # wrong formula | wrong reference | wrong update | η drift | typed number | wrong value | not a number
    formula: str | None         # as written; None where the cell holds a typed value
    found: object               # the cached value (a number, or an error text such as #DIV/0!)
    expected: float | None      # what the chain rule gives from the cells this one reads
    relative_error: float | None
    message: str
    hint: str | None = None     # what the formula seems to do instead, when verified
    chain_rule: str | None = None  # the textbook expression for the cell
    reads: str | None = None    # what the formula computes, in the table's labels
    error_from: str | None = None  # for an error value (#VALUE!): the cell it comes from, and what is there


@dataclass
class Report:
    path: Path
    sheets: list[tuple[str, int]]          # (sheet, rows checked)
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    recalculated: bool = False
    scores: list[SheetScore] = field(default_factory=list)
    exercise: bool = False  # the workbook carries sheetprop's record of its network

    @property
    def score(self) -> Score:
        return Score(sum(s.right for s in self.scores), sum(s.cells for s in self.scores))

    @property
    def rows_checked(self) -> int:
        return sum(rows for _, rows in self.sheets)

    @property
    def groups(self) -> list[list[Finding]]:
        # Grouped once per list of findings, not each time it is asked (a class's CSV row, its
        # line and its summary each ask); kept with the report, so a pool's worker groups them
        # and the parent receives them grouped. A new list, or one grown, is grouped again.
        findings = self.findings
        kept = self.__dict__.get("_groups")
        if kept is None or kept[0] is not findings or kept[1] != len(findings):
            kept = self.__dict__["_groups"] = (findings, len(findings), group_findings(findings))
        return kept[2]

    def summary(self) -> str:
        n_sheets, n_findings, n_cells = len(self.sheets), len(self.groups), len(self.findings)
        cells = f" ({n_cells} cells)" if n_cells != n_findings else ""
        # A sheet of the exercise the workbook lacks is scored (0) but was never checked.
        checked = {sheet for sheet, _ in self.sheets}
        missing = [s.sheet for s in self.scores if s.sheet and s.sheet not in checked and s.right == 0]
        lacks = (f"; sheet{'s' * (len(missing) != 1)} {', '.join(map(repr, missing))} missing, "
                 f"{sum(s.cells for s in self.scores if s.sheet in missing)} cells not done") if missing else ""
        return (f"{n_sheets} sheet{'s' * (n_sheets != 1)}, {self.rows_checked} row"
                f"{'s' * (self.rows_checked != 1)} checked, {n_findings} finding{'s' * (n_findings != 1)}{cells}{lacks}")


@dataclass(frozen=True)
class Score:
    right: int
    cells: int

    @property
    def fraction(self) -> float:
        return self.right / self.cells if self.cells else 1.0


@dataclass(frozen=True)
class SheetScore(Score):
    sheet: str = ""
    columns: tuple[tuple[str, Score], ...] = ()  # in the sheet's column order


def score_table(table, table_check, findings: list[Finding]) -> SheetScore:
    """Per column, the cells the student works out (computed cells, each step's new weights) that
    are right: given a verdict and no finding. Cells of rows not started count, as not done."""
    wrong = {f.cell for f in findings} | table_check.drifted
    judged = table_check.judged.tally(wrong)  # label -> (cells judged, right), in the order first judged
    columns = []
    for label in sorted(set(judged) | set(table.unfinished_cells), key=lambda l: table.columns.get(l, 0)):
        cells, right = judged.get(label, (0, 0))
        columns.append((label, Score(right, cells + table.unfinished_cells.get(label, 0))))
    return SheetScore(sum(s.right for _, s in columns), sum(s.cells for _, s in columns),
                      table.sheet, tuple(columns))


_CELL = re.compile(r"([A-Z]{1,3})(\d+)")


def _shape(finding: Finding) -> tuple:
    """What makes two findings one mistake copied down a column: same sheet, column and kind, and
    the same formula once each relative row number is written as an offset from the cell's row."""
    column, row = _CELL.fullmatch(finding.cell).groups()
    formula = finding.formula
    if formula is not None:
        formula = relative_to_row(formula, int(row))
    return finding.sheet, column, finding.kind, formula


def group_findings(findings: list[Finding]) -> list[list[Finding]]:
    """Findings in order, a run of the same mistake in consecutive rows of a column made one group,
    and the runs of typed (pasted) weights that all miss their update over the same rows made one
    (rows that repeat the row above: no weight steps)."""
    return _across_columns(_along_rows(_down_columns(findings)))


ALONG_FROM = 3  # cells: a shorter run along a row stays cell by cell
_REFERENCE_IN_TEXT = re.compile(r"(?<![A-Za-z])[A-Z]{1,3}\d+")


def _along_rows(groups: list[list[Finding]]) -> list[list[Finding]]:
    """Lone findings in consecutive columns of one row whose formulas, or messages, differ only
    in the cells they name (a hidden layer's error row, each unit's cell missing the same
    factor): one group, where the run is ``ALONG_FROM`` cells or longer."""
    runs: list[list[list[Finding]]] = []
    for group in groups:
        run = runs[-1] if runs else None
        if len(group) == 1 and run is not None and len(run[-1]) == 1 and _next_along(run[-1][0], group[0]):
            run.append(group)
        else:
            runs.append([group])
    merged = []
    for run in runs:
        if len(run) >= ALONG_FROM:
            merged.append([g[0] for g in run])
        else:
            merged.extend(run)
    return merged


def _next_along(left: Finding, right: Finding) -> bool:
    (a_column, a_row), (b_column, b_row) = _CELL.fullmatch(left.cell).groups(), _CELL.fullmatch(right.cell).groups()
    def same(a: str | None, b: str | None) -> bool:
        return a is not None and b is not None and _REFERENCE_IN_TEXT.sub("#", a) == _REFERENCE_IN_TEXT.sub("#", b)
    return (left.sheet == right.sheet and left.kind == right.kind and a_row == b_row
            and column_number(b_column) == column_number(a_column) + 1
            and (same(left.formula, right.formula) or same(left.message, right.message)))


def _down_columns(findings: list[Finding]) -> list[list[Finding]]:
    groups: list[list[Finding]] = []
    last: dict[tuple, list[Finding]] = {}
    for finding in findings:
        shape = _shape(finding)
        group = last.get(shape)
        row = int(_CELL.fullmatch(finding.cell).group(2))
        if group is not None and int(_CELL.fullmatch(group[-1].cell).group(2)) == row - 1:
            group.append(finding)
        else:
            group = [finding]
            groups.append(group)
        last[shape] = group
    return groups


def _rows(group: list[Finding]) -> tuple[int, int]:
    return int(_CELL.fullmatch(group[0].cell).group(2)), int(_CELL.fullmatch(group[-1].cell).group(2))


def _across_columns(groups: list[list[Finding]]) -> list[list[Finding]]:
    merged: list[list[Finding]] = []
    by_rows: dict[tuple, list[Finding]] = {}
    for group in groups:
        first = group[0]
        # Pasted weights that all miss their update over the same rows, and an η reference that
        # drifts under every weight of the same rows: one mistake, whichever columns it covers.
        if (first.kind == "wrong update" and first.formula is None) or first.kind == "η drift":
            key = (first.sheet, _rows(group), first.kind, first.message if first.kind == "wrong update" else "")
            if key in by_rows:
                by_rows[key].extend(group)
                continue
            group = list(group)
            by_rows[key] = group
        merged.append(group)
    for group in merged:
        group.sort(key=lambda f: (_rows([f])[0], len(f.cell), f.cell))
    return merged


def group_labels(group: list[Finding]) -> list[str]:
    """The labels a group covers, in order: one, or several columns over the same rows."""
    return list(dict.fromkeys(f.label for f in group))


def relative_error(found, expected) -> float | None:
    if not isinstance(found, float) or expected is None or not math.isfinite(expected) or expected == 0:
        return None
    return abs(found - expected) / abs(expected)
