"""The derivatives a training's updates are judged against: the student's own forward formulas,
differentiated by the engine cell by cell (reverse mode over the cells), at the sheet's saved
values and at random values of the inputs, targets and parameters.

The loss of an example is the formula of the cell it labels as its loss (``find.losses``),
else ½·Σ(t − y)² over its outputs. ``quantities`` gives,
for every cell of an example, what each role of the chain rule computes there at every point:
∂E/∂ of a forward cell or a parameter, σ′ and δ of an activation, t − y; ``judge.gradients``
holds the student's cells against them.
"""

from __future__ import annotations

import math
import random

from sheetprop import engine
from sheetprop.engine.numeric import compile_function
from sheetprop.check.find.training import Key, Training, key_of, name

POINTS = 3            # random points besides the sheet's own values
_SCALES = {1: "", -1: "−", 2: "2·", -2: "−2·"}
EAGER = 20_000          # formulas: a workbook this small is computed whole at each point
MAX_LABEL_CELLS = 2000  # an example this large is searched near the cells judged (``near``)
PATH_DEPTH = 5
WIDE = 32               # cells read: a formula this wide is compiled, not walked node by node


class Derivatives:
    def __init__(self, training: Training):
        self.training, self.graph = training, training.graph
        self.parameters = {u.parameter for u in training.updates.values()}
        self._forward: dict[tuple, list[Key]] = {}
        for key in training.outputs:
            self._forward_cells(key)
        self.forward_all = {c for cells in self._forward.values() for c in cells}
        self._forward_order = list(dict.fromkeys(c for cells in self._forward.values() for c in cells))
        self._quantities: dict[tuple, dict[str, list[float]]] = {}
        self._adjoint: dict[tuple, list[dict[Key, float]]] = {}
        self._local: dict[Key, tuple[list[Key], list[engine.Expr]]] = {}
        self._slopes: dict[Key, tuple | None] = {}
        self._functions: dict[tuple, tuple] = {}
        self._wide: dict[tuple, list[float]] = {}    # (cell, point) -> a wide cell's local derivatives
        self._steps: dict[Key, dict[Key, int]] = {}  # update -> cell -> formulas from its parameter
        self.points = self._points()

    def _forward_cells(self, update: Key) -> list[Key]:
        """The forward cells of an update's example, outputs last: what its outputs are computed
        from, down to the parameters and typed cells."""
        ys = tuple(sorted(y for y, _ in self.training.outputs[update]))
        if ys in self._forward:
            return self._forward[ys]
        order, seen = [], set()

        def visit(key: Key) -> None:
            stack = [(key, False)]
            while stack:
                cell, done = stack.pop()
                if done:
                    order.append(cell)
                    continue
                if cell in seen:
                    continue
                seen.add(cell)
                stack.append((cell, True))
                for ref in self.graph.reads.get(cell, ()):
                    if ref in self.graph.exprs and ref not in self.parameters and ref not in self.training.updates:
                        stack.append((ref, False))
        loss = self.training.losses.get(update)  # the example's own labelled loss, where it has one
        for y in ys if loss is None else (loss,):
            visit(y)
        self._forward[ys] = order
        return order

    def _points(self) -> list[dict[Key, float]]:
        graph = self.graph
        leaves = {ref for cell in self.forward_all for ref in graph.reads.get(cell, ()) if ref in graph.numbers}
        leaves |= {t for pairs in self.training.outputs.values() for _, t in pairs}
        # A weight fed back from its update by iterative calculation (C3 = C1115, C1115 = C3 − g)
        # is a formula of a circle: it starts from its saved value, like a typed weight.
        fed_back = {u.parameter for u in self.training.updates.values()
                    if u.cell in graph.reads.get(u.parameter, ())}
        leaves |= fed_back
        rng = random.Random(0)
        # The sheet's own typed values first, its formulas computed here (a file written by a
        # program saves no values, and a circle's saved values are stale), then random points.
        start = {p: graph.saved.get(p, rng.uniform(-1.0, 1.0)) for p in sorted(fed_back)}
        points = [self._evaluate({**graph.numbers, **start})]
        for _ in range(POINTS):
            base = {k: (rng.uniform(-1.0, 1.0) if k in self.parameters else rng.uniform(0.05, 0.95))
                    for k in sorted(leaves)}
            points.append(self._evaluate(base))
        return points

    def _evaluate(self, base: dict[Key, float]) -> dict[Key, float]:
        """A point: ``base``'s values, the forward cells computed from them; every other formula
        too where the workbook is small, else only when asked for (``value``)."""
        values = dict(base)
        for key in (self.graph.exprs if len(self.graph.exprs) <= EAGER else self._forward_order):
            self.value_at(values, key)
        return values

    def value_at(self, values: dict[Key, float], key: Key) -> float:
        """``key``'s value at a point, the cells it reads computed first (and kept)."""
        graph = self.graph
        if key in values:
            return values[key]
        if key not in graph.exprs:
            return graph.numbers.get(key, 0.0)
        values[key] = math.nan  # a circle reads NaN
        stack = [key]
        while stack:  # the cells it reads first, without deep recursion
            cell = stack[-1]
            pending = [r for r in graph.reads[cell] if r not in values and r in graph.exprs]
            if pending:
                for r in pending:
                    values[r] = math.nan
                stack.extend(pending)
                continue
            stack.pop()
            reads = graph.reads[cell]
            try:
                if len(reads) > WIDE:  # a SUMPRODUCT over 784 inputs: compiled once
                    refs, function = self._compiled(cell, "value", lambda c: [graph.exprs[c]])
                    values[cell] = function(*(values.get(r, graph.numbers.get(r, 0.0)) for r in refs))[0]
                else:
                    env = {name(r): values.get(r, graph.numbers.get(r, 0.0)) for r in reads}
                    values[cell] = engine.evaluate([graph.exprs[cell]], env)[0]
            except (ArithmeticError, ValueError, KeyError):
                values[cell] = math.nan
        return values[key]

    def _compiled(self, cell: Key, what: str, outputs):
        """(the cells ``cell`` reads, a compiled function of their values giving ``outputs(cell)``)."""
        found = self._functions.get((cell, what))
        if found is None:
            refs = list(dict.fromkeys(self.graph.reads[cell]))
            found = self._functions[(cell, what)] = (
                refs, compile_function(outputs(cell), [engine.var(name(r)) for r in refs]))
        return found

    def value(self, key: Key) -> list[float]:
        return [self.value_at(p, key) for p in self.points]

    def _local_derivatives(self, cell: Key):
        if cell not in self._local:
            refs = list(dict.fromkeys(self.graph.reads[cell]))
            self._local[cell] = refs, engine.grad(self.graph.exprs[cell], [engine.var(name(r)) for r in refs])
        return self._local[cell]

    def _wide_slopes(self, cell: Key, point: dict[Key, float]) -> list[float]:
        """The local derivatives of a wide cell (a SUMPRODUCT over 784 inputs) at a point, kept:
        of a sum of products each is the other factor's value; else a compiled function's."""
        found = self._wide.get((cell, id(point)))
        if found is None:
            refs, derivatives = self._local_derivatives(cell)
            if all(d.op in ("var", "const") for d in derivatives):
                found = [self.value_at(point, key_of(d.payload)) if d.op == "var" else d.payload for d in derivatives]
            else:
                _, function = self._compiled(cell, "slopes", lambda c: self._local_derivatives(c)[1])
                found = list(function(*(self.value_at(point, r) for r in refs)))
            self._wide[(cell, id(point))] = found
        return found

    def _adjoints(self, update: Key) -> tuple[tuple, list[dict[Key, float]]]:
        """∂E/∂ of every cell of the update's example at every point (reverse mode over the cells)."""
        pairs = self.training.outputs[update]
        ys = tuple(sorted(y for y, _ in pairs))
        if ys not in self._adjoint:
            rows = []
            for p in self.points:
                adjoint: dict[Key, float] = {}
                if (loss := self.training.losses.get(update)) is not None:
                    adjoint[loss] = 1.0   # the loss the sheet labels: its own formula differentiated
                else:                     # else ½·Σ(t − y)²
                    for y, t in pairs:
                        adjoint[y] = adjoint.get(y, 0.0) + self.value_at(p, y) - self.value_at(p, t)
                for cell in reversed(self._forward[ys]):
                    upstream = adjoint.get(cell)
                    if upstream is None:
                        continue
                    refs, derivatives = self._local_derivatives(cell)
                    try:
                        if len(refs) > WIDE:
                            locals_ = self._wide_slopes(cell, p)
                        else:
                            env = {name(r): self.value_at(p, r) for r in self.graph.reads[cell]}
                            locals_ = engine.evaluate(derivatives, env)
                    except (ArithmeticError, ValueError, KeyError):
                        locals_ = [math.nan] * len(refs)
                    for ref, local in zip(refs, locals_):
                        adjoint[ref] = adjoint.get(ref, 0.0) + upstream * local
                rows.append(adjoint)
            self._adjoint[ys] = rows
        return ys, self._adjoint[ys]

    def gradient(self, update: Key, cell: Key) -> list[float] | None:
        """∂E/∂``cell`` in the update's example at every point; None where E does not reach it."""
        rows = self._adjoints(update)[1]
        return [row[cell] for row in rows] if all(cell in row for row in rows) else None

    def near(self, update: Key, cells) -> set[Key] | None:
        """The cells whose quantities the blame search tries for a formula of this update reading
        ``cells``: every cell of the example where it is small; in a large one (a grid of 784
        inputs), the parameter's path to the outputs, the cells read and what they read."""
        ys, rows = self._adjoints(update)
        if len(rows[0]) <= MAX_LABEL_CELLS:
            return None
        forward = set(self._forward[ys])
        parameter = self.training.updates[update].parameter
        found, layer = {parameter, *ys}, [parameter]
        steps = self._steps.setdefault(update, {parameter: 0})
        for depth in range(1, PATH_DEPTH + 1):
            layer = [r for key in layer for r in self.graph.readers.get(key, ()) if r in forward and r not in found]
            found.update(layer)
            for cell in layer:
                steps.setdefault(cell, depth)
        for cell in (*cells, update):
            for ref in self.graph.reads.get(cell, ()):
                if ref in rows[0]:
                    found.add(ref)
                    found.update(r for r in self.graph.reads.get(ref, ()) if r in forward)
        return found

    def steps_from_parameter(self, update: Key, cell: Key) -> int:
        """How many formulas lie between the update's parameter and ``cell`` on its path to the
        outputs (``near`` counts them in a large example; 0 elsewhere, where all are searched)."""
        return self._steps.get(update, {}).get(cell, 0 if update not in self._steps else PATH_DEPTH + 1)

    def quantities(self, update: Key, near: set[Key] | None = None) -> dict[str, list[float]]:
        """What each role computes in this update's example, at every point: of every cell, or of
        the cells ``near``."""
        ys, rows = self._adjoints(update)
        cache = (ys, None if near is None else frozenset(near))
        if cache in self._quantities:
            return self._quantities[cache]
        pairs = self.training.outputs[update]
        per_point = []
        for p, adjoint in zip(self.points, rows):
            row: dict[str, float] = {}
            cells = adjoint.items() if near is None else ((c, adjoint[c]) for c in near if c in adjoint)
            for cell, gradient in cells:
                for scale, mark in _SCALES.items():
                    row[f"{mark}∂E/∂{cell[1]}"] = scale * gradient
                slope = self._slope(cell, p)
                if slope is not None:
                    row[f"σ′({cell[1]})"] = slope
                    for scale, mark in _SCALES.items():
                        row[f"{mark}δ({cell[1]})"] = scale * gradient * slope
            for y, t in pairs:
                row[f"{t[1]} − {y[1]}"] = self.value_at(p, t) - self.value_at(p, y)
                row[f"{y[1]} − {t[1]}"] = -row[f"{t[1]} − {y[1]}"]
            per_point.append(row)
        labels = set.intersection(*(set(row) for row in per_point))
        self._quantities[cache] = {label: [row[label] for row in per_point] for label in sorted(labels)}
        return self._quantities[cache]

    def _slope(self, cell: Key, point: dict[Key, float]) -> float | None:
        """The activation's derivative where ``cell`` applies one (one EXP or TANH) to a sum."""
        if cell not in self._slopes:
            self._slopes[cell] = self._slope_of(cell)
        found = self._slopes[cell]
        if found is None:
            return None
        argument, derivative = found
        try:
            env = {name(r): self.value_at(point, r) for r in self.graph.reads[cell]}
            env["__u"] = engine.evaluate([argument], env)[0]
            return engine.evaluate([derivative], env)[0]
        except (ArithmeticError, ValueError, KeyError):
            return None

    def _slope_of(self, cell: Key) -> tuple | None:
        """(the activation's argument, its derivative in __u) of ``cell``'s formula, or None."""
        expr = self.graph.exprs.get(cell)
        if expr is None:
            return None
        inner = [n for n in engine.topological_order([expr]) if n.op in ("exp", "tanh", "sigmoid")]
        if len(inner) != 1:
            return None
        argument = inner[0].args[0]
        if argument.op == "neg":
            argument = argument.args[0]
        u = engine.var("__u")
        try:
            return argument, engine.grad(engine.substitute(expr, {argument: u}), [u])[0]
        except (ArithmeticError, ValueError, KeyError):
            return None
