"""The Python API, for notebooks: the commands as functions that return what they made.

Each takes the command's options as keyword arguments and checks them exactly as the command
line does (the same functions: writer.options, the mnist parser), so bad input raises
``SheetpropError`` with the command line's one-line message.
"""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from sheetprop.errors import SheetpropError

DEFAULT_WORKBOOK = Path("output") / "BackPropagation.xlsx"


@dataclass(frozen=True)
class BuildResult:
    path: Path
    losses: dict[float, list[float]]  # each η (a number) to its E_total per step, as the sheet holds it
    sheet_names: list[str]            # every visible sheet: summary, lr=…, (mnist)
    learning_rates: list[str]         # as the sheets name them
    exercise_path: Path | None = None


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
    line's text). Returns its path, each learning rate's losses and the sheet names."""
    from sheetprop.writer.build import build_workbook
    from sheetprop.writer.exercise import exercise_path
    from sheetprop.writer.options import resolve

    options = resolve(template, optimizer, lrs, steps)
    out = Path(out)
    exercise_out = exercise_path(out) if exercise else None
    extra = _extra_sheets(mnist_metrics)
    build_workbook(options.template, options.learning_rates, options.steps, out, extra,
                   gradcheck=gradcheck, exercise_out=exercise_out)
    return _result(out, options.rate_texts, exercise_out)


def _result(out: Path, learning_rates: list[str], exercise_out=None) -> BuildResult:
    from sheetprop.handin.loss_figures import read_loss_curves

    curves = read_loss_curves(out, [f"lr={text}" for text in learning_rates])
    import openpyxl

    book = openpyxl.load_workbook(out, read_only=True)
    try:
        names = [ws.title for ws in book.worksheets if ws.sheet_state == "visible"]
    finally:
        book.close()
    return BuildResult(out, {float(text): c.losses for text, c in zip(learning_rates, curves)}, names,
                       list(learning_rates), exercise_out)


@dataclass
class CheckReport:
    """What ``sheetprop check`` reports: ``findings`` (each a wrong cell), ``score`` (the right
    fraction of the student's cells, None without an exercise's record), ``text()`` as the
    command prints it and ``to_json()`` as ``check --json`` does."""

    report: object = field(repr=False)

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


def check(path, key=None, tolerance: float | None = None) -> CheckReport:
    """Grade a workbook, as ``sheetprop check``. ``key``: the answer key `build --exercise` wrote;
    the network, sheets and rows then come from it, as with ``check --key``."""
    from sheetprop.check import DEFAULT_TOLERANCE, check_workbook
    from sheetprop.check.judge.exercise import read_key

    return CheckReport(check_workbook(Path(path), DEFAULT_TOLERANCE if tolerance is None else tolerance,
                                      key=read_key(Path(key)) if key is not None else None))


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
           mnist_metrics=None, progress=None):
    """Write a hand-in folder, as ``sheetprop readme``; returns a HandinResult (workbook,
    readme, loss_pngs by η as typed, combined_png, sheet_pngs, skipped)."""
    from sheetprop.handin.readme import write_handin
    from sheetprop.writer.options import resolve

    options = resolve(template, optimizer, lrs, steps)
    return write_handin(options, Path(out), gradcheck=gradcheck, add_extra_sheets=_extra_sheets(mnist_metrics),
                        progress=progress)
