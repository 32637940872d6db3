"""Check a hand-made backpropagation table cell by cell, and say where each mistake enters.

Every labelled cell is checked *locally*: its cached value against its quantity's expression
evaluated on the workbook's own values of the cells that expression reads (the a_h2 cell, the
w6 cell, …), not on values recomputed from the start. So a wrong formula is found in its own cell,
while the correct formulas downstream of it, which faithfully pass the wrong number on, agree
with their inputs and are not reported. Weights in later rows are checked the same way against
the update w − η·∂E/∂w of the row above.

For a wrong cell the engine tries small variants of the right expression (one label swapped for
another of its kind, a factor left out, a sign flipped) and names those that reproduce the value
found: a hint is only given when it was verified numerically.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from sheetprop import engine
from xlsxwriter.utility import xl_col_to_name

from sheetprop.audit import Audit, Cell, Table, read_workbook, references
from sheetprop.engine import Expr, var
from sheetprop.network import GIVEN_ROLES, LEARNING_RATE, previous
from sheetprop.numeric import compile_function
from sheetprop.printers import MathPrinter

# Spreadsheets and the engine both compute in IEEE doubles; a right formula differs from the
# engine only in rounding order, a few ulps (~1e-16 relative each, ~1e-15 after a dozen ops),
# while a chain-rule slip shifts a value by ~1e-7 relative or more (σ'(h1) for σ'(h2) in the
# classic exercise is 3e-2; smaller slips come from inputs that nearly coincide). 1e-9 leaves
# several orders of magnitude on both sides.
DEFAULT_TOLERANCE = 1e-9
# Values that should be 0 (E where an output hits its target, a relu gradient) come out as
# rounding noise of order 1e-17; no relative test can judge those, so differences below this
# absolute floor never count.
ABSOLUTE_FLOOR = 1e-15
MAX_HINTS = 2


@dataclass(frozen=True)
class Finding:
    sheet: str
    cell: str
    label: str
    kind: str                   # wrong formula | wrong reference | wrong update | η drift | typed number | not a number
    formula: str | None         # as written; None where the cell holds a typed value
    found: object               # the cached value (a number, or an error text such as #DIV/0!)
    expected: float | None      # what the chain rule gives from the cells this one reads
    relative_error: float | None
    message: str
    hint: str | None = None     # what the formula seems to do instead, when verified
    chain_rule: str | None = None  # the textbook expression for the cell


@dataclass
class Report:
    path: Path
    sheets: list[tuple[str, int]]          # (sheet, rows checked)
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    recalculated: bool = False

    @property
    def rows_checked(self) -> int:
        return sum(rows for _, rows in self.sheets)

    @property
    def groups(self) -> list[list[Finding]]:
        return group_findings(self.findings)

    def summary(self) -> str:
        n_sheets, n_findings, n_cells = len(self.sheets), len(self.groups), len(self.findings)
        cells = f" ({n_cells} cells)" if n_cells != n_findings else ""
        return (f"{n_sheets} sheet{'s' * (n_sheets != 1)}, {self.rows_checked} row"
                f"{'s' * (self.rows_checked != 1)} checked, {n_findings} finding{'s' * (n_findings != 1)}{cells}")


_CELL = re.compile(r"([A-Z]{1,3})(\d+)")
_RELATIVE_ROW = re.compile(r"(?<![A-Za-z_$])(\$?[A-Z]{1,3})(\d+)(?![\w(])")


def _shape(finding: Finding) -> tuple:
    """What makes two findings one mistake copied down a column: same sheet, column and kind, and
    the same formula once each relative row number is written as an offset from the cell's row."""
    column, row = _CELL.fullmatch(finding.cell).groups()
    formula = finding.formula
    if formula is not None:
        formula = _RELATIVE_ROW.sub(lambda m: f"{m.group(1)}[{int(m.group(2)) - int(row)}]", formula)
    return finding.sheet, column, finding.kind, formula


def group_findings(findings: list[Finding]) -> list[list[Finding]]:
    """Findings in order, a run of the same mistake in consecutive rows of a column made one group."""
    groups: list[list[Finding]] = []
    last: dict[tuple, list[Finding]] = {}
    for finding in findings:
        shape = _shape(finding)
        group = last.get(shape)
        row = int(_CELL.fullmatch(finding.cell).group(2))
        if group is not None and int(_CELL.fullmatch(group[-1].cell).group(2)) == row - 1:
            group.append(finding)
        else:
            group = [finding]
            groups.append(group)
        last[shape] = group
    return groups


def check_workbook(path, tolerance: float = DEFAULT_TOLERANCE) -> Report:
    audit: Audit = read_workbook(path)
    report = Report(audit.path, [(t.sheet, len(t.rows)) for t in audit.tables],
                    recalculated=audit.recalculated)
    report.notes.extend(f"skipped {reason}" for reason in audit.skipped)
    if audit.recalculated:
        report.notes.append(f"{audit.path.name} had no saved values; LibreOffice recalculated them")
    for table in audit.tables:
        report.notes.extend(f"sheet {table.sheet!r}: {note}" for note in table.notes)
        report.findings.extend(TableCheck(table, tolerance).findings())
    return report


def disagree(found: float, expected: float, tolerance: float) -> bool:
    if math.isnan(expected) or math.isnan(found):
        return math.isnan(expected) != math.isnan(found)
    return abs(found - expected) > tolerance * max(abs(found), abs(expected)) + ABSOLUTE_FLOOR


def relative_error(found, expected) -> float | None:
    if not isinstance(found, float) or expected is None or not math.isfinite(expected) or expected == 0:
        return None
    return abs(found - expected) / abs(expected)


class TableCheck:
    """The checks of one table. Each computed quantity gets a *local* expression: its node with
    every other quantity that has a column in the sheet cut off into a variable of that label."""

    def __init__(self, table: Table, tolerance: float):
        self.table, self.tolerance, self.network = table, tolerance, table.network
        present = [q for q in self.network.quantities if q.label in table.columns]
        leaves: dict[Expr, Expr] = {}
        for q in present:
            leaves.setdefault(q.node, var(q.label))  # given quantities are such variables already
        self.local = {q.label: _cut(q.node, leaves) for q in self.network.computed}
        self.inputs = [var(q.label) for q in present]
        computed = self.network.computed
        self.evaluate_local = compile_function([self.local[q.label] for q in computed], self.inputs)
        self.computed_labels = [q.label for q in computed]
        self.column_labels = {xl_col_to_name(col - 1): label for label, col in table.columns.items()}
        # Every later row's givens from the row above: w − η·∂E/∂w, or the same value.
        self.labels = [q.label for q in self.network.quantities]
        self.evaluate_updates = compile_function(
            [self.network.update(q) for q in self.network.given],
            [previous(label) for label in self.labels] + [LEARNING_RATE])

    def findings(self) -> list[Finding]:
        found: list[Finding] = []
        above = None  # the row above's values of every quantity, once it could be evaluated
        for k, row in enumerate(self.table.rows):
            if k > 0:
                found.extend(self._check_givens(k, row, above))
            values, problems = self._row_values(row)
            found.extend(problems)
            above = None
            if values is not None:
                expected = dict(zip(self.computed_labels, self.evaluate_local(
                    *(values[v.payload] for v in self.inputs))))
                found.extend(self._check_computed(row, values, expected))
                above = {label: values.get(label, expected.get(label)) for label in self.labels}
        return found

    # --- one row ------------------------------------------------------------------------------

    def _row_values(self, row: dict[str, Cell]):
        """The row's numbers by label (NaN for a computed cell showing an error value), or None
        when a given cell holds no number, with a finding for it."""
        values, problems = {}, []
        for label, cell in row.items():
            number = cell.number
            # An error value that a formula computed (w − η·∂E/∂w after EXP overflowed) came from
            # upstream, where it is judged; here it is the spreadsheet's NaN, not a slip.
            computed_error = cell.formula is not None and not cell.is_typed and isinstance(cell.value, str) \
                and cell.value.startswith("#")
            if number is None and computed_error:
                number = math.nan
            if number is None and self.network.by_label(label).role in GIVEN_ROLES:
                problems.append(self._finding(cell, label, "not a number", None,
                                              "holds no number, so this row cannot be checked"))
            values[label] = math.nan if number is None else number
        return (None if problems else values), problems

    def _check_computed(self, row, values, expected) -> list[Finding]:
        found = []
        for q in self.network.computed:
            cell = row.get(q.label)
            if cell is None:
                continue
            want = expected[q.label]
            if cell.is_typed:
                wrong = cell.number is None or disagree(cell.number, want, self.tolerance)
                found.append(self._finding(
                    cell, q.label, "typed number", want,
                    "holds a typed number where a formula belongs"
                    + (", and the number is wrong" if wrong else " (its value is right for now, "
                       "but it will not follow when the inputs change)"),
                    chain_rule=self.network.derivation(q)))
            elif cell.number is None:
                if not math.isnan(want):
                    found.append(self._finding(cell, q.label, "not a number", want,
                                               f"shows {cell.value!r} where the chain rule gives a number",
                                               chain_rule=self.network.derivation(q)))
            elif disagree(cell.number, want, self.tolerance):
                lhs = self.network.derivation(q).split(" = ")[0]
                found.append(self._finding(
                    cell, q.label, "wrong formula", want,
                    "disagrees with the chain rule applied to the cells it depends on",
                    hint=self._hint(self.local[q.label], values, cell.number, lhs),
                    chain_rule=self.network.derivation(q)))
            elif swap := self._swapped_reference(q.label, cell):
                # Right number, wrong cell: with t1 = t2, an E2 written with t1 agrees today.
                used, needed = swap
                found.append(self._finding(
                    cell, q.label, "wrong reference", want,
                    f"uses {used} where {q.label} needs {needed} (the value agrees only because they "
                    "hold the same number in this row)", chain_rule=self.network.derivation(q)))
        return found

    def _swapped_reference(self, label: str, cell: Cell) -> tuple[str, str] | None:
        """(used, needed) when the formula reads this row's cell of one quantity where the chain
        rule needs another of the same kind (t1 for t2, a_h1 for a_h2) and misses that one."""
        row = int(re.search(r"\d+$", cell.ref).group())
        read = set()
        for sheet, column, ref_row in references(cell.formula or ""):
            if (sheet is None or sheet == self.table.sheet) and ref_row == row:
                label_there = self.column_labels.get(column)
                if label_there is not None:
                    read.add(label_there)
        needed = {node.payload for node in engine.topological_order([self.local[label]]) if node.op == "var"}
        extra, missing = sorted(read - needed), sorted(needed - read)
        for used in extra:
            for need in missing:
                if _kind(used) == _kind(need):
                    return used, need
        return None

    def _check_givens(self, k: int, row, above) -> list[Finding]:
        """Later rows: weights must be the update of the row above, other givens unchanged."""
        found = []
        learning_rate = self.table.learning_rates[k]
        # η is one cell per table, the one the first update reads: a reference that drifts down
        # row by row (B32, B33, … where $B$32 belongs) trains at other rates without a sign.
        table_eta = next((lr for lr in self.table.learning_rates if lr is not None), None)
        drifted = learning_rate is not None and table_eta is not None and learning_rate.where != table_eta.where
        if drifted:
            learning_rate = table_eta
        eta = learning_rate.value if learning_rate is not None else math.nan
        wants = (self.evaluate_updates(*(above[label] for label in self.labels), eta)
                 if above is not None else [None] * len(self.network.given))
        for q, want in zip(self.network.given, wants):
            cell = row[q.label]
            is_weight = q.role == "weight"
            if is_weight and learning_rate is None:
                want = None  # η unknown: the update cannot be checked (the table notes it)
            if is_weight and drifted:
                if not any(f.kind == "η drift" for f in found):  # one finding for the row, not one per weight
                    read = self.table.learning_rates[k]
                    found.append(self._finding(
                        cell, q.label, "η drift", want,
                        f"reads η from {read.where} (= {read.value:g}), not the table's η cell {table_eta.where} "
                        f"(= {table_eta.value:g}); make the reference absolute ({_absolute(table_eta.where)}) so every "
                        "row uses the same η", chain_rule=_update_rule(q.label, self.network.update(q))))
                continue
            update = self.network.update(q)
            if is_weight and cell.is_typed:
                found.append(self._finding(cell, q.label, "typed number", want,
                                           "holds a typed number where the weight update formula belongs",
                                           chain_rule=_update_rule(q.label, update)))
                continue
            if cell.number is None or want is None or not disagree(cell.number, want, self.tolerance):
                continue
            if is_weight:
                message = ("is not the row above's weight minus η times its gradient "
                           f"(η = {learning_rate.value:g} from {learning_rate.where})")
            else:
                message = f"differs from the row above's {q.label}"
            env = {previous(label).payload: value for label, value in above.items()}
            env[LEARNING_RATE.payload] = eta
            found.append(self._finding(cell, q.label, "wrong update", want, message,
                                       hint=self._hint(update, env, cell.number, q.label),
                                       chain_rule=_update_rule(q.label, update)))
        return found

    def _finding(self, cell: Cell, label: str, kind: str, expected, message: str,
                 hint=None, chain_rule=None) -> Finding:
        found = cell.number if cell.number is not None else cell.value
        return Finding(self.table.sheet, cell.ref, label, kind, cell.formula, found, expected,
                       relative_error(found, expected), message, hint, chain_rule)

    # --- hints --------------------------------------------------------------------------------

    def _hint(self, expr: Expr, env: dict, found: float, lhs: str) -> str | None:
        """Describe the variants of ``expr`` that reproduce ``found`` (and differ from ``expr``)."""
        try:
            right = engine.evaluate([expr], env)[0]
        except KeyError:
            return None
        matches = []
        for description, variant in _variants(expr, env, lhs):
            try:
                value = engine.evaluate([variant], env)[0]
            except KeyError:
                continue
            if not disagree(found, value, self.tolerance) and disagree(value, right, self.tolerance):
                if description not in matches:
                    matches.append(description)
        if not matches or len(matches) > MAX_HINTS:
            return None  # nothing, or too many explanations to single one out
        return " — or — ".join(matches)



def _cut(root: Expr, leaves: dict[Expr, Expr]) -> Expr:
    """``root`` with every node in ``leaves`` below it replaced by its variable."""
    return engine.substitute(root, {node: leaf for node, leaf in leaves.items() if node is not root})


def _replace(root: Expr, old: Expr, new: Expr) -> Expr:
    return engine.substitute(root, {old: new})


def _focus(root: Expr, leaf: Expr) -> Expr:
    """The smallest part of ``root`` that holds every use of ``leaf``, widened to its parent
    when that part is the leaf alone (so a hint reads "t1 − a_o2", not just "t1")."""
    node, parent = root, None
    while node is not leaf:
        holding = [a for a in node.args if engine.contains(a, leaf)]
        if len(holding) != 1:
            return node
        parent, node = node, holding[0]
    return parent if parent is not None else node


def _kind(name: str) -> str:
    return re.sub(r"\d+$", "", name)


def _variants(expr: Expr, env: dict, lhs: str):
    """(description, expression) for the slips people make in a hand-typed chain rule."""
    names = {node.payload for node in engine.topological_order([expr]) if node.op == "var"}
    for name in sorted(names):
        leaf = var(name)
        focus = _focus(expr, leaf)
        for other in sorted(env):
            if other != name and _kind(other) == _kind(name):
                swapped = _replace(focus, leaf, var(other))
                yield (f"uses {_print(swapped)} where {lhs} needs {_print(focus)}",
                       _replace(expr, leaf, var(other)))
    for node in engine.topological_order([expr]):
        if node.op == "mul":
            for kept, dropped in (node.args, reversed(node.args)):
                yield f"leaves out the factor {_print(dropped)}", _replace(expr, node, kept)
        elif node.op in ("add", "sub"):
            flipped = Expr("sub" if node.op == "add" else "add", node.args)
            yield (f"uses {_print(flipped)} where {lhs} needs {_print(node)}",
                   _replace(expr, node, flipped))
    yield "has the opposite sign", Expr("neg", (expr,))


class _HintPrinter(MathPrinter):
    """Math for hints: the row above's values print by their labels, as the student wrote them."""

    def variable(self, name: str) -> str:
        return name.removeprefix("previous ")


def _print(expr: Expr) -> str:
    return _HintPrinter().doprint(expr)


def _absolute(where: str) -> str:
    """B32 -> $B$32 (a sheet prefix is kept)."""
    return re.sub(r"\$?([A-Z]{1,3})\$?(\d+)$", r"$\1$\2", where)


def _update_rule(label: str, update: Expr) -> str:
    return f"{label} = {_print(update)} (from the row above)"
