"""``sheetprop mnist-compare RUN.xlsx... --out compare.xlsx``: training runs side by side.

Reads the metrics workbooks ``sheetprop mnist`` writes (the epochs sheet; the model sheet's name,
parameters and receptive field) and writes one workbook: a ``compare`` sheet with a table (one row
per run: model, parameters, receptive field, best and last test accuracy, the first epoch at or
above 99.4%, the last three epochs' test accuracies, seconds per epoch) and three native line
charts with one line per run (test accuracy, test loss, train accuracy), then a sheet per run with
its epochs. No torch: the workbooks are read with openpyxl.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path

from sheetprop.atomic import atomic_output, check_output_path
from sheetprop.errors import UserError
from sheetprop.metrics_sheet import METRIC_COLUMNS, validate_metrics
from sheetprop.mnist.options import MAX_EPOCHS, refuse_inputs_as_outputs

DEFAULT_OUT = Path("output") / "compare.xlsx"
TARGET_ACCURACY = 99.4  # the course's bar: reached, and held over the last epochs
MAX_RUNS = 20
# What is read of a run: the header and at most MAX_EPOCHS epochs (what 'mnist' trains at most) of
# the metrics' columns, and the model sheet's table (a layer list of 64 entries is at most 258
# rows) and its facts. A run's sheet holding more is refused, whatever its size on disk.
MAX_MODEL_ROWS = 300
SUMMARY = "compare"
TABLE_COLUMNS = ("run", "model", "parameters", "receptive field", "epochs", "best test acc %", "best at epoch",
                 "last test acc %", f"first epoch ≥ {TARGET_ACCURACY}%", "test acc % (last−2)",
                 "test acc % (last−1)", "test acc % (last)", "seconds per epoch")
CHARTS = (("test_accuracy", "Test accuracy (%)"), ("test_loss", "Test loss"), ("train_accuracy", "Train accuracy (%)"))


@dataclass(frozen=True)
class Run:
    path: Path
    sheet: str  # this run's sheet in the comparison
    model: str
    parameters: int | None
    receptive_field: int | None
    metrics: list[dict]

    def summary(self) -> list:
        accuracies = [row["test_accuracy"] for row in self.metrics]
        best = max(range(len(accuracies)), key=lambda k: accuracies[k])
        reached = next((row["epoch"] for row in self.metrics if row["test_accuracy"] >= TARGET_ACCURACY), "never")
        last_three = ([""] * 3 + accuracies)[-3:]
        seconds = sum(row["seconds"] for row in self.metrics) / len(self.metrics)
        return [self.sheet, self.model, self.parameters if self.parameters is not None else "",
                self.receptive_field if self.receptive_field is not None else "", len(self.metrics),
                accuracies[best], self.metrics[best]["epoch"], accuracies[-1], reached, *last_three, seconds]


def _sheet_name(path: Path, taken: set[str]) -> str:
    """The file's stem as a sheet name: Excel allows 31 characters and none of []:*?/\\."""
    base = re.sub(r"[\[\]:*?/\\']", "_", path.stem)[:28] or "run"
    name, n = base, 2
    while name.lower() in taken or name.lower() == SUMMARY:
        name, n = f"{base[:26]}-{n}", n + 1
    taken.add(name.lower())
    return name


def read_run(path: Path, sheet: str) -> Run:
    """One metrics workbook of 'sheetprop mnist', or a one-line UserError saying what it lacks."""
    import openpyxl

    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"mnist-compare: {path} does not exist" if not path.exists() else f"mnist-compare: {path} is not a file")
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for a file that is not xlsx
        raise UserError(f"mnist-compare: cannot read {path} as a workbook: {type(exc).__name__}") from None
    try:
        if "epochs" not in book.sheetnames:
            raise UserError(f"mnist-compare: {path} has no 'epochs' sheet; give the metrics workbook "
                            "'sheetprop mnist' writes (its --out, not FILE_model.xlsx)")
        lines = []
        for number, line in enumerate(book["epochs"].iter_rows(values_only=True, max_col=len(METRIC_COLUMNS)), 1):
            if any(v is not None for v in line):
                lines.append(line)
            if len(lines) > MAX_EPOCHS + 1 or number > 2 * MAX_EPOCHS + 100:  # blank rows count too
                raise UserError(f"mnist-compare: {path}: the epochs sheet has more than {MAX_EPOCHS} rows of "
                                f"epochs; 'sheetprop mnist' trains at most {MAX_EPOCHS}")
        header = [str(v).strip() if v is not None else "" for v in lines[0]] if lines else []
        if header[: len(METRIC_COLUMNS)] != list(METRIC_COLUMNS):
            raise UserError(f"mnist-compare: {path}: the epochs sheet's header is not {','.join(METRIC_COLUMNS)}")
        metrics = validate_metrics([dict(zip(METRIC_COLUMNS, line)) for line in lines[1:]
                                    if line[0] is not None], source=f"mnist-compare: {path}")
        if not metrics:
            raise UserError(f"mnist-compare: {path} has no epochs")
        facts = {}
        if "model" in book.sheetnames:
            # The facts beside the table: labels in column H, values to their right; the total
            # under the table, in its parameters column.
            from sheetprop.mnist.workbook.export import MODEL_COLUMNS

            parameters = MODEL_COLUMNS.index("parameters")
            for line in book["model"].iter_rows(values_only=True, max_col=9, max_row=MAX_MODEL_ROWS):
                if line and line[0] == "total params" and len(line) > parameters:
                    facts.setdefault("total params", line[parameters])
                if len(line) > 8 and isinstance(line[7], str):
                    facts.setdefault(line[7].strip(), line[8])
    finally:
        book.close()

    def whole(value):
        return int(value) if isinstance(value, (int, float)) else None

    # Workbooks from before layer lists have no model name: they trained the default network.
    return Run(path, sheet, str(facts.get("model") or "default"), whole(facts.get("total params")),
               whole(facts.get("receptive field")), metrics)


def write_comparison(out: Path, runs: list[Run]) -> None:
    import xlsxwriter

    from sheetprop.mnist.workbook.export import write_cell

    with atomic_output(out) as tmp:
        book = xlsxwriter.Workbook(str(tmp), {"tmpdir": str(tmp.parent)})
        bold = book.add_format({"bold": True, "bottom": 1, "text_wrap": True})
        number = book.add_format({"num_format": "0.00"})
        summary = book.add_worksheet(SUMMARY)
        for col, text in enumerate(TABLE_COLUMNS):
            summary.write_string(0, col, text, bold)
        for row, run in enumerate(runs, start=1):
            for col, value in enumerate(run.summary()):
                write_cell(summary, row, col, value)
        summary.set_column(0, 1, 18)
        summary.set_column(2, len(TABLE_COLUMNS) - 1, 11, number)
        summary.set_row(0, 45)
        summary.write_string(len(runs) + 2, 0, "files compared:", bold)
        for row, run in enumerate(runs, start=len(runs) + 3):
            summary.write_string(row, 0, run.sheet)
            summary.write_string(row, 1, str(run.path))

        for run in runs:
            sheet = book.add_worksheet(run.sheet)
            for col, column in enumerate(METRIC_COLUMNS):
                sheet.write_string(0, col, column, bold)
            for row, values in enumerate(run.metrics, start=1):
                for col, column in enumerate(METRIC_COLUMNS):
                    sheet.write_number(row, col, values[column])
            sheet.write_string(0, len(METRIC_COLUMNS) + 1, f"model {run.model}, from {run.path.name}")
            # The charts' line name, read from this cell: a name given as text that starts with "="
            # would be taken for a formula.
            sheet.write_string(1, len(METRIC_COLUMNS) + 1, f"{run.sheet} ({run.model})")

        chart_row = 2 * len(runs) + 5
        epoch_col = METRIC_COLUMNS.index("epoch")
        for index, (column, title) in enumerate(CHARTS):
            chart = book.add_chart({"type": "line"})
            col = METRIC_COLUMNS.index(column)
            for run in runs:
                last = len(run.metrics)
                chart.add_series({"name": [run.sheet, 1, len(METRIC_COLUMNS) + 1],
                                  "categories": [run.sheet, 1, epoch_col, last, epoch_col],
                                  "values": [run.sheet, 1, col, last, col],
                                  "marker": {"type": "circle", "size": 4}})
            chart.set_title({"name": title})
            chart.set_x_axis({"name": "epoch"})
            chart.set_y_axis({"name": title})
            chart.set_legend({"position": "bottom"})
            chart.set_size({"width": 620, "height": 340})
            summary.insert_chart(chart_row + 18 * index, 0, chart)
        book.close()


DESCRIPTION = """\
Compare training runs: read the metrics workbooks of 'sheetprop mnist' (each run's --out) and write
one workbook with a table (model, parameters, receptive field, best and last test accuracy, the
first epoch at or above 99.4%, the last three epochs' test accuracies, seconds per epoch), native
line charts of test accuracy, test loss and train accuracy with one line per run, and a sheet per
run with its epochs."""


def add_parser(commands) -> None:
    parser = commands.add_parser("mnist-compare", help="compare 'mnist' runs: a table and charts, one line per run",
                                 description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", type=Path, nargs="+", metavar="RUN.xlsx", help="metrics workbooks of 'sheetprop mnist'")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="FILE.xlsx",
                        help=f"the comparison workbook to write (default: {DEFAULT_OUT})")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    out = check_output_path(args.out)
    if len(args.runs) > MAX_RUNS:
        raise UserError(f"mnist-compare: {len(args.runs)} runs; at most {MAX_RUNS} in one comparison")
    refuse_inputs_as_outputs([out], args.runs, "mnist-compare")
    taken: set[str] = set()
    runs = [read_run(path, _sheet_name(path, taken)) for path in args.runs]
    write_comparison(out, runs)
    print(f"wrote {out}: {len(runs)} runs compared")
    return 0
