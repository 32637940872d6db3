"""The Python API, for notebooks: the commands as functions that return what they made.

Each takes the command's options as keyword arguments and checks them exactly as the command
line does (the same functions: writer.options, the mnist parser), so bad input raises
``SheetpropError`` with the command line's one-line message.
"""

from __future__ import annotations

import contextlib
import html
import io
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from sheetprop.errors import SheetpropError

DEFAULT_WORKBOOK = Path("output") / "BackPropagation.xlsx"


def _png_html(draw) -> str:
    """A picture drawn by ``draw(path)`` as an inline <img>, for a notebook's output."""
    import base64
    import tempfile

    with tempfile.TemporaryDirectory(prefix="sheetprop-html-") as folder:
        path = Path(folder, "picture.png")
        draw(path)
        data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" style="max-width:100%">'


def _table_html(header: list[str], rows: list[list]) -> str:
    cells = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


def _shown(value) -> str:
    from sheetprop.writer.number_formats import expected_text

    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "" if value is None else str(value)
    return "#NUM!" if math.isnan(value) else expected_text(float(value))


@dataclass(frozen=True)
class BuildResult:
    path: Path
    losses: dict[float, list[float]]  # each η (a number) to its E_total per step, as the sheet holds it
    sheet_names: list[str]            # every visible sheet: summary, lr=…, (mnist)
    learning_rates: list[str]         # as the sheets name them
    exercise_path: Path | None = None

    def __repr__(self) -> str:
        steps = len(next(iter(self.losses.values()), []))
        return (f"BuildResult(path={str(self.path)!r}, learning_rates={self.learning_rates}, steps={steps}"
                + (f", exercise_path={str(self.exercise_path)!r}" if self.exercise_path else "") + ")")

    def _rows(self) -> list[list]:
        return [[text, _shown(losses[0] if losses else math.nan), _shown(losses[-1] if losses else math.nan), len(losses)]
                for text, losses in zip(self.learning_rates, self.losses.values())]

    def _repr_html_(self) -> str:
        from sheetprop.handin.loss_figures import LossCurve, plot_all

        curves = [LossCurve(f"lr={text}", text, rate, list(losses))
                  for text, (rate, losses) in zip(self.learning_rates, self.losses.items())]
        table = _table_html(["η", "E_total first", "E_total last", "steps"], self._rows())
        picture = _png_html(lambda path: plot_all(curves, path, "E_total per step"))
        return f"<p><b>{html.escape(self.path.name)}</b>: {', '.join(map(html.escape, self.sheet_names))}</p>{table}{picture}"


def _extra_sheets(mnist_metrics):
    if mnist_metrics is None:
        return None
    from sheetprop.metrics_sheet import add_metrics_sheet, read_metrics_csv

    metrics = read_metrics_csv(Path(mnist_metrics))
    return lambda book, formats: add_metrics_sheet(book, metrics, name="mnist")


def build(template="era", lrs: Iterable[float] | str | None = None, steps: int = 100,
          optimizer: str | None = None, out=DEFAULT_WORKBOOK, gradcheck: bool = False,
          exercise: bool = False, mnist_metrics=None) -> BuildResult:
    """Write the workbook, as ``sheetprop build``; ``lrs`` a list of numbers (or the command
    line's text). Returns its path, each learning rate's losses (as the build computed them, the
    numbers the sheet's cells hold) and the sheet names."""
    from sheetprop import layout
    from sheetprop.writer.build import build_workbook
    from sheetprop.writer.exercise import exercise_path
    from sheetprop.writer.options import refuse_own_inputs, resolve

    options = resolve(template, optimizer, lrs, steps)
    out = Path(out)
    exercise_out = exercise_path(out) if exercise else None
    for path in (out, exercise_out):
        if path is not None:
            refuse_own_inputs(path, options.template, mnist_metrics=mnist_metrics)
    extra = _extra_sheets(mnist_metrics)
    results = build_workbook(options.template, options.learning_rates, options.steps, out, extra,
                             gradcheck=gradcheck, exercise_out=exercise_out)
    names = [layout.SUMMARY_SHEET, *(layout.sheet_name(text) for text in options.rate_texts)]
    if extra is not None:
        names.append("mnist")
    return BuildResult(out, {r.learning_rate.value: list(r.losses) for r in results}, names,
                       list(options.rate_texts), exercise_out)


@dataclass
class CheckReport:
    """What ``sheetprop check`` reports: ``findings`` (each a wrong cell), ``score`` (the right
    fraction of the student's cells, None without an exercise's record), ``text()`` as the
    command prints it and ``to_json()`` as ``check --json`` does."""

    report: object = field(repr=False)
    path: Path | None = None

    @property
    def findings(self) -> list:
        return list(self.report.findings)

    @property
    def score(self) -> float | None:
        return self.report.score.fraction if self.report.exercise else None

    def text(self) -> str:
        from sheetprop.check.cli import to_text

        return to_text(self.report)

    def to_json(self) -> str:
        from sheetprop.check.cli import to_json

        return to_json(self.report)

    def to_dict(self) -> dict:
        return json.loads(self.to_json())

    def _score_text(self) -> str:
        if self.score is None:
            return "no score (not an exercise)"
        return f"{100 * self.score:.1f} % ({self.report.score.right} of {self.report.score.cells} cells right)"

    def __repr__(self) -> str:
        name = f"{self.path.name!r}, " if self.path is not None else ""
        return f"CheckReport({name}score={self._score_text()}, findings={len(self.report.findings)})"

    def _repr_html_(self) -> str:
        title = html.escape(self.path.name if self.path is not None else "workbook")
        head = f"<p><b>{title}</b>: {html.escape(self._score_text())}; {len(self.report.findings)} findings</p>"
        if not self.report.findings:
            return head + "<p>No wrong cell found.</p>"
        rows = [[f.sheet, f.cell, f.label, f.kind, f.formula or "", _shown(f.found), _shown(f.expected), f.message]
                for f in self.report.findings]
        return head + _table_html(["sheet", "cell", "label", "kind", "formula", "found", "expected", "message"], rows)


@dataclass
class ClassReport:
    """A class graded, as ``sheetprop check FOLDER``: one row per submission (``rows``: its
    name, status, score, findings and the reason it was not graded), the reports by name."""

    rows: list[dict]
    reports: dict[str, CheckReport] = field(repr=False, default_factory=dict)

    def __repr__(self) -> str:
        graded = sum(row["status"] == "graded" for row in self.rows)
        return f"ClassReport({len(self.rows)} submissions, {graded} graded)"

    def __len__(self) -> int:
        return len(self.rows)

    def _repr_html_(self) -> str:
        header = ["submission", "status", "score %", "findings", "file", "note"]
        rows = [[row["submission"], row["status"], f"{row['score']:.1f}" if row["score"] is not None else "",
                 row["findings"], row["file"], row["message"]] for row in self.rows]
        return f"<p><b>{html.escape(repr(self))}</b></p>" + _table_html(header, rows)


def check(path, key=None, tolerance: float | None = None):
    """Grade a workbook, as ``sheetprop check``: a CheckReport. A folder or a .zip of submissions
    is a class, graded as ``sheetprop check FOLDER`` grades one: a ClassReport with a row per
    submission. ``key``: the answer key `build --exercise` wrote; the network, sheets and rows
    then come from it, as with ``check --key``."""
    from sheetprop.check import DEFAULT_TOLERANCE, check_workbook
    from sheetprop.check.cli import tolerance_problem
    from sheetprop.check.judge.exercise import read_key
    from sheetprop.check.classroom.submissions import is_class

    # The command line's checks, as one-line errors: a path each, a tolerance in (0, 1).
    for name, value in (("path", path), ("key", key)):
        if not isinstance(value, (str, os.PathLike)) and (value is not None or name == "path"):
            raise SheetpropError(f"{name} must be a workbook's path (str or Path), not {type(value).__name__}")
    if tolerance is not None and (problem := tolerance_problem(tolerance)):
        raise SheetpropError(f"tolerance: {problem}")

    path = Path(path).expanduser()
    if not path.exists():
        raise SheetpropError(f"{path}: no such file or folder")
    record = read_key(Path(key)) if key is not None else None
    tolerance = DEFAULT_TOLERANCE if tolerance is None else tolerance
    if is_class([path]):
        return _check_class(path, record, tolerance)
    return CheckReport(check_workbook(path, tolerance, key=record), path)


def _check_class(path: Path, record, tolerance: float) -> ClassReport:
    import tempfile

    from sheetprop.check.judge.exercise import owed_total
    from sheetprop.check.classroom.grading import Settings, grade
    from sheetprop.check.classroom.submissions import find_submissions

    settings = Settings(record, tolerance)
    owed = owed_total(record) if record is not None else 0
    rows, reports = [], {}
    with tempfile.TemporaryDirectory(prefix="sheetprop-class-") as work:
        submissions = find_submissions([path], Path(work), record["sheets"] if record else None)
        if not submissions:
            raise SheetpropError(f"no submissions in {path}")
        for submission in submissions:
            outcome = grade((submission, settings))
            graded = outcome.status == "graded"
            rows.append({"submission": outcome.submission, "status": outcome.status,
                         "score": outcome.percent(owed) if graded else None,
                         "findings": outcome.findings if graded else None, "file": outcome.file,
                         "message": outcome.message})
            if outcome.report is not None:
                reports[outcome.submission] = CheckReport(outcome.report, Path(outcome.file) if outcome.file else None)
    return ClassReport(rows, reports)


@dataclass(frozen=True)
class TrainResult:
    metrics: list[dict]  # one row per epoch: train/test loss and accuracy, lr, seconds
    paths: object        # OutputPaths: workbook, metrics_csv, curves_png, misclassified_png
    model_workbook: Path


def train(out="output/mnist.xlsx", **options) -> TrainResult:
    """Train the MNIST CNN, as ``sheetprop mnist`` (options as keyword arguments: epochs=1,
    batch_size=128, lr=0.05, dataset="mnist", data=..., seed, device, no_download...). Needs torch."""
    argv = ["mnist", "--out", str(out), "--quiet"]
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            argv.append(flag)
        elif value is not False and value is not None:  # 0 is a value (and a bad --epochs)
            argv += [flag, str(value)]
    from sheetprop.cli import make_parser

    args = _parse(make_parser(argv), argv)
    with contextlib.redirect_stdout(io.StringIO()):
        code = args.run(args)
    if code:
        raise SheetpropError(f"training stopped before it finished (exit code {code})")
    from sheetprop.metrics_sheet import read_metrics_csv
    from sheetprop.mnist.export import OutputPaths

    paths = OutputPaths.beside(Path(out))
    return TrainResult(read_metrics_csv(paths.metrics_csv), paths,
                       Path(out).with_name(f"{Path(out).stem}_model.xlsx"))


def _parse(parser, argv: list[str]):
    """argparse's checks, with its message raised as a SheetpropError instead of an exit."""
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors):
            return parser.parse_args(argv)
    except SystemExit:
        lines = [line for line in errors.getvalue().splitlines() if line.strip()]
        message = lines[-1] if lines else "bad options"
        raise SheetpropError(message.split("error: ", 1)[-1]) from None


def readme(template="era", lrs: Iterable[float] | str | None = None, steps: int = 100,
           optimizer: str | None = None, out="output/handin", gradcheck: bool = False,
           mnist_metrics=None, progress=None, from_workbook=None, mnist=None):
    """Write a hand-in folder, as ``sheetprop readme``; returns a HandinResult (workbook,
    readme, loss_pngs by η as typed, combined_png, network_png, sheet_pngs). ``from_workbook``:
    hand in that workbook (``--from``); ``mnist``: the run workbook for Part 2 (``--mnist``)."""
    from sheetprop.handin.readme import write_handin
    from sheetprop.writer.options import refuse_own_inputs, resolve

    options = resolve(template, optimizer, lrs, steps)
    if from_workbook is None:
        refuse_own_inputs(Path(out) / "BackPropagation.xlsx", options.template, mnist_metrics=mnist_metrics)
    return write_handin(options, Path(out), gradcheck=gradcheck, add_extra_sheets=_extra_sheets(mnist_metrics),
                        progress=progress, from_workbook=from_workbook, mnist_run=mnist)
