"""The `check` command: its options, and the route from them to one report or a class's grades.

One workbook prints its report (text or JSON) as before. Several, or a folder or .zip of
submissions, is a class: each submission is graded in a process pool started once (``pool``,
``grading``), and ``class_report`` writes the CSV, JSON Lines, terminal lines and feedback."""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

from sheetprop.check import ABSOLUTE_FLOOR, DEFAULT_TOLERANCE
from sheetprop.check.report.render import to_json, to_text  # noqa: F401 - the report's renderers, re-exported
from sheetprop.check.classroom.budget import MAX_CHECK_SECONDS
from sheetprop.errors import UserError

DEFAULT_TIME_LIMIT_S = MAX_CHECK_SECONDS
MIN_TIME_LIMIT_S, MAX_TIME_LIMIT_S = 0.001, 86_400
JOBS_PER_CORE = 4  # --jobs past this many per core only adds processes fighting for the same cores


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "check",
        help="audit a hand-made backprop workbook (find the cells where a mistake enters), or grade a class",
        description="Check a backpropagation workbook typed by hand, or grade a class. Each sheet's table is "
        "found by its header row (anywhere; label variants such as E_tot, dE/dw1, out_h1 are understood), "
        "the network is inferred from the labels and formulas (or read from the answer key given by --key, "
        "or from the record of a workbook sheetprop built), and every labelled cell is judged on its own: a "
        "formula by what it computes over the table's cells, compared with the chain rule at random "
        "consistent points; a typed or pasted number by its value against the chain rule applied to the "
        "workbook's own values of the cells it depends on, to the digits it keeps. Each mistake is reported "
        "once, in the cell where it enters; a mistake copied down a column is one finding. An exercise of "
        "'build --exercise' is scored per column and per sheet. Several PATHs, a folder or a .zip of "
        "submissions grade a class (see --csv, --feedback). Exit code: 0 every submission right and complete "
        "(or at least --min-score), 1 findings, a score short of that, or a file that cannot be graded "
        "(for a single workbook: 2 when it cannot be read or holds no backprop table), 2 a usage error.",
    )
    parser.add_argument("paths", type=Path, nargs="+", metavar="PATH",
                        help="a workbook (.xlsx; the values of one saved without them are computed first, in "
                        "LibreOffice where check's own formula reader cannot), or a folder or .zip of submissions: each top-level entry (a student's "
                        "folder, repo clone, zip or single file) is one submission, its name the id")
    parser.add_argument("--key", type=Path, metavar="KEY.xlsx",
                        help="the answer key `build --exercise` wrote beside the student version: the "
                        "network, sheets and rows come from it, never from the student's file")
    parser.add_argument("--tolerance", metavar="REL", type=_tolerance, default=DEFAULT_TOLERANCE,
                        help=f"relative difference from the chain rule's value that counts as wrong "
                        f"(default {DEFAULT_TOLERANCE:g}: far above float rounding, far below a "
                        f"hand-typed slip; differences under {ABSOLUTE_FLOOR:g} never count)")
    parser.add_argument("--accept-values", action="store_true",
                        help="credit right numbers typed where the exercise has formulas (by default a "
                        "typed number earns nothing there)")
    parser.add_argument("--min-score", metavar="P", type=_percent,
                        help="exit 0 for a submission scoring at least P percent, findings or not "
                        "(default: only a submission without findings and with full marks)")
    parser.add_argument("--json", action="store_true",
                        help="print the report as JSON (schema in docs/check.md); for a class, JSON Lines: one "
                        "object per submission, with its submission id and status")
    parser.add_argument("--csv", type=Path, metavar="FILE",
                        help="write one row per submission: submission, file, status, score, max_score, "
                        "percent, findings, finding_cells, message, others")
    parser.add_argument("--feedback", type=Path, metavar="DIR",
                        help="write DIR/<submission>.txt, the text report each student gets back")
    parser.add_argument("--annotate", action="store_true",
                        help="with --feedback: also DIR/<submission>.xlsx, the student's own workbook with "
                        "every wrong cell coloured and what is wrong, the expected value and the hint in its note")
    parser.add_argument("--jobs", type=_positive, metavar="N", default=None,
                        help="grade N submissions at a time (default: every core)")
    parser.add_argument("--time-limit", type=_seconds, metavar="S", default=DEFAULT_TIME_LIMIT_S,
                        help=f"stop grading a submission after S seconds: an `error` row "
                        f"(default {DEFAULT_TIME_LIMIT_S})")
    parser.add_argument("--format", choices=("gradescope", "prairielearn"), default=None,
                        help="write the result a course platform reads: Gradescope's results.json "
                        "(score in points of 100, one test per column of each sheet) or PrairieLearn's "
                        "external grading result (score 0-1; gradable: false for a file that cannot be graded)")
    parser.add_argument("--out", type=Path, metavar="FILE", default=None,
                        help="write the --format result to FILE instead of standard output")
    add_class_arguments(parser)
    parser.set_defaults(run=run)


def add_class_arguments(parser) -> None:
    """The teacher's options for a class (docs/class.md)."""
    from sheetprop.check.report.levels import DEFAULT_LEVEL, LEVELS

    parser.add_argument("--roster", type=Path, metavar="CSV",
                        help="with --key: the roster `build --exercise --roster` drew the variants from (an id "
                        "column, optionally name); each submission is graded against its own student's variant, "
                        "and the CSV's variant column says own, copied from <id> (then it scores nothing) or unknown")
    parser.add_argument("--similarity", type=Path, metavar="FILE.csv",
                        help="write the pairs of submissions ranked by the evidence they share (identical files, "
                        "the same wrong formulas weighted by how rare they are, another's variant, the same "
                        "document metadata or styles), each with a short why")
    parser.add_argument("--feedback-level", choices=LEVELS, default=DEFAULT_LEVEL,
                        help="what the feedback files, annotated workbooks and --format results give away: "
                        "location (the wrong cells, never the answer), hint (and the hints), full (and the "
                        f"expected values and right formulas; default {DEFAULT_LEVEL})")
    parser.add_argument("--class-report", type=Path, metavar="FILE.xlsx",
                        help="write the class at a glance: per column how many students got it wrong and the "
                        "most common hint, and the score distribution, each with a chart")
    parser.add_argument("--regrade", type=Path, metavar="PREVIOUS.csv",
                        help="list the students whose score changed since the CSV an earlier --csv wrote, and why")
    parser.add_argument("--rubric", type=Path, metavar="FILE.toml",
                        help="weights per column group (forward, loss, backward, update): the CSV's rubric_percent")


def time_limit_problem(value) -> str | None:
    """Why ``value`` is no --time-limit (seconds per workbook), or None: the command line and the
    API's check() ask the same."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"{value!r} is not a number of seconds"
    if not (math.isfinite(value) and MIN_TIME_LIMIT_S <= value <= MAX_TIME_LIMIT_S):
        return f"{value:g} must be between {MIN_TIME_LIMIT_S:g} and {MAX_TIME_LIMIT_S} seconds"
    return None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if problem := time_limit_problem(value):
        raise argparse.ArgumentTypeError(problem)
    return value


def tolerance_problem(value) -> str | None:
    """Why ``value`` is no --tolerance (a relative difference: a finite number between 0 and 1,
    exclusive), or None: the command line and the API's check() ask the same."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"{value!r} is not a number"
    if not (math.isfinite(value) and 0 < value < 1):
        return f"{value!r} must be a number between 0 and 1, e.g. 1e-9"
    return None


def _tolerance(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    problem = tolerance_problem(value)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return value


def _percent(text: str) -> float:
    try:
        value = float(text.rstrip("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and 0 <= value <= 100):
        raise argparse.ArgumentTypeError(f"{text} must be a percentage from 0 to 100")
    return value


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be a whole number of at least 1")
    return int(text)


# Options --format has no use for: refused, not silently dropped.
_NOT_WITH_FORMAT = (("csv", "--csv"), ("feedback", "--feedback"), ("annotate", "--annotate"), ("jobs", "--jobs"),
                    ("json", "--json"), ("roster", "--roster"), ("similarity", "--similarity"),
                    ("class_report", "--class-report"), ("regrade", "--regrade"), ("rubric", "--rubric"))


def run(args) -> int:
    if sys.__stdout__ is None:  # started with standard output closed (>&-): nowhere for the report
        raise UserError("standard output is closed: nowhere to write the report")
    from sheetprop.check.classroom import outputs

    if args.format is not None or args.out is not None:
        if args.format is None:
            raise UserError("--out writes the file of --format gradescope or prairielearn; give --format")
        used = [flag for name, flag in _NOT_WITH_FORMAT if getattr(args, name)]
        if used:
            raise UserError(f"--format writes one submission's result; it does not use {', '.join(used)}")
        if len(args.paths) != 1:
            raise UserError(f"--format writes the result of one submission; give one workbook, not {len(args.paths)}")
        from sheetprop.check.classroom.submissions import is_class

        if is_class(args.paths):
            raise UserError(f"--format writes the result of one submission; {args.paths[0]} is a folder or archive "
                            "of submissions: give one workbook (grade a class with --csv or --json)")
    if args.annotate and args.feedback is None:
        raise UserError("--annotate writes into the feedback folder: give --feedback DIR too")
    # Every output checked before any work: none is an input, none lies inside a graded folder,
    # and each can be written.
    outputs.guard([*args.paths, args.key, args.roster, args.regrade, args.rubric],
                  {"--csv": args.csv, "--out": args.out, "--similarity": args.similarity,
                   "--class-report": args.class_report}, {"--feedback": args.feedback})
    if args.format is not None:
        from sheetprop.check.classroom import platforms

        return platforms.run(args)
    from dataclasses import replace

    from sheetprop.check.judge.exercise import owed_total
    from sheetprop.check.classroom.grading import settings_for
    from sheetprop.check.classroom.submissions import is_class

    if args.roster is not None and args.key is None:
        raise UserError("--roster grades each student against their variant of the key: give --key KEY.xlsx too")
    settings = settings_for(args.key, args.tolerance, args.accept_values)
    settings = replace(settings, feedback_level=args.feedback_level)
    owed = owed_total(settings.key) if settings.key is not None else 0
    teacher = (args.csv, args.feedback, args.similarity, args.class_report, args.regrade, args.roster)
    if is_class(args.paths) or any(option is not None for option in teacher):
        return _grade_class(args, settings, owed)
    return _check_one(args, settings, owed)


def _check_one(args, settings, owed: int) -> int:
    from sheetprop.check.classroom.class_report import json_object
    from sheetprop.check.classroom.grading import grade_within
    from sheetprop.check.classroom.submissions import Submission

    path = args.paths[0].expanduser()
    outcome = grade_within(Submission(path.name, [path], {path: str(path)}), settings, args.time_limit)
    if outcome.status != "graded":
        if not args.json:
            raise UserError(outcome.message)
        import json

        print(json.dumps(json_object(outcome, owed), ensure_ascii=False, indent=2))
        return 2
    report = outcome.report
    from sheetprop.version import __version__

    print(to_json(report, submission=outcome.submission, status=outcome.status, sheetprop_version=__version__,
                  key_sha256=settings.key_sha256 or "") if args.json else to_text(report))
    return 0 if outcome.passes(args.min_score, owed) else 1


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _grade_class(args, settings, owed: int) -> int:
    from dataclasses import replace

    from sheetprop.check.classroom import class_report
    from sheetprop.check.classroom import pool
    from sheetprop.check.classroom.grading import failed
    from sheetprop.check.classroom.evidence import grade_with_evidence
    from sheetprop.check.classroom.submissions import find_submissions, sweep_stale, work_folder
    from sheetprop.check.classroom import class_extras

    extras = class_extras.ClassExtras(args, settings)
    feedback = class_report.FeedbackFolder(args.feedback) if args.feedback is not None else None
    if feedback is not None and args.csv is not None:
        feedback.reserve(args.csv)
    jobs = min(args.jobs or default_jobs(), JOBS_PER_CORE * default_jobs())
    sweep_stale()
    with work_folder() as work:
        if args.annotate:
            (work / "annotated").mkdir()
            settings = replace(settings, annotate_into=work / "annotated")
        submissions = find_submissions(args.paths, work, settings.key["sheets"] if settings.key else None)
        if not submissions:
            raise UserError(f"no submissions in {', '.join(map(str, args.paths))}")
        submissions = extras.intake(submissions)
        outcomes = [None] * len(submissions)
        results = pool.run(extras.tasks(submissions, settings), grade_with_evidence, failed, jobs, args.time_limit)
        for index, outcome in _with_progress(results, len(submissions)):
            outcomes[index] = outcome
            extras.graded(outcome)
            if feedback is not None:
                _write_feedback(feedback, extras.for_student(outcome))
    passed = sum(o.passes(args.min_score, owed) for o in outcomes)
    for outcome in outcomes:
        print(class_report.json_line(outcome, owed, extras.row(outcome, owed)) if args.json
              else class_report.terminal_line(outcome, owed))
    if not args.json:
        print(class_report.summary_line(outcomes, passed))
    if args.csv is not None:
        class_report.write_csv(args.csv, outcomes, owed, extras.row)
    extras.finish(outcomes, owed)
    return 0 if passed == len(outcomes) else 1


def _write_feedback(feedback, outcome) -> None:
    from sheetprop.check.classroom.class_report import shown

    try:
        feedback.write(outcome)
    except UserError as exc:  # one workbook that cannot be marked up still gets its text report
        print(shown(f"sheetprop check: {outcome.submission}: {exc}"), file=sys.stderr)
    except OSError as exc:  # the folder was writable a moment ago (checked before any work)
        raise UserError(f"cannot write feedback into {feedback.folder}: {exc.strerror or exc}") from None


def _with_progress(results, total: int):
    if not sys.stderr.isatty():
        yield from results
        return
    from tqdm import tqdm

    with tqdm(total=total, unit="submission", file=sys.stderr, leave=False) as bar:
        for item in results:
            bar.update()
            yield item
