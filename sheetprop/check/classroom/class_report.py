"""What grading a class writes: the CSV a gradebook imports, JSON Lines, one line per submission
on the terminal, and the feedback folder (each student's text report, and with --annotate their
own workbook marked up). The CSV's first seven columns are a contract: tools outside the project
read them by name."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import unicodedata
from pathlib import Path

from sheetprop.atomic import atomic_output
from sheetprop.check.classroom.grading import Outcome
from sheetprop.check.report.render import report_dict, to_text
from sheetprop.errors import UserError

CSV_COLUMNS = ("submission", "file", "status", "score", "max_score", "percent", "findings",
               "finding_cells", "message", "others")


# The columns a class run adds after CSV_COLUMNS: who the student is (a roster's id, their variant:
# own / copied from <id> / unknown), whether the LMS marked the file late, the rubric's percent, and
# what graded it (the file's, sheetprop's and the key's versions), so a regrade can say what changed.
EXTRA_COLUMNS = ("student_id", "variant", "late", "rubric_percent", "file_sha256", "sheetprop_version", "key_sha256")


def csv_row(outcome: Outcome, owed: int = 0) -> dict:
    right, cells = outcome.score(owed)
    report = outcome.report
    return {
        "submission": outcome.submission,
        "file": outcome.file,
        "status": outcome.status,
        "score": right,
        "max_score": cells,
        "percent": f"{outcome.percent(owed):.1f}",
        "findings": outcome.findings,
        "finding_cells": len(report.findings) if report else 0,
        "message": outcome.message or (report.summary() if report else ""),
        "others": "; ".join(outcome.others),
    }


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value):
    """A text a spreadsheet opening the CSV would run as a formula (=HYPERLINK(…), +1+2, @SUM…)
    kept as text: prefixed with an apostrophe, as OWASP's CSV-injection advice has it."""
    return "'" + value if isinstance(value, str) and value.startswith(_FORMULA_START) else value


def shown(text: str) -> str:
    """A student-chosen text safe on a terminal: control characters (ESC sequences that recolour
    it, a newline that forges a line, bidirectional overrides) written as escapes."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else
                   (repr(c)[1:-1] if unicodedata.category(c) == "Cc" else f"\\u{ord(c):04x}") for c in text)


def write_csv(path: Path, outcomes: list[Outcome], owed: int = 0, extra=None) -> None:
    """``extra(outcome, owed)``: more columns after these (EXTRA_COLUMNS, filled by class_extras)."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=CSV_COLUMNS + (EXTRA_COLUMNS if extra else ()), lineterminator="\n")
    writer.writeheader()
    for outcome in outcomes:
        row = {**csv_row(outcome, owed), **(extra(outcome, owed) if extra else {})}
        writer.writerow({name: csv_safe(value) for name, value in row.items()})
    with atomic_output(Path(path)) as tmp:
        tmp.write_text(text.getvalue(), encoding="utf-8")


def json_object(outcome: Outcome, owed: int = 0) -> dict:
    """The one-file JSON report plus ``submission`` and ``status``; for a file not graded, its
    status and message (and the score it earns: 0 of what the key asks)."""
    head = {"submission": outcome.submission, "status": outcome.status, "file": outcome.file}
    if outcome.report is None:
        right, cells = outcome.score(owed)
        return {**head, "message": outcome.message,
                "scores": {"right": right, "cells": cells, "score": 0.0}}
    return {**head, **report_dict(outcome.report)}


def json_line(outcome: Outcome, owed: int = 0, extra: dict | None = None) -> str:
    return json.dumps({**json_object(outcome, owed), **(extra or {})}, ensure_ascii=False, default=str)


def terminal_line(outcome: Outcome, owed: int = 0) -> str:
    right, cells = outcome.score(owed)
    if outcome.status == "graded":
        found = f"{outcome.findings} finding{'s' * (outcome.findings != 1)}"
        note = f"  ({outcome.message})" if outcome.message else ""
        return shown(f"{outcome.submission}  {outcome.status}  {outcome.percent(owed):.1f}% ({right}/{cells})  "
                     f"{found}  {outcome.file}{note}")
    return shown(f"{outcome.submission}  {outcome.status}  {outcome.message}")


def summary_line(outcomes: list[Outcome], passed: int) -> str:
    graded = sum(o.status == "graded" for o in outcomes)
    return (f"{len(outcomes)} submission{'s' * (len(outcomes) != 1)}: {graded} graded, "
            f"{len(outcomes) - graded} not graded; {passed} clean")


def feedback_text(outcome: Outcome) -> str:
    if outcome.report is not None:
        return to_text(outcome.report) + "\n"
    where = f"{outcome.file}\n\n" if outcome.file else ""
    return f"{where}not graded ({outcome.status}): {outcome.message}\n"


class FeedbackFolder:
    """DIR/<submission>.txt for each student (and their annotated workbook beside it); the name is
    the submission id made safe for every file system, unique within the folder."""

    def __init__(self, folder: Path):
        self.folder = Path(folder).expanduser()
        if self.folder.exists() and not self.folder.is_dir():
            raise UserError(f"--feedback {self.folder} is a file; give a folder")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot create the feedback folder {self.folder}: {exc.strerror or exc}") from None
        self._taken: set[str] = set()

    def stem(self, submission: str) -> str:
        for suffix in (".xlsx", ".xlsm", ".ods", ".xls", ".csv", ".zip", ".txt"):
            if submission.lower().endswith(suffix) and len(submission) > len(suffix):
                submission = submission[:-len(suffix)]  # alice.xlsx → alice.txt, alice.xlsx beside it
                break
        stem = re.sub(r"[^\w.\- ]+", "_", submission).strip(" .") or "submission"
        stem = stem[:150]
        candidate, k = stem, 1
        while candidate.lower() in self._taken:
            k += 1
            candidate = f"{stem}~{k}"
        self._taken.add(candidate.lower())
        return candidate

    def write(self, outcome: Outcome) -> None:
        """The student's text report, and the workbook the worker marked up (moved in)."""
        stem = self.stem(outcome.submission)
        with atomic_output(self.folder / f"{stem}.txt") as tmp:
            tmp.write_text(feedback_text(outcome), encoding="utf-8")
        if outcome.annotated is not None:
            with atomic_output(self.folder / f"{stem}{outcome.annotated.suffix}") as tmp:
                shutil.move(outcome.annotated, tmp)
            outcome.annotated = None
        if outcome.annotate_problem:
            raise UserError(outcome.annotate_problem)

    def reserve(self, path: Path) -> None:
        """A file of ours that lies in the folder (the --csv): no feedback file takes its name."""
        path = Path(path).expanduser()
        if path.parent.resolve() == self.folder.resolve() and path.suffix.lower() in (".txt", ".xlsx", ".xlsm"):
            self._taken.add(path.stem.lower())
