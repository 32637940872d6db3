"""The teacher's kit of `build --exercise`: where the student version goes, and its instructions
sheet. The record of the network every built workbook carries lives in ``sheetprop.record``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from sheetprop import layout
from sheetprop.network import optimizers
from sheetprop.network.template import Template

EXERCISE_SHEET = "exercise"


def exercise_path(key: Path) -> Path:
    """The student version beside the answer key: output/BackPropagation_exercise.xlsx."""
    key = Path(key)
    return key.with_name(f"{key.stem}_exercise.xlsx")


# --- the student's instructions ------------------------------------------------------------------

def _step_line(template: Template, parameters: str) -> tuple[str, str]:
    if template.optimizer == "sgd":
        return ("text", f"Each row after the first is one gradient-descent step: each {parameters} is the "
                        "row above's value minus η times its gradient, w ← w − η·∂E/∂w, every gradient "
                        "taken from that row above and η referenced as $A$2 so the formula can be copied down.")
    optimizer = optimizers.get(template.optimizer)
    return ("text", f"Each row after the first is one step of {optimizer.title}: {optimizer.rule}. The "
                    "optimizer's state columns start from 0 in step 0 and are yours to fill below it; its "
                    "settings sit in their labelled cells below η. Reference η and them absolutely ($A$2, …) "
                    "so the formulas can be copied down.")


def add_instructions_sheet(book, formats, template: Template, network_lines: Sequence[str],
                           to_fill: Sequence[str], sheet_names: Sequence[str],
                           first_data_row: int) -> None:
    """The student version's first sheet: the network, what to fill in, how it is graded."""
    sheet = book.add_worksheet(EXERCISE_SHEET)
    # One column of wrapped paragraphs: readable on screen and printed one page wide.
    sheet.set_column(0, 0, WIDTH)
    sheet.fit_to_pages(1, 0)
    wrapped = {style: book.add_format({**_STYLES[style], "text_wrap": True, "valign": "top"}) for style in _STYLES}
    parameters = "weight" + (" and bias" if template.train_biases else "")
    fixed_biases = template.biases is not None and not template.train_biases
    given = ("the targets t, the inputs i and the fixed biases b" if fixed_biases
             else "the targets t and the inputs i")
    lines = [
        ("title", f"Backpropagation exercise — {template.name}"),
        ("", ""),
        *(("text", line) for line in network_lines),
        ("", ""),
        ("heading", "What to fill in"),
        ("text", f"Each of the sheets {', '.join(sheet_names)} is one run of gradient descent, one row "
                 f"per step, with the learning rate η in its cell {layout.cell_name(layout.LEARNING_RATE_CELL)}."),
        ("text", f"Step 0 (row {first_data_row}) gives you every starting value: the targets t, the "
                 "inputs i, the weights w and any biases b. Every later row gives you "
                 f"{given} again: they do not change. (They sit in a collapsed group of columns: "
                 "click + above the band row to show them.)"),
        ("text", "Fill in every blank cell of the table as a formula that reads the cells of its own "
                 "row: the forward pass, the losses and E_total, then every gradient by the chain rule:"),
        ("math", "    " + _listing(to_fill)),
        _step_line(template, parameters),
        ("text", "When one row is right, copy its formulas down to the last row; the E_total chart "
                 "beside η draws itself as the loss falls."),
        ("", ""),
        ("heading", "How it is graded"),
        ("text", "Save your copy and run:   sheetprop check FILE   (or python -m sheetprop check FILE)."),
        ("text", "check judges every cell on its own, by what its formula computes from your own cells, "
                 "so each mistake is named once, in the cell where it starts, with a hint; a typed "
                 "number where a formula belongs is reported too. It ends with your score: the cells "
                 "right, per sheet and per column."),
    ]
    for row, (style, text) in enumerate(lines):
        if text:
            sheet.write_string(row, 0, text, wrapped[style])
            # Spreadsheet programs do not grow a row for wrapped text they did not lay out.
            lines = -(-len(text) // CHARACTERS_PER_LINE)
            if lines > 1:
                sheet.set_row(row, 15 * lines)


WIDTH = 72  # characters of the default font: a portrait page's width, margins included
CHARACTERS_PER_LINE = 80  # of running text in a column that wide
_STYLES = {"title": {"bold": True, "font_size": 14}, "heading": {"bold": True, "font_size": 12},
           "text": {}, "math": {"font_name": "Consolas"}}


def _listing(labels: Sequence[str], most: int = 60) -> str:
    """The columns to fill, cut short for a big net: a cell holds 32,767 characters at most."""
    if len(labels) <= most:
        return ", ".join(labels)
    return f"{', '.join(labels[:most])}, … ({len(labels):,} columns in all)"
