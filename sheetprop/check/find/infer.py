"""Read what a hand-made table means from its formulas, where its labels alone do not say.

Students number weights their own way: by (from, to), so that h1 = w1·i1 + w3·i2 where
sheetprop's networks (and most handouts) write h1 = w1·i1 + w2·i2. Labels cannot tell these
apart; the forward formulas can. ``weight_numbering`` reads, from the first data row's
weighted sums, which weight column connects which source to which neuron, and maps the
student's numbers onto the network's, so every cell is judged under the student's own scheme.
"""

from __future__ import annotations

import math
import re

from sheetprop.check.read.cells import references
from sheetprop.spreadsheet.references import WHERE, column_letters, location

from sheetprop import engine
from sheetprop.spreadsheet import formulas
from sheetprop.engine import var
from sheetprop.engine.numeric import compile_function
from sheetprop.network import labels


def weight_numbering(sheet, first_row: int, columns: dict[str, int],
                     layers: list[int]) -> dict[str, str] | None:
    """{student's weight label: the network's} where the forward formulas number the weights
    otherwise than the network does (a permutation within each layer); None where they agree,
    or where the formulas do not say (a neuron's weighted sum missing, unreadable, or odd)."""
    n_in, n_hidden, n_out = layers
    layer_plan = [([labels.hidden(j) for j in range(1, n_hidden + 1)], [labels.input_(i) for i in range(1, n_in + 1)], 0),
                  ([labels.output(k) for k in range(1, n_out + 1)],
                   [labels.activation(labels.hidden(j)) for j in range(1, n_hidden + 1)], n_in * n_hidden)]
    by_column = {column_letters(col): label for label, col in columns.items()}
    mapping: dict[str, str] = {}
    for neurons, sources, offset in layer_plan:
        for j, neuron in enumerate(neurons):
            expr = _weighted_sum(sheet, first_row, columns.get(neuron), by_column)
            if expr is None:
                return None
            multiplies = _products(expr, _weights_read(expr), sources)
            for i, source in enumerate(sources):
                connecting = [w for w, s in multiplies if s == source]
                if len(connecting) != 1:
                    return None
                mapping[connecting[0]] = labels.weight(offset + j * len(sources) + i + 1)
    n_weights = n_in * n_hidden + n_hidden * n_out
    if len(mapping) != n_weights or set(mapping.values()) != {labels.weight(n) for n in range(1, n_weights + 1)}:
        return None
    if all(student == ours for student, ours in mapping.items()):
        return None
    return mapping


def neuron_biases(sheet, first_row: int, columns: dict[str, int], layers: list[int]) -> dict[str, str] | None:
    """{student's bias label: b_h1, b_o1, …} where the forward formulas add one bias of its own
    to each neuron (b1 to h1, b2 to h2, b3 to o1); None where a layer shares one (b1 in h1 and
    h2: sheetprop's per-layer biases) or the formulas do not say."""
    n_in, n_hidden, n_out = layers
    student = [label for label in columns if re.fullmatch(r"b\d+", label)]
    neurons = [labels.hidden(j) for j in range(1, n_hidden + 1)] + [labels.output(k) for k in range(1, n_out + 1)]
    if len(student) != len(neurons):
        return None
    by_column = {column_letters(col): label for label, col in columns.items()}
    mapping = {}
    for neuron in neurons:
        expr = _weighted_sum(sheet, first_row, columns.get(neuron), by_column)
        if expr is None:
            return None
        added = [b for b in student if _adds(expr, b)]
        if len(added) != 1 or added[0] in mapping:
            return None
        mapping[added[0]] = labels.neuron_bias(neuron)
    return mapping


def trained(sheet, first_row: int, columns: dict[str, int], parameters: list[str]) -> bool:
    """Whether the second data row updates these parameters (a formula reading several cells),
    rather than typing or copying them (=B5)."""
    for label in parameters:
        formula = sheet.cell(first_row + 1, columns[label]).value
        if isinstance(formula, str) and formula.startswith("=") and len(references(formula)) > 1:
            return True
    return False


def renumbered(columns: dict[str, int], mapping: dict[str, str]) -> dict[str, int]:
    """The columns under the network's labels: each parameter and its gradient moved over."""
    moved, gone = {}, set()
    for student, ours in mapping.items():
        for make in (lambda w: w, labels.gradient):
            if make(student) in columns:
                moved[make(ours)] = columns[make(student)]
                gone.add(make(student))
    return {**{label: col for label, col in columns.items() if label not in moved and label not in gone}, **moved}


def describe_biases(mapping: dict[str, str]) -> str:
    """One note: which neuron each bias belongs to."""
    named = ", ".join(f"{student} is {ours}" for student, ours in mapping.items())
    return f"its biases are one per neuron (read from the forward formulas: {named})"


def describe(mapping: dict[str, str]) -> str:
    """One note: which numbering was read."""
    changed = ", ".join(f"{student} is {ours}" for student, ours in sorted(
        mapping.items(), key=lambda item: int(item[1][1:])) if student != ours)
    return (f"its weights are numbered its own way (read from the forward formulas: {changed} in the "
            "usual numbering, where h1 = w1·i1 + w2·i2); every cell is judged under its numbering")


def helper_columns(sheet, header_row: int, columns: dict[str, int]) -> dict[str, str]:
    """Columns among the table's own (between its first and last labelled column) that hold a
    formula in the first data row but no label of the network: {letters: header text}."""
    labelled = set(columns.values())
    found = {}
    for col in range(min(labelled), max(labelled) + 1):
        formula = sheet.cell(header_row + 1, col).value
        if col not in labelled and isinstance(formula, str) and formula.startswith("="):
            header = sheet.cell(header_row, col).value
            letters = column_letters(col)
            found[letters] = str(header).strip() if header not in (None, "") else letters
    return found


# A reference to this sheet's cell with its row made absolute (X$5, $X$5): a cell meant to stay put.
_ROW_ABSOLUTE = re.compile(r"(?<![\w.$!'])\$?([A-Z]{1,3})\$([0-9]+)(?![\w(])")


def table_cells_read_as_eta(table) -> tuple[dict[tuple, str], bool]:
    """The table's own cells (a labelled column, a data row) that weight updates read through an
    absolute reference, where η belongs: {(sheet, column, row): what it holds}, and whether any
    lies in or below a row that reads it (a circular workbook). A relative reference that moves
    down row by row ($G21, $G22, …) is η drifting instead, judged as such (``TableCheck``)."""
    by_column = {column_letters(col): label for label, col in table.columns.items()}
    first, last = table.header_row + 1, table.header_row + len(table.rows)
    weights = [q.label for q in table.network.given if q.role == "weight" and q.label in table.columns]
    found, circular = {}, False
    for k, row in enumerate(table.rows[1:], start=first + 1):
        for label in weights:
            for column, ref_row in _ROW_ABSOLUTE.findall(row[label].formula or ""):
                ref_row = int(ref_row)
                if column in by_column and first <= ref_row <= last and ref_row not in (k, k - 1):
                    found[(table.sheet, column, ref_row)] = f"{by_column[column]} of row {ref_row}"
                    circular = circular or ref_row >= k
    return found, circular


def eta_inside_read(table, cell) -> tuple[str, str] | None:
    """(cell, what it holds) where a weight update reads a cell of the table as its η."""
    for sheet, column, ref_row in references(cell.formula or ""):
        what = table.eta_inside.get((sheet or table.sheet, column, ref_row))
        if what is not None:
            return f"{column}{ref_row}", what
    return None


def stray_eta(table, cell, k: int, eta_where: str, parameter_cells: set) -> tuple[str, float] | None:
    """(cell, its value) where the update of row ``k`` reads, instead of the table's η cell, a
    cell above the table or an earlier row's cell of the table ($G21, $G22, … that drifted down
    a weight's own column); None where it reads the η cell or neither."""
    if _reads_cell(cell.formula or "", eta_where):
        return None  # the usual case, told without taking the formula apart

    eta = location(eta_where, table.sheet)
    labelled = {column_letters(col) for col in table.columns.values()}
    row = table.header_row + 1 + k
    stray = None
    for sheet, column, ref_row in references(cell.formula or ""):
        where = (sheet or table.sheet, column, ref_row)
        if where == eta:
            return None
        if stray is None and where[0] == table.sheet and (
                ref_row <= table.header_row or (column in labelled and ref_row not in (row, row - 1))):
            stray = where
    if stray is None or stray in parameter_cells:
        return None
    value = table.books[1][stray[0]][f"{stray[1]}{stray[2]}"].value if table.books else None
    return f"{stray[1]}{stray[2]}", float(value) if isinstance(value, (int, float)) else math.nan


_CELL_PATTERNS: dict[str, re.Pattern] = {}


def _reads_cell(formula: str, where: str) -> bool:
    """Whether ``formula`` names the cell ``where`` ("B1", "'lr'!B1") absolutely or not: $B$1, B$1, B1."""
    if where not in _CELL_PATTERNS:
        column, row = WHERE.fullmatch(where).group(3, 4)
        _CELL_PATTERNS[where] = re.compile(rf"(?<![A-Z$])\$?{column}\${{0,1}}{row}(?!\d)")
    return bool(_CELL_PATTERNS[where].search(formula))


def _weighted_sum(sheet, row: int, col: int | None, by_column: dict[str, str]):
    if col is None:
        return None
    formula = sheet.cell(row, col).value
    if not (isinstance(formula, str) and formula.startswith("=")):
        return None

    def resolve(ref):
        ref_sheet, column, ref_row = ref
        label = by_column.get(column)
        if ref_sheet not in (None, sheet.title) or ref_row != row or label is None:
            raise formulas.FormulaError("not a cell of this row")
        return var(label)

    try:
        return formulas.parse(formula, resolve)
    except (formulas.FormulaError, RecursionError):
        return None


def _weights_read(expr) -> list[str]:
    return sorted({n.payload for n in engine.topological_order([expr])
                   if n.op == "var" and n.payload.startswith("w") and n.payload[1:].isdigit()})


def _adds(expr, name: str) -> bool:
    """Whether ``name`` is added to ``expr`` on its own: setting it alone moves the sum by itself."""
    names = {n.payload for n in engine.topological_order([expr]) if n.op == "var"}
    if name not in names:
        return False
    env = dict.fromkeys(names, 0.0)
    base = engine.evaluate([expr], env)[0]
    moved = engine.evaluate([expr], {**env, name: 1.0})[0]
    return math.isclose(moved - base, 1.0)


def _products(expr, weights: list[str], sources: list[str]) -> list[tuple[str, str]]:
    """The (weight, source) pairs multiplied in ``expr``: the sum moves only when both are set."""
    names = {n.payload for n in engine.topological_order([expr]) if n.op == "var"}
    function = compile_function([expr], [var(name) for name in sorted(names)])

    def at(*ones):
        return function(*(1.0 if name in ones else 0.0 for name in sorted(names)))[0]

    base = at()
    alone = {name: at(name) for name in (*weights, *sources)}
    return [(w, s) for w in weights for s in sources
            if math.isclose(alone[w], base) and math.isclose(alone[s], base)
            and math.isfinite(both := at(w, s)) and not math.isclose(both, base)]
