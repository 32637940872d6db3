"""Student-style backprop workbooks for testing `sheetprop check`, written independently of
sheetprop's own printers: every formula is a hand-written string, as a student would type it.

The network is Matt Mazur's 2-2-2 sigmoid example (distinct targets, so a t1 typed where t2
belongs changes the value). A sheet is described by a ``Layout`` (where the header row is,
label spellings, where η lives, extra columns) and a dict of slips that replace single cells.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import xlsxwriter
from xlsxwriter.utility import xl_rowcol_to_cell

INPUTS = {"i1": 0.05, "i2": 0.1}
TARGETS = {"t1": 0.01, "t2": 0.99}
WEIGHTS = {"w1": 0.15, "w2": 0.2, "w3": 0.25, "w4": 0.3, "w5": 0.4, "w6": 0.45, "w7": 0.5, "w8": 0.55}
BIASES = {"b1": 0.35, "b2": 0.6}
LEARNING_RATE = 0.5

# Hand-typed formulas; {x} is this row's cell for x, {prev_x} the row above's, {eta} the η cell.
_DELTA_O1 = "({a_o1}-{t1})*{a_o1}*(1-{a_o1})"
_DELTA_O2 = "({a_o2}-{t2})*{a_o2}*(1-{a_o2})"
FORMULAS = {
    "h1": "={w1}*{i1}+{w2}*{i2}",
    "a_h1": "=1/(1+EXP(-{h1}))",
    "h2": "={w3}*{i1}+{w4}*{i2}",
    "a_h2": "=1/(1+EXP(-{h2}))",
    "o1": "={w5}*{a_h1}+{w6}*{a_h2}",
    "a_o1": "=1/(1+EXP(-{o1}))",
    "o2": "={w7}*{a_h1}+{w8}*{a_h2}",
    "a_o2": "=1/(1+EXP(-{o2}))",
    "E1": "=0.5*({t1}-{a_o1})^2",
    "E2": "=0.5*({t2}-{a_o2})^2",
    "E_total": "={E1}+{E2}",
    "dw1": f"=({_DELTA_O1}*{{w5}}+{_DELTA_O2}*{{w7}})*{{a_h1}}*(1-{{a_h1}})*{{i1}}",
    "dw2": f"=({_DELTA_O1}*{{w5}}+{_DELTA_O2}*{{w7}})*{{a_h1}}*(1-{{a_h1}})*{{i2}}",
    "dw3": f"=({_DELTA_O1}*{{w6}}+{_DELTA_O2}*{{w8}})*{{a_h2}}*(1-{{a_h2}})*{{i1}}",
    "dw4": f"=({_DELTA_O1}*{{w6}}+{_DELTA_O2}*{{w8}})*{{a_h2}}*(1-{{a_h2}})*{{i2}}",
    "dw5": f"={_DELTA_O1}*{{a_h1}}",
    "dw6": f"={_DELTA_O1}*{{a_h2}}",
    "dw7": f"={_DELTA_O2}*{{a_h1}}",
    "dw8": f"={_DELTA_O2}*{{a_h2}}",
}
WITH_BIASES = {"h1": "={w1}*{i1}+{w2}*{i2}+{b1}", "h2": "={w3}*{i1}+{w4}*{i2}+{b1}",
               "o1": "={w5}*{a_h1}+{w6}*{a_h2}+{b2}", "o2": "={w7}*{a_h1}+{w8}*{a_h2}+{b2}"}
WEIGHT_UPDATE = "={prev_%s}-{eta}*{prev_d%s}"

# Header text per column, in the order most handouts use.
DEFAULT_LABELS = {
    "t1": "t1", "t2": "t2", "i1": "i1", "i2": "i2",
    **{w: w for w in WEIGHTS}, "b1": "b1", "b2": "b2",
    "h1": "h1", "a_h1": "a_h1", "h2": "h2", "a_h2": "a_h2",
    "o1": "o1", "a_o1": "a_o1", "o2": "o2", "a_o2": "a_o2",
    "E1": "E1", "E2": "E2", "E_total": "E_total",
    **{f"dw{k}": f"∂E/∂w{k}" for k in range(1, 9)},
}
_ORDER = ["t1", "t2", "i1", "i2", "w1", "w2", "w3", "w4", "b1", "h1", "a_h1", "h2", "a_h2",
          "w5", "w6", "w7", "w8", "b2", "o1", "a_o1", "o2", "a_o2", "E1", "E2", "E_total",
          *(f"dw{k}" for k in range(1, 9))]


@dataclass(frozen=True)
class Layout:
    header_row: int = 0                 # 0-based: 0 is row 1
    first_col: int = 0                  # 1 leaves column A blank
    labels: dict = field(default_factory=dict)   # header text overrides, by column name
    biases: bool = False
    eta_cell: tuple[int, int] = (0, 40)  # (row, col), 0-based; its label goes to the left
    eta_label: str = "η"
    extra_columns: dict = field(default_factory=dict)  # name before which to insert -> header text
    typed_inputs: bool = True           # later rows type t and i again (else =cell above)

    def names(self) -> list[str]:
        return [n for n in _ORDER if self.biases or n not in BIASES]

    def columns(self) -> dict[str, int]:
        """Column index of each name; extra columns take a place of their own."""
        columns, col = {}, self.first_col
        for name in self.names():
            if name in self.extra_columns:
                col += 1
            columns[name] = col
            col += 1
        return columns

    def cell(self, step: int, name: str) -> str:
        """The address ("AC5") of ``name`` in data row ``step`` (0 is the first data row)."""
        return xl_rowcol_to_cell(self.header_row + 1 + step, self.columns()[name])


def write_workbook(path, sheets, steps: int = 4) -> None:
    """``sheets``: (sheet name, Layout, slips) with slips {(step, name): formula or number}."""
    book = xlsxwriter.Workbook(str(path))
    for name, layout, slips in sheets:
        write_sheet(book.add_worksheet(name), layout, slips, steps)
    book.close()


def write_sheet(sheet, layout: Layout, slips: dict, steps: int) -> None:
    columns = layout.columns()
    eta_row, eta_col = layout.eta_cell
    sheet.write_string(eta_row, eta_col - 1, layout.eta_label)
    sheet.write_number(eta_row, eta_col, LEARNING_RATE)
    for name, col in columns.items():
        sheet.write_string(layout.header_row, col, layout.labels.get(name, DEFAULT_LABELS[name]))
        if name in layout.extra_columns:
            sheet.write_string(layout.header_row, col - 1, layout.extra_columns[name])
    formulas = {**FORMULAS, **(WITH_BIASES if layout.biases else {})}
    starting = {**TARGETS, **INPUTS, **WEIGHTS, **BIASES}
    for step in range(steps):
        row = layout.header_row + 1 + step
        refs = {name: xl_rowcol_to_cell(row, col) for name, col in columns.items()}
        refs.update({f"prev_{name}": xl_rowcol_to_cell(row - 1, col) for name, col in columns.items()})
        refs["eta"] = xl_rowcol_to_cell(eta_row, eta_col, row_abs=True, col_abs=True)
        for name, col in columns.items():
            content = slips.get((step, name))
            if content is None:
                content = _content(name, step, formulas, starting, layout)
            if isinstance(content, str):
                sheet.write_formula(row, col, content.format(**refs))
            else:
                sheet.write_number(row, col, content)
            if name in layout.extra_columns:  # something unrelated in the extra column
                sheet.write_formula(row, col - 1, "={a_o1}*100".format(**refs))


def _content(name: str, step: int, formulas, starting, layout: Layout):
    if name in formulas:
        return formulas[name]
    if step == 0 or (layout.typed_inputs and name not in WEIGHTS):
        return starting[name]
    if name in WEIGHTS:
        return WEIGHT_UPDATE % (name, name)
    return "={prev_%s}" % name
