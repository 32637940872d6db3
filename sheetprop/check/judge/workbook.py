"""A workbook graded: its tables found (``find.audit``), each judged cell by cell (``table``), or,
where it has no labelled table, its network read from the formulas alone (``graph``) or, failing
that, its training found and each update judged by differentiating the student's own forward
formulas (``gradients``); the findings, notes and scores gathered into one ``Report``."""

from __future__ import annotations

from sheetprop.check.find.audit import Audit, read_workbook
from sheetprop.check.judge.exercise import missing_sheet_scores, owed_in_full, record_findings
from sheetprop.check.judge.table import TableCheck
from sheetprop.check.report.findings import Report, score_table
from sheetprop.spreadsheet.agree import DEFAULT_TOLERANCE

# What a workbook this reading cannot follow raises on the way: no table found, as before.
_UNFOLLOWED = (ArithmeticError, LookupError, RecursionError, TypeError, ValueError, AttributeError)


def check_workbook(path, tolerance: float = DEFAULT_TOLERANCE, key: dict | None = None,
                   accept_values: bool = False) -> Report:
    """Grade the workbook at ``path``: every table of backprop it holds, each computed cell
    against the chain rule of the cells it reads (relative ``tolerance``). Returns the Report
    `sheetprop check` prints: findings (wrong cells), notes, and scores per sheet and column.
    ``key`` is the answer key's record (``exercise.read_key``): the
    network, sheets and rows then come from it, never from the file. ``accept_values`` credits
    right numbers typed where an exercise has formulas (by default they earn nothing)."""
    audit: Audit = read_workbook(path, record=key, without_tables=_from_formulas_alone)
    record = key or audit.record
    report = Report(audit.path, [(t.sheet, len(t.rows)) for t in audit.tables],
                    recalculated=audit.recalculated is not None, exercise=record is not None)
    report.notes.extend(f"skipped {reason}" for reason in audit.skipped)
    if audit.recalculated:
        report.notes.append(f"{audit.path.name} had no saved values; " + (
            "LibreOffice recalculated them" if audit.recalculated == "LibreOffice" else "sheetprop calculated them"))
    if key is not None:
        report.findings.extend(record_findings(audit.record, key))
    for table in audit.tables:
        report.notes.extend(f"sheet {table.sheet!r}: {note}" for note in table.notes)
        table_check = TableCheck(table, tolerance, accept_values, exercise=record is not None)
        findings = table_check.findings()
        report.findings.extend(findings)
        report.notes.extend(f"sheet {table.sheet!r}: {note}" for note in table_check.notes())
        if record is None:
            report.scores.append(score_table(table, table_check, findings))
        elif table.sheet in record["sheets"]:  # owes every cell the key asks for, however it was read
            report.scores.append(owed_in_full(score_table(table, table_check, findings), record))
        else:
            report.notes.append(f"sheet {table.sheet!r} is not one of the exercise's sheets: checked, not scored")
    for network, findings, score in audit.graphs:  # read from the formulas alone (formula_graph)
        report.sheets.append((network.sheet, 1))
        report.notes.append(f"sheet {network.sheet!r}: no labelled table; the network was read from the "
                            f"formulas alone ({network.describe()})")
        report.findings.extend(findings)
        report.scores.append(score)
    if record is not None:
        report.scores.extend(missing_sheet_scores(record, {t.sheet for t in audit.tables}, report.notes))
    return report


def _from_formulas_alone(books) -> list:
    """Where no sheet has a labelled table: a network laid out a neuron or a weight a row, or a
    sheet per step, read from its formulas; else the training itself, found from the updates
    (w − η·g) and judged by differentiating the student's own forward formulas. Each as
    (network, findings, score); none where neither reading can follow the workbook."""
    from sheetprop.check.judge.graph import judge_workbook

    try:
        graphs = judge_workbook(books)
    except _UNFOLLOWED:
        graphs = []
    if graphs:
        return graphs
    from sheetprop.check.judge.gradients import judge_training

    try:
        return judge_training(books)
    except _UNFOLLOWED:
        return []
