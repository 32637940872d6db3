"""The torch-free metrics CSV and sheet that both `mnist` and `build --mnist-metrics` use."""

import openpyxl
import pytest
import xlsxwriter

from sheetprop.errors import UserError
from sheetprop.metrics_sheet import METRIC_COLUMNS, add_metrics_sheet, read_metrics_csv, write_metrics_csv

HEADER = "epoch,train_loss,train_accuracy,test_loss,test_accuracy,lr,seconds"


def sample_rows(n=3):
    return [
        {"epoch": e, "train_loss": 1.0 / e, "train_accuracy": 80.0 + e, "test_loss": 0.5 / e,
         "test_accuracy": 85.0 + e, "lr": 0.01 * e, "seconds": 2.5}
        for e in range(1, n + 1)
    ]


def test_header_is_exactly_the_documented_one():
    assert ",".join(METRIC_COLUMNS) == HEADER


def test_csv_round_trip(tmp_path):
    path = tmp_path / "m.csv"
    write_metrics_csv(path, sample_rows())
    assert path.read_text().splitlines()[0] == HEADER
    rows = read_metrics_csv(path)
    assert [row["epoch"] for row in rows] == [1, 2, 3]
    for row, written in zip(rows, sample_rows()):
        assert row == pytest.approx(written, abs=1e-6)  # rounded: 6 decimals for losses


def test_csv_holds_rounded_numbers(tmp_path):
    path = tmp_path / "m.csv"
    row = {"epoch": 1, "train_loss": 0.123456789, "train_accuracy": 80.84999918937683,
           "test_loss": 0.0987654321, "test_accuracy": 91.23456789, "lr": 0.0012345678912, "seconds": 12.3456}
    write_metrics_csv(path, [row])
    assert path.read_text().splitlines()[1] == "1,0.123457,80.85,0.098765,91.2346,0.00123457,12.35"


@pytest.mark.parametrize(
    "text, message",
    [
        ("epoch,loss\n1,0.5\n", "header must be"),
        (HEADER + "\n", "no rows"),
        (HEADER + "\n1,abc,90,0.1,91,0.01,3\n", "train_loss is not a number"),
        (HEADER + "\n1.5,0.2,90,0.1,91,0.01,3\n", "whole number"),
        (HEADER + "\n2,0.2,90,0.1,91,0.01,3\n1,0.2,90,0.1,91,0.01,3\n", "increasing"),
    ],
    ids=["header", "empty", "text", "fractional-epoch", "order"],
)
def test_bad_csv_is_a_user_error_naming_the_file(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(UserError, match=message) as err:
        read_metrics_csv(path)
    assert str(path) in str(err.value)


def test_missing_csv(tmp_path):
    with pytest.raises(UserError, match="not found"):
        read_metrics_csv(tmp_path / "none.csv")


def test_sheet_has_header_rows_and_two_charts(tmp_path):
    path = tmp_path / "book.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    add_metrics_sheet(workbook, sample_rows(4), name="mnist")
    workbook.close()
    sheet = openpyxl.load_workbook(path)["mnist"]
    assert [cell.value for cell in sheet[1]] == list(METRIC_COLUMNS)
    assert sheet.max_row == 5
    assert [sheet.cell(row=r, column=1).value for r in range(2, 6)] == [1, 2, 3, 4]
    assert sheet.cell(row=3, column=5).value == pytest.approx(87.0)
    assert sheet.freeze_panes == "A2"
    assert len(sheet._charts) == 2
