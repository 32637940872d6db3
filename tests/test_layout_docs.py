"""The sheet layout has one home (sheetprop/layout.py): the writer puts cells where it says, and
the manual (docs/workbook.md) and the help texts say the same."""

import re
from pathlib import Path

import openpyxl

from sheetprop import layout
from sheetprop.cli import make_parser
from sheetprop.network.optimizers import OPTIMIZERS
from sheetprop.writer.build import layout_table

ROOT = Path(__file__).resolve().parents[1]
WORKBOOK_DOCS = (ROOT / "docs" / "workbook.md").read_text(encoding="utf-8")
# Every page that may name a cell of the layout: README and the manual.
ALL_DOCS = "\n".join(p.read_text(encoding="utf-8") for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])


def test_the_workbook_page_holds_the_layout_table():
    assert "\n".join("  " + line for line in layout_table()) in WORKBOOK_DOCS


def test_the_workbook_page_names_the_cells_the_layout_defines():
    eta = layout.cell_name(layout.LEARNING_RATE_CELL)
    assert set(re.findall(r"η in `([A-Z]+\d+)`", ALL_DOCS)) == {eta}
    assert set(re.findall(r"header row \(row (\d+)\)", ALL_DOCS)) == {str(layout.HEADER_ROW + 1)}


def test_build_help_says_where_h_is_for_every_optimizer():
    build = make_parser(["build"])._subparsers._group_actions[0].choices["build"]
    text = " ".join(build.format_help().split())
    for name, optimizer in OPTIMIZERS.items():
        assert f"{layout.cell_name(layout.parameter_cell(1 + len(optimizer.hyperparameters)))} with {name}" in text
    assert "row 1)" not in text and "sgd) only" not in text


def test_the_built_sheet_sits_where_the_layout_says(build):
    book = openpyxl.load_workbook(build("--lrs", "0.5", "--steps", "3", "--optimizer", "adam", "--gradcheck"))
    sheet = book[layout.sheet_name("0.5")]
    def at(cell):
        return sheet.cell(cell[0] + 1, cell[1] + 1).value
    assert at(layout.LEARNING_RATE_CELL) == 0.5
    assert "η" in at(layout.parameter_label_cell(0))
    # Adam's three hyper-parameters, then h, each under its label.
    assert at(layout.parameter_label_cell(4)) == "gradcheck h" and at(layout.parameter_cell(4)) == 1e-4
    assert at((layout.HEADER_ROW, layout.STEP_COLUMN)) == layout.STEP_LABEL
    assert at(layout.step_cell(0)) == 0 and at(layout.step_cell(2)) == 2
    assert at((layout.BAND_ROW, 1)) == "constants"
