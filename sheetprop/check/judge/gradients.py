"""Judge every parameter update a workbook holds against the derivative of its own forward pass.

``find.training`` finds the updates (``w − η·g``, ``w + Δ``), each example's forward cells and
outputs. Here the loss of an example is ½·Σ(t − y)² over its outputs, and the engine
differentiates the student's own forward formulas, cell by cell (reverse mode over the cells),
at the sheet's saved values and at random values of the inputs, targets and parameters. An
update is right where new − w = −c·η·∂E/∂w at every point for one c > 0 that is a usual
convention (the ½ left out of E, a batch's mean rather than its sum). Where it is not, the cells
it reads are given, one then two at a time, the quantities of the chain rule (∂E/∂ of a forward
cell, σ′ and δ of an activation, ∂E/∂ of a parameter, t − y): a helper cell that would make the
update right is judged in turn against that quantity; a cell with a meaning of its own read where
another quantity belongs is a wrong reference. So each finding names the cell where the slip
enters.
"""

from __future__ import annotations

import itertools
import math
import random
import re
from dataclasses import replace

from sheetprop import engine
from sheetprop.engine.numeric import compile_function
from sheetprop.check.find.training import Key, Training, find_training, key_of, name
from sheetprop.check.report.findings import Finding, Score, SheetScore
from sheetprop.spreadsheet.formulas import formula_at_row, relative_with_template

POINTS = 3            # random points besides the sheet's own values
TOLERANCE = 1e-7      # relative: the saved values carry 15 digits, the chain of cells loses a few
MAX_DEPTH = 6
MAX_TRIALS = 50_000
_CELL_IN_LABEL = re.compile(r"(?<![A-Za-z])[A-Z]{1,3}\d+")
_SCALES = {1: "", -1: "−", 2: "2·", -2: "−2·"}


def _agree(a: float, b: float) -> bool:
    return math.isfinite(a) and math.isfinite(b) and abs(a - b) <= TOLERANCE * max(abs(a), abs(b)) + 1e-14


class GradientJudge:
    def __init__(self, training: Training):
        self.training, self.graph = training, training.graph
        self.parameters = {u.parameter for u in training.updates.values()}
        self.steps = {u.step_cell: u for u in training.updates.values() if u.step_cell}
        self._forward: dict[tuple, list[Key]] = {}
        for key in training.outputs:
            self._forward_cells(key)
        self.forward_all = {c for cells in self._forward.values() for c in cells}
        self.points = self._points()
        self._quantities: dict[tuple, dict[str, list[float]]] = {}
        self._local: dict[Key, tuple[list[Key], list[engine.Expr]]] = {}
        self.findings: dict[Key, Finding] = {}
        self.judged: set[Key] = set()
        self.trials = 0

    # -- the forward pass and its derivatives ----------------------------------------------

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
        for y in ys:
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
        graph, values = self.graph, dict(base)

        def value(key: Key) -> float:
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
                env = {name(r): values.get(r, graph.numbers.get(r, 0.0)) for r in graph.reads[cell]}
                try:
                    values[cell] = engine.evaluate([graph.exprs[cell]], env)[0]
                except (ArithmeticError, ValueError, KeyError):
                    values[cell] = math.nan
            return values[key]

        for key in graph.exprs:
            value(key)
        return values

    def value(self, key: Key) -> list[float]:
        return [p.get(key, math.nan) for p in self.points]

    def _local_derivatives(self, cell: Key):
        if cell not in self._local:
            refs = list(dict.fromkeys(self.graph.reads[cell]))
            self._local[cell] = refs, engine.grad(self.graph.exprs[cell], [engine.var(name(r)) for r in refs])
        return self._local[cell]

    def quantities(self, update: Key) -> dict[str, list[float]]:
        """What each role computes in this update's example, at every point."""
        pairs = self.training.outputs[update]
        ys = tuple(sorted(y for y, _ in pairs))
        if ys in self._quantities:
            return self._quantities[ys]
        forward = self._forward[ys]
        per_point = []
        for p in self.points:
            adjoint: dict[Key, float] = {}
            for y, t in pairs:
                adjoint[y] = adjoint.get(y, 0.0) + p.get(y, math.nan) - p.get(t, math.nan)
            for cell in reversed(forward):
                upstream = adjoint.get(cell)
                if upstream is None:
                    continue
                refs, derivatives = self._local_derivatives(cell)
                env = {name(r): p.get(r, 0.0) for r in self.graph.reads[cell]}
                try:
                    locals_ = engine.evaluate(derivatives, env)
                except (ArithmeticError, ValueError, KeyError):
                    locals_ = [math.nan] * len(refs)
                for ref, local in zip(refs, locals_):
                    adjoint[ref] = adjoint.get(ref, 0.0) + upstream * local
            row: dict[str, float] = {}
            for cell, gradient in adjoint.items():
                for scale, mark in _SCALES.items():
                    row[f"{mark}∂E/∂{cell[1]}"] = scale * gradient
                slope = self._slope(cell, p)
                if slope is not None:
                    row[f"σ′({cell[1]})"] = slope
                    for scale, mark in _SCALES.items():
                        row[f"{mark}δ({cell[1]})"] = scale * gradient * slope
            for y, t in pairs:
                row[f"{t[1]} − {y[1]}"] = p.get(t, math.nan) - p.get(y, math.nan)
                row[f"{y[1]} − {t[1]}"] = -row[f"{t[1]} − {y[1]}"]
            per_point.append(row)
        labels = set.intersection(*(set(row) for row in per_point))
        self._quantities[ys] = {label: [row[label] for row in per_point] for label in sorted(labels)}
        return self._quantities[ys]

    def _slope(self, cell: Key, point: dict[Key, float]) -> float | None:
        """The activation's derivative where ``cell`` applies one (one EXP or TANH) to a sum."""
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
            derivative = engine.grad(engine.substitute(expr, {argument: u}), [u])[0]
            env = {name(r): point.get(r, 0.0) for r in self.graph.reads[cell]}
            env["__u"] = engine.evaluate([argument], env)[0]
            return engine.evaluate([derivative], env)[0]
        except (ArithmeticError, ValueError, KeyError):
            return None

    # -- judging -----------------------------------------------------------------------------

    def _eta(self, update) -> float | None:
        """η as the update writes it: the typed factors of its step (0.5 in =0.5*A3*K3, the η
        cell in =w-$C$9*g) that the forward pass does not read."""
        step = update.step
        if update.step_cell is not None:
            step = self.graph.exprs[update.step_cell]
        factors, stack = [], [step]
        while stack:
            node = stack.pop()
            if node.op == "mul":
                stack.extend(node.args)
            elif node.op == "neg":
                stack.append(node.args[0])
            else:
                factors.append(node)
        eta = 1.0
        found = False
        for factor in factors:
            if factor.op == "const":
                eta, found = eta * factor.payload, True
            elif factor.op == "var" and (cell := key_of(factor.payload)) in self.graph.numbers \
                    and not any(cell in self.graph.reads.get(c, ()) for c in self.forward_all):
                eta, found = eta * self.graph.numbers[cell], True
        return abs(eta) if found and eta else None

    def _update_test(self, key: Key, sign: int = 1, relative: bool = False):
        """The test of an update's change (new − w; or the step cell's value, times its sign)."""
        update = self.training.updates[key]
        gradient = self.quantities(key).get(f"∂E/∂{update.parameter[1]}")
        eta = self._eta(update)
        examples = len(self.training.outputs[key])
        conventions = {c * f for c in (1.0, 2.0, 0.5) for f in {1.0, 1.0 / examples}}
        start = self.value(update.parameter)

        def test(values: list[float]) -> bool:
            if gradient is None:
                return False
            change = [sign * (v - w) if relative else sign * v for v, w in zip(values, start)]
            big = [k for k, g in enumerate(gradient) if math.isfinite(g) and abs(g) > 1e-12]
            if not big:
                return all(abs(c) <= 1e-12 for c in change)
            k = max(big, key=lambda i: abs(gradient[i]))
            rate = -change[k] / gradient[k]
            if not rate > 0 or not all(_agree(c, -rate * g) for c, g in zip(change, gradient)):
                return False
            return eta is None or any(_agree(rate, eta * c) for c in conventions)
        return test

    def judge(self) -> list[Finding]:
        for key, update in sorted(self.training.updates.items()):
            if key not in self.training.outputs:
                continue
            if update.step_cell is not None:
                self.judged.add(key)
                self._judge(update.step_cell, self._update_test(key, update.sign), f"the change of {update.parameter[1]}",
                            key, 0)
            else:
                self._judge(key, self._update_test(key, relative=True), f"the update of {update.parameter[1]}", key, 0)
        return list(self.findings.values())

    def _judge(self, cell: Key, test, role: str, update: Key, depth: int) -> None:
        if cell in self.judged:
            return
        self.judged.add(cell)
        if test(self.value(cell)):
            return
        expr = self.graph.exprs.get(cell)
        if expr is None or depth >= MAX_DEPTH:
            self._find(cell, role, "wrong formula", f"does not compute {role}")
            return
        refs = list(dict.fromkeys(self.graph.reads.get(cell, ())))
        quantities = self.quantities(update)
        labels = list(quantities)
        for count in (1, 2):
            if count == 2 and self.trials > MAX_TRIALS:
                break
            solutions = []
            for chosen in itertools.combinations(refs, count):
                for meant in itertools.product(labels, repeat=count):
                    if count == 2 and self.trials > MAX_TRIALS:
                        break  # past the budget: the slip is named where it shows
                    if test(self._substituted(expr, refs, dict(zip(chosen, meant)), quantities)):
                        solutions.append(dict(zip(chosen, meant)))
            if solutions:
                # Blame goes down into helpers first; then the plainest quantity (δ before 2·δ).
                meant = max(solutions, key=lambda m: (sum(self._is_helper(r) for r in m),
                                                      -sum("2·" in label for label in m.values())))
                for ref, label in meant.items():
                    if self._is_helper(ref):
                        exact = quantities[label]
                        self._judge(ref, lambda values, exact=exact: _proportional(values, exact), label, update,
                                    depth + 1)
                    else:
                        self._find(cell, role, "wrong reference",
                                   f"reads {ref[1]}{self._what(ref)} where {self._named(label)} belongs")
                return
        self._find(cell, role, "wrong formula", f"does not compute {self._named(role)} from the cells it reads")

    def _named(self, label: str) -> str:
        """A quantity with the names of its cells' columns: δ(G3) → δ(G3: Out q)."""
        sheet = self.training.sheet

        def named(match) -> str:
            header = self.graph.header((sheet, match.group(0)))
            return f"{match.group(0)}: {header}" if header else match.group(0)
        return _CELL_IN_LABEL.sub(named, label)

    def _is_helper(self, ref: Key) -> bool:
        return (ref in self.graph.exprs and ref not in self.forward_all and ref not in self.training.updates
                and ref not in self.steps and ref not in self.parameters)

    def _what(self, ref: Key) -> str:
        if ref in self.steps:
            return f" (the change of {self.steps[ref].parameter[1]})"
        header = self.graph.header(ref)
        return f" ({header})" if header else ""

    def _substituted(self, expr, refs, meant: dict[Key, str], quantities) -> list[float]:
        """``expr`` at every point with the cells ``meant`` holding those quantities instead: the
        blame search asks this of one formula for every candidate, so it is compiled once."""
        self.trials += 1
        function = compile_function([expr], [engine.var(name(r)) for r in refs])
        out = []
        for k, p in enumerate(self.points):
            try:
                out.append(function(*(quantities[meant[r]][k] if r in meant else p.get(r, 0.0) for r in refs))[0])
            except (ArithmeticError, ValueError):
                out.append(math.nan)
        return out

    def _find(self, key: Key, role: str, kind: str, message: str) -> None:
        if key not in self.findings:
            header = self.graph.header(key)
            self.findings[key] = Finding(key[0], key[1], header or role, kind, self.graph.texts.get(key),
                                         self.graph.saved.get(key), None, None, f"{key[1]} {message}")


def _proportional(values: list[float], exact: list[float]) -> bool:
    return any(all(_agree(v, c * x) for v, x in zip(values, exact)) for c in (1.0, -1.0, 2.0, -2.0, 0.5, -0.5))


def judge_training(books) -> list[tuple[Training, list[Finding], SheetScore]]:
    """The training the formulas hold, its findings and score; [] where no training is found."""
    training = find_training(books)
    if training is None:
        return []
    judge = GradientJudge(training)
    findings = judge.judge()
    findings += copied_down(training, findings, judge.judged)
    findings += typed_where_updates_belong(training)
    wrong = {(f.sheet, f.cell) for f in findings}
    judged = judge.judged | wrong
    right = sum(key not in wrong for key in judge.judged)
    return [(training, findings, SheetScore(right, len(judged), training.sheet, (("cells", Score(right, len(judged))),)))]


def copied_down(training: Training, findings: list[Finding], judged: set[Key]) -> list[Finding]:
    """The same formula copied down a column past the last update (the last example's δ, which
    no update reads): the same slip, where it stands unjudged."""
    graph, found = training.graph, {(f.sheet, f.cell) for f in findings}
    more = []
    for finding in findings:
        if finding.formula is None:
            continue
        column, row = re.fullmatch(r"([A-Z]+)(\d+)", finding.cell).groups()
        template = relative_with_template(finding.formula, int(row))[1]
        for key in sorted(graph.texts):
            other = re.fullmatch(r"([A-Z]+)(\d+)", key[1])
            if key[0] != finding.sheet or other.group(1) != column or key in judged or key in found:
                continue
            if formula_at_row(template, int(other.group(2))) == graph.texts[key]:
                found.add(key)
                more.append(replace(finding, cell=key[1], formula=graph.texts[key], found=graph.saved.get(key),
                                    message=f"{key[1]}: {finding.cell}'s formula copied down, the same slip "
                                            f"({finding.message})"))
    return more


def typed_where_updates_belong(training: Training) -> list[Finding]:
    """A number typed in a row where the other parameters are updated, in a column whose
    parameter is updated by the same formula in other rows: the update was pasted over."""
    graph = training.graph
    by_column: dict[tuple, list[int]] = {}
    update_rows: set[tuple] = set()
    for key in training.updates:
        column, row = re.fullmatch(r"([A-Z]+)(\d+)", key[1]).groups()
        by_column.setdefault((key[0], column), []).append(int(row))
        update_rows.add((key[0], int(row)))
    findings = []
    for (sheet, column), rows in by_column.items():
        rows.sort()
        template = relative_with_template(graph.texts[(sheet, f"{column}{rows[0]}")], rows[0])[1]
        for other in sorted({r for s, r in update_rows if s == sheet} - set(rows)):
            cell = (sheet, f"{column}{other}")
            if cell in graph.numbers and rows[0] < other:
                meant = formula_at_row(template, other)
                findings.append(Finding(sheet, cell[1], graph.header(cell) or "parameter", "typed number", None,
                                        graph.numbers[cell], None, None,
                                        f"{cell[1]} holds a typed number where the update {meant} belongs "
                                        "(the other parameters of its row are updated there)"))
    return findings


def with_saved_value(finding: Finding, values) -> Finding:
    try:
        found = values[finding.sheet][finding.cell].value
    except (KeyError, ValueError):
        return finding
    return replace(finding, found=found)
