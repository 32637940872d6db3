"""Where a table's η is: the cell each row's weight updates read where the learning rate belongs
(or a labelled η cell), and an optimizer's other parameters (β1, μ…) by their labels."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from sheetprop.check.read.cells import CopiedDownReferences, as_number, present_rows, worksheet_names
from sheetprop.network import Network
from sheetprop.spreadsheet.references import ADDRESS, column_letters, quoted_sheet

MAX_HEADER_SEARCH_ROWS = 200  # how far down a sheet a header row or a labelled η is looked for
_LEARNING_RATE_LABEL = re.compile(r"(?:learningrate|lr|eta|η|alpha|α)(?:\(?(?:η|eta|α)\)?)?:?")


@dataclass(frozen=True)
class LearningRate:
    value: float
    where: str   # "B1", or "'Sheet 2'!B1" when on another sheet


def parameter_cells(sheet, network: Network, header_row: int) -> dict[str, LearningRate]:
    """The optimizer's hyper-parameter cells (β1, μ, …), each below its label, as build writes
    them, by the name of the variable the update formulas use."""
    by_label = {p.label: p.symbol.payload for p in network.hyperparameters}
    found = {}
    for row in present_rows(sheet, 1, header_row - 1):
        for cell in row:
            name = by_label.get(cell.value) if isinstance(cell.value, str) else None
            below = as_number(sheet.cell(cell.row + 1, cell.column).value) if name else None
            if below is not None:
                found[name] = LearningRate(below, sheet.cell(cell.row + 1, cell.column).coordinate)
    return found


def learning_rates(table, sheet, formulas, values) -> list[LearningRate | None]:  # table: an audit.Table
    """η for the update into each row (None for the first): the one cell the weight formulas
    reference besides the row above's weights and gradients; else a cell labelled η, lr or
    learning rate. Worked out for all rows at once: what is the same in every row (the table's
    columns, its parameter cells, the cell η is read from) is looked up once."""
    letters = {column_letters(col) for col in table.columns.values()}
    # Not η: the optimizer's other hyper-parameter cells, nor (below) the table's own cells of
    # this row and the row above (an optimizer's update reads its state beside it).
    parameter_cells = set(table.eta_inside)
    for p in table.parameters.values():
        column, row = ADDRESS.fullmatch(p.where).groups()
        parameter_cells.add((sheet.title, column, int(row)))
    weights = [q.label for q in table.network.given if q.role == "weight"]
    worksheets = worksheet_names(values)
    found: dict[tuple, LearningRate | None] = {}  # by cell: its η, or None where it holds no number
    labelled: list = []  # the labelled η, looked up once if ever needed

    def at(key) -> LearningRate | None:
        if key not in found:
            ref_sheet, column, row = key
            value = as_number(values[ref_sheet][f"{column}{row}"].value)
            where = f"{column}{row}" if ref_sheet == sheet.title else f"{quoted_sheet(ref_sheet)}!{column}{row}"
            found[key] = None if value is None else LearningRate(value, where)
        return found[key]

    rates: list[LearningRate | None] = [None]
    copied = CopiedDownReferences()
    for k in range(1, len(table.rows)):
        row_above = table.header_row + k  # data rows are consecutive, from header_row + 1
        row_cells = table.rows[k]
        candidates: Counter = Counter()
        for label in weights:
            for ref_sheet, column, row in copied.at(label, row_cells[label].formula or "", row_above + 1):
                key = (ref_sheet or sheet.title, column, row)
                own = key[0] == sheet.title and column in letters and row_above <= row <= row_above + 1
                if not own and key not in parameter_cells:
                    candidates[key] += 1
        ranked = [key for key, _ in candidates.most_common() if key[0] in worksheets]
        rate = next((rate for key in ranked if (rate := at(key)) is not None), None)
        if rate is None and candidates:
            # η copied down without $ lands on the text below it ("↑ change η"), then on empty
            # cells: that is still the cell the updates read, so it is returned (NaN: no η) and
            # judged as a drift.
            key = candidates.most_common(1)[0][0]
            if key[0] in worksheets:
                rate = LearningRate(math.nan, f"{key[1]}{key[2]}" if key[0] == sheet.title
                                    else f"{quoted_sheet(key[0])}!{key[1]}{key[2]}")
        if rate is None:
            if not labelled:
                labelled.append(labelled_learning_rate(values[sheet.title]))
            rate = labelled[0]
        rates.append(rate)
    return rates


def labelled_learning_rate(sheet) -> LearningRate | None:
    for row in present_rows(sheet, 1, min(sheet.max_row, MAX_HEADER_SEARCH_ROWS)):
        for cell in row:
            if not isinstance(cell.value, str):
                continue
            key = re.sub(r"[\s_=]", "", cell.value).lower()
            if not _LEARNING_RATE_LABEL.fullmatch(key):
                continue
            for neighbour in (sheet.cell(cell.row, cell.column + 1), sheet.cell(cell.row + 1, cell.column)):
                value = as_number(neighbour.value)
                if value is not None:
                    return LearningRate(value, neighbour.coordinate)
    return None
