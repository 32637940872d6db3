"""What the Gradescope autograder runs for each submission: ``python -m sheetprop.check.classroom.gradescope_run
ROOT`` (ROOT is /autograder there). It grades the workbook in ROOT/submission against the key in
ROOT/source and writes ROOT/results/results.json — always, as Gradescope's best practices ask:
a file that cannot be graded, or a crash of the grader itself, is a result with score 0 that
says why. What it did goes to standard output, which Gradescope shows to instructors only."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from sheetprop.check.classroom.autograder import CONFIG_NAME, ROOT_VARIABLE
from sheetprop.check.classroom.submissions import sheet_names
from sheetprop.errors import UserError

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")
MAX_CANDIDATES = 20


def submitted_workbooks(folder: Path, key_sheets: list[str]) -> list[Path]:
    """The workbooks of a submission, the likeliest first: those holding the key's sheets, then by
    path. Excel's lock files (~$…), macOS resource forks and version-control folders are not
    submissions; a submission of one file of another name is tried as it is (check says what it is)."""
    files = [p for p in _files(folder) if not _is_clutter(p.relative_to(folder))]
    workbooks = [p for p in files if p.suffix.lower() in WORKBOOK_SUFFIXES]
    if not workbooks:
        return files[:1] if len(files) == 1 else []
    return sorted(workbooks, key=lambda p: (not set(key_sheets) <= set(sheet_names(p)), str(p)))


def _files(folder: Path) -> list[Path]:
    """The plain files under ``folder``, never through a link: a link to the key (or to anything
    outside the submission) is no file the student handed in."""
    found = []
    for top, dirs, names in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not os.path.islink(os.path.join(top, d)))
        for name in sorted(names):
            path = Path(top, name)
            if not path.is_symlink() and path.is_file():
                found.append(path)
    return sorted(found)


def _is_clutter(relative: Path) -> bool:
    return (relative.name.startswith(("~$", "._", ".~lock")) or
            any(part in ("__MACOSX", ".git") for part in relative.parts))


def grade_submission(root: Path) -> dict:
    """The submission graded by ``grading.grade``, as `check` grades a class: its workbooks tried
    best first, under the time limit, against the key, the key itself handed in said so."""
    import time

    from sheetprop.check.classroom.budget import MAX_CHECK_SECONDS
    from sheetprop.check.classroom.grading import grade_within, settings_for
    from sheetprop.check.classroom.platforms import gradescope_ungradable, platform_result
    from sheetprop.check.classroom.submissions import Submission

    config = json.loads((root / "source" / CONFIG_NAME).read_text(encoding="utf-8"))
    points, visibility = float(config["points"]), config.get("visibility")
    tolerance = config.get("tolerance")
    settings = settings_for(root / "source" / config["key"],
                            **({"tolerance": float(tolerance)} if tolerance is not None else {}),
                            accept_values=bool(config.get("accept_values", False)))
    folder = root / "submission"
    candidates = submitted_workbooks(folder, config.get("key_sheets", [])) if folder.is_dir() else []
    if not candidates:
        message = "the submission holds no workbook (.xlsx); upload the filled-in exercise workbook"
        print(message)
        return gradescope_ungradable(message, points, visibility)
    candidates = candidates[:MAX_CANDIDATES]
    submission = Submission("submission", candidates, {p: str(p.relative_to(folder)) for p in candidates})
    start = time.monotonic()
    outcome = grade_within(submission, settings, float(config.get("time_limit") or MAX_CHECK_SECONDS))
    from dataclasses import replace

    from sheetprop.check.report.levels import redact

    outcome = replace(outcome, report=redact(outcome.report, config.get("feedback_level") or "full"))
    result = platform_result("gradescope", outcome, points, visibility, time.monotonic() - start)
    if outcome.status != "graded":
        print(f"cannot grade the submission: {outcome.message}")
        return result
    print(f"graded {outcome.file}: {result['score']:g} of {points:g} points; {outcome.report.summary()}"
          + (f" ({outcome.message})" if outcome.message else ""))
    if outcome.others:
        result["output"] = (f"graded {outcome.file}; also in the submission, not graded: "
                            f"{', '.join(outcome.others)}\n\n{result['output']}")
    return result


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    root = Path(argv[0] if argv else os.environ.get(ROOT_VARIABLE, "/autograder"))
    import sheetprop

    print(f"sheetprop {sheetprop.__version__} from {Path(sheetprop.__file__).parent}")
    try:
        result = grade_submission(root)
    except Exception as exc:  # noqa: BLE001 - whatever breaks, the student still gets a result
        from sheetprop.check.classroom.platforms import DEFAULT_POINTS, gradescope_ungradable

        reason = str(exc) if isinstance(exc, UserError) else f"{type(exc).__name__}: {exc}"
        print(f"the autograder failed: {reason}")
        result = gradescope_ungradable(f"the autograder failed ({reason}); ask your teacher", DEFAULT_POINTS)
    results = root / "results" / "results.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    from sheetprop.check.classroom.platforms import write_result

    write_result(result, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
