"""The `check` command's options and its report: one block per finding, or JSON."""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from dataclasses import asdict
from pathlib import Path

from sheetprop.check import ABSOLUTE_FLOOR, DEFAULT_TOLERANCE, Report, check_workbook
from sheetprop.check.budget import MAX_CHECK_SECONDS, work_budget
from sheetprop.errors import UserError
from sheetprop.check.report import group_labels


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "check",
        help="audit a hand-made backprop workbook: find the cells where a mistake enters",
        description="Check a backpropagation workbook typed by hand. Each sheet's table is found "
        "by its header row (anywhere; label variants such as E_tot, dE/dw1, out_h1 are understood), "
        "the network is inferred from the labels and formulas (or read from the record of a "
        "workbook sheetprop built), and every labelled cell is judged on its own: a formula by what "
        "it computes over the table's cells, compared with the chain rule at random consistent "
        "points (so rounded or pasted numbers cannot mislead it, and a formula reading t1 where "
        "t2 belongs is wrong even where t1 = t2); a typed or pasted number by its value against the "
        "chain rule applied to the workbook's own values of the cells it depends on, to the digits "
        "it keeps. Each mistake is reported once, in the cell where it enters; a mistake copied "
        "down a column is one finding. Later rows' weights are checked against w − η·∂E/∂w of the "
        "row above. A filled-in copy of 'build --exercise' is also scored per column and per sheet. "
        "Exit code: 0 all right, 1 findings, 2 the file cannot be read or holds no backprop table.",
    )
    parser.add_argument("workbook", type=Path, metavar="WORKBOOK.xlsx",
                        help="the workbook to check (.xlsx; one without saved values, as written "
                        "by a program, is recalculated in LibreOffice first)")
    parser.add_argument("--tolerance", metavar="REL", type=_tolerance, default=DEFAULT_TOLERANCE,
                        help=f"relative difference from the chain rule's value that counts as wrong "
                        f"(default {DEFAULT_TOLERANCE:g}: far above float rounding, far below a "
                        f"hand-typed slip; differences under {ABSOLUTE_FLOOR:g} never count)")
    parser.add_argument("--json", action="store_true",
                        help="print the report as JSON (sheets, findings, groups, notes, scores, "
                        "summary; schema in README) instead of the readable report")
    parser.add_argument("--time-limit", metavar="S", type=_seconds, default=MAX_CHECK_SECONDS,
                        help=f"give up on a workbook that needs more than S seconds of work, with "
                        f"'too large to check' and exit code 2 (default {MAX_CHECK_SECONDS})")
    parser.set_defaults(run=run)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not (math.isfinite(value) and 0 < value <= 86_400):
        raise argparse.ArgumentTypeError(f"{text} must be between 0 and 86400 seconds")
    return value


def _tolerance(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and 0 < value < 1):
        raise argparse.ArgumentTypeError(f"{text} must be between 0 and 1, e.g. 1e-9")
    return value


def run(args) -> int:
    if sys.__stdout__ is None:  # started with standard output closed (>&-): nowhere for the report
        raise UserError("standard output is closed: nowhere to write the report")
    with work_budget(args.workbook.name[:200], getattr(args, "time_limit", MAX_CHECK_SECONDS)):
        report = check_workbook(args.workbook, tolerance=args.tolerance)
    print(to_json(report) if args.json else to_text(report))
    return 1 if report.findings else 0  # rows not yet started are a note, and lower the score


def to_json(report: Report) -> str:
    def clean(value):  # JSON has no NaN
        return None if isinstance(value, float) and not math.isfinite(value) else value

    findings = [{key: clean(value) for key, value in asdict(f).items()} for f in report.findings]
    cells = {id(f): k for k, f in enumerate(report.findings)}
    groups = [{"sheet": g[0].sheet, "label": g[0].label, "labels": group_labels(g), "kind": g[0].kind,
               "first_cell": g[0].cell, "last_cell": g[-1].cell, "count": len(g),
               "findings": [cells[id(f)] for f in g]}
              for g in report.groups]
    return json.dumps({
        "workbook": str(report.path),
        "sheets": [{"sheet": sheet, "rows": rows} for sheet, rows in report.sheets],
        "recalculated": report.recalculated,
        "findings": findings,
        "groups": groups,
        "notes": report.notes,
        "scores": _scores_json(report),
        "summary": report.summary(),
    }, ensure_ascii=False, indent=2, default=str)  # a date- or time-typed cell's value as its text


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
        lines.append(f"    found     {_number(f.found)}")
        if f.expected is not None:
            error = "" if f.relative_error is None else f"   (relative error {f.relative_error:.1e})"
            lines.append(f"    expected  {_number(f.expected)}{error}")
        if f.hint:
            lines.append(f"    hint      {f.hint}")
        if f.chain_rule:
            lines.append(f"    should be {f.chain_rule}")
    if report.exercise:
        lines.extend(_score_lines(report))
    lines.append("")
    lines.append(report.summary())
    return "\n".join(lines)


def _number(value) -> str:
    if isinstance(value, float):
        return "error value" if math.isnan(value) else f"{value:.15g}"
    return repr(value) if value is not None else "(empty)"


def _quote(sheet: str) -> str:
    return sheet if sheet.replace("_", "").isalnum() else f"'{sheet}'"

