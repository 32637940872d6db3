"""Helper columns: a student's own unlabelled steps of the chain rule, judged where they enter.

Many tables keep δ of a hidden neuron, a σ′ term or a partial product in a column of its own
(headed "A", "δh1", or nothing) that the ∂E/∂w columns then read. Such a column has no label
of the network, so its formulas are read through; but a slip inside it must be named there,
not in the gradient columns that only inherit it. A gradient cell that disagrees with the
chain rule is therefore read once more with one helper column left as an unknown H: when some
quantity of the chain rule put for H makes the cell right, the cell is right and the helper
column is meant to hold that quantity (its *role*): the mistake entered in the helper.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from sheetprop import engine
from sheetprop.check.judge.formula import same_function, values_at
from sheetprop.engine import Expr
from sheetprop.network import Network

MAX_UNNAMED_CANDIDATES = 400  # the chain rule's own sub-expressions tried as a role


@dataclass(frozen=True)
class Role:
    name: str       # "δ of h2", "σ′(h1)", "a partial product of the chain rule"
    node: Expr      # what the column should compute, over the network's givens


class HelperRoles:
    """The quantities a helper column may hold, each with its values at the judge's points."""

    def __init__(self, network: Network, points: list[dict[str, float]]):
        self.network, self.points = network, points

    @cached_property
    def candidates(self) -> list[tuple[Role, list[float]]]:
        named = []
        loss = self.network.loss
        for q in self.network.quantities:
            if q.role != "forward" or not re.fullmatch(r"[ho]\d+(?:_\d+)?", q.label):
                continue
            named.append(Role(f"δ of {q.label} (∂E_total/∂{q.label})", engine.grad(loss, [q.node])[0]))
            try:
                activated = self.network.by_label(f"a_{q.label}").node
            except KeyError:
                continue
            named.append(Role(f"σ′({q.label}) (∂a_{q.label}/∂{q.label})", engine.grad(activated, [q.node])[0]))
            named.append(Role(f"∂E_total/∂a_{q.label}", engine.grad(loss, [activated])[0]))
        named += [Role(q.label, q.node) for q in self.network.computed]
        seen = {role.node for role in named}
        unnamed = [node for node in engine.topological_order([q.node for q in self.network.computed])
                   if node.args and node not in seen][:MAX_UNNAMED_CANDIDATES]
        named += [Role("a partial product of the chain rule", node) for node in unnamed]
        found = []
        for role in named:
            values = values_at(role.node, self.points)
            if values is not None:
                found.append((role, values))
        return found

    def role_making_right(self, expr: Expr, helper: Expr, right_values) -> Role | None:
        """The role that, put for ``helper`` in ``expr``, makes it compute ``right_values``."""
        for role, values in self.candidates:
            points = [{**point, helper.payload: value} for point, value in zip(self.points, values)]
            if same_function(values_at(expr, points), right_values):
                return role
        return None
