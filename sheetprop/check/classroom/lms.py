"""What a course platform's download says about each file: whose it is, and whether it was late.

Canvas names each file ``<name>_<userid>_<submissionid>_<file>`` (``<name>_late_<userid>_…`` when
late; a resubmission's file may end in ``-1``); Moodle puts each student's files in a folder
``<Full Name>_<id>_assignsubmission_file_/`` (or names them ``<Full Name>_<id>_assignsubmission_file_<file>``);
Blackboard names them ``<Assignment>_<username>_attempt_<date>_<file>``, with ``_LATE`` after the date
when late, beside a ``….txt`` receipt. A student's files are one submission, of which only the
workbooks are graded: a workbook plus a screenshot is one submission, not two.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sheetprop.check.classroom.submissions import REFUSED_SUFFIXES, WORKBOOK_SUFFIXES, Submission

_CANVAS = re.compile(r"^(?P<name>[^_]+)_(?:(?P<late>late)_)?(?P<student>\d+)_(?P<submission>\d+)_(?P<file>.+)$",
                     re.IGNORECASE)
_MOODLE = re.compile(r"^(?P<name>.+?)_(?P<student>\d+)_assignsubmission_(?:file|onlinetext)_?(?P<file>.*)$",
                     re.IGNORECASE)
_BLACKBOARD = re.compile(r"^(?P<assignment>.+)_(?P<student>[^_]+)_attempt_(?P<date>\d{4}(?:-\d{2}){5})"
                         r"(?:_(?P<late>late))?(?:_(?P<file>.+)|\.txt)?$", re.IGNORECASE)


@dataclass
class Intake:
    """One submission as the platform named it."""
    student: str                      # the platform's id: Canvas's user id, Moodle's, Blackboard's username
    name: str = ""                    # the name the platform gave (Canvas: lastfirst; Moodle: the full name)
    late: bool = False
    platform: str = ""                # canvas | moodle | blackboard | "" (a plain folder or file)
    files: list[str] = field(default_factory=list)


def parse(name: str) -> Intake | None:
    """The platform's reading of one download name (a file or a folder), or None for a plain name."""
    match = _BLACKBOARD.match(name)
    if match:
        return Intake(match["student"], "", bool(match["late"]), "blackboard")
    match = _MOODLE.match(name)
    if match:
        return Intake(match["student"], match["name"], False, "moodle")
    match = _CANVAS.match(name)
    if match:
        return Intake(match["student"], match["name"], bool(match["late"]), "canvas")
    return None


def group(submissions: list[Submission]) -> tuple[list[Submission], dict[str, Intake]]:
    """The submissions with each student's files made one (named by the platform's id), and what
    the platform says of each: {submission id: Intake}. Names no platform wrote are left as they are."""
    merged: dict[str, Submission] = {}
    intake: dict[str, Intake] = {}
    out: list[Submission] = []
    for submission in submissions:
        parsed = parse(submission.id)
        if parsed is None:
            out.append(submission)
            continue
        key = parsed.student
        if key not in merged:
            merged[key] = Submission(key, status=submission.status)
            intake[key] = Intake(parsed.student, parsed.name, False, parsed.platform)
            out.append(merged[key])
        whole, seen = merged[key], intake[key]
        seen.late = seen.late or parsed.late
        seen.name = seen.name or parsed.name
        seen.files.append(submission.id)
        for path in submission.candidates:
            if path not in whole.shown:
                whole.candidates.append(path)
                whole.shown[path] = submission.name_of(path)
        if submission.problem and not whole.problem:
            whole.problem, whole.status = submission.problem, submission.status
    for key, whole in merged.items():
        _workbooks_first(whole)
    return out, intake


def _workbooks_first(submission: Submission) -> None:
    """Only the workbooks are graded; a screenshot or receipt beside one is no submission of its own."""
    workbooks = [p for p in submission.candidates if p.suffix.lower() in WORKBOOK_SUFFIXES]
    refused = [p for p in submission.candidates if p.suffix.lower() in REFUSED_SUFFIXES]
    if workbooks:
        submission.candidates = workbooks + refused
        submission.problem, submission.status = None, "unreadable"
    elif refused:
        submission.candidates = refused
        submission.problem = None
    else:
        names = ", ".join(sorted(str(submission.name_of(p)).rsplit("/", 1)[-1] for p in submission.candidates))
        submission.candidates = []
        submission.problem = f"holds no workbook ({', '.join(WORKBOOK_SUFFIXES)})" + (f": {names}" if names else "")
        submission.status = "unreadable"
