"""How much a student's feedback gives away: ``--feedback-level location|hint|full``.

``full`` is the report as check writes it. ``hint`` keeps where each mistake is, what the student's
formula does and the hint, but not the answer: no expected value, no chain-rule formula ("should
be"), no message that quotes the right cells. ``location`` names the wrong cells and what kind of
mistake each is, and nothing of the answer: no expected value, no hint, no formula of the right
one, no reading of the student's. The teacher's own outputs (the CSV, JSON Lines, the class
report) always see the full report; the levels apply to what goes back to the student.
"""

from __future__ import annotations

import copy
import dataclasses
import re

from sheetprop.check.report.findings import Finding, Report

LEVELS = ("location", "hint", "full")
DEFAULT_LEVEL = "full"

# A message that quotes the right answer: "reads a_h1 where the chain rule reads a_h1, t1",
# "should read …", an expected number.
_GIVES_AWAY = re.compile(r"chain rule|should|expected|instead of|\bnot\b.*\bbut\b|[-+]?\d*\.\d{3,}")

_PLAIN = {
    "typed number": "holds a typed number where a formula belongs",
    "not a number": "does not hold a number",
    "record": "the workbook's record differs from the answer key's",
}


def redact(report: Report | None, level: str) -> Report | None:
    """A copy of ``report`` that gives away only what ``level`` allows (``full``: the report itself)."""
    if report is None or level == "full":
        return report
    if level not in LEVELS:
        raise ValueError(f"unknown feedback level {level!r}")
    shown = copy.copy(report)
    shown.findings = [_finding(f, level) for f in report.findings]
    shown.notes = [n for n in report.notes if level == "hint" or not _GIVES_AWAY.search(n)]
    return shown


def _finding(f: Finding, level: str) -> Finding:
    if level == "hint":
        message = f.message if not _GIVES_AWAY.search(f.message) else _plain(f)
        hint = f.hint if f.hint and not _GIVES_AWAY.search(f.hint) else None
        return dataclasses.replace(f, expected=None, relative_error=None, chain_rule=None, message=message,
                                   hint=hint)
    return dataclasses.replace(f, expected=None, relative_error=None, chain_rule=None, hint=None, reads=None,
                               message=_plain(f), error_from=None)


def _plain(f: Finding) -> str:
    return _PLAIN.get(f.kind, f"is wrong ({f.kind})")
