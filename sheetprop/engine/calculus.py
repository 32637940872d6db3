"""The calculus over the graph, by the op table's rules: ``grad`` (reverse-mode chain rule, each
local derivative an op's own ``derivative`` rule, so derivatives are graph nodes too) and
``evaluate`` (the plain float64 reference, each node by its op's ``value`` rule).

Apart from ``graph``, whose constructors the op table's derivative rules are written with: the
nodes know no rules, the rules know the nodes, and this module knows both."""

from __future__ import annotations

import math

from sheetprop.engine import ops
from sheetprop.engine.graph import ONE, ZERO, Expr, add, mul, topological_order


def grad(expr: Expr, wrt) -> list[Expr]:
    """∂expr/∂v for each variable in ``wrt``, by reverse-mode chain rule over the graph."""
    adjoint = {expr: ONE}
    for node in reversed(topological_order([expr])):
        upstream = adjoint.get(node)
        if upstream is None or not node.args:
            continue
        op = ops.TABLE[node.op]
        if op.shortcut is not None:
            pairs = op.shortcut(node)
        else:
            pairs = zip(node.args, op.derivative(node, *node.args))
        for arg, local in pairs:
            contribution = mul(upstream, local)
            adjoint[arg] = add(adjoint[arg], contribution) if arg in adjoint else contribution
    return [adjoint.get(v, ZERO) for v in wrt]


# --- reference evaluation in float64, by each op's ``value`` rule (``ops``) -----------------------

# evaluate's walk of each expression list, kept: the same expression is evaluated at point after
# point (a formula at every random point, a hint's variant at every row), and the walk is most of
# the cost of a small one. Bounded, since the nodes it holds are kept alive by it.
_ORDERS: dict[tuple, list[Expr]] = {}
MAX_CACHED_ORDERS = 4096


def evaluate(exprs, env: dict[str, float]) -> list[float]:
    """Values of ``exprs`` with variables taken from ``env`` (by name)."""
    key = tuple(exprs)
    order = _ORDERS.get(key)
    if order is None:
        if len(_ORDERS) >= MAX_CACHED_ORDERS:
            _ORDERS.clear()
        order = _ORDERS[key] = topological_order(key)
    values: dict[Expr, float] = {}
    for node in order:
        if node.op == "const":
            value = node.payload
        elif node.op == "var":
            try:
                value = float(env[node.payload])
            except KeyError:
                raise KeyError(f"no value for variable {node.payload!r}") from None
        elif node.op in _WITH_PAYLOAD:
            value = _VALUE[node.op](node.payload, *(values[a] for a in node.args))
        else:
            value = _VALUE[node.op](*(values[a] for a in node.args))
        values[node] = value if math.isfinite(value) else math.nan
    return [values[e] for e in exprs]


# Each op's float64 rule, looked up once a node.
_VALUE = {name: op.value for name, op in ops.TABLE.items()}
_WITH_PAYLOAD = frozenset(name for name, op in ops.TABLE.items() if op.payload)
