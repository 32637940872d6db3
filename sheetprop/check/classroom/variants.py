"""`check --key KEY --roster roster.csv`: each submission graded against its own student's variant.

Who a submission is comes from the platform's name for it (``lms``) or, for a plain folder or
file, its name, matched with the roster's ids (then its names). That student's variant is drawn
again from the key's template (``network.variants``) and graded as the key. Which variant the file
holds is read from its numbers (the starting values typed near the top of its first sheet), else
from the id its ``_sheetprop`` record names: ``own``, ``copied from <id>`` (then it scores nothing
as this student's work) or ``unknown``.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from sheetprop.check.classroom.grading import Outcome, Settings
from sheetprop.check.report.findings import Score, SheetScore
from sheetprop.network import Network
from sheetprop.network.variants import Student, read_roster, variant_template

OWN, UNKNOWN = "own", "unknown"


def starting_numbers(template) -> frozenset:
    """A variant's starting values as the file's numbers are kept (rounded to 9 digits)."""
    return frozenset(round(float(v), 9) for v in Network(template).starting_values().values())


def _letters(text: str) -> str:
    return re.sub(r"[\W\d_]+", "", text.lower())


class ClassVariants:
    """The roster's students, their variants of the key, and the numbers each variant starts from."""

    def __init__(self, key: dict, roster: Path | list[Student]):
        self.key = key
        self.students = read_roster(roster) if isinstance(roster, (str, Path)) else list(roster)
        self._by_id = {s.id.lower(): s for s in self.students}
        self._by_name: dict[str, Student] = {}
        for student in self.students:
            words = [_letters(w) for w in student.name.split()]
            for spelling in ("".join(words), "".join(reversed(words)), "".join(words[-1:] + words[:-1])):
                if spelling:
                    self._by_name.setdefault(spelling, student)
        self.templates = {s.id: variant_template(key["template"], s.id) for s in self.students}
        self.numbers = {sid: starting_numbers(t) for sid, t in self.templates.items()}

    def student_of(self, submission_id: str, platform_id: str | None = None, platform_name: str = "") -> Student | None:
        """The roster's student a submission belongs to: by the platform's id, else by its name."""
        stem = re.sub(r"\.(xlsx|xlsm|ods|zip)$", "", submission_id, flags=re.IGNORECASE)
        for candidate in (platform_id, stem, submission_id):
            if candidate and candidate.lower() in self._by_id:
                return self._by_id[candidate.lower()]
        for candidate in (platform_name, stem):
            if candidate and _letters(candidate) in self._by_name:
                return self._by_name[_letters(candidate)]
        return None

    def settings_for(self, student: Student | None, settings: Settings) -> Settings:
        """The settings with the student's own variant as the key (the key itself for a stranger)."""
        if student is None:
            return settings
        return dataclasses.replace(settings, key={**self.key, "template": self.templates[student.id],
                                                  "student": student.id})

    def verdict(self, student: Student | None, evidence) -> str:
        """``own``, ``copied from <id>`` or ``unknown``: whose variant the file's numbers (else its
        record) are."""
        numbers = getattr(evidence, "numbers", frozenset())
        holders = [sid for sid, wanted in self.numbers.items() if numbers and wanted <= numbers]
        if not holders:
            recorded = getattr(evidence, "record_student", None)
            holders = [s.id for s in self.students if recorded and s.id.lower() == recorded.lower()]
        if student is not None and student.id in holders:
            return OWN
        if holders:
            return f"copied from {holders[0]}"
        return UNKNOWN


def withhold(outcome: Outcome, student: Student, verdict: str) -> None:
    """A file holding another student's variant is not this student's work: its cells count as not
    done, and the report says why."""
    report = outcome.report
    if report is None or not verdict.startswith("copied from "):
        return
    other = verdict[len("copied from "):]
    report.notes.insert(0, f"this file holds the variant of {other}, not {student.id}'s own: "
                           f"it scores nothing as {student.id}'s work")
    report.scores = [SheetScore(0, s.cells, s.sheet, tuple((label, Score(0, c.cells)) for label, c in s.columns))
                     for s in report.scores]
