"""Judge every parameter update a workbook holds against the derivative of its own forward pass.

``find.training`` finds the updates (``w − η·g``, ``w + Δ``), each example's forward cells,
outputs and loss (the cell the sheet labels so, else ½·Σ(t − y)²), and ``judge.derivatives``
differentiates the student's own forward formulas, cell by cell (reverse mode over the cells),
at the sheet's saved values and at random values of the inputs, targets and parameters. An
update is right where new − w = −c·η·∂E/∂w at every point for one c > 0 that is a usual
convention (the ½ left out of E, a batch's mean rather than its sum), or, where it reads an
optimizer's state (momentum, RMSprop, Adam: ``judge.optimizers``), −η times the step those
states make, each state judged for its own recurrence. Where a cell is not right, the cells it
reads are given, one then two at a time, the quantities of the chain rule (∂E/∂ of a forward
cell, σ′ and δ of an activation, ∂E/∂ of a parameter, t − y, a bias-corrected state): a helper
cell that would make it right is judged in turn against that quantity; a cell with a meaning of
its own read where another quantity belongs is a wrong reference; a helper that holds its
quantity by another sign or factor is read wrong by the cell that reads it. So each finding
names the cell where the slip enters. Points where an earlier slip left error values (√ of a
negative) are not judged; a step with none left is not judged at all.
"""

from __future__ import annotations

import itertools
import math
import re

from sheetprop import engine
from sheetprop.engine.numeric import compile_function
from sheetprop.check.find.losses import labels_of
from sheetprop.check.find.training import Key, Training, find_training, key_of, name
from sheetprop.check.judge.copied import copied, typed_where_updates_belong
from sheetprop.check.judge.derivatives import Derivatives
from sheetprop.check.judge.optimizers import Optimizers
from sheetprop.check.report.findings import Finding, Score, SheetScore

_ROUNDING = 8 * 2.0 ** -52  # a few units in the last place, relative
TOLERANCE = 1e-7      # relative: the saved values carry 15 digits, the chain of cells loses a few
MAX_DEPTH = 6
MAX_TRIALS = 50_000
_CELL_IN_LABEL = re.compile(r"(?<![A-Za-z])[A-Z]{1,3}\d+")


def _agree(a: float, b: float, rounding: float = 0.0) -> bool:
    """a = b to the judge's tolerance, or within ``rounding`` (what the values' own rounding leaves)."""
    return (math.isfinite(a) and math.isfinite(b)
            and abs(a - b) <= TOLERANCE * max(abs(a), abs(b)) + 1e-14 + rounding)


class GradientJudge:
    def __init__(self, training: Training):
        self.training, self.graph = training, training.graph
        self.derivatives = derivatives = Derivatives(training)
        self.parameters, self.forward_all = derivatives.parameters, derivatives.forward_all
        self.value, self.points = derivatives.value, derivatives.points
        self.optimizers = Optimizers(training, derivatives, _agree)
        self._labels: dict[Key, dict[str, list[float]]] = {}
        self._forward_reads = {ref for c in self.forward_all for ref in self.graph.reads.get(c, ())}
        self.steps = {u.step_cell: u for u in training.updates.values() if u.step_cell}
        self.findings: dict[Key, Finding] = {}
        self.judged: set[Key] = set()
        self.blamed: set[Key] = set()  # cells where a slip was found, at them or below
        self._unexplained: set[str] = set()  # formulas (relative) no pair of quantities explained
        self._tests: dict[Key, object] = {}  # each judged cell's test
        self._misread: list[tuple] = []      # (cell, helper, quantity, factor): a helper read by another sign or scale
        self.trials = 0

    def quantities(self, update: Key, near: set[Key] | None = None) -> dict[str, list[float]]:
        """What each role computes in this update's example (``Derivatives.quantities``: of the
        cells ``near``, where given), and its optimizer's bias-corrected states."""
        cache = (update, None if near is None else frozenset(near))
        if cache not in self._labels:
            extra = self.optimizers.labels(update)
            base = self.derivatives.quantities(update, near)
            self._labels[cache] = {**base, **extra} if extra else base
        return self._labels[cache]

    def _eta(self, update) -> float | None:
        """η as the update writes it: the typed factors of its step (0.5 in =0.5*A3*K3, the η
        cell in =w-$C$9*g) that the forward pass does not read."""
        step = update.step
        if update.step_cell is not None:
            step = self.graph.exprs[update.step_cell]
        chain = self.optimizers.chains.get(update.cell, set())
        factors, stack = [], [step]
        while stack:
            node = stack.pop()
            if node.op == "mul":
                stack.extend(node.args)
            elif node.op == "neg":
                stack.append(node.args[0])
            elif node.op == "div" and any(v.op == "var" and key_of(v.payload) in chain
                                          for v in engine.topological_order([node.args[1]])):
                stack.append(node.args[0])  # η·m̂/(√ŝ + ε): η is the numerator's
            else:
                factors.append(node)
        eta = 1.0
        found = False
        for factor in factors:
            if factor.op == "const":
                eta, found = eta * factor.payload, True
            elif factor.op == "var" and (cell := key_of(factor.payload)) in self.graph.numbers \
                    and cell not in self._forward_reads:
                eta, found = eta * self.graph.numbers[cell], True
        return abs(eta) if found and eta else None

    def _conventions(self, key: Key) -> set[float]:
        examples = len(self.training.outputs[key])
        return {c * f for c in (1.0, 2.0, 0.5) for f in {1.0, 1.0 / examples}}

    def _update_test(self, key: Key, sign: int = 1, relative: bool = False):
        """The test of an update's change (new − w; or the step cell's value, times its sign):
        −η·∂E/∂w, or −η times the step its optimizer's states make (``Optimizers.directions``)."""
        update = self.training.updates[key]
        gradient = self.derivatives.gradient(key, update.parameter)
        eta = self._eta(update)
        conventions = self._conventions(key)
        start = self.value(update.parameter)
        directions = None if gradient is None else self.optimizers.directions(key, gradient, conventions)

        def along(change: list[float], direction: list[float], noise: list[float]) -> bool:
            both = [(c, d, n) for c, d, n in zip(change, direction, noise) if math.isfinite(c) or math.isfinite(d)]
            change = [c for c, _, _ in both]  # an error in both: its own slip's
            direction, noise = [d for _, d, _ in both], [n for _, _, n in both]
            big = [k for k, g in enumerate(direction) if math.isfinite(g) and abs(g) > 1e-12]
            if not big:
                return all(abs(c) <= 1e-12 for c in change)
            # The rate is read where the change stands clearest above its rounding (new − w of a
            # weight of 0.37 changed by 1e-12 keeps four digits of it).
            k = max(big, key=lambda i: (abs(change[i]) / noise[i] if noise[i] else math.inf, abs(direction[i])))
            rate = -change[k] / direction[k]
            slack = noise[k] / abs(direction[k])
            if not rate > slack or not all(_agree(c, -rate * g, n + slack * abs(g))
                                           for c, g, n in zip(change, direction, noise)):
                return False
            return eta is None or any(_agree(rate, eta * c, slack) for c in conventions)

        keep = self._usable(key)

        def test(values: list[float]) -> bool:
            if gradient is None:
                return False
            change = [sign * (values[i] - start[i]) if relative else sign * values[i] for i in keep]
            # new − w is exact to a few units in the last place of w: below that it is rounding.
            noise = [_ROUNDING * max(abs(values[i]), abs(start[i])) if relative else 0.0 for i in keep]
            return any(along(change, [d[i] for i in keep], noise) for d in (directions or [gradient]))
        return test

    def _usable(self, update: Key) -> list[int]:
        """The points where the update's parameter and its gradient have values: an error value
        a slip leaves (√ of a negative) spreads into every later step; it is judged where it
        enters."""
        parameter = self.training.updates[update].parameter
        start = self.value(parameter)
        gradient = self.derivatives.gradient(update, parameter) or start
        return [i for i, (w, g) in enumerate(zip(start, gradient)) if math.isfinite(w) and math.isfinite(g)]

    def _judge_states(self, key: Key) -> None:
        """Each state the update reads, for its own recurrence (``Optimizers.fit``)."""
        update = self.training.updates[key]
        gradient = self.derivatives.gradient(key, update.parameter)
        if gradient is None:
            return
        conventions, keep = self._conventions(key), self._usable(key)
        for state in self.optimizers.states.get(key, ()):
            def test(values, state=state) -> bool:
                return self.optimizers.fit(state, values, gradient, conventions, keep) is not None
            self._judge(state.cell, test, self.optimizers.role(state, update.parameter), key, 0,
                        fixed=frozenset({state.previous}))

    def judge(self) -> list[Finding]:
        for key, update in sorted(self.training.updates.items()):
            if key not in self.training.outputs or not self._usable(key):
                continue  # no point to judge it at: an earlier slip left error values (copied_down names its copies)
            self._judge_states(key)
            allowed = self.optimizers.meant(key, f"∂E/∂{update.parameter[1]}",
                                            self.quantities(key, self.derivatives.near(key, [key])))
            if update.step_cell is not None:
                self.judged.add(key)
                self._judge(update.step_cell, self._update_test(key, update.sign), f"the change of {update.parameter[1]}",
                            key, 0, allowed=allowed)
            else:
                self._judge(key, self._update_test(key, relative=True), f"the update of {update.parameter[1]}", key, 0,
                            allowed=allowed)
        self._blame_misread_helpers()
        return list(self.findings.values())

    def _blame_misread_helpers(self) -> None:
        """A helper read by another sign or factor than it holds by every cell that can tell
        (``(1-β)*g^2`` cannot tell a sign) holds the slip itself: the finding moves there from
        the cells reading it (a gradient column of −∂E/∂w; not a threshold's δ that the weights'
        updates read right and its own update with the wrong sign)."""
        by_helper: dict[tuple, list] = {}
        for cell, helper, label, factor in self._misread:
            by_helper.setdefault((helper, factor), []).append((cell, label))
        for (helper, factor), readers in by_helper.items():
            misreading = {cell for cell, _ in readers}
            others = [r for r in dict.fromkeys(self.graph.readers.get(helper, ()))
                      if r in self._tests and r not in misreading and r not in self.blamed]
            if factor is None or any(self._tells(r, helper, factor) for r in others):
                continue
            label = readers[0][1]
            for cell in misreading:
                self.findings.pop(cell, None)
                self.blamed.discard(cell)
            self.blamed.add(helper)
            names = ", ".join(sorted(cell[1] for cell in misreading))
            self._find(helper, label, "wrong formula", f"holds {self._named(_held(factor, label))} where "
                                                       f"{self._named(label)} belongs ({names} read it so)")

    def _tells(self, reader: Key, helper: Key, factor: float) -> bool:
        """Whether ``reader``, right as it stands, would be wrong were ``helper`` ``factor``
        times another value (divided by it): it needs the helper as it is."""
        refs = list(dict.fromkeys(self.graph.reads.get(reader, ())))
        other = {"other": [v / factor for v in self.value(helper)]}
        return not self._tests[reader](self._substitution(self.graph.exprs[reader], refs, other)({helper: "other"}))

    def _judge(self, cell: Key, test, role: str, update: Key, depth: int, fixed: frozenset = frozenset(),
               allowed: set[str] | None = None) -> bool:
        """Judge ``cell`` by ``test``; where it fails, name the cell where the slip enters (it, or
        a helper below it). True where a slip was found there or below. ``fixed``: cells read
        that are never given another quantity (an optimizer's earlier state); ``allowed``: the
        only quantities its cells may be given (an optimizer's update reads its states)."""
        if cell in self.judged:
            return cell in self.blamed
        self.judged.add(cell)
        self._tests[cell] = test
        if test(self.value(cell)):
            return False
        self.blamed.add(cell)
        expr = self.graph.exprs.get(cell)
        if expr is None or depth >= MAX_DEPTH:
            self._find(cell, role, "wrong formula", f"does not compute {role}")
            return True
        refs = list(dict.fromkeys(self.graph.reads.get(cell, ())))
        chosen_refs = [r for r in refs if r not in fixed]
        quantities = self.quantities(update, self.derivatives.near(update, [cell]))
        labels = [label for label in _distinct(quantities, self._is_copy) if allowed is None or label in allowed]
        kinds = {label: _direction(quantities[label]) for label in labels}
        substituted = self._substitution(expr, refs, quantities)
        # The same formula copied (down a column, along a row, onto the next sheet) that no pair
        # of quantities explained is not searched again: the pairs are most of the search.
        form = self.training.forms.form(cell)
        for count in (1, 2):
            if count == 2 and (self.trials > MAX_TRIALS or form in self._unexplained):
                break
            solutions = []
            for chosen in itertools.combinations(chosen_refs, count):
                for meant in itertools.product(labels, repeat=count):
                    if count == 2 and (self.trials > MAX_TRIALS or kinds[meant[0]] == kinds[meant[1]]):
                        continue  # past the budget the slip is named where it shows; X and 2·X is no reading
                    if test(substituted(dict(zip(chosen, meant)))):
                        solutions.append(dict(zip(chosen, meant)))
            if count == 2 and not solutions and form is not None:
                self._unexplained.add(form)
            if solutions:
                # Blame goes down into helpers first; then the plainest quantity (δ before 2·δ).
                # In a large example, quantities that happen to agree where units saturate give way
                # to the one nearest the parameter on its path.
                meant = max(solutions, key=lambda m: (sum(self._is_helper(r) for r in m),
                                                      -sum("2·" in label for label in m.values()),
                                                      -sum(self._distance(update, label) for label in m.values())))
                below = False
                for ref, label in meant.items():
                    if self._is_helper(ref):
                        exact = quantities[label]
                        keep = self._usable(update)
                        below |= self._judge(ref, lambda values, exact=exact, keep=keep: _factor(
                                                 [values[i] for i in keep], [exact[i] for i in keep]) is not None,
                                             label, update, depth + 1)
                    else:
                        below = True
                        self._find(cell, role, "wrong reference",
                                   f"reads {ref[1]}{self._what(ref)} where {self._named(label)} belongs")
                if not below:
                    # Each helper holds its quantity by its own sign or scale: this cell reads it wrong.
                    ref, label = next(iter(meant.items()))
                    factor = _factor(self.value(ref), quantities[label])
                    self._misread.append((cell, ref, label, factor))
                    how = "with the wrong sign" if factor == -1 else f"as if it held {self._named(label)}"
                    self._find(cell, role, "wrong formula",
                               f"reads {ref[1]}{self._what(ref)} {how} (it holds {self._named(_held(factor, label))})")
                return True
        self._find(cell, role, "wrong formula", f"does not compute {self._named(role)} from the cells it reads")
        return True

    def _distance(self, update: Key, label: str) -> int:
        match = _CELL_IN_LABEL.search(label)
        if not match:
            return 0
        return self.derivatives.steps_from_parameter(update, (self.training.sheet, match.group(0)))

    def _is_copy(self, label: str) -> bool:
        """Whether the label's cell is a plain copy of another cell (=I799)."""
        match = _CELL_IN_LABEL.search(label)
        expr = match and self.graph.exprs.get((self.training.sheet, match.group(0)))
        return bool(expr) and expr.op == "var"

    def _named(self, label: str) -> str:
        """A quantity with the names of its cells' columns: δ(G3) → δ(G3: Out q)."""
        sheet = self.training.sheet

        def named(match) -> str:
            header = self._header((sheet, match.group(0)))
            return f"{match.group(0)}: {header}" if header else match.group(0)
        return _CELL_IN_LABEL.sub(named, label)

    def _header(self, key: Key) -> str | None:
        """The words naming ``key``: its label to the left (a quantity a row), else its column's."""
        if re.fullmatch(r"[A-Z]+\d+", key[1]) is None:
            return None
        labels = labels_of(self.graph, key)
        return labels[0] if labels else None

    def _is_helper(self, ref: Key) -> bool:
        return (ref in self.graph.exprs and ref not in self.forward_all and ref not in self.training.updates
                and ref not in self.steps and ref not in self.parameters)

    def _what(self, ref: Key) -> str:
        if ref in self.steps:
            return f" (the change of {self.steps[ref].parameter[1]})"
        header = self._header(ref)
        return f" ({header})" if header else ""

    def _substitution(self, expr, refs, quantities):
        """A function of ``meant`` (cell → quantity): ``expr`` at every point with those cells
        holding those quantities instead. The blame search asks it for every candidate, so the
        formula is compiled, and the cells' own values gathered, once."""
        function = compile_function([expr], [engine.var(name(r)) for r in refs])
        own = [[self.derivatives.value_at(p, r) for r in refs] for p in self.points]
        place = {r: k for k, r in enumerate(refs)}

        def substituted(meant: dict[Key, str]) -> list[float]:
            self.trials += 1
            out = []
            for k, values in enumerate(own):
                args = list(values)
                for ref, label in meant.items():
                    args[place[ref]] = quantities[label][k]
                try:
                    out.append(function(*args)[0])
                except (ArithmeticError, ValueError):
                    out.append(math.nan)
            return out
        return substituted

    def _find(self, key: Key, role: str, kind: str, message: str) -> None:
        if key not in self.findings:
            header = self._header(key)
            self.findings[key] = Finding(key[0], key[1], header or role, kind, self.graph.texts.get(key),
                                         self.graph.saved.get(key), None, None, f"{key[1]} {message}")


def _factor(values: list[float], exact: list[float]) -> float | None:
    """The usual factor (±1, ±2, ±½) by which ``values`` hold ``exact``; None where none does."""
    return next((c for c in (1.0, -1.0, 2.0, -2.0, 0.5, -0.5) if all(_agree(v, c * x) for v, x in zip(values, exact))),
                None)


def _distinct(quantities: dict[str, list[float]], is_copy=lambda label: False) -> list[str]:
    """The labels, one for each distinct set of values (∂E/∂ of a sum and δ of its activation
    are often the same numbers): the first name of each, a cell that copies another (=I799)
    named last."""
    seen, labels = set(), []
    for label in sorted(quantities, key=is_copy):
        values = quantities[label]
        key = tuple(round(v, 12) if math.isfinite(v) else None for v in values)
        if key not in seen:
            seen.add(key)
            labels.append(label)
    return labels


def _direction(values: list[float]) -> tuple:
    """The values up to a factor (δ, −2·δ and a ∂E/∂ that equals δ are one), rounded to compare."""
    scale = next((v for v in values if math.isfinite(v) and abs(v) > 1e-12), None)
    if scale is None:
        return ("zero",)
    return tuple(round(v / scale, 6) if math.isfinite(v) else None for v in values)


def _held(factor: float | None, label: str) -> str:
    """``factor``·``label`` written as one quantity: −1 times −δ(G3) is δ(G3)."""
    sign, rest = (-1.0, label[1:]) if label.startswith("−") else (1.0, label)
    scale, rest = (2.0, rest[2:]) if rest.startswith("2·") else (1.0, rest)
    total = (factor or 1.0) * sign * scale
    marks = {1.0: "", -1.0: "−", 2.0: "2·", -2.0: "−2·", 0.5: "½·", -0.5: "−½·", 4.0: "4·", -4.0: "−4·"}
    return f"{marks.get(total, f'{total:g}·')}{rest}"


def judge_training(books) -> list[tuple[Training, list[Finding], SheetScore]]:
    """The training the formulas hold, its findings and score; [] where no training is found."""
    training = find_training(books)
    if training is None:
        return []
    judge = GradientJudge(training)
    findings = judge.judge()
    findings += copied(training, findings, judge.judged)
    findings += typed_where_updates_belong(training)
    # The copies a judged update stands for (find.grids) share its verdict.
    judged = judge.judged | {copy for key, copies in training.stands_for.items() if key in judge.judged
                             for copy in copies}
    wrong = {(f.sheet, f.cell) for f in findings}
    right = sum(key not in wrong for key in judged)
    judged |= wrong
    return [(training, findings, SheetScore(right, len(judged), training.sheet, (("cells", Score(right, len(judged))),)))]
