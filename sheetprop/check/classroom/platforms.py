"""`check --format gradescope|prairielearn`: one submission's report in the JSON a course platform
reads, written as each platform documents it.

- Gradescope (gradescope-autograders.readthedocs.io/en/latest/specs/, "Output format"):
  ``results.json`` with a top-level ``score`` in points (it overrides the sum of the tests), an
  ``output`` for the whole submission, and ``tests``: one per scored column of each sheet, with
  ``name``, ``score``, ``max_score``, ``status`` (passed / failed), ``output`` and ``visibility``.
- PrairieLearn (prairielearn.readthedocs.io/en/latest/externalGrading/, "Grading results"):
  ``score`` in [0, 1]; ``gradable: false`` with ``format_errors`` when the file cannot be graded
  (the student loses no attempt); ``message``, ``output`` and ``tests`` (``points`` /
  ``max_points``) for ``<pl-external-grader-results>``. PrairieLearn keeps the whole object as the
  submission's feedback; ``feedback`` here carries `check --json`'s report for question templates.

A file that cannot be graded (unreadable, no backprop table) is still a well-formed result, so a
platform always has something to show the student.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

from sheetprop.check import Report
from sheetprop.check.report.findings import Finding, group_labels

PLATFORMS = ("gradescope", "prairielearn")
VISIBILITIES = ("visible", "after_due_date", "after_published", "hidden")  # Gradescope's four
DEFAULT_POINTS = 100.0
# PrairieLearn limits results.json to 1 MB; Gradescope documents no limit, but a page of text per
# test is what a student reads. Long reports are cut to these many characters, saying so.
MAX_OUTPUT_CHARS = 200_000
MAX_RESULT_BYTES = 1_000_000


def gradescope_result(report: Report, points: float = DEFAULT_POINTS, visibility: str | None = None,
                      seconds: float | None = None) -> dict:
    from sheetprop.check.report.render import to_text

    total = report.score
    scale = points / total.cells if total.cells else 0.0
    tests = []
    for sheet, label, score, groups in _column_tests(report):
        test = {"name": f"{sheet}: {label}", "score": round(score.right * scale, 4),
                "max_score": round(score.cells * scale, 4),
                "status": "passed" if score.right == score.cells and not groups else "failed",
                "output": _column_output(score, groups)}
        if visibility:
            test["visibility"] = visibility
        tests.append(test)
    for sheet, groups in _other_findings(report):
        tests.append({"name": f"{sheet}: other findings", "status": "failed",
                      "output": _clip("\n\n".join(_group_text(g) for g in groups)),
                      **({"visibility": visibility} if visibility else {})})
    result = {"score": round(points * total.fraction, 4), "output": _clip(to_text(report)),
              # The report is plain text: "text" keeps a formula's "<" from being read as HTML.
              "output_format": "text", "tests": tests}
    return _with_common(_fit(result), visibility, seconds)


def gradescope_ungradable(message: str, points: float = DEFAULT_POINTS, visibility: str | None = None,
                          seconds: float | None = None) -> dict:
    """No score: the reason as the output and a failed test that says it."""
    test = {"name": "the workbook can be graded", "score": 0.0, "max_score": points, "status": "failed",
            "output": message, **({"visibility": visibility} if visibility else {})}
    result = {"score": 0.0, "output": f"cannot grade this submission: {message}", "output_format": "text",
              "tests": [test]}
    return _with_common(result, visibility, seconds)


def _with_common(result: dict, visibility: str | None, seconds: float | None) -> dict:
    if visibility:
        result["visibility"] = visibility
    if seconds is not None:
        result["execution_time"] = max(0, round(seconds))  # Gradescope's example: whole seconds
    return result


def prairielearn_result(report: Report) -> dict:
    from sheetprop.check.report.render import to_json, to_text

    total = report.score
    tests = [{"name": f"{sheet}: {label}", "description": f"cells of {label} in sheet {sheet!r} that are right",
              "points": score.right, "max_points": score.cells,
              "message": _column_message(score, groups), "output": _column_output(score, groups)}
             for sheet, label, score, groups in _column_tests(report)]
    for sheet, groups in _other_findings(report):
        tests.append({"name": f"{sheet}: other findings", "points": 0, "max_points": 0,
                      "message": f"{len(groups)} finding{'s' * (len(groups) != 1)}",
                      "output": _clip("\n\n".join(_group_text(g) for g in groups))})
    result = {"gradable": True, "score": round(total.fraction, 6),
              "message": f"{total.right}/{total.cells} cells right; {report.summary()}",
              "output": _clip(to_text(report)), "tests": tests,
              "feedback": json.loads(to_json(report))}
    return _fit(result)


def prairielearn_ungradable(message: str) -> dict:
    """Not gradable: PrairieLearn awards and takes nothing and charges no attempt."""
    # The score is unneeded when not gradable; 0 keeps graders that read it regardless working.
    return {"gradable": False, "score": 0.0, "format_errors": [message], "message": message}


def _column_tests(report: Report):
    """(sheet, label, Score, the finding groups of that column) for every scored column."""
    by_column: dict[tuple[str, str], list[list[Finding]]] = {}
    for group in report.groups:
        for label in group_labels(group):
            by_column.setdefault((group[0].sheet, label), []).append(group)
    for sheet in report.scores:
        for label, score in sheet.columns:
            yield sheet.sheet, label, score, by_column.get((sheet.sheet, label), [])


def _other_findings(report: Report):
    """Per sheet, the finding groups no scored column covers."""
    scored = {(s.sheet, label) for s in report.scores for label, _ in s.columns}
    other: dict[str, list[list[Finding]]] = {}
    for group in report.groups:
        if not any((group[0].sheet, label) in scored for label in group_labels(group)):
            other.setdefault(group[0].sheet, []).append(group)
    return other.items()


def _column_message(score, groups) -> str:
    if score.right == score.cells and not groups:
        return "all right"
    return (f"{score.cells - score.right} of {score.cells} cells not right"
            + (f"; {len(groups)} finding{'s' * (len(groups) != 1)}" if groups else ""))


def _column_output(score, groups) -> str:
    lines = [f"{score.right}/{score.cells} cells right"]
    if score.right < score.cells and not groups:
        lines.append("the cells short are not done yet (rows not started, or left blank)")
    return _clip("\n\n".join(["\n".join(lines), *(_group_text(g) for g in groups)]))


def _group_text(group: list[Finding]) -> str:
    """One finding group in a few lines: where, what, and what the cell should hold."""
    first, last = group[0], group[-1]
    lines = [f"{_quote(first.sheet)}!{first.cell}  {', '.join(group_labels(group))}: {first.kind} — {first.message}"]
    if len(group) > 1:
        lines.append(f"  the same mistake in {len(group)} cells, to {last.cell}")
    lines.append(f"  formula   {first.formula if first.formula is not None else '(typed value)'}")
    if first.expected is not None:
        lines.append(f"  expected  {first.expected:.15g}")
    if first.hint:
        lines.append(f"  hint      {first.hint}")
    if first.chain_rule:
        lines.append(f"  should be {first.chain_rule}")
    return "\n".join(lines)


def _fit(result: dict, limit: int = MAX_RESULT_BYTES) -> dict:
    """The result cut down to ``limit`` bytes of JSON: first the feedback report, then every
    output to an equal share (a report of thousands of findings is read from its first pages)."""
    def size() -> int:
        return len(json.dumps(result, ensure_ascii=False).encode())

    if size() <= limit:
        return result
    if "feedback" in result:
        result["feedback"] = {"summary": result["feedback"].get("summary"),
                              "omitted": f"the full report is over {limit:,} bytes"}
    items = [result, *result.get("tests", [])]
    share = limit // (4 * len(items))  # a character is up to 3 bytes in UTF-8; room for the rest
    for item in items if size() > limit else []:
        item["output"] = _clip(item.get("output", ""), share)
    return result


def _quote(sheet: str) -> str:
    return sheet if re.fullmatch(r"\w+", sheet) else f"'{sheet}'"


def _clip(text: str, limit: int = MAX_OUTPUT_CHARS) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n… (cut: the report is {len(text):,} characters; the first {limit:,} are shown)"


def platform_result(platform: str, outcome, points: float = DEFAULT_POINTS, visibility: str | None = None,
                    seconds: float | None = None) -> dict:
    """The platform's result for one graded submission (``grading.grade``'s Outcome): its report,
    or, for a file that cannot be graded, why."""
    if outcome.status != "graded":
        if platform == "gradescope":
            return gradescope_ungradable(outcome.message, points, visibility, seconds)
        return prairielearn_ungradable(outcome.message)
    if platform == "gradescope":
        return gradescope_result(outcome.report, points, visibility, seconds)
    return prairielearn_result(outcome.report)


def write_result(result: dict, out: Path | None) -> None:
    """To standard output, or to ``out`` written whole or not at all."""
    text = json.dumps(result, ensure_ascii=False, indent=2, allow_nan=False) + "\n"
    if out is None:
        print(text, end="")
        return
    from sheetprop.atomic import atomic_output

    with atomic_output(Path(out)) as tmp:
        tmp.write_text(text, encoding="utf-8")


def run(args) -> int:
    """`check --format`: exit 0 all right (or at least --min-score), 1 findings or short of it,
    2 not gradable (the result file is written in every case). The submission is graded by the
    same ``grading.grade``, with the same settings and time limit, as a class is."""
    from dataclasses import replace

    from sheetprop.check.classroom.grading import grade_within, settings_for
    from sheetprop.check.classroom.submissions import Submission
    from sheetprop.check.judge.exercise import owed_total
    from sheetprop.check.report.levels import redact

    path = Path(args.paths[0]).expanduser()
    settings = settings_for(args.key, args.tolerance, args.accept_values)
    start = time.monotonic()
    outcome = grade_within(Submission(path.name, [path], {path: str(path)}), settings, args.time_limit)
    shown = replace(outcome, report=redact(outcome.report, getattr(args, "feedback_level", "full")))
    write_result(platform_result(args.format, shown, seconds=time.monotonic() - start), args.out)
    if outcome.status != "graded":
        print(f"sheetprop check: error: {outcome.message}", file=sys.stderr)
        return 2
    return 0 if outcome.passes(args.min_score, owed_total(settings.key) if settings.key else 0) else 1
