"""Per-epoch training metrics: the CSV file and the workbook sheet with its charts.

Kept free of torch so the `build` command can add an MNIST metrics sheet to its workbook
(``build --mnist-metrics FILE.csv``) on a core install.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from sheetprop.errors import UserError
from sheetprop.files import read_limited

# The exact header of the CSV and of the sheet; accuracies are percentages.
METRIC_COLUMNS = ("epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "lr", "seconds")

_NUMBER_FORMATS = {
    "epoch": "0",
    "train_loss": "0.0000",
    "train_accuracy": "0.00",
    "test_loss": "0.0000",
    "test_accuracy": "0.00",
    "lr": "0.000000",
    "seconds": "0.0",
}
# Decimals kept in the CSV: what the numbers mean (80.85 %, not 80.84999918937683), more than the
# sheet shows. Percentages to 4 decimals: one test image in 10,000 is 0.01 %.
CSV_DECIMALS = {"train_loss": 6, "train_accuracy": 4, "test_loss": 6, "test_accuracy": 4, "lr": 8,
                "seconds": 2}
_COLUMN_WIDTHS = {"epoch": 7, "lr": 11}
_DEFAULT_WIDTH = 15


# A number as a CSV writes it: float() would also take 5_000 and Arabic-Indic digits (٧).
_PLAIN_NUMBER = re.compile(r"\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\s*|\s*[+-]?(nan|inf|infinity)\s*",
                           re.IGNORECASE)


def _number(value) -> float:
    if isinstance(value, str) and not _PLAIN_NUMBER.fullmatch(value):
        raise ValueError(value)
    return float(value)


def validate_metrics(metrics: list[dict], source: str = "metrics") -> list[dict]:
    """Return ``metrics`` as clean rows (int epoch, float values) or raise UserError saying what is wrong."""
    rows = []
    for index, row in enumerate(metrics, start=1):
        missing = [column for column in METRIC_COLUMNS if column not in row]
        if missing:
            raise UserError(f"{source}: row {index} lacks {', '.join(missing)}")
        clean = {}
        for column in METRIC_COLUMNS:
            try:
                value = _number(row[column])
            except (TypeError, ValueError):
                raise UserError(f"{source}: row {index}: {column} is not a number: {row[column]!r}") from None
            if not math.isfinite(value):
                raise UserError(f"{source}: row {index}: {column} is not finite: {row[column]!r}")
            clean[column] = value
        if clean["epoch"] != int(clean["epoch"]) or clean["epoch"] < 1:
            raise UserError(f"{source}: row {index}: epoch must be a whole number >= 1, got {row['epoch']!r}")
        clean["epoch"] = int(clean["epoch"])
        rows.append(clean)
    epochs = [row["epoch"] for row in rows]
    if epochs != sorted(set(epochs)):
        raise UserError(f"{source}: epochs must be increasing without repeats, got {epochs}")
    return rows


def write_metrics_csv(path: Path, metrics: list[dict]) -> None:
    """Write the rows with exactly METRIC_COLUMNS as header (the caller makes the write atomic)."""
    import csv

    rows = [{column: round(value, CSV_DECIMALS[column]) if column in CSV_DECIMALS else value
             for column, value in row.items()} for row in validate_metrics(metrics)]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=METRIC_COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


MAX_METRICS_BYTES = 10 * 1024 * 1024  # 200 epochs take ~20 KB; anything near this is not our CSV


def read_metrics_csv(path: Path) -> list[dict]:
    """Read a metrics CSV written by ``sheetprop mnist``; UserError if it is missing or malformed.
    Every line must have exactly the header's fields: an extra or missing field shifts columns."""
    import csv
    import io

    path = Path(path).expanduser()
    data = read_limited(path, "metrics file", MAX_METRICS_BYTES,
                        f"larger than {MAX_METRICS_BYTES // 2**20} MB, it is not a metrics CSV")
    try:
        lines = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise UserError(f"cannot read metrics file {path}: {exc}") from None
    lines = [line for line in lines if line]  # blank lines carry nothing
    if not lines:
        raise UserError(f"metrics file {path} is empty")
    header = [column.strip() for column in lines[0]]
    if header != list(METRIC_COLUMNS):
        raise UserError(f"metrics file {path}: header must be {','.join(METRIC_COLUMNS)}; got {','.join(header)}")
    for number, line in enumerate(lines[1:], start=2):
        if len(line) != len(header):
            raise UserError(f"metrics file {path}: line {number} has {len(line)} fields; the header has "
                            f"{len(header)}")
    if len(lines) == 1:
        raise UserError(f"metrics file {path} has no rows")
    return validate_metrics([dict(zip(header, line)) for line in lines[1:]], source=f"metrics file {path}")


def add_metrics_sheet(workbook, metrics: list[dict], name: str = "epochs"):
    """Add sheet ``name`` to an xlsxwriter Workbook: one row per epoch plus loss and accuracy line charts.

    Returns the worksheet, so callers can add more to it (the mnist command inserts its PNGs).
    """
    rows = validate_metrics(metrics, source=f"sheet {name!r}")
    if not rows:
        raise UserError(f"sheet {name!r}: no epochs to write")
    worksheet = workbook.add_worksheet(name)
    header_format = workbook.add_format({"bold": True, "bottom": 1})
    column_formats = {column: workbook.add_format({"num_format": fmt}) for column, fmt in _NUMBER_FORMATS.items()}

    # Row by row: in xlsxwriter's constant_memory mode (which `build` uses) a row is final once
    # a later one is written.
    for col, column in enumerate(METRIC_COLUMNS):
        worksheet.write_string(0, col, column, header_format)
        worksheet.set_column(col, col, _COLUMN_WIDTHS.get(column, _DEFAULT_WIDTH), column_formats[column])
    for row_index, row in enumerate(rows, start=1):
        for col, column in enumerate(METRIC_COLUMNS):
            worksheet.write_number(row_index, col, row[column], column_formats[column])
    worksheet.freeze_panes(1, 0)
    # Printed: the table and both charts one page wide (a chart is never cut in two, nor its
    # title from it), the header on every page.
    worksheet.set_landscape()
    worksheet.set_paper(9)  # A4
    worksheet.fit_to_pages(1, 0)
    worksheet.repeat_rows(0, 0)

    last_row = len(rows)
    epoch_col = METRIC_COLUMNS.index("epoch")
    chart_col = len(METRIC_COLUMNS) + 1
    for chart_index, (title, y_axis, series) in enumerate(
        [
            ("Loss", "loss", ("train_loss", "test_loss")),
            ("Accuracy", "accuracy (%)", ("train_accuracy", "test_accuracy")),
        ]
    ):
        chart = workbook.add_chart({"type": "line"})
        for column, colour in zip(series, ("#2F5597", "#C55A11")):
            col = METRIC_COLUMNS.index(column)
            chart.add_series(
                {
                    "name": [name, 0, col],
                    "categories": [name, 1, epoch_col, last_row, epoch_col],
                    "values": [name, 1, col, last_row, col],
                    # A filled marker per epoch: after one epoch there is no line to draw, only points.
                    "marker": {"type": "circle", "size": 7, "fill": {"color": colour},
                               "border": {"color": colour}},
                    "line": {"color": colour, "width": 2},
                }
            )
        chart.set_title({"name": title})
        chart.set_x_axis({"name": "epoch"})
        chart.set_y_axis({"name": y_axis})
        chart.set_legend({"position": "bottom"})
        worksheet.insert_chart(1 + chart_index * 16, chart_col, chart)
    return worksheet
