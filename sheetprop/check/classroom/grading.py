"""One submission graded: which of its workbooks, with what status, and whether it passes.

``grade`` runs in a worker of the class pool (or in-process for a single file). It never raises
for a bad file: every outcome is a status a course platform can read, ``graded``, ``unreadable``
(not a workbook, damaged, encrypted), ``no-table`` (a workbook without a backprop table), or
``error`` (stopped by a limit: a time limit, a zip bomb, memory, a crash of the grader).
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from sheetprop.check.judge.workbook import DEFAULT_TOLERANCE, check_workbook
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
    """Everything a grading reads besides the submission: the same for one file, a class, a
    course platform's result (--format) and the Gradescope autograder."""
    key: dict | None = None           # the answer key's record (exercise.read_key)
    tolerance: float = DEFAULT_TOLERANCE
    accept_values: bool = False
    key_sha256: str | None = None     # the key file's own bytes: a submission that is the key is said so
    annotate_into: Path | None = None  # --annotate: the worker marks up the graded workbook into this folder
    feedback_level: str = "full"      # what the student's marked-up workbook gives away (report.levels)


def settings_for(key_path: Path | None, tolerance: float = DEFAULT_TOLERANCE, accept_values: bool = False,
                 annotate_into: Path | None = None) -> Settings:
    """The settings of a grading against the key at ``key_path`` (read once, here)."""
    from sheetprop.check.judge.exercise import read_key

    key = read_key(Path(key_path)) if key_path is not None else None
    return Settings(key, tolerance, accept_values, file_sha256(Path(key_path)) if key_path is not None else None,
                    annotate_into)


def file_sha256(path: Path) -> str | None:
    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest() if hasattr(hashlib, "file_digest") else \
                hashlib.sha256(handle.read()).hexdigest()
    except OSError:
        return None


@dataclass
class Outcome:
    submission: str
    status: str
    file: str = ""                    # the workbook graded, as the teacher knows it
    path: Path | None = None          # that workbook on disk (for --annotate)
    message: str = ""                 # why it was not graded
    report: Report | None = None
    others: list[str] = field(default_factory=list)  # the submission's other workbooks, not graded
    annotated: Path | None = None     # the marked-up workbook the worker wrote (--annotate)
    annotate_problem: str = ""        # why it could not be marked up

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
            outcome = Outcome(submission.id, "graded", name, path, report=report, others=others)
            report.groups  # grouped here, in the worker: the class's parent only reads them (Report.groups)
            if settings.key_sha256 is not None and file_sha256(path) == settings.key_sha256:
                outcome.message = f"{Path(name).name} is the answer key itself (the same bytes), not a student's work"
                report.notes.insert(0, outcome.message)
            if settings.annotate_into is not None:
                _annotate(outcome, settings.annotate_into, settings.feedback_level)
            return outcome
        first = first or failure
    if first is not None and len(submission.candidates) > 1:
        first.others = [submission.name_of(p) for p in submission.candidates if p != first.path]
        first.message += f" (none of its other workbooks holds a table either: {', '.join(first.others)})"
    return first


def grade_within(submission: Submission, settings: Settings, seconds: float) -> Outcome:
    """``grade`` in this process under a time limit (one file, --format, the autograder); past the
    limit, or out of memory, an ``error`` outcome like the class pool's."""
    from sheetprop.check.classroom.budget import work_budget

    try:
        with work_budget(submission.id[:200], seconds):
            return grade((submission, settings))
    except UserError as exc:
        path = submission.candidates[0] if submission.candidates else None
        return Outcome(submission.id, "error", submission.name_of(path) if path else "", path, str(exc))


def failed(task: tuple[Submission, Settings], reason: str) -> Outcome:
    """The outcome of a submission whose grading the pool had to stop."""
    submission, _ = task
    path = submission.candidates[0] if submission.candidates else None
    return Outcome(submission.id, "error", submission.name_of(path) if path else "", path, reason)


def _annotate(outcome: Outcome, folder: Path, level: str = "full") -> None:
    """The graded workbook marked up into ``folder`` (in the worker, under its time limit)."""
    import tempfile

    from sheetprop.check.report.annotate import annotate_workbook
    from sheetprop.check.report.levels import redact

    suffix = outcome.path.suffix.lower() if outcome.path.suffix.lower() in (".xlsx", ".xlsm") else ".xlsx"
    handle, name = tempfile.mkstemp(suffix=suffix, dir=folder)
    os.close(handle)
    try:
        annotate_workbook(outcome.path, redact(outcome.report, level).findings, Path(name))
    except Exception as exc:  # noqa: BLE001 - a workbook that cannot be marked up still has its grade
        Path(name).unlink(missing_ok=True)
        outcome.annotate_problem = str(exc) if isinstance(exc, UserError) else f"cannot annotate it ({type(exc).__name__})"
    else:
        outcome.annotated = Path(name)
