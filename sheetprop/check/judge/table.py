"""Check a hand-made backpropagation table cell by cell, and say where each mistake enters.

Every labelled cell is judged *locally*, on its own. A formula by what it computes over the
table's cells (``formula_judge``), against the chain rule; a typed or pasted number by its
value, against the chain rule applied to the workbook's own values of the cells it depends on,
to the digits it keeps (``precision``). So a wrong formula is found in its own cell, while the
correct formulas downstream of it, which faithfully pass the wrong number on, are right. Later
rows' weights (and an optimizer's state) are judged the same way against the update from the
row above. A wrong cell gets a hint when a small variant of the right expression is verified to
compute what it does (``hints``); ``report`` groups the findings and scores the cells.
"""

from __future__ import annotations

import math

from sheetprop.spreadsheet.references import column_letters

from sheetprop.check.find.audit import Table
from sheetprop.check.read.cells import Cell
from sheetprop.check.judge.hints import absolute, update_rule
from sheetprop.check.report.findings import Finding, relative_error
from sheetprop.engine import Expr, var
from sheetprop.check.judge.formula import TableFormulas, piecewise, random_points
from sheetprop.spreadsheet.references import location
from sheetprop.check.find import infer
from sheetprop.check.judge.helpers import HelperRoles
from sheetprop.check.judge.rows import JudgedCells, RowValues
from sheetprop.check.judge.verdict import (_CUTS, _NETWORK_SHAPES, _UNREAD, _VERDICTS, MAX_SHOWN_TEXT, FormulaVerdicts,
                                           _cut)
from sheetprop.network import GIVEN_ROLES, LEARNING_RATE, previous
from sheetprop.engine.numeric import compile_function
from sheetprop.check.judge.precision import StoredPrecision
from sheetprop.check.judge.error_values import describe_cell, error_origin, is_error_value
# The tolerances live with the spreadsheet language (check names them here too).
from sheetprop.spreadsheet.agree import ABSOLUTE_FLOOR, DEFAULT_TOLERANCE, agree as numbers_agree  # noqa: F401

MAX_CACHED_NETWORKS = 256
_POINTS: dict[tuple, int] = {}  # the random points of each network shape seen, numbered


class TableCheck(FormulaVerdicts):
    """The checks of one table. Each computed quantity gets a *local* expression: its node with
    every other quantity that has a column in the sheet cut off into a variable of that label.
    A cell with a formula is judged by what the formula computes (``formula_judge``); its value
    decides only how a wrong formula is reported, and cells without one are judged by value."""

    def __init__(self, table: Table, tolerance: float, accept_values: bool = False, exercise: bool = False):
        self.table, self.tolerance, self.network = table, tolerance, table.network
        present = [q for q in self.network.quantities if q.label in table.columns]
        leaves: dict[Expr, Expr] = {}
        for q in present:
            leaves.setdefault(q.node, var(q.label))  # given quantities are such variables already
        if len(_CUTS) >= MAX_CACHED_NETWORKS:
            _CUTS.clear()
        cut = _CUTS.setdefault(tuple(leaves.items()), {})  # the same network in every submission: cut once
        self.local = {q.label: cut[q.node] if q.node in cut else cut.setdefault(q.node, _cut(q.node, leaves))
                      for q in self.network.computed}
        self._leaves = leaves
        self.inputs = [var(q.label) for q in present]
        self.computed = computed = self.network.computed
        self.evaluate_local = compile_function([self.local[q.label] for q in computed], self.inputs)
        self.computed_labels = [q.label for q in computed]
        self.column_labels = {column_letters(col): label for label, col in table.columns.items()}
        # Every later row's givens from the row above: w − η·∂E/∂w, or the same value.
        self.labels = [q.label for q in self.network.quantities]
        self._previous_names = [(label, previous(label).payload) for label in self.labels]  # once, not per row
        # What the row above (and an optimizer's state beside it) gives each carried cell: a
        # given's update, an optimizer state's next value.
        self.carried = self.network.carried
        self.updates = {q.label: self.network.update(q) for q in self.carried}  # built once, read every row
        self.state_labels = [q.label for q in self.carried if q.role == "optimizer"]
        self.hyperparameters = [p.symbol for p in self.network.hyperparameters]
        self.evaluate_updates = compile_function(
            [self.updates[q.label] for q in self.carried],
            [previous(label) for label in self.labels] + [var(label) for label in self.state_labels]
            + [LEARNING_RATE] + self.hyperparameters)
        # η is one cell per table, the one the first update reads: a reference that drifts down
        # row by row (B32, B33, … where $B$32 belongs) trains at other rates without a sign.
        self.table_eta = next((lr for lr in table.learning_rates if lr is not None and math.isfinite(lr.value)), None)
        self.formulas = TableFormulas(table, self.table_eta.where if self.table_eta else None)
        # What depends on the network alone is worked out once per network shape in a process
        # (every submission of a class has the key's): its random points and printed derivations.
        shape = _NETWORK_SHAPES.get(self._network_key())
        if shape is None:
            if len(_NETWORK_SHAPES) >= MAX_CACHED_NETWORKS:
                _NETWORK_SHAPES.clear()
            shape = _NETWORK_SHAPES[self._network_key()] = (
                random_points(self.network), {q.label: self.network.derivation(q) for q in computed})
        self.points = [dict(point) for point in shape[0]]
        self.precision = self._stored_precision()
        self._slack_functions: dict[str, tuple] = {}
        self.pasted = self._holds_pasted_values()
        # Typed numbers judged by their value: a hand-made sheet of pasted values, or any sheet with
        # --accept-values. Otherwise a typed number where a formula belongs is a finding and earns
        # nothing; so in an exercise, whose every computed cell the key has as a formula.
        self.by_value = accept_values or (self.pasted is not None and not exercise)
        # A sheet sheetprop built has its η cell: an update that types η's number is no reference to it.
        self.typed_eta_is_wrong = exercise and table.recorded
        self._given_labels = {q.label for q in self.network.given}
        # The first row's givens, as the second row's updates read them: typed, so exact.
        self._first_givens = frozenset(previous(label).payload for label in self._given_labels)
        self.trained = set(self.network.trained)
        # Whether each carried quantity is a parameter the optimizer steps, asked of every carried
        # cell of every row: worked out once, not by hashing the quantity's fields each time.
        self._carried_weights = [q in self.trained for q in self.carried]
        # Per (label, update or not): the reading last found to compute the chain rule. A column's
        # cells read the same (Reading objects are shared through TableFormulas' cache), so each
        # later cell is judged right by identity, before its number is compared at all: a formula
        # that computes the right function is right whatever it shows.
        self._known_right: dict[tuple[str, bool], object] = {}
        self.judged = JudgedCells()  # (label, cell) of every cell given a verdict, for the scores
        # Verdicts and hints are kept per process, not per table (see _VERDICTS), under the points
        # they were found at: the same formula against the same chain rule at the same points
        # has the same verdict in every submission of a class.
        self._verdicts = _VERDICTS
        points = tuple(tuple(sorted(point.items())) for point in self.points)
        self._points_key = _POINTS.setdefault(points, len(_POINTS))  # a small number: hashed for every cell
        self.right_at_points = {q.label: [p[q.label] for p in self.points] for q in computed}
        self.right_at_points.update({q.label: self._at_points(self.updates[q.label]) for q in self.carried})
        # Printed once, not once a cell.
        self.derivations = shape[1]
        self.update_rules = {q.label: update_rule(q.label, self.updates[q.label]) for q in self.carried}
        self.drifted: set[str] = set()  # updates reading a drifted η: one finding a row, every cell wrong
        self.helper_roles = HelperRoles(self.network, self.points)
        self._helpers_reported: set[str] = set()
        self._parameter_cells = {location(p.where, table.sheet) for p in table.parameters.values()}

    def _network_key(self) -> tuple:
        """What random_points and the derivations read of the network: its quantities, loss and
        hyper-parameters (nodes are interned, so the same network gives the same key)."""
        network = self.network
        return (tuple((q.label, q.node, q.role) for q in network.quantities), network.template.loss,
                tuple((p.key, p.label, p.symbol) for p in network.hyperparameters))

    def findings(self) -> list[Finding]:
        found: list[Finding] = []
        above = None  # the row above's values, once it could be evaluated (RowValues)
        for k, row in enumerate(self.table.rows):
            if k > 0:
                found.extend(self._check_givens(k, row, above))
            values, problems = self._row_values(row)
            found.extend(problems)
            if self.table.stale_values:
                values = None  # computed before a circle closed: the formulas alone are judged
            above = RowValues(self, values) if values is not None else None
            # Without the row's values (a given left blank), formulas are still judged by what they compute.
            found.extend(self._check_computed(row, values, above, first_row=k == 0))
        return found

    def notes(self) -> list[str]:
        notes = []
        if self.pasted and not self.by_value:
            notes.append(f"it holds pasted values ({self.pasted}), not formulas: the exercise asks for formulas, "
                         "so typed numbers earn nothing (--accept-values credits the right ones)")
        elif self.pasted:
            notes.append(f"it holds pasted values ({self.pasted}), not formulas: each number is judged "
                         "against the chain rule to the digits it keeps, and nothing in it follows "
                         "when an input changes")
        elif self.precision.rounded:
            notes.append(f"its saved numbers keep {self.precision.describe()} (as in a Google Sheets "
                         "export): formulas are judged by what they compute, numbers to the digits kept")
        return notes

    def _stored_precision(self) -> StoredPrecision:
        exact = {q.label for q in self.network.given if q.role != "weight"}
        numbers = [cell.number for row in self.table.rows for label, cell in row.items()
                   if label not in exact and cell.number is not None]
        return StoredPrecision(numbers, exact)

    def _holds_pasted_values(self) -> str | None:
        """"N of M computed cells" when most computed cells hold typed numbers, else None."""
        computed = [row[label] for row in self.table.rows for label in self.computed_labels if label in row]
        # A formula is looked into (is_typed) only where the typed numbers could be most.
        if sum(cell.number is not None for cell in computed) <= len(computed) / 2:
            return None
        # Stop at the half: past it the typed numbers cannot be the most.
        typed = untyped = 0
        for cell in computed:
            if cell.number is not None and cell.is_typed:
                typed += 1
            else:
                untyped += 1
                if untyped >= len(computed) / 2:
                    return None
        return f"{typed} of {len(computed)} computed cells" if computed and typed > len(computed) / 2 else None

    # --- one row ------------------------------------------------------------------------------

    def _row_values(self, row: dict[str, Cell]):
        """The row's numbers by label (NaN for a computed cell showing an error value), or None
        when a given cell holds no number, with a finding for it."""
        values, problems = {}, []
        for label, cell in row.items():
            number = cell.number
            if number is not None:  # nearly every cell of a row: nothing more to ask of it
                values[label] = number
                continue
            # An error value that a formula computed (w − η·∂E/∂w after EXP overflowed) came from
            # upstream, where it is judged; here it is the spreadsheet's NaN, not a slip.
            if is_error_value(cell.value) and cell.formula is not None and not cell.is_typed:
                number = math.nan
            if number is None and self.network.by_label(label).role in GIVEN_ROLES:
                if cell.is_blank:
                    problems.append(self._blank(cell, label, "the update formula belongs here"))
                else:
                    problems.append(self._finding(cell, label, "not a number", None,
                                                  "holds no number, so this row cannot be checked"))
            values[label] = math.nan if number is None else number
        return (None if problems else values), problems

    def _check_computed(self, row, values, worked_out, first_row: bool) -> list[Finding]:
        """Each computed cell of the row; ``values`` and ``worked_out`` (RowValues) are None when
        the row's givens are not all numbers, and then only formulas can be judged."""
        found = []
        for q in self.computed:  # the network's list, made once (Network.computed makes a new one)
            cell = row.get(q.label)
            if cell is None:
                continue
            if cell.is_blank:
                found.append(self._blank(cell, q.label, "a formula belongs here", self.derivations[q.label]))
                continue
            reading = None
            if cell.formula is not None:
                # The column's right formula again (a reading found right came from a formula
                # with references, and the same reading means the same text: not typed either).
                reading = self.formulas.read(q.label, cell)
                if (reading is not None and self._known_right.get((q.label, False)) is reading
                        and not piecewise(reading.expr)):  # a branch is tried at each row's own values
                    self.judged.append((q.label, cell))
                    continue
            chain_rule = self.derivations[q.label]
            local = self.local[q.label]
            want = worked_out.expected[q.label] if worked_out is not None else None
            wrong = None if want is None else (
                cell.number is None or self._disagree(q.label, local, values, cell.number, want,
                                                      self._given_labels if first_row else ()))
            if cell.is_typed and self.by_value:
                if wrong is not None:
                    self.judged.append((q.label, cell))
                if wrong:
                    found.append(self._finding(
                        cell, q.label, "wrong value", want,
                        "holds a number that is not the chain rule's value from the cells it depends on, "
                        "even allowing for the digits kept",
                        hint=(self._hint(local, [values], [cell.number], chain_rule.split(" = ")[0])
                              if cell.number is not None else None),
                        chain_rule=chain_rule))
                continue
            if cell.is_typed:
                self.judged.append((q.label, cell))
                found.append(self._finding(
                    cell, q.label, "typed number", want,
                    "holds a typed number where a formula belongs"
                    + ("" if wrong is None else ", and the number is wrong" if wrong else
                       " (its value is right for now, but it will not follow when the inputs change)"),
                    chain_rule=chain_rule))
                continue
            if want is not None and cell.number is None and math.isnan(want):
                # An error value where the chain rule gives none either: it came from upstream, and
                # the formula is judged by what it computes (it stays in the score either way).
                wrong = None
            finding = self._judge_formula(q.label, cell, local, values, want, wrong, chain_rule, reading=reading)
            if finding is not None:
                found.append(finding)
        return found

    def _check_givens(self, k: int, row, above) -> list[Finding]:
        """Later rows: weights must be the update of the row above, other givens unchanged."""
        found = []
        learning_rate = self.table.learning_rates[k]
        table_eta = self.table_eta
        drifted = learning_rate is not None and table_eta is not None and learning_rate.where != table_eta.where
        if drifted or (learning_rate is not None and not math.isfinite(learning_rate.value)):
            learning_rate = table_eta  # None when no update reads a number: they cannot be checked
        eta = learning_rate.value if learning_rate is not None else math.nan
        wanted = None  # (each carried cell's update from the row above, their variables): once asked

        def updates_from_above() -> tuple[list, dict | None]:
            # Not for a row whose every update is its column's right formula again.
            nonlocal wanted
            if wanted is None:
                wanted = self._updates_from(above.above if above is not None else None, row, eta)
            return wanted

        for i, (q, weight) in enumerate(zip(self.carried, self._carried_weights)):
            cell = row.get(q.label)
            if cell is None:
                continue
            trained = weight or q.role == "optimizer"  # what the student works out
            if cell.is_blank:
                continue  # reported with the row's values (_row_values)
            if trained and learning_rate is None:
                continue  # η unknown: the update cannot be checked (the table notes it)
            update = self.updates[q.label]
            if weight and drifted:
                self.judged.append((q.label, cell))
                self.drifted.add(cell.ref)
                # One finding per weight, so each wrong cell is named; report groups them into one.
                read = self.table.learning_rates[k]
                want = updates_from_above()[0][i]
                found.append(self._eta_drift(cell, q.label, want, read.where,
                                             describe_cell(self.table, read.where, read.value), table_eta))
                continue
            inside = infer.eta_inside_read(self.table, cell) if weight and self.table.eta_inside else None
            if inside is not None:
                self.judged.append((q.label, cell))
                eta_cell = f", not the η cell {table_eta.where}" if table_eta else ""
                found.append(self._finding(
                    cell, q.label, "wrong update", updates_from_above()[0][i],
                    f"reads η from {inside[0]} ({inside[1]}), a cell of the table itself{eta_cell}",
                    chain_rule=self.update_rules[q.label]))
                continue
            reading = _UNREAD
            if cell.formula is not None:
                # The column's right update again: it reads η's cell and has references (a
                # reading found right came from such a formula, and the same reading means the
                # same text), so it is neither a stray η nor a typed number.
                reading = self.formulas.read(q.label, cell)
                if (reading is not None and self._known_right.get((q.label, True)) is reading
                        and not piecewise(reading.expr)):
                    if trained:  # a right update; a constant carried down is no part of the score
                        self.judged.append((q.label, cell))
                    continue
            wants, env = updates_from_above()
            want = wants[i]
            stray = (infer.stray_eta(self.table, cell, k, table_eta.where, self._parameter_cells)
                     if weight and table_eta and not cell.is_typed else None)
            if stray is not None:
                self.judged.append((q.label, cell))
                self.drifted.add(cell.ref)
                where, value = stray
                found.append(self._eta_drift(cell, q.label, want, where, f"= {value:g}", table_eta))
                continue
            if trained and cell.is_typed and not self.by_value:
                self.judged.append((q.label, cell))
                found.append(self._finding(cell, q.label, "typed number", want,
                                           "holds a typed number where the weight update formula belongs",
                                           chain_rule=self.update_rules[q.label]))
                continue
            if cell.number is None and want is None and cell.is_typed:
                continue
            wrong = None if want is None or cell.number is None else self._disagree(
                q.label, update, env, cell.number, want, self._first_givens if k == 1 else ())
            if not cell.is_typed:
                if not trained and wrong is None:
                    continue
                finding = self._judge_formula(q.label, cell, update, env, want, wrong,
                                              self.update_rules[q.label], update=True, reading=reading)
                if finding is not None:
                    found.append(finding)
                elif not trained and self.judged and self.judged.last_is(q.label, cell):
                    self.judged.pop()  # a constant carried down is no part of the score
                continue
            if trained:
                self.judged.append((q.label, cell))
            if not wrong:
                continue
            if trained:
                message = self._update_message(q.label, learning_rate)
            else:
                message = f"differs from the row above's {q.label}"
            found.append(self._finding(cell, q.label, "wrong update", want, message,
                                       hint=self._hint(update, [env], [cell.number], q.label),
                                       chain_rule=self.update_rules[q.label]))
        return found

    def _updates_from(self, above: dict | None, row, eta: float) -> tuple[list, dict | None]:
        """Each carried cell's update from the row above's values (``above``), and the variables
        it reads (the row above's, an optimizer's state, η, the hyper-parameters); Nones and None
        without the row above's values."""
        if above is None:
            return [None] * len(self.carried), None
        state = [row[label].number if label in row and row[label].number is not None else math.nan
                 for label in self.state_labels]
        settings = [self.table.parameters[p.payload].value for p in self.hyperparameters]
        wants = self.evaluate_updates(*(above[label] for label in self.labels), *state, eta, *settings)
        env = {name: above[label] for label, name in self._previous_names}
        env.update(zip(self.state_labels, state))
        env.update(zip((p.payload for p in self.hyperparameters), settings))
        env[LEARNING_RATE.payload] = eta
        return wants, env

    def _update_message(self, label: str, learning_rate) -> str:
        eta = f" (η = {learning_rate.value:g} from {learning_rate.where})" if learning_rate else ""
        if self.network.optimizer.name == "sgd" and self.network.by_label(label).role != "optimizer":
            return "is not the row above's weight minus η times its gradient" + eta
        return f"is not the {self.network.optimizer.name} update of the row above" + eta

    def _blank(self, cell: Cell, label: str, what: str, chain_rule: str | None = None) -> Finding:
        self.judged.append((label, cell))
        return self._finding(cell, label, "blank", None, f"is empty: {what}", chain_rule=chain_rule)

    def _eta_drift(self, cell, label: str, want, where: str, what_it_holds: str, table_eta) -> Finding:
        """An update reading η from ``where`` instead of the table's η cell: one wording for a
        reference copied down without $ and for one column's stray reference."""
        return self._finding(
            cell, label, "η drift", want,
            f"reads η from {where} ({what_it_holds}), not the table's η cell {table_eta.where} "
            f"(= {table_eta.value:g}) that the other updates read; make the reference absolute "
            f"({absolute(table_eta.where)}) so every row uses the same η", chain_rule=self.update_rules[label])

    def _typed_eta(self, cell, label: str, want) -> Finding:
        """An update of a sheet sheetprop built that types η's number instead of reading its cell:
        it computes this sheet's numbers, and stops following η when the cell is changed."""
        eta = self.table_eta
        return self._finding(cell, label, "η drift", want,
                             f"η typed as {eta.value:g}; reference the η cell {absolute(eta.where)} so the "
                             "sheet follows a change of η", chain_rule=self.update_rules[label])

    def _finding(self, cell: Cell, label: str, kind: str, expected, message: str,
                 hint=None, chain_rule=None, reads=None) -> Finding:
        found = cell.number if cell.number is not None else cell.value
        if isinstance(found, str) and len(found) > MAX_SHOWN_TEXT:  # 3,000 findings of one 30,000-character text
            found = found[:MAX_SHOWN_TEXT] + "…"
        origin = error_origin(self.table, cell.ref) if is_error_value(found) else None
        label = self.table.shown_labels.get(label, label)  # as the student numbers it
        return Finding(self.table.sheet, cell.ref, label, kind, cell.formula, found, expected,
                       relative_error(found, expected), message, hint, chain_rule, reads, origin)

    # --- hints --------------------------------------------------------------------------------
