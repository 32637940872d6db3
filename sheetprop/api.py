"""The Python API, for notebooks: the commands as functions that return what they made.

Each takes the command's options as keyword arguments and checks them exactly as the command
line does (the same functions: writer.options, the mnist parser), so bad input raises
``SheetpropError`` with the command line's one-line message.
"""

from __future__ import annotations

import html
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


def _path(name: str, value, optional: bool = False) -> Path | None:
    """A path argument as the command line would take it, or a one-line SheetpropError."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, os.PathLike)):
        raise SheetpropError(f"{name} must be a path (str or Path), not {type(value).__name__}")
    return Path(value)


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

    out, mnist_metrics = _path("out", out), _path("mnist_metrics", mnist_metrics, optional=True)
    options = resolve(template, optimizer, lrs, steps)
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


def check(path, key=None, tolerance: float | None = None, accept_values: bool = False,
          time_limit: float | None = None):
    """Grade a workbook, as ``sheetprop check``: a CheckReport. A folder or a .zip of submissions
    is a class, graded as ``sheetprop check FOLDER`` grades one: a ClassReport with a row per
    submission. ``key``: the answer key `build --exercise` wrote; the network, sheets and rows
    then come from it, as with ``check --key``. ``accept_values`` and ``time_limit`` (seconds per
    workbook) are the command's ``--accept-values`` and ``--time-limit``: the command line and this
    function grade through the same settings and the same ``grade``."""
    from sheetprop.check import DEFAULT_TOLERANCE
    from sheetprop.check.classroom.budget import MAX_CHECK_SECONDS
    from sheetprop.check.classroom.grading import grade_within, settings_for
    from sheetprop.check.classroom.submissions import Submission, is_class
    from sheetprop.check.cli import time_limit_problem, tolerance_problem

    # The command line's checks, as one-line errors: a path each, a tolerance in (0, 1), a time limit.
    for name, value in (("path", path), ("key", key)):
        if not isinstance(value, (str, os.PathLike)) and (value is not None or name == "path"):
            raise SheetpropError(f"{name} must be a workbook's path (str or Path), not {type(value).__name__}")
    if tolerance is not None and (problem := tolerance_problem(tolerance)):
        raise SheetpropError(f"tolerance: {problem}")
    time_limit = MAX_CHECK_SECONDS if time_limit is None else time_limit
    if problem := time_limit_problem(time_limit):
        raise SheetpropError(f"time_limit: {problem}")

    path = Path(path).expanduser()
    if not path.exists():
        raise SheetpropError(f"{path}: no such file or folder")
    settings = settings_for(Path(key) if key is not None else None,
                            DEFAULT_TOLERANCE if tolerance is None else tolerance, bool(accept_values))
    if is_class([path]):
        return _check_class(path, settings, time_limit)
    outcome = grade_within(Submission(path.name, [path], {path: str(path)}), settings, time_limit)
    if outcome.status != "graded":
        raise SheetpropError(outcome.message)
    return CheckReport(outcome.report, path)


def _check_class(path: Path, settings, time_limit: float) -> ClassReport:
    import tempfile

    from sheetprop.check.judge.exercise import owed_total
    from sheetprop.check.classroom.grading import grade_within
    from sheetprop.check.classroom.submissions import find_submissions

    record = settings.key
    owed = owed_total(record) if record is not None else 0
    rows, reports = [], {}
    with tempfile.TemporaryDirectory(prefix="sheetprop-class-") as work:
        submissions = find_submissions([path], Path(work), record["sheets"] if record else None)
        if not submissions:
            raise SheetpropError(f"no submissions in {path}")
        for submission in submissions:
            outcome = grade_within(submission, settings, time_limit)
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
    """What ``train`` made: ``metrics`` (one row per epoch: train/test loss and accuracy, lr,
    seconds), ``paths`` (every file written: workbook, metrics_csv, curves_png, misclassified_png,
    samples_png, readme, model_workbook — None where it was over its budget —, checkpoint) and
    ``record`` (the workbook's run sheet: the data, best and final accuracy, the course target).
    In a notebook it shows itself as the epoch table and the curves."""
    metrics: list[dict]
    paths: object  # sheetprop.mnist.options.OutputPaths
    record: dict = field(default_factory=dict)

    @property
    def model_workbook(self) -> Path | None:
        return self.paths.model_workbook

    def _repr_html_(self) -> str:
        import base64
        import html

        columns = ("epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy")
        head = "".join(f"<th>{name.replace('_', ' ')}</th>" for name in columns)
        rows = "".join("<tr>" + "".join(f"<td>{row[name]:.4f}</td>" if "loss" in name else
                                         f"<td>{row[name]:.2f}</td>" if "accuracy" in name else
                                         f"<td>{row[name]}</td>" for name in columns) + "</tr>"
                       for row in self.metrics)
        facts = ", ".join(f"{key} <b>{html.escape(str(self.record[key]))}</b>"
                          for key in ("model", "parameters", "course target") if key in self.record)
        picture = ""
        curves = getattr(self.paths, "curves_png", None)
        if curves is not None and Path(curves).is_file():
            data = base64.b64encode(Path(curves).read_bytes()).decode("ascii")
            picture = f'<img src="data:image/png;base64,{data}" alt="loss and accuracy per epoch" style="max-width:640px">'
        return (f"<div><p>{facts}</p><table><tr>{head}</tr>{rows}</table>{picture}"
                f"<p><code>{html.escape(str(self.paths.workbook))}</code></p></div>")


def train(out="output/mnist.xlsx", quiet: bool = False, **options) -> TrainResult:
    """Train the MNIST CNN, as ``sheetprop mnist`` (options as keyword arguments: epochs=1,
    batch_size=128, lr=0.05, dataset="mnist", data=..., model=..., seed, device, no_download,
    split_test...), checked as the command line checks them. Shows a progress bar per epoch (a
    widget in a notebook) and a line per epoch unless ``quiet=True``. Needs torch."""
    from sheetprop.mnist import pipeline
    from sheetprop.mnist.options import TrainOptions

    run_options = TrainOptions.from_keywords(out=out, quiet=quiet, **options)
    if run_options.summary:
        raise SheetpropError("summary=True prints a table on the command line: sheetprop mnist --summary")
    say = None if run_options.quiet else print
    outcome = pipeline.run(run_options, say=say, progress=not run_options.quiet)
    if outcome.interrupted:
        raise SheetpropError("training was interrupted"
                             + (f" after epoch {outcome.metrics[-1]['epoch']}; continue with resume=True"
                                if outcome.metrics else " before the first epoch finished; nothing written"))
    if say is not None:
        for note in outcome.notes:
            print(note)
    return TrainResult(outcome.metrics, outcome.paths, outcome.record)


def readme(template="era", lrs: Iterable[float] | str | None = None, steps: int = 100,
           optimizer: str | None = None, out="output/handin", gradcheck: bool = False,
           mnist_metrics=None, progress=None, from_workbook=None, mnist=None):
    """Write a hand-in folder, as ``sheetprop readme``; returns a HandinResult (workbook,
    readme, loss_pngs by η as typed, combined_png, network_png, sheet_pngs). ``from_workbook``:
    hand in that workbook (``--from``); ``mnist``: the run workbook for Part 2 (``--mnist``)."""
    from sheetprop.handin.readme import write_handin
    from sheetprop.writer.options import refuse_own_inputs, resolve

    out, mnist_metrics = _path("out", out), _path("mnist_metrics", mnist_metrics, optional=True)
    from_workbook, mnist = _path("from_workbook", from_workbook, optional=True), _path("mnist", mnist, optional=True)
    options = resolve(template, optimizer, lrs, steps)
    if from_workbook is None:
        refuse_own_inputs(Path(out) / "BackPropagation.xlsx", options.template, mnist_metrics=mnist_metrics)
    return write_handin(options, Path(out), gradcheck=gradcheck, add_extra_sheets=_extra_sheets(mnist_metrics),
                        progress=progress, from_workbook=from_workbook, mnist_run=mnist)
