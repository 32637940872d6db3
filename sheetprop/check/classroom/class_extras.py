"""What grading a class adds beside the grades, option by option (docs/class.md): the platforms'
names read (``lms``), each student's variant (``--roster``), the feedback level, the rubric, the
provenance every row carries (sheetprop's version, the key's and the file's sha256), and what is
written once the class is graded (``--similarity``, ``--class-report``, ``--regrade``)."""

from __future__ import annotations

import dataclasses

from sheetprop.check.classroom import lms
from sheetprop.check.classroom.class_report import csv_row
from sheetprop.check.report.levels import redact
from sheetprop.version import __version__


class ClassExtras:
    def __init__(self, args, settings):
        self.args, self.settings = args, settings
        self.level = getattr(args, "feedback_level", "full")
        self.key_sha256 = settings.key_sha256 or ""
        self.platform: dict[str, lms.Intake] = {}
        self.students: dict[str, tuple[str, str]] = {}  # submission -> (student id, variant verdict)
        self.variants = None
        self.network = None
        if settings.key is not None:
            from sheetprop.network import Network

            self.network = Network(settings.key["template"])
        if getattr(args, "roster", None) is not None:
            from sheetprop.check.classroom.variants import ClassVariants

            self.variants = ClassVariants(settings.key, args.roster)
        self.weights = None
        if getattr(args, "rubric", None) is not None:
            from sheetprop.check.report.rubric import read_rubric

            self.weights = read_rubric(args.rubric)
        self.previous = None
        if getattr(args, "regrade", None) is not None:
            from sheetprop.check.report.regrade import read_previous

            self.previous = read_previous(args.regrade)

    # --- before grading ---------------------------------------------------------------------------

    def intake(self, submissions: list) -> list:
        """A student's files made one submission, as the platform named them."""
        submissions, self.platform = lms.group(submissions)
        return submissions

    def tasks(self, submissions: list, settings) -> list[tuple]:
        """(submission, settings) for the pool: with a roster, the student's variant as the key."""
        tasks, common = [], settings
        for submission in submissions:
            settings = common
            if self.variants is not None:
                seen = self.platform.get(submission.id)
                student = self.variants.student_of(submission.id, seen.student if seen else None,
                                                   seen.name if seen else "")
                self.students[submission.id] = (student.id if student else "", "unknown")
                settings = self.variants.settings_for(student, settings)
            tasks.append((submission, settings))
        return tasks

    # --- as each is graded ------------------------------------------------------------------------

    def graded(self, outcome) -> None:
        """The variant's verdict, and a copy's score withheld."""
        if self.variants is None:
            return
        from sheetprop.check.classroom.variants import withhold

        student_id, _ = self.students.get(outcome.submission, ("", ""))
        student = next((s for s in self.variants.students if s.id == student_id), None)
        if outcome.report is None and getattr(outcome, "evidence", None) is None:
            verdict = "unknown"
        else:
            verdict = self.variants.verdict(student, getattr(outcome, "evidence", None))
        if student is not None:
            withhold(outcome, student, verdict)
        self.students[outcome.submission] = (student_id, verdict)

    def for_student(self, outcome):
        """The outcome as the student may see it (``--feedback-level``)."""
        if self.level == "full" or outcome.report is None:
            return outcome
        return dataclasses.replace(outcome, report=redact(outcome.report, self.level))

    def row(self, outcome, owed: int = 0) -> dict:
        """The columns every CSV and JSON row carries beside the grade."""
        seen = self.platform.get(outcome.submission)
        student_id, verdict = self.students.get(outcome.submission, ("", ""))
        evidence = getattr(outcome, "evidence", None)
        row = {"student_id": student_id or (seen.student if seen else ""),
               "variant": verdict if self.variants is not None else "",
               "late": ("yes" if seen.late else "no") if seen else "",
               "rubric_percent": "",
               "file_sha256": evidence.sha256 if evidence is not None else "",
               "sheetprop_version": __version__,
               "key_sha256": self.key_sha256}
        if self.weights is not None:
            from sheetprop.check.report.rubric import rubric_percent

            graded = outcome.status == "graded"
            row["rubric_percent"] = f"{rubric_percent(outcome.report if graded else None, self.weights, self.network):.1f}"
        return row

    # --- once the class is graded -----------------------------------------------------------------

    def finish(self, outcomes: list, owed: int) -> None:
        args = self.args
        if getattr(args, "similarity", None) is not None:
            from sheetprop.check.classroom.similarity import rank_pairs, write_similarity

            write_similarity(args.similarity, rank_pairs(outcomes, self.students if self.variants else None))
        if getattr(args, "class_report", None) is not None:
            from sheetprop.check.report.class_workbook import write_class_workbook

            write_class_workbook(args.class_report, outcomes, owed, self.network)
        if self.previous is not None:
            from sheetprop.check.report.regrade import changes

            current = [{**csv_row(o, owed), **self.row(o, owed)} for o in outcomes]
            lines = changes(self.previous, current)
            print(f"regrade against {args.regrade.name}: "
                  + (f"{len(lines)} change{'s' * (len(lines) != 1)}" if lines else "no score changed"))
            for line in lines:
                print(f"  {line}")
