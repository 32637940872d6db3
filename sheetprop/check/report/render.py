"""The report of one workbook, as the readable text a student gets back or as JSON."""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict

from sheetprop.check import Report
from sheetprop.check.report.findings import group_labels
from sheetprop.spreadsheet.error_values import is_error_value


def to_json(report: Report, **extra) -> str:
    """The JSON report, pretty-printed; ``extra`` keys (submission, status) go first."""
    return json.dumps({**extra, **report_dict(report)}, ensure_ascii=False, indent=2, default=str)  # a date- or time-typed cell as its text


def report_dict(report: Report) -> dict:
    def clean(value):  # JSON has no NaN
        return None if isinstance(value, float) and not math.isfinite(value) else value

    findings = [{key: clean(value) for key, value in asdict(f).items()} for f in report.findings]
    cells = {id(f): k for k, f in enumerate(report.findings)}
    groups = [{"sheet": g[0].sheet, "label": g[0].label, "labels": group_labels(g), "kind": g[0].kind,
               "first_cell": g[0].cell, "last_cell": g[-1].cell, "count": len(g),
               "findings": [cells[id(f)] for f in g]}
              for g in report.groups]
    return {
        "workbook": str(report.path),
        "sheets": [{"sheet": sheet, "rows": rows} for sheet, rows in report.sheets],
        "recalculated": report.recalculated,
        "findings": findings,
        "groups": groups,
        "notes": report.notes,
        "scores": _scores_json(report),
        "summary": report.summary(),
    }


def _scores_json(report: Report) -> dict:
    def score(s):
        return {"right": s.right, "cells": s.cells, "score": round(s.fraction, 4)}

    return {**score(report.score), "exercise": report.exercise,
            "sheets": [{"sheet": s.sheet, **score(s),
                        "columns": [{"label": label, **score(c)} for label, c in s.columns]}
                       for s in report.scores]}


def _score_lines(report: Report) -> list[str]:
    """One line per sheet, naming the columns that lost points."""
    lines = [""]
    for s in report.scores:
        lost = [f"{label} {c.right}/{c.cells}" for label, c in s.columns if c.right < c.cells]
        lines.append(f"score {_quote(s.sheet)}: {s.right}/{s.cells} cells right ({100 * s.fraction:.1f}%)"
                     + (f"; short in {', '.join(lost)}" if lost else ""))
    total = report.score
    lines.append(f"score: {total.right}/{total.cells} cells right ({100 * total.fraction:.1f}%)")
    return lines


def to_text(report: Report) -> str:
    lines = [f"{report.path}"]
    for note in report.notes:
        lines.append(f"  note: {note}")
    for group in report.groups:
        f = group[0]
        names = group_labels(group)
        lines.append("")
        lines.append(f"  {_quote(f.sheet)}!{f.cell}  {', '.join(names)}: {f.kind} — {f.message}")
        if len(names) > 1:
            first_row, last_row = (re.search(r"\d+$", g.cell).group() for g in (group[0], group[-1]))
            lines.append(f"    repeated  in rows {first_row}–{last_row} of {len(names)} columns, to {group[-1].cell}: "
                         f"{len(group)} cells (the first is shown)")
        elif len(group) > 1:
            lines.append(f"    repeated  down to {group[-1].cell}: the same mistake in {len(group)} cells in a row "
                         "(the first is shown)")
        lines.append(f"    formula   {f.formula if f.formula is not None else '(typed value)'}")
        if f.reads:
            lines.append(f"    reads as  {f.label} = {f.reads}")
        found = _number(f.found)
        if f.error_from:
            found += f"   (an error value; it comes from {f.error_from})"
        lines.append(f"    found     {found}")
        if isinstance(f.expected, float) and math.isnan(f.expected):
            lines.append("    expected  no number either: the cells it reads show error values")
        elif f.expected is not None:
            error = "" if f.relative_error is None else f"   (relative error {f.relative_error:.1e})"
            lines.append(f"    expected  {_number(f.expected)}{error}")
        if f.hint:
            lines.append(f"    hint      {f.hint}")
        if f.chain_rule:
            lines.append(f"    should be {f.chain_rule}")
    if report.scores:
        lines.extend(_score_lines(report))
    lines.append("")
    lines.append(report.summary())
    return "\n".join(lines)


def _number(value) -> str:
    if isinstance(value, float):
        return "an error value" if math.isnan(value) else f"{value:.15g}"
    if is_error_value(value):
        return value  # #VALUE!, #DIV/0!: as the spreadsheet shows it
    return repr(value) if value is not None else "(empty)"


def _quote(sheet: str) -> str:
    return sheet if sheet.replace("_", "").isalnum() else f"'{sheet}'"

