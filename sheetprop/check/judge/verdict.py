"""A formula's verdict, in one place: what a table cell's formula computes over the cells it
reads, against the chain rule's expression for it (``formula``), at the network's random points and
at its own row's values; a formula that only passes a number on earns nothing; where it is wrong,
the helper column or the swapped reference where the slip enters, and a hint (``hints``).

``TableCheck`` (``table``) judges a table row by row and asks this part of it for each formula."""

from __future__ import annotations

from sheetprop.spreadsheet.references import column_letters
from sheetprop.spreadsheet.tokens import tokens as formula_tokens

import math
import re

from sheetprop import engine

from sheetprop.check.read.cells import Cell, references
from sheetprop.check.judge.hints import as_read, find_hint, same_kind_swap, student_name
from sheetprop.check.report.findings import Finding
from sheetprop.engine import Expr, var
from sheetprop.check.judge.formula import (SYMBOLIC_TOLERANCE, agree, follows_its_inputs,
                                           helper_variable, piecewise, same_function,
                                           value_at, values_at, variables)
from sheetprop.network import LEARNING_RATE
from sheetprop.engine.numeric import compile_function
# The tolerances live with the spreadsheet language (check names them here too).
from sheetprop.spreadsheet.agree import ABSOLUTE_FLOOR, DEFAULT_TOLERANCE, agree as numbers_agree  # noqa: F401

MAX_SHOWN_TEXT = 200  # characters of a cell's text a finding repeats
MAX_CACHED_VERDICTS = 100_000  # ~100 bytes each besides the expressions, which the workbooks hold anyway


class _VerdictCache(dict):
    """Verdicts and hints for the whole process: a class of students copies one template, so
    most formulas of the next submission were judged in an earlier one. Bounded: when full, the
    older half goes (dicts keep insertion order)."""

    def put(self, key, value) -> None:
        if len(self) >= MAX_CACHED_VERDICTS:
            for old in list(self)[:MAX_CACHED_VERDICTS // 2]:
                del self[old]
        self[key] = value


_VERDICTS = _VerdictCache()
_UNREAD = object()  # _judge_formula's reading when the caller has not read the formula yet
# Each computed node cut at the quantities a table has columns for, by those columns' (node,
# variable) pairs: the expressions are interned, so the same network gives the same key.
_CUTS: dict[tuple, dict[Expr, Expr]] = {}
_NETWORK_SHAPES: dict[tuple, tuple] = {}  # by TableCheck._network_key: (random points, derivations)
# An expression's values at a network's random points, by (expression, points' number): the same
# column formula in every submission of a class is evaluated once.
_POINT_VALUES: dict[tuple, list[float] | None] = {}


class FormulaVerdicts:
    """The verdict methods of ``TableCheck``: they read the table check's state (its network,
    points, leaves, caches) and give findings through its ``_finding``."""

    def _judge_formula(self, label: str, cell: Cell, right: Expr, values: dict | None, want, wrong: bool | None,
                       chain_rule: str, update: bool = False, reading=_UNREAD) -> Finding | None:
        """The finding for a formula cell, if any: a formula that computes the right function is
        right whatever it shows; one that does not is a wrong formula when its number is off (or
        cannot be known), and a wrong reference when the number agrees only because two cells hold
        the same value. ``wrong`` is None where the cells it depends on hold no numbers."""
        if reading is _UNREAD:
            reading = self.formulas.read(label, cell)
        computes = self._at_points(reading.expr) if reading is not None else None
        typed_eta = update and reading is not None and LEARNING_RATE.payload not in reading.reads and self.table_eta
        if typed_eta:
            # η typed into the update as a number (−0.5*…): right when it is the table's η.
            right = engine.substitute(right, {LEARNING_RATE: engine.const(self.table_eta.value)})
            right_values = self._at_points(right)
        else:
            right_values = self.right_at_points[label]
        if reading is None and wrong is None:
            return None  # neither its formula nor its inputs can be read: it cannot be judged
        self.judged.append((label, cell))
        if reading is not None and self._computes_the_same(reading.expr, right, computes, right_values):
            if typed_eta and self.typed_eta_is_wrong and LEARNING_RATE.payload in variables(self.updates[label]):
                return self._typed_eta(cell, label, want)  # a sheetprop exercise's η cell not read
            here = self._at_row(reading.expr, values, update) if want is not None else None
            if here is None or agree(here, want, max(self.tolerance, SYMBOLIC_TOLERANCE)):
                self._known_right[(label, update)] = reading  # the next cell that reads so is right too
                return None
            # Right at the random points, not at this row's own values: a branch the points never take.
            return self._finding(cell, label, "wrong update" if update else "wrong formula", want,
                                 f"computes the chain rule at other values, but from this row's cells it gives "
                                 f"{here:.15g} (a condition that holds elsewhere, not in this row)",
                                 chain_rule=chain_rule, reads=as_read(reading.expr, update))
        if self.table.helpers and not update and computes is not None:
            blamed = self._blame_helper(label, cell, right_values, values)
            if blamed is not False:
                return blamed
        lhs = label if update else chain_rule.split(" = ")[0]
        shown = as_read(reading.expr, update) if reading is not None else None
        if wrong or wrong is None:
            if cell.number is None and wrong is not None:
                return self._finding(cell, label, "not a number", want,
                                     f"shows {cell.value!r} where the chain rule gives a number",
                                     chain_rule=chain_rule, reads=shown)
            hint = (self._formula_hint(right, reading.expr, computes, lhs) if computes is not None
                    else self._hint(right, [values], [cell.number], lhs) if values is not None and cell.number is not None
                    else None)
            if update:
                message = self._update_message(label, self.table_eta)
            else:
                message = "disagrees with the chain rule applied to the cells it depends on"
            return self._finding(cell, label, "wrong update" if update else "wrong formula", want,
                                 message, hint=hint, chain_rule=chain_rule, reads=shown)
        # The number agrees, and a formula is judged by what it computes all the same: one that
        # reads other cells than the chain rule needs (t1 for t2) agrees only by coincidence, one
        # that reads the right cells but computes another function of them (EXP(h1) for EXP(−h1))
        # agrees by coincidence or shows a value saved before it was changed. Let be: one within
        # the tolerance the user allowed, and one that reads typed numbers outside the table
        # (those hold in this workbook only, so the random points cannot judge it).
        if reading is not None:
            used, needed = reading.reads, variables(right)
            if not used & needed or reading.read_constants:
                # A number passed on: it reads none of the chain rule's inputs, or reads typed numbers
                # outside the table (a pasted block, another sheet's, a defined name's) without
                # moving with the inputs it reads as the chain rule does. A target typed once above
                # the table and read by a right formula is let be.
                if self.by_value or (used & needed and follows_its_inputs(reading.expr, right,
                                                                          self._row_env(values, update))):
                    return None
                return self._passed_on(cell, label, want, chain_rule, update, shown,
                                       "reads none of the cells the chain rule needs" if not used & needed else
                                       "reads typed numbers outside the table, not the cells the chain rule needs")
            if used == needed:
                if computes is None or same_function(computes, right_values, self.tolerance):
                    return None
                return self._finding(cell, label, "wrong update" if update else "wrong formula", want,
                                     self._agrees_only_here(reading.expr, values, cell.number),
                                     hint=self._formula_hint(right, reading.expr, computes, lhs),
                                     chain_rule=chain_rule, reads=shown)
            swap = same_kind_swap(used, needed)
            detail = (f"uses {student_name(swap[0])} where {label} needs {student_name(swap[1])}" if swap else
                      self._typed_instead(cell, used, needed, values) or
                      f"reads {', '.join(map(student_name, sorted(used)))} where the chain rule reads "
                      f"{', '.join(map(student_name, sorted(needed)))}")
        else:
            swap = self._swapped_reference(label, cell)
            if swap is None:
                if self.by_value:
                    return None  # judged by its value, as a typed number is
                return self._passed_on(cell, label, want, chain_rule, update, None,
                                       "cannot be read as a function of the table's cells (a function check "
                                       "does not follow, a volatile or circular formula, another file)")
            detail = f"uses {swap[0]} where {label} needs {swap[1]}"
        return self._finding(cell, label, "wrong reference", want,
                             f"{detail} (the value agrees only because they hold the same number in this row)",
                             hint=(self._formula_hint(right, reading.expr, computes, lhs) if computes is not None else None),
                             chain_rule=chain_rule, reads=shown)

    def _typed_instead(self, cell: Cell, used, needed, values: dict | None) -> str | None:
        """"types 0.5 where t1 belongs (B18)": a number typed into the formula in place of a cell
        the chain rule reads, that holds the same number in this row."""
        missing = sorted(needed - used)
        if not missing or used - needed or values is None or cell.formula is None:
            return None
        typed = {}
        for token in formula_tokens(cell.formula):
            if token.type == "OPERAND" and token.subtype == "NUMBER":
                try:
                    typed.setdefault(float(token.value), token.value)
                except ValueError:
                    continue
        said = []
        for name in missing:
            value = values.get(name)
            literal = next((text for number, text in typed.items()
                            if isinstance(value, (int, float)) and agree(number, value, self.tolerance)), None)
            if literal is None:
                return None
            column = self.table.columns.get(name.removeprefix("previous "))
            where = (f" (its cell {column_letters(column)}{cell.row - name.startswith('previous ')})"
                     if column and not name.startswith("previous ") else "")
            said.append(f"types {literal} where {student_name(name)} belongs{where}")
        return "; ".join(said) + f", reading {', '.join(map(student_name, sorted(used)))} besides"

    def _passed_on(self, cell: Cell, label: str, want, chain_rule: str, update: bool, shown, why: str) -> Finding:
        """A formula whose right number is only passed on: it earns what a typed number earns."""
        return self._finding(cell, label, "passed-on number", want,
                             f"shows the right number, but its formula {why}: it earns nothing where a "
                             "formula of the table's cells belongs (--accept-values credits right numbers)",
                             chain_rule=chain_rule, reads=shown)

    def _row_env(self, values: dict | None, update: bool) -> dict | None:
        """The row's own values as a point to evaluate a formula at: an update's ``values`` is its
        environment already; a computed cell's gets η and the optimizer's settings."""
        if values is None or update:
            return values
        env = dict(values)
        if self.table_eta is not None:
            env[LEARNING_RATE.payload] = self.table_eta.value
        env.update((p.payload, self.table.parameters[p.payload].value) for p in self.hyperparameters)
        return env

    def _at_row(self, expr: Expr, values: dict | None, update: bool) -> float | None:
        """A branching formula's value from its own row's cells (None for one without a branch,
        or where the row's values are unknown): the row is one of the points it is tried at."""
        if values is None or not piecewise(expr):
            return None
        return value_at(expr, self._row_env(values, update))

    @staticmethod
    def _agrees_only_here(expr: Expr, values: dict | None, saved: float) -> str:
        """Why a formula computing another function shows the chain rule's number: its saved value
        is stale (the formula gives another number from this row's cells), or the row's numbers
        make the two coincide."""
        message = "computes another function of the cells it reads than the chain rule"
        try:
            gives = engine.evaluate([expr], values)[0] if values is not None else None
        except (KeyError, TypeError):
            gives = None
        if gives is None:
            return message + "; its saved number agrees, but not what it computes"
        if agree(gives, saved, SYMBOLIC_TOLERANCE):
            return message + "; the two agree in this row only by coincidence of its numbers"
        return (message + f"; the number saved in the cell agrees, but the formula gives {gives:.15g} "
                "from this row's cells (the saved value is stale)")

    def _blame_helper(self, label: str, cell: Cell, right_values, values: dict | None):
        """When the cell is right with one helper column it reads taken for a quantity of the
        chain rule, the slip entered in that helper: its finding (once a helper cell), or None
        when already reported; False when no helper column explains the cell."""
        row = re.search(r"\d+$", cell.ref).group()
        read = {column for sheet, column, ref_row in references(cell.formula or "")
                if (sheet is None or sheet == self.table.sheet) and str(ref_row) == row and column in self.table.helpers}
        for column in sorted(read):
            reading = self.formulas.read(label, cell, opaque=column)
            if reading is None:
                continue
            key = ("helper", reading.expr, column, label)
            if key not in self._verdicts:
                self._verdicts[key] = self.helper_roles.role_making_right(
                    reading.expr, helper_variable(column), right_values)
            role = self._verdicts[key]
            if role is None:
                continue
            where = f"{column}{row}"
            if where in self._helpers_reported:
                return None
            self._helpers_reported.add(where)
            return self._helper_finding(column, where, role, values)
        return False

    def _helper_finding(self, column: str, where: str, role, values: dict | None) -> Finding:
        formulas_book, values_book = self.table.books
        content = formulas_book[self.table.sheet][where].value
        helper = Cell(where, content if isinstance(content, str) and content.startswith("=") else None,
                      values_book[self.table.sheet][where].value)
        name = self.table.helpers[column]
        try:
            want = engine.evaluate([role.node], values)[0] if values is not None else None
        except KeyError:
            want = None
        reading = self.formulas.read(f"helper {column}", helper) if helper.formula else None
        self.judged.append((name, where))
        right = _cut(role.node, self._leaves)  # in the table's own terms: a_h2, not σ(w3·i1 + w4·i2)
        computes = self._at_points(reading.expr) if reading is not None else None
        return self._finding(
            helper, name, "wrong formula", want,
            f"helper column {column}: the cells reading it need {role.name} here, and its formula "
            "computes something else",
            hint=self._formula_hint(right, reading.expr, computes, role.name) if computes is not None else None,
            chain_rule=f"{role.name} = {as_read(right, False)}",
            reads=as_read(reading.expr, False) if reading is not None else None)

    def _disagree(self, label: str, expr: Expr, env: dict, found: float, expected: float, exact=()) -> bool:
        """Beyond the tolerance and beyond what rounding to the digits the table keeps explains:
        half a unit of the found number's last digit, plus each input's, times how much it moves
        the result (first order, from the engine's own derivatives), with a margin of 2. ``exact``:
        the inputs that are typed exactly, the first row's givens (the exercise's starting values),
        read by that row's cells and, as "previous w1", by the second row's updates."""
        slack = 0.0
        if self.precision.rounded:
            slack = 2 * (self.precision.uncertainty(label, found) + self._propagated(label, expr, env, exact))
        return not numbers_agree(found, expected, self.tolerance, slack=slack)

    def _propagated(self, key: str, expr: Expr, env: dict, exact=()) -> float:
        if key not in self._slack_functions:
            inputs = sorted(variables(expr))
            partials = engine.grad(expr, [var(name) for name in inputs]) if inputs else []
            self._slack_functions[key] = (inputs, compile_function(partials, [var(n) for n in inputs]))
        inputs, partials = self._slack_functions[key]
        if not inputs:
            return 0.0
        try:
            slopes = partials(*(env[name] for name in inputs))
        except KeyError:
            return 0.0
        # Only the table's own numbers were rounded: η and the like are the values their cells hold.
        labels = (name.removeprefix("previous ") for name in inputs)
        return sum(abs(slope) * self.precision.uncertainty(label, env[name])
                   for name, label, slope in zip(inputs, labels, slopes)
                   if math.isfinite(slope) and name not in exact and label in self.table.columns)

    def _swapped_reference(self, label: str, cell: Cell) -> tuple[str, str] | None:
        """For a formula that cannot be read: (used, needed) when it reads this row's cell of one
        quantity where the chain rule needs another of the same kind (t1 for t2) and misses that one."""
        if label not in self.local:  # a weight's update that cannot be read (η on a chartsheet): no local expression
            return None
        row = cell.row
        read = set()
        for sheet, column, ref_row in references(cell.formula or ""):
            if (sheet is None or sheet == self.table.sheet) and ref_row == row:
                label_there = self.column_labels.get(column)
                if label_there is not None:
                    read.add(label_there)
        return same_kind_swap(frozenset(read), variables(self.local[label]))

    def _formula_hint(self, right: Expr, expr: Expr, computes, lhs: str) -> str | None:
        """The hint for a formula computing ``expr`` where ``right`` belongs, once per pair."""
        key = ("hint", right, expr, lhs, self._points_key)
        if key not in self._verdicts:
            self._verdicts.put(key, self._hint(right, self.points, computes, lhs))
        return self._verdicts[key]

    def _computes_the_same(self, expr: Expr, right: Expr, computes, right_values) -> bool:
        key = (expr, right, self._points_key)
        if key not in self._verdicts:
            self._verdicts.put(key, same_function(computes, right_values))
        return self._verdicts[key]

    def _at_points(self, expr: Expr) -> list[float] | None:
        """``expr`` at the random points, once per expression: a column's formula is one
        expression down all its rows."""
        key = (expr, self._points_key)
        found = _POINT_VALUES.get(key, _POINT_VALUES)
        if found is _POINT_VALUES:
            if len(_POINT_VALUES) >= MAX_CACHED_VERDICTS:
                _POINT_VALUES.clear()
            found = _POINT_VALUES[key] = values_at(expr, self.points)
        return found

    def _hint(self, expr: Expr, envs: list[dict], found: list[float], lhs: str) -> str | None:
        tolerance = SYMBOLIC_TOLERANCE if envs is self.points else self.tolerance
        return find_hint(expr, envs, found, lhs, tolerance)


def _cut(root: Expr, leaves: dict[Expr, Expr]) -> Expr:
    """``root`` with every node in ``leaves`` below it replaced by its variable."""
    return engine.substitute(root, {node: leaf for node, leaf in leaves.items() if node is not root})


