"""An optimizer's state in a training's updates, read from the formulas whatever the layout, and
the tests that hold it: momentum's velocity, RMSprop's and Adam's moments.

An update ``w − η·Φ`` reads, through cells that depend on w (``chain``), the gradient and the
optimizer's state. A state cell is one of them computed from an earlier value of itself that
does not depend on w: ``s = β·s′ + …`` with β the same at every point (s′ a typed start, a
blank, or the same state of the step before). A state read under a square root in the update,
or that adds a square, is a second moment (of g²), the others first moments (of g). Each state is judged for its own
recurrence (``fit``: s − β·s′ = k·∂E/∂w, or k·(∂E/∂w)², for a usual k: 1, 1 − β, ±η),
and the update for the optimizer's step from the student's own state cells (``directions``):

- momentum: v (or −v where v = β·v − η·g);
- RMSprop (and Adagrad): ∂E/∂w / (√s + ε);
- Adam: m̂/(√ŝ + ε) with m̂ = m/(1 − β₁ᵗ), ŝ = s/(1 − β₂ᵗ) (also without the correction, and
  with it folded into η), t the update's step (``Training.steps``).

So a slip in the gradient shows in the states that read it and is named there (the blame search
goes down into the gradient's cell), a slip in a state's recurrence at that state, and a slip in
a bias correction at the update that reads it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sheetprop import engine
from sheetprop.check.find.training import Key, Training, key_of, name

@dataclass
class State:
    cell: Key
    previous: Key | None   # its value one step before (None: the first step's, where the start is 0)
    decay: float           # β: s = β·s′ + …
    second: bool           # of g² (read under a square root), else of g


class Optimizers:
    """The states each update reads, found once for the whole training."""

    def __init__(self, training: Training, derivatives, agree):
        """``derivatives``: the training's ``Derivatives`` (its points and the cells' values at
        them); ``agree``: whether two values are the same number (the judge's tolerance)."""
        self.training, self.graph, self._agree = training, training.graph, agree
        forward_all, self.parameters, self.points = derivatives.forward_all, derivatives.parameters, derivatives.points
        self.forward_all, self._value_at = forward_all, derivatives.value_at
        self.inputs = {ref for cell in forward_all for ref in self.graph.reads.get(cell, ())}
        self.targets = {t for pairs in training.outputs.values() for _, t in pairs}
        self.chains = {key: self._chain(key) for key in training.outputs}
        self._roots: dict[Key, set[Key]] = {}  # each formula's cells read under a square root
        self.squared = {key: self._under_root(key) for key in self.chains}
        self.states: dict[Key, list[State]] = {}
        self._recognize()

    # --- values -----------------------------------------------------------------------------

    def at(self, key: Key | None) -> list[float]:
        """``key``'s value at every point (a typed number where the points do not hold it; 0 for
        no cell, the start before the first step)."""
        if key is None:
            return [0.0] * len(self.points)
        return [self._value_at(p, key) for p in self.points]

    def _slope(self, cell: Key, ref: Key) -> list[float]:
        """∂cell/∂ref at every point, by the engine from ``cell``'s formula."""
        derivative = engine.grad(self.graph.exprs[cell], [engine.var(name(ref))])[0]
        out = []
        for p in self.points:
            env = {name(r): self._value_at(p, r) for r in self.graph.reads[cell]}
            try:
                out.append(engine.evaluate([derivative], env)[0])
            except (ArithmeticError, ValueError, KeyError):
                out.append(math.nan)
        return out

    # --- what each update reads ---------------------------------------------------------------

    def _chain(self, key: Key) -> set[Key]:
        """The cells between the update and the forward pass: formulas that depend on the
        parameter (the gradient, the states, their corrections), none of the forward pass."""
        training, graph = self.training, self.graph
        example = training.forward[key]
        update = training.updates[key]
        start = list(graph.reads.get(key, ())) + ([update.step_cell] if update.step_cell else [])
        chain, stack = set(), start
        while stack:
            cell = stack.pop()
            if cell in chain or cell not in example or cell in self.forward_all or cell in training.updates \
                    or cell in self.parameters or cell not in graph.exprs:
                continue
            chain.add(cell)
            stack.extend(graph.reads.get(cell, ()))
        return chain

    def _under_root(self, key: Key) -> set[Key]:
        """The cells of the chain read under a square root by the update or the chain."""
        graph, chain = self.graph, self.chains[key]
        found: set[Key] = set()
        for cell in chain | {key}:
            if cell not in self._roots:
                self._roots[cell] = {
                    key_of(v.payload) for node in engine.topological_order([graph.exprs[cell]])
                    if node.op == "pow" and abs(node.payload) == 0.5 or node.op == "raise_to"
                    and node.args[1].op == "const" and abs(node.args[1].payload) == 0.5
                    for v in engine.topological_order([node.args[0]]) if v.op == "var"}
            found |= self._roots[cell]
        stack, closed = [c for c in found if c in chain], set()
        while stack:
            cell = stack.pop()
            if cell not in closed:
                closed.add(cell)
                stack.extend(r for r in graph.reads.get(cell, ()) if r in chain)
        return closed

    def _recognize(self) -> None:
        every_chain = set().union(*self.chains.values()) if self.chains else set()
        previous_of: dict[Key, State] = {}
        for key, chain in self.chains.items():
            example = self.training.forward[key]
            found = []
            for cell in sorted(chain):
                for ref in dict.fromkeys(self.graph.reads.get(cell, ())):
                    if ref in example or ref in self.forward_all or ref in self.parameters or ref in self.inputs \
                            or ref in self.targets or ref in self.training.updates:
                        continue
                    if ref in self.graph.exprs and ref not in every_chain:
                        continue  # a formula that is no earlier state (a step counter, a copied η)
                    if ref not in self.graph.exprs and len(self.graph.readers.get(ref, ())) > 1:
                        continue  # a typed start is read by its first state alone; β by them all
                    decay = self._decay(cell, ref)
                    if decay is not None:
                        second = cell in self.squared[key] or _adds_a_square(self.graph.exprs[cell], ref)
                        state = State(cell, ref, decay, second)
                        found.append(state)
                        previous_of[ref] = state
                        break
            self.states[key] = found
        # The first step's state may read no start at all (m = (1 − β)·g): it is the state the
        # next step's reads as its earlier value.
        for key, chain in self.chains.items():
            known = {s.cell for s in self.states[key]}
            for cell in sorted(chain - known):
                if cell in previous_of:
                    later = previous_of[cell]
                    self.states[key].append(State(cell, None, later.decay, later.second))

    def _decay(self, cell: Key, ref: Key) -> float | None:
        """β where ``cell`` = β·ref + (what does not depend on ref), the same β at every point."""
        slopes = self._slope(cell, ref)
        first = slopes[0]
        if not (math.isfinite(first) and 0 < first <= 1) or not all(self._agree(s, first) for s in slopes):
            return None
        return first

    # --- the tests ------------------------------------------------------------------------------

    def _rates(self, state: State) -> list[float]:
        """The usual k of s − β·s′ = k·g (or k·g²), before a convention's factor."""
        if state.second:
            return [1 - state.decay] if state.decay < 1 else [1.0]
        etas = {abs(self.graph.numbers[r]) for r in self.graph.reads[state.cell]
                if r in self.graph.numbers and r != state.previous}
        etas |= {abs(n.payload) for n in engine.topological_order([self.graph.exprs[state.cell]]) if n.op == "const"}
        etas = {e for e in etas if e and e != 1 and not self._agree(e, state.decay)}  # η, not β nor 1 − β's 1
        # v = β·v − η·g (for w + v) is the one form that gathers −g
        return [1.0, 1 - state.decay] + [sign * e * f for e in etas for f in (1.0, 1 - state.decay) for sign in (1, -1)]

    def fit(self, state: State, values: list[float], gradient: list[float], conventions, keep=None) -> float | None:
        """k where ``values`` − β·s′ = k·g at every point (of ``keep``; g² for a second moment)
        and k is a usual rate times a convention's factor (c for g, c² for g²); None where there
        is none."""
        keep = range(len(values)) if keep is None else keep
        if not keep:
            return math.nan  # no point left to judge it at (an earlier slip's error value)
        previous = self.at(state.previous)
        change = [values[i] - state.decay * previous[i] for i in keep]
        base = [gradient[i] ** 2 if state.second else gradient[i] for i in keep]
        big = [k for k, g in enumerate(base) if math.isfinite(g) and abs(g) > 1e-12]
        if not big:
            return None
        i = max(big, key=lambda k: abs(base[k]))
        rate = change[i] / base[i]
        if not all(self._agree(c, rate * g) for c, g in zip(change, base)):
            return None
        factors = {c * c for c in conventions} if state.second else conventions
        if any(self._agree(rate, r * c) for r in self._rates(state) for c in factors):
            return rate
        return None

    def directions(self, key: Key, gradient: list[float], conventions) -> list[list[float]] | None:
        """What the update's change is −η times, by each form its states allow; None where the
        update reads no state (plain gradient descent)."""
        states = self.states.get(key)
        if not states:
            return None
        firsts = [s for s in states if not s.second]
        seconds = [s for s in states if s.second]
        t = self.training.steps.get(key, 1)
        epsilons = self._epsilons(key)
        found = []
        if seconds and firsts:  # Adam
            for m in firsts:
                for s in seconds:
                    mv, sv = self.at(m.cell), self.at(s.cell)
                    c1, c2 = 1 - m.decay ** t, 1 - s.decay ** t
                    for e in epsilons:
                        found += [_divided([x / c1 for x in mv], [_root(y / c2) + e for y in sv]),
                                  _divided([x / c1 for x in mv], [_root(y / c2 + e) for y in sv]),
                                  _divided(mv, [_root(y) + e for y in sv]),
                                  _divided(mv, [_root(y + e) for y in sv]),
                                  _divided([x * math.sqrt(c2) / c1 for x in mv], [_root(y) + e for y in sv])]
        elif seconds:  # RMSprop, Adagrad
            for s in seconds:
                sv = self.at(s.cell)
                for e in epsilons:
                    found += [_divided(gradient, [_root(y) + e for y in sv]),
                              _divided(gradient, [_root(y + e) for y in sv])]
        else:  # momentum: v, or −v where v gathers −η·g
            for v in firsts:
                values = self.at(v.cell)
                rate = self.fit(v, values, gradient, conventions)
                if rate is None or not math.isfinite(rate) or rate > 0:
                    found.append(values)
                if rate is None or not math.isfinite(rate) or rate < 0:
                    found.append([-x for x in values])
        return found

    def _epsilons(self, key: Key) -> list[float]:
        """0 and the small numbers (ε, under 1e-3) the update and its chain read."""
        found = {0.0}
        for cell in self.chains[key] | {key}:
            found |= {abs(self.graph.numbers[r]) for r in self.graph.reads.get(cell, ()) if r in self.graph.numbers}
            found |= {abs(n.payload) for n in engine.topological_order([self.graph.exprs[cell]]) if n.op == "const"}
        return sorted(e for e in found if e < 1e-3)

    def labels(self, key: Key) -> dict[str, list[float]]:
        """The bias-corrected states, m/(1 − β^t), as quantities the blame search may give a cell."""
        t = self.training.steps.get(key, 1)
        out = {}
        for state in self.states.get(key, ()):
            if state.decay < 1:
                out[f"{state.cell[1]}/(1 − {state.decay:g}^{t})"] = [x / (1 - state.decay ** t) for x in self.at(state.cell)]
        return out

    def meant(self, key: Key, gradient: str, quantities: dict[str, list[float]]) -> set[str] | None:
        """The quantities the cells an update reads may mean, where it reads states: the
        bias-corrected states, and the gradient where the step reads it (RMSprop); None (any)
        for plain gradient descent."""
        states = self.states.get(key)
        if not states:
            return None
        found = set(self.labels(key))
        if all(s.second for s in states):
            found |= {label for label in quantities if label.lstrip("−2·") == gradient}
        return found

    def role(self, state: State, parameter: Key) -> str:
        """What the state computes, for a finding's message."""
        before, g, a = state.previous[1] if state.previous else "0", f"∂E/∂{parameter[1]}", state.decay
        if state.second:
            return f"{a:g}·{before} + {1 - a:g}·({g})²"
        return f"{a:g}·{before} + {1 - a:g}·{g} (or + {g}, ± η·{g})"


def _adds_a_square(expr: engine.Expr, previous: Key) -> bool:
    """Whether ``expr`` (β·s′ + …) adds a square: a term, of those not reading ``previous``,
    that is a product with a factor squared (``(1-β)*g^2``, ``(1-β)*g*g``)."""
    terms, stack = [], [expr]
    while stack:
        node = stack.pop()
        if node.op in ("add", "sub"):
            stack.extend(node.args)
        elif node.op == "neg":
            stack.append(node.args[0])
        else:
            terms.append(node)
    for term in terms:
        if any(v.op == "var" and key_of(v.payload) == previous for v in engine.topological_order([term])):
            continue
        factors, stack = [], [term]
        while stack:
            node = stack.pop()
            if node.op == "mul":
                stack.extend(node.args)
            elif node.op in ("neg", "div"):
                stack.append(node.args[0])
            else:
                factors.append(node)
        if any(f.op == "pow" and f.payload == 2 for f in factors) or \
                any(f.op != "const" and factors.count(f) > 1 for f in factors):
            return True
    return False


def _root(x: float) -> float:
    """√x as a spreadsheet has it: an error value (NaN) below 0."""
    return math.sqrt(x) if x >= 0 else math.nan


def _divided(top: list[float], bottom: list[float]) -> list[float]:
    return [a / b if b else math.nan for a, b in zip(top, bottom)]
