"""Find the backpropagation table in a hand-made workbook and read it back as a network.

Students lay the exercise out in many ways: the header row anywhere, label variants (E_tot,
dE/dw1, out_h1), extra columns, η in any cell. This module finds each sheet's header row,
maps its labels onto the canonical labels of ``Network.quantities``, infers the network (layer
sizes from the labels, biases from b1/b2 columns, activation from the formulas) and reads every
labelled cell's formula and cached value. It judges nothing: ``sheetprop.check`` does.
"""

from __future__ import annotations

import re
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from xlsxwriter.utility import xl_col_to_name, xl_rowcol_to_cell

from sheetprop.network import labels
from sheetprop.errors import UserError
from sheetprop.record import read_exercise_record
from sheetprop.libreoffice import find_soffice, recalculate
from sheetprop.check.xlsx_cells import column_letters
from sheetprop.check.xlsx_reader import SheetView
from sheetprop.network import GIVEN_ROLES, Network
from sheetprop.network.template import parse_template

_LEARNING_RATE_LABEL = re.compile(r"(?:learningrate|lr|eta|η|alpha|α)(?:\(?(?:η|eta|α)\)?)?:?")

# A cell reference in a formula, with an optional sheet name: $B$1, AB4, 'lr=0.5'!B1.
_REFERENCE = re.compile(
    r"(?<![\w.$])(?:'((?:[^']|'')+)'!|([A-Za-z_][\w.]*)!)?\$?([A-Z]{1,3})\$?([0-9]+)(?![\w(])")

_ACTIVATION_MARKERS = (("TANH(", "tanh"), ("MAX(", "relu"), ("EXP(", "sigmoid"))
MAX_HEADER_SEARCH_ROWS = 200


def canonical_label(text) -> str | None:
    """The canonical quantity label a header cell stands for, or None (see ``labels.parse``)."""
    return labels.parse(text)


@dataclass(frozen=True, slots=True)  # slots: a table of 18,000 rows holds half a million cells
class Cell:
    ref: str                # "AC5"
    formula: str | None     # "=F4-$B$1*AB4", or None where the cell holds a typed value
    value: object           # the cached value: a float, an error text such as "#DIV/0!", or None
    # Worked out once, when the cell is read: the checks ask each several times a cell.
    number: float | None = field(init=False, compare=False, repr=False)
    is_typed: bool = field(init=False, compare=False, repr=False)

    def __post_init__(self):
        value = self.value
        number = None if isinstance(value, bool) or not isinstance(value, (int, float)) else float(value)
        object.__setattr__(self, "number", number)
        # A number typed (or pasted) in, or a formula without a single cell reference (=0.52).
        object.__setattr__(self, "is_typed", self.formula is None or _REFERENCE.search(self.formula) is None)

    @property
    def is_blank(self) -> bool:
        return self.formula is None and self.value in (None, "")


@dataclass(frozen=True)
class LearningRate:
    value: float
    where: str   # "B1", or "'Sheet 2'!B1" when on another sheet


@dataclass
class Table:
    sheet: str
    header_row: int
    columns: dict[str, int]               # canonical label -> column number (1-based)
    network: Network
    rows: list[dict[str, Cell]]           # one per data row: canonical label -> cell
    learning_rates: list[LearningRate | None] = field(default_factory=list)  # per row; None on the first
    notes: list[str] = field(default_factory=list)
    books: tuple | None = None            # (formulas, values) workbooks, to read other cells through
    recorded: bool = False                # the network is the one the workbook's _sheetprop record names
    unfinished_cells: dict[str, int] = field(default_factory=dict)  # per label: cells of rows not started
    parameters: dict[str, LearningRate] = field(default_factory=dict)  # an optimizer's β1, μ… cells, by variable


@dataclass
class Audit:
    path: Path
    tables: list[Table]
    skipped: list[str]        # sheets that look like the exercise but cannot be checked, and why
    recalculated: bool        # the file had no cached values and LibreOffice computed them


def references(formula: str) -> list[tuple[str | None, str, int]]:
    """(sheet or None, column letters, row) of every cell a formula references."""
    found = []
    for quoted, plain, column, row in _REFERENCE.findall(formula):
        sheet = quoted.replace("''", "'") if quoted else (plain or None)
        found.append((sheet, column, int(row)))
    return found


def read_workbook(path) -> Audit:
    """Every backprop table in the workbook, with cached values (recalculated by LibreOffice
    first when the file has formulas but no cached values)."""
    path = Path(path).expanduser()
    formulas, values = _open(path)
    audit = _read_tables(path, formulas, values)
    if _lacks_cached_values(audit.tables):
        if find_soffice() is None:
            raise UserError(f"{path.name} has formulas without saved values (it was written by a "
                            "program and never opened in a spreadsheet), and LibreOffice is not "
                            "installed to calculate them; open and save it in Excel or LibreOffice, "
                            "or install LibreOffice")
        with tempfile.TemporaryDirectory(prefix="sheetprop-check-") as folder:
            recalculated = recalculate(path, Path(folder))
            formulas, values = _open(recalculated)
        audit = _read_tables(path, formulas, values)
        audit.recalculated = True
    if not audit.tables:
        why = "; ".join(audit.skipped) if audit.skipped else (
            "no sheet has a header row with columns such as i1, w1, E_total and ∂E/∂w1")
        raise UserError(f"no backpropagation table found in {path.name}: {why}")
    return audit


def _open(path: Path):
    from sheetprop.check.workbook_input import open_workbook

    return open_workbook(path)


def _read_tables(path: Path, formulas, values) -> Audit:
    tables, skipped = [], []
    record = read_exercise_record(formulas)
    recorded, unread = set(), {}
    if record is not None:
        # Built by sheetprop (an exercise, or its key): the exact network, every row it should have.
        for name in record["sheets"]:
            if name not in formulas.sheetnames:
                skipped.append(f"sheet {name!r} is named in the workbook's record but missing")
                continue
            try:
                tables.append(_read_recorded_table(formulas[name], values[name], record, formulas, values))
                recorded.add(name)
            except _NotCheckable as reason:
                unread[name] = reason
    # Any other sheet, and one whose header a student changed, is read by its labels.
    for sheet in formulas.worksheets:
        if sheet.title in recorded:
            continue
        header = _find_header(sheet)
        if header is None:
            if sheet.title in unread:
                skipped.append(f"sheet {sheet.title!r}: {unread[sheet.title]}")
            continue
        try:
            table = _read_table(sheet, values[sheet.title], header, formulas, values)
        except _NotCheckable as reason:
            skipped.append(f"sheet {sheet.title!r}: {unread.get(sheet.title, reason)}")
            continue
        if sheet.title in unread:
            table.notes.append(f"not as the workbook's record has it ({unread[sheet.title]}): read by its labels")
        tables.append(table)
    return Audit(path, tables, skipped, recalculated=False)


class _NotCheckable(Exception):
    pass


def _find_header(sheet) -> tuple[int, dict[str, int]] | None:
    """The first row that names inputs, weights and the loss or its gradients."""
    for row in sheet.iter_rows(min_row=1, max_row=min(sheet.max_row, MAX_HEADER_SEARCH_ROWS)):
        columns: dict[str, int] = {}
        for cell in row:
            label = canonical_label(cell.value)
            if label is None:
                continue
            if label in columns:
                label = _settle_by_formula(sheet, row[0].row, label, columns[label], cell.column)
            columns.setdefault(label, cell.column)  # a label still repeated: the first one counts
        if labels.EXAMPLE_LOSS in columns and labels.LOSS not in columns:
            columns[labels.LOSS] = columns.pop(labels.EXAMPLE_LOSS)  # a lone "E" is the loss
        kinds = {re.sub(r"\d+$", "", label) for label in columns}
        if {"i", "w"} <= kinds and ("E_total" in kinds or "∂E/∂w" in kinds):
            return row[0].row, columns
    return None


_ACTIVATION_FORMULA = re.compile(r"EXP\(|TANH\(|MAX\(", re.IGNORECASE)


def _settle_by_formula(sheet, header_row: int, label: str, first_col: int, col: int) -> str:
    """A second column named like an earlier one (net_h1 then h1, both read as h1): when the
    label is a neuron's and this column's formula applies an activation to the earlier column,
    it is that neuron's activation (a_h1). Otherwise the label stays, and the first column counts."""
    if not re.fullmatch(r"[ho]\d+", label):
        return label
    formula = sheet.cell(header_row + 1, col).value
    earlier = xl_col_to_name(first_col - 1)
    if (isinstance(formula, str) and _ACTIVATION_FORMULA.search(formula)
            and any(column == earlier and row == header_row + 1 for _, column, row in references(formula))):
        return labels.activation(label)
    return label


def _read_table(sheet, value_sheet, header, formulas, values) -> Table:
    header_row, columns = header
    network = _infer_network(sheet, header_row, columns)
    missing = [q.label for q in network.given if q.label not in columns]
    if missing:
        raise _NotCheckable(f"header row {header_row} has no column for {', '.join(missing)}, "
                            "so the values the formulas start from are unknown")
    # Columns that do not belong to this network (w9 in a 2-2-2 sheet) are extra columns.
    known = {q.label for q in network.quantities}
    columns = {label: col for label, col in columns.items() if label in known}
    computed = [label for label in columns if network.by_label(label).role not in GIVEN_ROLES]

    given = [q.label for q in network.given]
    rows, unfinished, not_a_step = [], None, None
    for row_number in range(header_row + 1, sheet.max_row + 1):
        row = {label: _cell(sheet, value_sheet, row_number, col) for label, col in columns.items()}
        if all(cell.is_blank for cell in row.values()):
            break
        # Words where a step has its inputs and weights ("η", "final loss"): a block of results
        # right under the table, not a step of it.
        if any(row[label].formula is None and isinstance(row[label].value, str) and row[label].value.strip()
               for label in given):
            not_a_step = row_number
            break
        if computed and all(row[label].is_blank for label in computed):
            if any(row[label].is_blank for label in given):
                not_a_step = row_number  # a few numbers, no step: results, not a row left half done
            else:
                unfinished = row_number  # only the given values typed: the student stopped here
            break
        rows.append(row)
    if not rows and unfinished is not None:
        raise _NotCheckable(f"row {unfinished} below the header is unfinished (only given values typed, no "
                            "computed cell filled in): nothing to check yet")
    if not rows:
        raise _NotCheckable(f"no data rows below the header in row {header_row}")
    table = Table(sheet.title, header_row, columns, network, rows, books=(formulas, values))
    if unfinished is not None:
        table.notes.append(f"row {unfinished} is unfinished (no computed cell filled in): the table ends above it")
    if not_a_step is not None:
        table.notes.append(f"the table ends at row {not_a_step - 1}: row {not_a_step} is not a step of it "
                           "(no inputs and weights there), so it and what follows are not checked")
    table.learning_rates = [None] + [_learning_rate(table, k, sheet, formulas, values)
                                     for k in range(1, len(rows))]
    if len(rows) > 1 and not any(table.learning_rates):
        table.notes.append("no learning rate found (no cell that the weight updates reference, "
                           "nor one labelled η or learning rate): weight updates not checked")
    return table


def _read_recorded_table(sheet, value_sheet, record: dict, formulas, values) -> Table:
    """A sheet of a workbook sheetprop built: its header holds the network's labels exactly, and
    its table has exactly ``steps`` rows, blank or not (a blank cell is one the student left)."""
    network = Network(record["template"])
    wanted = {q.label for q in network.quantities}
    for row in sheet.iter_rows(min_row=1, max_row=min(sheet.max_row, MAX_HEADER_SEARCH_ROWS)):
        texts = [cell.value for cell in row]
        columns = {cell.value: cell.column for cell in row if isinstance(cell.value, str) and cell.value in wanted}
        if labels.STEP in texts and all(q.label in columns for q in network.carried):
            header_row = row[0].row
            break
    else:
        raise _NotCheckable(f"no header row with {labels.STEP} and the recorded network's columns "
                            f"({', '.join(q.label for q in network.given[:4])}, …)")
    rows = [{label: _cell(sheet, value_sheet, r, col) for label, col in columns.items()}
            for r in range(header_row + 1, header_row + 1 + record["steps"])]
    # The rows the student has not started (no computed cell filled in) end the table; their cells
    # still count in the score, as not done.
    computed = [q.label for q in network.computed if q.label in columns]
    student = computed + [q.label for q in network.trained + [q for q in network.carried if q.role == "optimizer"]
                          if q.label in columns]
    started = len(rows)
    while started > 0 and all(rows[started - 1][label].is_blank for label in computed):
        started -= 1
    unfinished: Counter = Counter()
    for k, row in enumerate(rows[started:], start=started):
        unfinished.update(label for label in student if k > 0 or label in computed)
    rows = rows[:started]
    table = Table(sheet.title, header_row, columns, network, rows, books=(formulas, values), recorded=True,
                  unfinished_cells=dict(unfinished), parameters=_parameter_cells(value_sheet, network, header_row))
    if started < record["steps"]:
        first, last = header_row + 1 + started, header_row + record["steps"]
        table.notes.append(f"row {first} is unfinished (no computed cell filled in): the table ends above it"
                           if first == last else
                           f"rows {first}–{last} are unfinished (no computed cell filled in): the table ends above them")
    table.learning_rates = [None] + [_learning_rate(table, k, sheet, formulas, values) for k in range(1, len(rows))]
    missing = [p.label for p in network.hyperparameters if p.symbol.payload not in table.parameters]
    if missing:
        raise _NotCheckable(f"no cell labelled {', '.join(missing)} above the table")
    return table


def _parameter_cells(sheet, network: Network, header_row: int) -> dict[str, LearningRate]:
    """The optimizer's hyper-parameter cells (β1, μ, …), each below its label, as build writes
    them, by the name of the variable the update formulas use."""
    by_label = {p.label: p.symbol.payload for p in network.hyperparameters}
    found = {}
    for row in sheet.iter_rows(min_row=1, max_row=header_row - 1):
        for cell in row:
            name = by_label.get(cell.value) if isinstance(cell.value, str) else None
            below = sheet.cell(cell.row + 1, cell.column).value
            if name and isinstance(below, (int, float)) and not isinstance(below, bool):
                found[name] = LearningRate(float(below), sheet.cell(cell.row + 1, cell.column).coordinate)
    return found


def _cell(sheet, value_sheet, row: int, col: int) -> Cell:
    if isinstance(sheet, SheetView):  # the one-pass reader's: no cell object made to read a value
        formula, value = sheet.value(row, col), value_sheet.value(row, col)
        ref = f"{column_letters(col)}{row}"
    else:  # openpyxl's (see workbook_input)
        formula, value = sheet.cell(row, col).value, value_sheet.cell(row, col).value
        ref = xl_rowcol_to_cell(row - 1, col - 1)
    if hasattr(formula, "text"):  # an array formula
        formula = formula.text
    if not (isinstance(formula, str) and formula.startswith("=")):
        formula = None
    return Cell(ref, formula, value)


def _infer_network(sheet, header_row: int, columns: dict[str, int]) -> Network:
    def count(*prefixes):
        indices = [int(m.group(1)) for label in columns for prefix in prefixes
                   if (m := re.fullmatch(re.escape(prefix) + r"(\d+)", label))]
        return max(indices, default=0)

    layers = [count("i"), count("h", "a_h"), count("t", "o", "a_o", "E")]
    if not all(layers):
        missing = [name for name, n in zip(("inputs (i1…)", "hidden neurons (h1, a_h1…)",
                                            "outputs (t1, a_o1…)"), layers) if not n]
        raise _NotCheckable(f"header row {header_row} names no {', '.join(missing)}")
    if max(layers) > 9:
        raise _NotCheckable(f"header row {header_row} implies layers {layers}; at most 9 neurons each")
    n_in, n_hidden, n_out = layers
    n_weights = n_in * n_hidden + n_hidden * n_out
    has_biases = "b1" in columns or "b2" in columns
    if has_biases and not ("b1" in columns and "b2" in columns):
        raise _NotCheckable("sheetprop's network has one bias per layer: b1 and b2 both, or neither")

    first_row = header_row + 1

    def starting(label):
        value = _first_number(sheet, columns.get(label), first_row)
        # Only the network's shape matters here: every row is checked with its own values, so
        # 0 may stand in for a first-row formula (whose value is checked like any other cell).
        return 0.0 if value is None else value

    data = {
        "name": sheet.title,
        "layers": layers,
        "activations": [_activation(sheet, columns, "a_h", n_hidden, first_row),
                        _activation(sheet, columns, "a_o", n_out, first_row)],
        "inputs": [starting(f"i{k}") for k in range(1, n_in + 1)],
        "targets": [starting(f"t{k}") for k in range(1, n_out + 1)],
        "weights": [starting(f"w{k}") for k in range(1, n_weights + 1)],
    }
    if has_biases:
        data["biases"] = [starting("b1"), starting("b2")]
    try:
        return Network(parse_template(data, source=f"sheet {sheet.title!r}"))
    except UserError as exc:
        raise _NotCheckable(str(exc)) from None


def _first_number(sheet, col: int | None, row: int) -> float | None:
    if col is None:
        return None
    value = sheet.cell(row, col).value
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _activation(sheet, columns, prefix: str, count: int, first_row: int) -> str:
    """The activation the formulas of the a_h (or a_o) columns use: the first function among
    TANH, MAX and EXP found in them; linear when they are formulas with none of those; sigmoid
    when no formula tells (the columns are missing or hold typed numbers)."""
    formulas = [formula for k in range(1, count + 1) if (col := columns.get(f"{prefix}{k}"))
                for row in range(first_row, min(sheet.max_row, first_row + 5) + 1)
                if isinstance(formula := sheet.cell(row, col).value, str) and formula.startswith("=")]
    for formula in formulas:
        for marker, name in _ACTIVATION_MARKERS:
            if marker in formula.upper():
                return name
    return "linear" if any(references(formula) for formula in formulas) else "sigmoid"


def _learning_rate(table: Table, k: int, sheet, formulas, values) -> LearningRate | None:
    """η for the update into row ``k``: the one cell the weight formulas reference besides the
    row above's weights and gradients; else a cell labelled η, lr or learning rate."""
    row_above = table.header_row + k  # data rows are consecutive, from header_row + 1
    # Not η: the table's own cells of this row and the row above (an optimizer's update reads
    # its state beside it), nor the optimizer's other hyper-parameter cells.
    own = {(sheet.title, xl_col_to_name(col - 1), row) for col in table.columns.values()
           for row in (row_above, row_above + 1)}
    for p in table.parameters.values():
        column, row = re.fullmatch(r"([A-Z]+)(\d+)", p.where).groups()
        own.add((sheet.title, column, int(row)))
    candidates: Counter = Counter()
    for q in table.network.given:
        if q.role != "weight":
            continue
        formula = table.rows[k][q.label].formula
        for ref_sheet, column, row in references(formula or ""):
            key = (ref_sheet or sheet.title, column, row)
            if key not in own:
                candidates[key] += 1
    for (ref_sheet, column, row), _ in candidates.most_common():
        if ref_sheet in values.sheetnames:
            value = values[ref_sheet][f"{column}{row}"].value
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                where = f"{column}{row}" if ref_sheet == sheet.title else f"'{ref_sheet}'!{column}{row}"
                return LearningRate(float(value), where)
    return _labelled_learning_rate(values[sheet.title])


def _labelled_learning_rate(sheet) -> LearningRate | None:
    for row in sheet.iter_rows(min_row=1, max_row=min(sheet.max_row, MAX_HEADER_SEARCH_ROWS)):
        for cell in row:
            if not isinstance(cell.value, str):
                continue
            key = re.sub(r"[\s_=]", "", cell.value).lower()
            if not _LEARNING_RATE_LABEL.fullmatch(key):
                continue
            for neighbour in (sheet.cell(cell.row, cell.column + 1), sheet.cell(cell.row + 1, cell.column)):
                value = neighbour.value
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    return LearningRate(float(value), neighbour.coordinate)
    return None


def _lacks_cached_values(tables: list[Table]) -> bool:
    """True for a file whose formulas were never calculated: openpyxl saves them without a value,
    xlsxwriter with 0 in every one (no real table of this exercise is all zeros: σ > 0)."""
    cached = [cell.value for table in tables for row in table.rows for cell in row.values()
              if cell.formula is not None]
    return bool(cached) and (any(value is None for value in cached) or all(value == 0 for value in cached))

