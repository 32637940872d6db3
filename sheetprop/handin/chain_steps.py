"""The chain rule in steps, as the course writes it for ∂E_total/∂w5:

    ∂E_total/∂a_o1 = a_o1 − t1                       (each local derivative on its own line,
    ∂a_o1/∂o1     = a_o1·(1 − a_o1)                    with its number at the first step)
    ∂o1/∂w5       = a_h1
    ∂E_total/∂w5  = ∂E_total/∂a_o1 · ∂a_o1/∂o1 · ∂o1/∂w5 = 0.741 · 0.187 · 0.593 = 0.0822

Read from the network's own expressions, for any template: each forward column's expression
with the columns it reads standing as variables (a "shallow" expression), differentiated by the
engine for the column it reads (a local derivative). The loss columns (E1, E2, …) fold into
E_total, as the course's ∂E_total/∂a_o1 does. Where a column feeds several (a_h1 feeds o1 and
o2, a weight every example), ∂E_total/∂x is the sum over them, derived once and reused."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sheetprop import engine
from sheetprop.engine import Expr, var
from sheetprop.network import Network, labels

# Fused losses differentiate past their probabilities to the logits (engine.graph's shortcut
# rules): those probabilities stay expressions in E_total, so the chain goes to the logits.
_FUSED = {"softmax_cross_entropy": lambda node: node.args[:len(node.args) // 2],
          "sigmoid_binary_cross_entropy": lambda node: node.args[:1]}


@dataclass(frozen=True)
class Line:
    """One step: ``lhs`` (a label such as ∂a_o1/∂o1) equals ``expression`` (a local derivative,
    printed from the engine) or the sum of the products ``terms`` (each a list of step labels),
    worth ``value`` at the first step (``term_values`` each term's factors' numbers)."""
    lhs: str
    value: float
    expression: Expr | None = None
    terms: tuple[tuple[str, ...], ...] = ()
    term_values: tuple[tuple[float, ...], ...] = ()


@dataclass(frozen=True)
class Block:
    parameter: str       # w5
    lines: list[Line]    # the last one is ∂E_total/∂w5 itself


def local_label(top: str, bottom: str) -> str:
    return f"∂{top}/∂{bottom}"


def loss_label(label: str) -> str:
    return labels.gradient_long(label)  # ∂E_total/∂label


class ChainRule:
    """The steps of every ∂E_total/∂p of ``network``, with the numbers of ``first_row`` (every
    column's value at the first step, by label: the sheet's own)."""

    def __init__(self, network: Network, first_row: dict[str, float]):
        self.network, self.env = network, first_row
        forward = [q for q in network.quantities if q.role == "forward"]
        loss = network.by_label(labels.LOSS)
        stand_ins = {q.node: var(q.label) for q in forward}
        self.shallow: dict[str, Expr] = {}
        for q in forward:
            self.shallow[q.label] = engine.substitute(q.node, {n: v for n, v in stand_ins.items() if n is not q.node})
        fused = {arg for node in engine.topological_order([loss.node]) if node.op in _FUSED
                 for arg in _FUSED[node.op](node)}
        self.shallow[labels.LOSS] = engine.substitute(loss.node, {n: v for n, v in stand_ins.items() if n not in fused})
        # Printed math names each column's own expression by its label: σ(o1) prints as a_o1.
        self.refs = {expr: label for label, expr in self.shallow.items() if label != labels.LOSS}
        chained = {q.label for q in forward} | {q.label for q in network.trained}
        children = {label: [node.payload for node in engine.topological_order([expr])
                            if node.op == "var" and node.payload in chained and node.payload != label]
                    for label, expr in self.shallow.items()}
        # Only the columns on a way to the loss count (a softmax's a_o1 beside a fused loss does not).
        on_way, todo = {labels.LOSS}, [labels.LOSS]
        while todo:
            for child in children.get(todo.pop(), ()):
                if child not in on_way:
                    on_way.add(child)
                    todo.append(child)
        self.parents: dict[str, list[str]] = {label: [] for label in chained}
        for label in [labels.LOSS, *(q.label for q in forward)]:
            if label in on_way:
                for child in children[label]:
                    if label not in self.parents[child]:
                        self.parents[child].append(label)
        self._locals: dict[tuple[str, str], Expr] = {}
        self._delta: dict[str, float] = {labels.LOSS: 1.0}
        self._derived: set[str] = set()

    # --- the pieces -------------------------------------------------------------------------

    def local(self, top: str, bottom: str) -> Expr:
        key = (top, bottom)
        if key not in self._locals:
            self._locals[key] = engine.grad(self.shallow[top], [var(bottom)])[0]
        return self._locals[key]

    def local_value(self, top: str, bottom: str) -> float:
        return engine.evaluate([self.local(top, bottom)], self.env)[0]

    def delta(self, label: str) -> float:
        """∂E_total/∂label at the first step, summed over every column ``label`` feeds."""
        if label not in self._delta:
            self._delta[label] = math.fsum(self.delta(p) * self.local_value(p, label) for p in self.parents[label])
        return self._delta[label]

    def _chain(self, label: str) -> list[str]:
        """``label`` and the columns above it while each feeds exactly one column (not E_total)."""
        chain = [label]
        while len(self.parents[chain[-1]]) == 1 and self.parents[chain[-1]][0] != labels.LOSS:
            chain.append(self.parents[chain[-1]][0])
        return chain

    def _local_line(self, top: str, bottom: str) -> Line:
        lhs = loss_label(bottom) if top == labels.LOSS else local_label(top, bottom)
        return Line(lhs, self.local_value(top, bottom), expression=self.local(top, bottom))

    def _derive(self, label: str, lines: list[Line], own: bool) -> None:
        """Lines ending with ∂E_total/∂label. ``own``: the block's parameter (always written);
        otherwise a column whose derivation is written once in the whole README."""
        if not own and label in self._derived:
            return
        chain = self._chain(label)
        top = chain[-1]
        factors: list[str] = []
        if self.parents[top] == [labels.LOSS]:
            lines.append(self._local_line(labels.LOSS, top))
            factors.append(loss_label(top))
        elif self.parents[top]:  # fed into several columns: the sum over them, derived once
            if top not in self._derived:
                for parent in self.parents[top]:
                    if parent != labels.LOSS:
                        self._derive(parent, lines, own=False)
                for parent in self.parents[top]:
                    lines.append(self._local_line(parent, top))
                terms = tuple((local_label(p, top),) if p == labels.LOSS else (loss_label(p), local_label(p, top))
                              for p in self.parents[top])
                values = tuple((self.local_value(p, top),) if p == labels.LOSS else (self.delta(p), self.local_value(p, top))
                               for p in self.parents[top])
                lines.append(Line(loss_label(top), self.delta(top), terms=terms, term_values=values))
                self._derived.add(top)
            if top != label:
                factors.append(loss_label(top))
        for upper, lower in zip(reversed(chain), list(reversed(chain))[1:]):
            lines.append(self._local_line(upper, lower))
            factors.append(local_label(upper, lower))
        if len(factors) > 1 or (top != label and factors):
            values = (self.delta(top), *(self.local_value(u, d) for u, d in zip(reversed(chain), list(reversed(chain))[1:])))
            lines.append(Line(loss_label(label), self.delta(label), terms=(tuple(factors),), term_values=(values,)))
        self._derived.add(label)

    # --- every parameter --------------------------------------------------------------------

    def blocks(self) -> list[Block]:
        """One block per trained parameter, the layer nearest the loss first, as the course
        derives ∂E/∂w5 before ∂E/∂w1."""
        def depth(label: str) -> int:
            hops = 0
            while label != labels.LOSS and self.parents.get(label):
                label, hops = self.parents[label][0], hops + 1
            return hops

        order = sorted(self.network.trained, key=lambda q: depth(q.label))
        blocks = []
        for q in order:
            lines: list[Line] = []
            if self.parents[q.label]:
                self._derive(q.label, lines, own=True)
            blocks.append(Block(q.label, lines))
        return blocks
