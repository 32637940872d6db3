"""One submission graded: which of its workbooks, with what status, and whether it passes.

``grade`` runs in a worker of the class pool (or in-process for a single file). It never raises
for a bad file: every outcome is a status a course platform can read, ``graded``, ``unreadable``
(not a workbook, damaged, encrypted), ``no-table`` (a workbook without a backprop table), or
``error`` (stopped by a limit: a time limit, a zip bomb, memory, a crash of the grader).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from sheetprop.check.judge.table import DEFAULT_TOLERANCE, check_workbook
from sheetprop.check.report.findings import Report
from sheetprop.check.classroom.submissions import Submission
from sheetprop.errors import UserError

STATUSES = ("graded", "unreadable", "no-table", "error")
# The one-line refusals of workbook_input that a size limit made (a bomb, a huge file): errors, not
# "unreadable", so a teacher sees that the grader protected itself.
_LIMIT = re.compile(r"inflates to|reads (?:workbooks|parts) up to|parts; a workbook|too large|MB; check reads")
_NO_TABLE = re.compile(r"^no backpropagation table found")


@dataclass(frozen=True)
class Settings:
    key: dict | None = None           # the answer key's record (exercise.read_key)
    tolerance: float = DEFAULT_TOLERANCE
    accept_values: bool = False


@dataclass
class Outcome:
    submission: str
    status: str
    file: str = ""                    # the workbook graded, as the teacher knows it
    path: Path | None = None          # that workbook on disk (for --annotate)
    message: str = ""                 # why it was not graded
    report: Report | None = None
    others: list[str] = field(default_factory=list)  # the submission's other workbooks, not graded

    @property
    def findings(self) -> int:
        return len(self.report.groups) if self.report else 0

    def score(self, owed: int = 0) -> tuple[int, int]:
        """(cells right, cells owed); a submission not graded owes what the key asks, ``owed``."""
        if self.report is None or (self.status != "graded" and owed):
            return 0, owed
        return self.report.score.right, self.report.score.cells

    def percent(self, owed: int = 0) -> float:
        right, cells = self.score(owed)
        if self.report is None or self.status != "graded":
            return 0.0
        return 100.0 * right / cells if cells else 100.0

    def passes(self, min_score: float | None, owed: int = 0) -> bool:
        """Clean: graded, and without --min-score no finding and full marks; with it, at least P %."""
        if self.status != "graded":
            return False
        if min_score is not None:
            return self.percent(owed) >= min_score - 1e-9
        right, cells = self.score(owed)
        return self.findings == 0 and right == cells


def status_of(error: UserError) -> str:
    text = str(error)
    if _NO_TABLE.search(text):
        return "no-table"
    return "error" if _LIMIT.search(text) else "unreadable"


def grade(task: tuple[Submission, Settings]) -> Outcome:
    """The submission's first workbook (best first) that holds a backprop table, graded; else the
    failure of its best one. Bad files are outcomes, never exceptions."""
    submission, settings = task
    if submission.problem:
        return Outcome(submission.id, submission.status, message=submission.problem)
    first = None
    for path in submission.candidates:
        name = submission.name_of(path)
        try:
            report = check_workbook(path, settings.tolerance, key=settings.key, accept_values=settings.accept_values)
        except UserError as exc:
            failure = Outcome(submission.id, status_of(exc), name, path, str(exc))
        except MemoryError:
            failure = Outcome(submission.id, "error", name, path, f"{Path(name).name} is too large to grade in memory")
        except RecursionError:
            failure = Outcome(submission.id, "error", name, path, f"{Path(name).name} nests too deep to grade")
        else:
            others = [submission.name_of(p) for p in submission.candidates if p != path]
            if others:
                report.notes.append(f"graded {name}; the submission's other workbooks were not: {', '.join(others)}")
            return Outcome(submission.id, "graded", name, path, report=report, others=others)
        first = first or failure
    if first is not None and len(submission.candidates) > 1:
        first.others = [submission.name_of(p) for p in submission.candidates if p != first.path]
        first.message += f" (none of its other workbooks holds a table either: {', '.join(first.others)})"
    return first


def failed(task: tuple[Submission, Settings], reason: str) -> Outcome:
    """The outcome of a submission whose grading the pool had to stop."""
    submission, _ = task
    path = submission.candidates[0] if submission.candidates else None
    return Outcome(submission.id, "error", submission.name_of(path) if path else "", path, reason)
