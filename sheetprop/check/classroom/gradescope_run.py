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
    files = [p for p in sorted(folder.rglob("*")) if p.is_file() and not _is_clutter(p.relative_to(folder))]
    workbooks = [p for p in files if p.suffix.lower() in WORKBOOK_SUFFIXES]
    if not workbooks:
        return files[:1] if len(files) == 1 else []
    return sorted(workbooks, key=lambda p: (not set(key_sheets) <= set(sheet_names(p)), str(p)))


def _is_clutter(relative: Path) -> bool:
    return (relative.name.startswith(("~$", "._", ".~lock")) or
            any(part in ("__MACOSX", ".git") for part in relative.parts))


def grade_submission(root: Path) -> dict:
    from sheetprop.check.classroom.platforms import gradescope_ungradable, platform_result

    config = json.loads((root / "source" / CONFIG_NAME).read_text(encoding="utf-8"))
    points, visibility = float(config["points"]), config.get("visibility")
    options = {"points": points, "visibility": visibility}
    if config.get("tolerance") is not None:
        options["tolerance"] = float(config["tolerance"])
    key = root / "source" / config["key"]
    folder = root / "submission"
    candidates = submitted_workbooks(folder, config.get("key_sheets", [])) if folder.is_dir() else []
    if not candidates:
        message = "the submission holds no workbook (.xlsx); upload the filled-in exercise workbook"
        print(message)
        return gradescope_ungradable(message, points, visibility)
    reasons = []
    for path in candidates[:MAX_CANDIDATES]:
        result, report = platform_result("gradescope", path, key, **options)
        if not isinstance(report, str):
            print(f"graded {path.relative_to(folder)}: {result['score']:g} of {points:g} points; {report.summary()}")
            others = [str(p.relative_to(folder)) for p in candidates if p != path]
            if others:
                result["output"] = (f"graded {path.relative_to(folder)}; also in the submission, not graded: "
                                    f"{', '.join(others)}\n\n{result['output']}")
            return result
        reasons.append(f"{path.relative_to(folder)}: {report}")
        print(f"cannot grade {path.relative_to(folder)}: {report}")
    return gradescope_ungradable("; ".join(reasons), points, visibility)


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
