"""Judge a table cell by what its formula computes, not by the number it happens to show.

A cell's formula is read (``sheetprop.spreadsheet.formulas``) into an expression over the table's own
quantities: this row's cell of a labelled column is that label, the row above's is "previous
label", the table's η cell is η, and any other cell is read through (its formula in turn, or
its typed number). That expression is then compared with the chain rule's at random *consistent*
points: random givens (inputs, targets, weights, biases) with every computed quantity worked
out from them, so that a formula written over other columns than the textbook's (σ'(o1) as
EXP(−o1)/(1+EXP(−o1))², a gradient built on another gradient cell) is still right, while a
formula that reads t1 where t2 belongs is wrong even in a row where t1 = t2. Rounded values
(Google Sheets exports, pasted numbers) cannot mislead such a comparison: it uses no cell value.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass


from sheetprop import engine

from sheetprop.spreadsheet import formulas
from sheetprop.check.read.cells import as_number, named_cell
from sheetprop.spreadsheet.references import location
from sheetprop.engine import Expr, var
from sheetprop.network import Network, previous
from sheetprop.engine.numeric import compile_function
from sheetprop.network.optimizers import LEARNING_RATE
from sheetprop.spreadsheet.agree import SYMBOLIC_TOLERANCE, agree as numbers_agree
from sheetprop.spreadsheet.references import column_letters

POINTS = 4
MAX_READ_THROUGH = 8  # cells read through, one inside another, before giving up

# Readings shared by every table of the process (every submission of a class) that reads its
# columns, parameters and first data row the same way, by (that table shape's number, label,
# relative formula, opaque): students copy one template. Only readings that read nothing but the
# formula's own text and the table's shape: not those read through other cells or defined names.
_SHARED_READINGS: dict[tuple, "Reading | None"] = {}
_TABLE_SHAPES: dict[tuple, int] = {}
MAX_SHARED_READINGS = 50_000
_LITERAL_ROW = re.compile(r"[A-Za-z]\$?\d")  # a row number left as written: absolute (or a name such as LOG10)


@dataclass(frozen=True)
class Reading:
    """What a formula computes, in the table's own terms."""
    expr: Expr
    reads: frozenset[str]     # the variables it reads: labels, "previous w1", η
    read_constants: bool      # it read a typed number outside the table (a block of starting values)


def helper_variable(column: str) -> Expr:
    """The unknown standing for this row's cell of a helper column (see ``helpers``)."""
    return var(f"helper {column}")


def agree(a: float, b: float, tolerance: float = SYMBOLIC_TOLERANCE) -> bool:
    return numbers_agree(a, b, tolerance)


_VARIABLES: dict[Expr, frozenset[str]] = {}
MAX_CACHED_VARIABLES = 50_000


def variables(expr: Expr) -> frozenset[str]:
    """The names of the variables ``expr`` reads; once per expression (they are interned), since
    every cell of a column asks it of the same one."""
    found = _VARIABLES.get(expr)
    if found is None:
        if len(_VARIABLES) >= MAX_CACHED_VARIABLES:
            _VARIABLES.clear()
        found = _VARIABLES[expr] = frozenset(n.payload for n in engine.topological_order([expr]) if n.op == "var")
    return found


class TableFormulas:
    """Reads the formulas of one table's cells (see the module's docstring)."""

    def __init__(self, table, eta_where: str | None):
        self.table = table
        self.sheet = table.sheet
        self.first_data_row = table.header_row + 1
        self.labels_by_column = {column_letters(col): label for label, col in table.columns.items()}
        # The cells that stand for a variable wherever a formula reads them: η, and an
        # optimizer's hyper-parameters (β1, μ, …).
        self.parameters = {location(p.where, table.sheet): var(name) for name, p in table.parameters.items()}
        if eta_where:
            self.parameters[location(eta_where, table.sheet)] = LEARNING_RATE
        self._cache: dict[tuple, Reading | None] = {}
        shape = (self.sheet, self.first_data_row, tuple(sorted(self.labels_by_column.items())),
                 tuple(sorted(self.parameters.items(), key=lambda item: item[0])))
        self._shape = _TABLE_SHAPES.setdefault(shape, len(_TABLE_SHAPES))
        self._last: dict[tuple, tuple] = {}  # per (label, opaque): the last cached reading, with its template
        # Cells read through, by (cell, judged row, judged label): a chain 7 deep of cells that
        # each read 40 others is read once a cell, not 40^7 times.
        self._through: dict[tuple, tuple[Expr, bool]] = {}
        # And by their relative form, for every row: a cell read through whose formula reads only
        # table cells, every row written relative, reads the same in every row (see _shifted_key).
        self._shifted: dict[tuple, Expr] = {}
        self._opaque: str | None = None
        self._unshiftable = 0  # readings so far that depend on the row itself: η's cell, read-throughs, numbers

    def read(self, label: str, cell, opaque: str | None = None) -> Reading | None:
        """``cell``'s formula as an expression, or None where it cannot be read. ``opaque``: a
        helper column whose cell of this row is read as an unknown, not through its formula."""
        row = cell.row
        # A column copied down: this cell's formula is the one above's, moved down a row, and
        # reads the same (recognised without splitting its text, see formulas.formula_at_row).
        slot = (label, opaque)
        last = self._last.get(slot)
        if last is not None and formulas.formula_at_row(last[0], row) == cell.formula:
            return last[1]
        # One column's formulas are the same text once rows are written relative to the cell's
        # own, and read the same way when they read only table cells and η: read them once.
        relative, template = formulas.relative_with_template(cell.formula, row)
        key = (label, relative, opaque)
        if key in self._cache:
            reading = self._last[slot] = (template, self._cache[key])
            return reading[1]
        shared_key = (self._shape, *key)
        if shared_key in _SHARED_READINGS:
            reading = self._cache[key] = _SHARED_READINGS[shared_key]
            self._last[slot] = (template, reading)
            return reading
        self._opaque = opaque
        self._read_through = False
        self._named = False
        self._constants = False
        self._judged = label
        try:
            expr = formulas.parse(cell.formula, lambda ref: self._resolve(ref, row, self.sheet, ()),
                                  self._resolve_name, row)
        except (formulas.FormulaError, RecursionError):
            reading = None
            self._read_through = True  # why it failed may depend on the row: do not cache
        else:
            reading = Reading(expr, variables(expr), self._constants)
        if not self._read_through:
            self._cache[key] = reading
            self._last[slot] = (template, reading)
            if not self._named:
                if len(_SHARED_READINGS) >= MAX_SHARED_READINGS:
                    _SHARED_READINGS.clear()
                _SHARED_READINGS[shared_key] = reading
        return reading

    def _resolve(self, ref, row: int, context: str, trail: tuple) -> Expr:
        sheet, column, ref_row = ref
        sheet = sheet or context
        if (sheet, column, ref_row) in self.parameters:
            self._unshiftable += 1  # a relative reference that meets η in this row may not in the next
            return self.parameters[(sheet, column, ref_row)]
        if column == self._opaque and sheet == self.sheet and ref_row == row and not trail:
            return helper_variable(column)
        if sheet == self.sheet and ref_row >= self.first_data_row:
            label = self.labels_by_column.get(column)
            if label is not None:
                if ref_row == row:
                    if label == self._judged:
                        raise formulas.FormulaError("the formula reads its own cell (a circular reference)")
                    return var(label)
                if ref_row == row - 1:
                    return previous(label)
                raise formulas.FormulaError(f"reads {label} of row {ref_row}, not this row's or the row above's")
        return self._read_through_cell(sheet, column, ref_row, row, trail)

    def _read_through_cell(self, sheet: str, column: str, ref_row: int, row: int, trail: tuple) -> Expr:
        self._read_through = True
        books = self.table.books
        if books is None or sheet not in books[0].sheetnames or not hasattr(books[0][sheet], "iter_rows"):
            raise formulas.FormulaError(f"no worksheet {sheet!r}")  # a chartsheet holds no cells
        where = (sheet, column, ref_row)
        if where in trail or len(trail) >= MAX_READ_THROUGH:
            raise formulas.FormulaError("a chain of cells too long to follow, or circular")
        key = (where, row, self._judged)
        if key not in self._through:
            shifted = self._shifted_key(where, row)
            if shifted is not None and shifted in self._shifted:
                self._through[key] = (self._shifted[shifted], False)
            else:
                constants, self._constants = self._constants, False
                unshiftable = self._unshiftable
                expr = self._read_cell(sheet, column, ref_row, row, trail)
                self._through[key] = (expr, self._constants)
                if shifted is not None and self._unshiftable == unshiftable and not self._constants:
                    self._shifted[shifted] = expr
                self._constants = constants
        self._unshiftable += 1  # what reads this cell reads through it: its own reading depends on the row
        expr, constants = self._through[key]
        self._constants = self._constants or constants
        return expr

    def _shifted_key(self, where: tuple[str, str, int], row: int) -> tuple | None:
        """What a read-through cell's reading depends on when its formula's every row is relative
        to the judged ``row`` (no $ row, nothing absolute), as long as that formula reads table
        cells only (``_unshiftable`` unchanged): where it sits and what it holds relative to the
        row, the label judged (a cell may not read itself), and whether a row above is a data
        row. None for a cell holding no formula, or one with an absolute row."""
        sheet, column, ref_row = where
        content = self.table.books[0][sheet][f"{column}{ref_row}"].value
        if hasattr(content, "text"):  # an array formula
            content = content.text
        if not (isinstance(content, str) and content.startswith("=")):
            return None
        relative = formulas.relative_to_row(content, row)
        if _LITERAL_ROW.search(relative) or "[" in content:
            return None
        return sheet, column, ref_row - row, relative, self._judged, row > self.first_data_row

    def _read_cell(self, sheet: str, column: str, ref_row: int, row: int, trail: tuple) -> Expr:
        books, where = self.table.books, (sheet, column, ref_row)
        content = books[0][sheet][f"{column}{ref_row}"].value
        if hasattr(content, "text"):  # an array formula
            content = content.text
        if isinstance(content, str) and content.startswith("="):
            return formulas.parse(content, lambda ref: self._resolve(ref, row, sheet, trail + (where,)),
                                  self._resolve_name, ref_row)
        value = books[1][sheet][f"{column}{ref_row}"].value
        if value is None:
            return engine.ZERO  # an empty cell counts as 0, as in every spreadsheet
        number = as_number(value)
        if number is None:
            raise formulas.FormulaError(f"{sheet}!{column}{ref_row} holds no number")
        self._constants = True
        return engine.const(number)

    def _resolve_name(self, name: str):
        self._named = True  # what a name stands for is this workbook's: the reading is not shared
        books = self.table.books
        return None if books is None else named_cell(books[0], self.sheet, name)


def random_points(network: Network, count: int = POINTS, seed: int = 0) -> list[dict[str, float]]:
    """``count`` environments of consistent values: this row's and the row above's givens drawn
    at random, every computed quantity worked out from them, and a random η."""
    rng = random.Random(seed)
    given, computed, carried = network.given, network.computed, network.carried
    forward = compile_function([q.node for q in computed], [q.node for q in given])

    def draw(role: str, positive: bool) -> float:
        if role == "input":
            return rng.uniform(0.05, 1.0)
        if role == "target":
            return rng.uniform(0.05, 0.95)
        if role == "bias":
            return rng.uniform(-0.5, 0.5)
        if role == "optimizer":  # velocities and moments; RMSprop's and Adam's s are squares, ≥ 0
            return rng.uniform(0.01, 1.0)
        # Half the points with positive weights, so relu units are active there.
        return rng.uniform(0.05, 1.0) if positive else rng.uniform(-1.0, 1.0)

    # Softmax with cross-entropy is derived for targets that sum to 1 (a − t): draw them so.
    normalise = network.template.loss == "cross_entropy"

    def one_row(positive: bool) -> dict[str, float]:
        state = {q.label: draw(q.role, positive) for q in carried if q.role == "optimizer"}
        values = [draw(q.role, positive) for q in given]
        if normalise:
            sums: dict[str, float] = {}
            for q, v in zip(given, values):
                if q.role == "target":
                    sums[_example_of(q.label)] = sums.get(_example_of(q.label), 0.0) + v
            values = [v / sums[_example_of(q.label)] if q.role == "target" else v for q, v in zip(given, values)]
        return {**state, **{q.label: v for q, v in zip(given, values)},
                **{q.label: v for q, v in zip(computed, forward(*values))}}

    points = []
    for k in range(count):
        current, above = one_row(k % 2 == 1), one_row(k % 2 == 1)
        points.append({**current, **{previous(label).payload: v for label, v in above.items()},
                       LEARNING_RATE.payload: rng.uniform(0.1, 1.0),
                       **{p.symbol.payload: rng.uniform(0.5, 0.99) if p.key != "eps" else rng.uniform(0.01, 0.1)
                          for p in network.hyperparameters}})
    return points


def _example_of(label: str) -> str:
    """Which example a label belongs to: its superscript (t2⁽³⁾ → ⁽³⁾), or "" with one example."""
    return label[label.index("⁽"):] if "⁽" in label else ""


def values_at(expr: Expr, points: list[dict[str, float]]) -> list[float] | None:
    """``expr`` at every point, or None where it reads a variable no point has."""
    try:
        return [engine.evaluate([expr], point)[0] for point in points]
    except KeyError:
        return None


_PIECEWISE: dict[Expr, bool] = {}


def piecewise(expr: Expr) -> bool:
    """Whether ``expr`` branches (IF, MAX, MIN, ABS: a step or relu inside): such a formula can
    compute the chain rule at the random points and something else elsewhere (IF(i1>0.06, …, 0)),
    so it is also tried at its own row's values. Once per expression."""
    found = _PIECEWISE.get(expr)
    if found is None:
        if len(_PIECEWISE) >= MAX_CACHED_VARIABLES:
            _PIECEWISE.clear()
        found = _PIECEWISE[expr] = any(n.op in ("step", "relu") for n in engine.topological_order([expr]))
    return found


def value_at(expr: Expr, env: dict[str, float] | None) -> float | None:
    """``expr`` at one point (a row's own values), or None where the point lacks a variable it reads."""
    if env is None:
        return None
    try:
        return engine.evaluate([expr], env)[0]
    except (KeyError, TypeError):
        return None


def follows_its_inputs(expr: Expr, right: Expr, env: dict[str, float] | None) -> bool:
    """For a formula that reads typed numbers outside the table (a target typed once above it):
    whether it still computes the chain rule as a function of the chain-rule inputs it reads, to
    first order at the row's own values: it reads at least one, the chain rule moves with it, and
    every such slope is the chain rule's. A number passed on (v + 0·o1, a copy of a pasted
    block) moves with none."""
    inputs = sorted(variables(expr) & variables(right))
    if env is None or not inputs:
        return False
    wrt = [var(name) for name in inputs]
    try:
        slopes = engine.evaluate(engine.grad(expr, wrt), env)
        wanted = engine.evaluate(engine.grad(right, wrt), env)
    except (KeyError, TypeError, ValueError, ZeroDivisionError, OverflowError):
        return False
    return (any(w != 0 and math.isfinite(w) for w in wanted)
            and all(agree(s, w, 1e-6) for s, w in zip(slopes, wanted)))


def same_function(a: list[float] | None, b: list[float] | None, tolerance: float = SYMBOLIC_TOLERANCE) -> bool:
    """Two expressions' values at the random points agree, to ``tolerance`` relative (never
    tighter than float rounding, SYMBOLIC_TOLERANCE)."""
    tolerance = max(tolerance, SYMBOLIC_TOLERANCE)
    return a is not None and b is not None and all(agree(x, y, tolerance) for x, y in zip(a, b))
