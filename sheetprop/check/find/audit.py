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

from sheetprop.check.find import infer
from sheetprop.network import labels
from sheetprop.errors import UserError
from sheetprop.record import read_exercise_record
from sheetprop.libreoffice import find_soffice, recalculate
from sheetprop.spreadsheet.references import column_letters
from sheetprop.check.read.xlsx_reader import SheetView
from sheetprop.check.find.learning_rates import (MAX_HEADER_SEARCH_ROWS, LearningRate, learning_rates,
                                                 parameter_cells)
from sheetprop.check.find.network_shape import ACTIVATION_MARKERS as _ACTIVATION_MARKERS, NotCheckable as _NotCheckable, infer_network
from sheetprop.check.read.cells import Cell, count_cells, present_rows, references, worksheet_names
from sheetprop.network import GIVEN_ROLES, Network

_COLUMN_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def canonical_label(text) -> str | None:
    """The canonical quantity label a header cell stands for, or None (see ``labels.parse``)."""
    return labels.parse(text)


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
    shown_labels: dict[str, str] = field(default_factory=dict)  # network label -> the student's, where they differ
    helpers: dict[str, str] = field(default_factory=dict)  # unlabelled formula columns: letters -> header text
    # Cells of the table itself that weight updates read where η belongs, by (sheet, column, row):
    # never η. The workbook is circular where such a cell lies in or below the rows that read it.
    eta_inside: dict[tuple, str] = field(default_factory=dict)
    stale_values: bool = False            # circular: the saved values predate the circle, not to be trusted


@dataclass
class Audit:
    path: Path
    tables: list[Table]
    skipped: list[str]        # sheets that look like the exercise but cannot be checked, and why
    recalculated: str | None  # who computed the values the file lacked: "sheetprop", "LibreOffice"; None: it had them
    record: dict | None = None  # the workbook's own _sheetprop record, if it has one
    # Where no sheet has a labelled table: the networks read from the formulas alone, each as
    # (network, findings, score) (``formula_graph_judge``).
    graphs: list = field(default_factory=list)


def read_workbook(path, record: dict | None = None, without_tables=None) -> Audit:
    """Every backprop table in the workbook, with cached values (calculated first when the file
    has formulas but no cached values: by check itself, else by LibreOffice). ``record``: the answer key's, which
    then names the network, sheets and rows instead of the workbook's own. ``without_tables``:
    where no sheet has a labelled table, what reads the networks from the formulas alone, given
    the (formulas, values) workbooks and returning (network, findings, score) for ``Audit.graphs``
    (the judge passes its own: finding knows no judging)."""
    path = Path(path).expanduser()
    formulas, values = _open(path)
    audit = _read_tables(path, formulas, values, record)
    if _lacks_cached_values(audit.tables):
        # Computed here first (check.calculate: no LibreOffice, a fraction of its time); LibreOffice
        # only where a cell of a table is beyond check's formula reader.
        from sheetprop.check.read.calculate import calculate

        calculation = calculate(formulas, values)
        computed = _read_tables(path, formulas, calculation.values, record)
        if calculation.covers(computed.tables):
            audit, values = computed, calculation.values
            audit.recalculated = "sheetprop"
    if _lacks_cached_values(audit.tables) and not audit.recalculated:
        if find_soffice() is None:
            raise UserError(f"{path.name} has formulas without saved values (it was written by a "
                            "program and never opened in a spreadsheet), and LibreOffice is not "
                            "installed to calculate them; open and save it in Excel or LibreOffice, "
                            "or install LibreOffice")
        with tempfile.TemporaryDirectory(prefix="sheetprop-check-") as folder:
            recalculated = recalculate(path, Path(folder))
            formulas, values = _open(recalculated)
        audit = _read_tables(path, formulas, values, record)
        audit.recalculated = "LibreOffice"
    if not audit.tables and not audit.skipped:
        # No labelled table, nor one that cannot be checked (its reason stands): a network laid
        # out a neuron or a weight a row, or a sheet per step, is read from its formulas (only
        # here, so a labelled table costs nothing more).
        audit.graphs = without_tables((formulas, values)) if without_tables is not None else []
        if audit.graphs:
            return audit
    if not audit.tables:
        why = "; ".join(audit.skipped) if audit.skipped else (
            "no sheet has a header row with columns such as i1, w1, E_total and ∂E/∂w1, and no training "
            "found (no parameter updated from its own earlier value, as w − η·∂E/∂w or w + Δ, with targets "
            "its outputs are held to)")
        raise UserError(f"no backpropagation table found in {path.name}: {why}")
    return audit


def _open(path: Path):
    from sheetprop.check.read.workbook_input import open_workbook

    return open_workbook(path)


def _read_tables(path: Path, formulas, values, key: dict | None = None) -> Audit:
    tables, skipped = [], []
    try:
        own = read_exercise_record(formulas)
    except UserError as damaged:
        if key is None:
            raise
        own, skipped = None, [str(damaged)]  # graded against the key all the same
    record = key or own
    recorded, unread = set(), {}
    if record is not None:
        # Built by sheetprop (an exercise, or its key): the exact network, every row it should have.
        worksheets = worksheet_names(formulas)
        for name in record["sheets"]:
            if name not in worksheets:
                skipped.append(f"sheet {name!r} is named in the workbook's record but missing"
                               + (" (it is a chartsheet, without cells)" if name in formulas.sheetnames else ""))
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
        elif record is not None:
            table.notes.append("a table the workbook's record does not list: read by its labels "
                               "(the record may have been edited)")
        tables.append(table)
    return Audit(path, tables, skipped, recalculated=None, record=own)


def _find_header(sheet) -> tuple[int, dict[str, int]] | None:
    """The first row that names inputs, weights and the loss or its gradients."""
    for row in present_rows(sheet, 1, min(sheet.max_row, MAX_HEADER_SEARCH_ROWS)):
        columns: dict[str, int] = {}
        seen: list[tuple[str, int]] = []
        for cell in row:
            label = canonical_label(cell.value)
            if label is None:
                continue
            if label in columns:
                label = _settle_by_formula(sheet, row[0].row, label, columns[label], cell.column)
            seen.append((label, cell.column))
            if label in columns and _below(sheet, row[0].row, columns[label]) < _below(sheet, row[0].row, cell.column):
                # An empty column named like the table's (a blank copy beside it), or a key / value
                # list's label (text below it): the column with numbers or formulas below is the table's.
                columns[label] = cell.column
            columns.setdefault(label, cell.column)  # a label still repeated: the first one counts
        if len(seen) > len(columns):
            columns = labels.settle_repeated(seen, columns)  # a typo (i2 over t2): by the column's place
        if labels.EXAMPLE_LOSS in columns and labels.LOSS not in columns:
            columns[labels.LOSS] = columns.pop(labels.EXAMPLE_LOSS)  # a lone "E" is the loss
        kinds = {re.sub(r"\d+$", "", label) for label in columns}
        if {"i", "w"} <= kinds and ("E_total" in kinds or "∂E/∂w" in kinds):
            return row[0].row, columns
    return None


def _below(sheet, header_row: int, col: int) -> int:
    """What the cell under a label holds: 0 nothing, 1 text (a list of labels), 2 a number or formula."""
    value = sheet.cell(header_row + 1, col).value
    if value in (None, ""):
        return 0
    return 1 if isinstance(value, str) and not value.startswith("=") else 2


_ACTIVATION_FORMULA = re.compile("|".join(re.escape(marker) for marker, _ in _ACTIVATION_MARKERS), re.IGNORECASE)


def _settle_by_formula(sheet, header_row: int, label: str, first_col: int, col: int) -> str:
    """A second column named like an earlier one (net_h1 then h1, both read as h1): when the
    label is a neuron's and this column's formula applies an activation to the earlier column,
    it is that neuron's activation (a_h1). Otherwise the label stays, and the first column counts."""
    if not re.fullmatch(r"[ho]\d+", label):
        return label
    formula = sheet.cell(header_row + 1, col).value
    earlier = column_letters(first_col)
    if (isinstance(formula, str) and _ACTIVATION_FORMULA.search(formula)
            and any(column == earlier and row == header_row + 1 for _, column, row in references(formula))):
        return labels.activation(label)
    return label


def _read_table(sheet, value_sheet, header, formulas, values) -> Table:
    header_row, columns = header
    network, columns, bias_names = infer_network(sheet, header_row, columns)
    numbering = (infer.weight_numbering(sheet, header_row + 1, columns, list(network.template.layers))
                 if len(network.template.layers) == 3 else None)
    if numbering:
        columns = infer.renumbered(columns, numbering)
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
    table.helpers = infer.helper_columns(sheet, header_row, columns)
    if bias_names:
        table.notes.append(infer.describe_biases(bias_names))
    for names in (numbering or {}, bias_names or {}):
        table.shown_labels.update({make(ours): make(student) for student, ours in names.items()
                                   for make in (lambda w: w, labels.gradient) if student != ours})
    if numbering:
        table.notes.append(infer.describe(numbering))
    if unfinished is not None:
        table.notes.append(f"row {unfinished} is unfinished (no computed cell filled in): the table ends above it")
    if not_a_step is not None:
        table.notes.append(f"the table ends at row {not_a_step - 1}: row {not_a_step} is not a step of it "
                           "(no inputs and weights there), so it and what follows are not checked")
    table.learning_rates = learning_rates(table, sheet, formulas, values)
    data_columns = {column_letters(col) for col in table.columns.values()}
    if any(lr is not None and re.sub(r"\d+$", "", lr.where) in data_columns
           and header_row < int(re.search(r"\d+$", lr.where).group()) <= header_row + len(rows)
           for lr in table.learning_rates):
        # The updates read a cell of the table where η belongs: it is no η (the usual table never
        # gets here, so it pays nothing for this).
        table.eta_inside, circular = infer.table_cells_read_as_eta(table)
        table.stale_values = circular
        if table.eta_inside:
            named = ", ".join(f"{column}{row} ({label})" for (_, column, row), label in list(table.eta_inside.items())[:3])
            table.notes.append(f"its weight updates read a cell of the table where η belongs ({named})"
                               + (": the workbook is circular, so its saved values were computed before the circle "
                                  "closed and are stale; every cell is judged by its formula, not its value"
                                  if circular else ""))
            table.learning_rates = learning_rates(table, sheet, formulas, values)
    if len(rows) > 1 and not any(table.learning_rates):
        table.notes.append("no learning rate found (no cell that the weight updates reference, "
                           "nor one labelled η or learning rate): weight updates not checked")
    return table


def _read_recorded_table(sheet, value_sheet, record: dict, formulas, values) -> Table:
    """A sheet of a workbook sheetprop built: its header holds the network's labels exactly, and
    its table has exactly ``steps`` rows, blank or not (a blank cell is one the student left).
    The record can be edited, so what it claims is held against the sheet: a network wider than
    the sheet's header, rows the sheet does not have, starting values the first row does not hold."""
    template = record["template"]
    header_cells = count_cells(sheet, 1, min(sheet.max_row, MAX_HEADER_SEARCH_ROWS))
    if len(template.weights) > header_cells:  # before building the network, which may be huge
        raise _NotCheckable(f"the record's network has {len(template.weights):,} weights, and the sheet "
                            f"has {header_cells:,} cells in its first {MAX_HEADER_SEARCH_ROWS} rows")
    network = Network(template)
    wanted = {q.label for q in network.quantities}
    for row in present_rows(sheet, 1, min(sheet.max_row, MAX_HEADER_SEARCH_ROWS)):
        texts = [cell.value for cell in row]
        columns = {cell.value: cell.column for cell in row if isinstance(cell.value, str) and cell.value in wanted}
        if labels.STEP in texts and all(q.label in columns for q in network.carried):
            header_row = row[0].row
            break
    else:
        raise _NotCheckable(f"no header row with {labels.STEP} and the recorded network's columns "
                            f"({', '.join(q.label for q in network.given[:4])}, …)")
    # Rows the sheet does not have (a record claiming a million steps) are not made cell by cell:
    # they are counted as not done.
    present = max(0, min(record["steps"], sheet.max_row - header_row))
    rows = _table_rows(sheet, value_sheet, range(header_row + 1, header_row + 1 + present), columns)
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
    for label in student:
        unfinished[label] += record["steps"] - present
    rows = rows[:started]
    table = Table(sheet.title, header_row, columns, network, rows, books=(formulas, values), recorded=True,
                  unfinished_cells=dict(unfinished), parameters=parameter_cells(value_sheet, network, header_row))
    if started < record["steps"]:
        first, last = header_row + 1 + started, header_row + record["steps"]
        table.notes.append(f"row {first} is unfinished (no computed cell filled in): the table ends above it"
                           if first == last else
                           f"rows {first}–{last} are unfinished (no computed cell filled in): the table ends above them")
    table.notes.extend(_record_disagrees(sheet, network, record["steps"], header_row, columns, rows, present))
    table.learning_rates = learning_rates(table, sheet, formulas, values)
    missing = [p.label for p in network.hyperparameters if p.symbol.payload not in table.parameters]
    if missing:
        raise _NotCheckable(f"no cell labelled {', '.join(missing)} above the table")
    return table


def _record_disagrees(sheet, network: Network, steps: int, header_row: int, columns: dict[str, int],
                      rows: list, present: int) -> list[str]:
    """Where the sheet contradicts its record (which a student can edit): said, not trusted."""
    notes = []
    if present < steps:
        notes.append(f"the workbook's record says {steps:,} rows, and the sheet ends at row {sheet.max_row}: "
                     f"the {steps - present:,} rows it lacks count as not done")
    below = header_row + steps + 1
    if below <= sheet.max_row and any(not _cell(sheet, sheet, below, col).is_blank for col in columns.values()):
        notes.append(f"the workbook's record says {steps:,} rows, and the table goes on in row {below}: "
                     "rows past the record's are not checked (the record may have been edited)")
    if rows:
        starting = network.starting_values()
        differ = [label for label, cell in rows[0].items()
                  if label in starting and cell.formula is None and cell.number is not None
                  and abs(cell.number - starting[label]) > 1e-9 * max(1.0, abs(starting[label]))]
        if differ:
            notes.append(f"the first row's {', '.join(differ[:5])}{' …' if len(differ) > 5 else ''} differ from "
                         "the starting values in the workbook's record: the record may have been edited")
    return notes


def _table_rows(sheet, value_sheet, row_numbers, columns: dict[str, int]) -> list[dict[str, Cell]]:
    """The cells of ``columns`` (label -> column number) in each of ``row_numbers``, as
    ``_cell`` reads them one by one; the one-pass reader's rows are read a row at a time."""
    if not isinstance(sheet, SheetView):
        return [{label: _cell(sheet, value_sheet, r, col) for label, col in columns.items()} for r in row_numbers]
    labels_in_order, numbers = list(columns), list(columns.values())
    letters = [column_letters(col) for col in numbers]
    rows = []
    for r in row_numbers:
        rows.append({label: Cell(column, formula if type(formula) is str and formula.startswith("=") else None,
                                 value, r)
                     for label, column, formula, value in zip(labels_in_order, letters, sheet.row_values(r, numbers),
                                                              value_sheet.row_values(r, numbers))})
    return rows


def _cell(sheet, value_sheet, row: int, col: int) -> Cell:
    if isinstance(sheet, SheetView):  # the one-pass reader's: no cell object made to read a value
        formula, value = sheet.value(row, col), value_sheet.value(row, col)
        ref = f"{column_letters(col)}{row}"
    else:  # openpyxl's (see workbook_input)
        formula, value = sheet.cell(row, col).value, value_sheet.cell(row, col).value
        ref = f"{column_letters(col)}{row}"
    if hasattr(formula, "text"):  # an array formula
        formula = formula.text
    if not (isinstance(formula, str) and formula.startswith("=")):
        formula = None
    return Cell(ref, formula, value)


def _lacks_cached_values(tables: list[Table]) -> bool:
    """True for a file whose formulas were never calculated: openpyxl saves them without a value,
    xlsxwriter with 0 in every one (no real table of this exercise is all zeros: σ > 0)."""
    cached = [cell.value for table in tables for row in table.rows for cell in row.values()
              if cell.formula is not None]
    return bool(cached) and (any(value is None for value in cached) or all(value == 0 for value in cached))

