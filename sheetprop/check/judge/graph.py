"""Judge a network read from its formulas alone (``formula_graph``) against the chain rule.

Each weight's update gives its cells their roles, from the top down: the update must be
w − c·∂E/∂w for one constant c (η, times 2 where the loss has no ½). Where it is not, the cells it
reads are given the quantities that would make it so, trying one, then two at a time (σ′ of a
neuron, ∂E/∂a, δ, a gradient, η, with the signs and factor 2 students write). A cell found
wrong that only this chain reads (a helper: σ′ kept in its own row) is judged in turn under its
role; a cell with a meaning of its own (an activation, another update, η) read where another
belongs is a wrong reference in the reader. So each finding names the cell where the slip
enters. Every quantity is worked out from the student's own forward cells, at random values of
the givens: a slip upstream is not blamed again downstream, nor hidden where an input is 0.
"""

from __future__ import annotations

import itertools
import math
import random

from sheetprop import engine
from sheetprop.check.find.formula_graph import POINTS, Graph, GraphNetwork, Key, find_networks, name
from sheetprop.check.report.findings import Finding, Score, SheetScore
from sheetprop.spreadsheet.agree import DEFAULT_TOLERANCE, agree

TOLERANCE = DEFAULT_TOLERANCE
MAX_DEPTH = 8
# Substitutions tried per network before pairs are no longer tried: a sheet wrong everywhere
# (a hundred cells, each with two of a hundred roles) is then named cell by cell, in seconds.
MAX_TRIALS = 100_000


def _agree(a: float, b: float) -> bool:
    return math.isfinite(a) and math.isfinite(b) and agree(a, b, TOLERANCE)


def _same(a: list[float], b: list[float]) -> bool:
    return all(_agree(x, y) for x, y in zip(a, b))


# The factors a loss's convention puts on a helper (E = (t − a)² without ½, t − a for a − t):
# its role fixes the quantity, the update above it the constant.
_CONVENTIONS = (1.0, -1.0, 2.0, -2.0, 0.5, -0.5)


def _proportional(values: list[float], exact: list[float]) -> bool:
    return any(_same(values, [c * x for x in exact]) for c in _CONVENTIONS)


class NetworkJudge:
    def __init__(self, graph: Graph, network: GraphNetwork):
        self.graph, self.network = graph, network
        self.neuron_cells = {n.net for n in network.neurons} | {n.act for n in network.neurons}
        rng = random.Random(0)
        self.points: list[dict[Key, float]] = []
        for _ in range(POINTS):
            # In a fixed order (sets of cells iterate in a different one in every process).
            base = {k: rng.uniform(0.05, 1.0) for k in sorted(network.inputs) if k in graph.numbers}
            base |= {k: rng.uniform(-1.0, 1.0) for k in sorted(network.weights) if k in graph.numbers}
            base |= {k: rng.uniform(0.05, 0.95) for k in sorted(network.targets.values()) if k in graph.numbers}
            for key in graph.numbers:  # typed copies of a given take its value
                root = graph.root(key)
                if root != key and root in base:
                    base[key] = base[root]
            values = graph.evaluate(base)
            self.points.append({**graph.numbers, **base, **values})
        self.quantities = self._quantities()
        self.findings: dict[Key, Finding] = {}
        self.judged: set[Key] = set()
        self.trials = 0

    def value(self, key: Key) -> list[float]:
        return [p.get(key, 0.0) for p in self.points]

    def _quantities(self) -> dict[str, list[float]]:
        """What each role computes, at every point, from the student's own forward cells."""
        net = self.network
        q: dict[str, list[float]] = {}
        per_point = []
        for p in self.points:
            a = {n.act: p.get(n.act, 0.0) for n in net.neurons}
            slope = {n.act: a[n.act] * (1 - a[n.act]) if n.activation == "sigmoid" else 1 - a[n.act] ** 2
                     for n in net.neurons}
            dE, delta = {}, {}
            for n in sorted(net.neurons, key=lambda n: -n.layer):
                if n.act in net.targets:
                    dE[n.act] = a[n.act] - p.get(net.targets[n.act], 0.0)
                else:
                    dE[n.act] = sum(delta[m.act] * p.get(w, 0.0) for m in net.neurons if m.act in delta
                                    for s, w in m.terms if s == n.act)
                delta[n.act] = dE[n.act] * slope[n.act]
            grads: dict[Key, float] = {}
            for n in net.neurons:
                for s, w in n.terms:
                    grads[w] = grads.get(w, 0.0) + delta[n.act] * (1.0 if s is None else p.get(s, 0.0))
            row = {}
            for n in net.neurons:
                cell = n.act[1]
                row[f"a({cell})"] = a[n.act]
                row[f"σ′({cell})"] = slope[n.act]
                for scale in (1, -1, 2, -2):
                    row[_scaled(scale, f"∂E/∂a({cell})")] = scale * dE[n.act]
                    row[_scaled(scale, f"δ({cell})")] = scale * delta[n.act]
                if n.act in net.targets:
                    t = p.get(net.targets[n.act], 0.0)
                    row[f"a({cell}) − t"] = a[n.act] - t
                    row[f"t − a({cell})"] = t - a[n.act]
                for s, w in n.terms:
                    if s in self.neuron_cells:
                        for scale in (1, -1, 2, -2):
                            row[_scaled(scale, f"δ({cell})·{w[1]}")] = scale * delta[n.act] * p.get(w, 0.0)
            for w, g in grads.items():
                for scale in (1, -1, 2, -2):
                    row[_scaled(scale, f"∂E/∂{w[1]}")] = scale * g
            for key in net.inputs:
                row[f"{key[1]}"] = p.get(key, 0.0)
            if net.eta is not None:
                row["η"] = p.get(net.eta, 0.0)
            per_point.append(row)
        for label in per_point[0]:
            q[label] = [row[label] for row in per_point]
        return q

    # -- judging ------------------------------------------------------------------------

    def judge(self) -> list[Finding]:
        for n in self.network.neurons:
            self._judge_sum(n)
        for update, weight in sorted(self.network.updates.items()):
            self._judge_cell(update, self._update_test(weight), f"new {weight[1]}", 0)
        return list(self.findings.values())

    def _judge_sum(self, n) -> None:
        self.judged.add(n.net)
        expected = [sum((1.0 if s is None else p.get(s, 0.0)) * p.get(w, 0.0) for s, w in n.terms)
                    for p in self.points]
        if _same(self.value(n.net), expected):
            return
        wrong = self.network.wrong_sources.get(n.net)
        if wrong:
            message = (f"reads {', '.join(r[1] for r, _ in wrong)} (weighted sums) where their activations "
                       f"{', '.join(m[1] for _, m in wrong)} belong")
            self._find(n.net, "weighted sum", "wrong formula", message)
        elif n.net in self.network.wrong_weights:
            read, meant = self.network.wrong_weights[n.net]
            self._find(n.net, "weighted sum", "wrong reference", f"reads the weight {read[1]} where {meant[1]} belongs")
        else:
            self._find(n.net, "weighted sum", "wrong formula", "is not the sum of its inputs times their weights")

    def _update_test(self, weight: Key):
        w = self.value(weight)
        g = self.quantities.get(f"∂E/∂{weight[1]}")

        def test(values: list[float]) -> bool:
            # new = w − c·g for one c > 0, held to the size of w: c·g may be a millionth of w,
            # and w − new then keeps only the last digits of each.
            if g is None or not any(abs(x) > 1e-12 for x in g):
                return False
            k = max(range(len(g)), key=lambda i: abs(g[i]))
            c = (w[k] - values[k]) / g[k]
            return c > 0 and all(_agree(new, old - c * grad) for new, old, grad in zip(values, w, g))
        return test

    def _judge_cell(self, key: Key, test, role: str, depth: int) -> None:
        self.judged.add(key)
        if test(self.value(key)) or key in self.findings:
            return
        refs = list(dict.fromkeys(self.graph.reads.get(key, ())))
        expr = self.graph.exprs.get(key)
        if expr is None or depth >= MAX_DEPTH:
            self._find(key, role, "wrong formula", f"does not compute {role}")
            return
        labels = list(self.quantities)
        for count in (1, 2):
            if count == 2 and self.trials > MAX_TRIALS:
                break
            solutions = [dict(zip(chosen, meant)) for chosen in itertools.combinations(refs, count)
                         for meant in itertools.product(labels, repeat=count)
                         if test(self._substituted(expr, refs, dict(zip(chosen, meant))))]
            if solutions:
                self._blame(key, role, max(solutions, key=self._likeness), test, depth)
                return
        self._find(key, role, "wrong formula", f"does not compute {role} from the cells it reads")

    def _likeness(self, meant: dict[Key, str]) -> int:
        """How near each substitution is to what its cell holds: a typed constant (η) is what a
        cell of another meaning stands in for; else a quantity of the cell's own kind (σ′ for σ′)."""
        score = 0
        for ref, label in meant.items():
            if label == "η" and not self._is_helper(ref):
                score += 2
            elif _kind(self._what(ref)) == _kind(label):
                score += 1
        return score

    def _blame(self, key: Key, role: str, meant: dict[Key, str], test, depth: int) -> None:
        for ref, label in meant.items():
            if self._is_helper(ref):
                exact = self.quantities[label]
                self._judge_cell(ref, lambda values, exact=exact: _proportional(values, exact), label, depth + 1)
            else:
                self._find(key, role, "wrong reference", f"reads {ref[1]}{self._what(ref)} where {label} belongs")

    def _is_helper(self, ref: Key) -> bool:
        root = self.graph.root(ref)
        return (ref in self.graph.exprs and root in self.graph.exprs and root not in self.neuron_cells
                and root not in self.network.updates)

    def _what(self, ref: Key) -> str:
        values = self.value(ref)
        for label, quantity in self.quantities.items():
            if _same(values, quantity):
                return f" ({label})"
        return ""

    def _substituted(self, expr, refs, meant: dict[Key, str]) -> list[float]:
        self.trials += 1
        out = []
        for k, p in enumerate(self.points):
            env = {name(r): (self.quantities[meant[r]][k] if r in meant else p.get(r, 0.0)) for r in refs}
            try:
                out.append(engine.evaluate([expr], env)[0])
            except (ArithmeticError, ValueError):
                out.append(math.nan)
        return out

    def _find(self, key: Key, role: str, kind: str, message: str) -> None:
        if key in self.findings:
            return
        self.findings[key] = Finding(key[0], key[1], role, kind, self.graph.texts.get(key), None, None, None,
                                     f"{key[1]} {message}")


def _kind(label: str) -> str:
    """σ′ of σ′(D4), ∂E/∂a of −2·∂E/∂a(D5): what a quantity is, whichever neuron and factor."""
    return label.strip(" ()").lstrip("−2·").split("(")[0]


def _scaled(scale: int, label: str) -> str:
    return {1: label, -1: f"−{label}", 2: f"2·{label}", -2: f"−2·{label}"}[scale]


def judge_workbook(books) -> list[tuple[GraphNetwork, list[Finding], SheetScore]]:
    """Each network the formulas hold, its findings and score; [] where none is found."""
    graph, networks = find_networks(books)
    results = []
    for network in networks:
        if not network.updates:
            continue
        judge = NetworkJudge(graph, network)
        findings = judge.judge()
        values = books[1]
        findings = [_with_value(f, values) for f in findings]
        wrong = {(f.sheet, f.cell) for f in findings}
        right = sum(key not in wrong for key in judge.judged)
        results.append((network, findings, SheetScore(right, len(judge.judged), network.sheet,
                                                      (("cells", Score(right, len(judge.judged))),))))
    return results


def _with_value(finding: Finding, values) -> Finding:
    from dataclasses import replace

    try:
        found = values[finding.sheet][finding.cell].value
    except (KeyError, ValueError):
        found = None
    return replace(finding, found=found)
