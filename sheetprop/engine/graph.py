"""A scalar expression graph whose derivatives are graph nodes too.

Like micrograd's engine, each primitive op carries its own derivative rule and derived ops are
one-liners over primitives. Unlike it, ``grad`` returns *expressions*, so a derivative can be
printed (as an Excel formula, as textbook math) and evaluated like anything else.

Nodes are interned: building the same expression twice gives the same object, so equal
subexpressions are shared, and identity is equality. Constructors simplify just enough that
derivatives read like a textbook (no ``*1``, ``+0``, ``--``).
"""

from __future__ import annotations

import math
import weakref

_interned: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


class Expr:
    """One node: an op name, argument nodes, and a payload (a constant's value, a variable's
    name, a power's exponent)."""

    __slots__ = ("op", "args", "payload", "__weakref__")

    def __new__(cls, op: str, args: tuple = (), payload=None):
        key = (op, args, payload)
        node = _interned.get(key)
        if node is None:
            node = super().__new__(cls)
            node.op, node.args, node.payload = op, args, payload
            _interned[key] = node
        return node

    def __repr__(self) -> str:
        if self.op == "var":
            return self.payload
        if self.op == "const":
            return repr(self.payload)
        inner = ", ".join(map(repr, self.args))
        return f"{self.op}({inner}{'' if self.payload is None else f', {self.payload}'})"

    # Operator sugar, so networks read as arithmetic.
    def __add__(self, other): return add(self, other)
    def __radd__(self, other): return add(other, self)
    def __sub__(self, other): return sub(self, other)
    def __rsub__(self, other): return sub(other, self)
    def __mul__(self, other): return mul(self, other)
    def __rmul__(self, other): return mul(other, self)
    def __truediv__(self, other): return div(self, other)
    def __rtruediv__(self, other): return div(other, self)
    def __pow__(self, exponent): return power(self, exponent)
    def __neg__(self): return neg(self)


def const(value: float) -> Expr:
    return Expr("const", (), float(value))


def var(name: str) -> Expr:
    return Expr("var", (), name)


def _lift(x) -> Expr:
    return x if isinstance(x, Expr) else const(x)


def _is(x: Expr, value: float) -> bool:
    return x.op == "const" and x.payload == value


ZERO, ONE = const(0), const(1)


# --- primitives, each simplifying on construction -------------------------------------------

def add(a, b) -> Expr:
    a, b = _lift(a), _lift(b)
    if a.op == b.op == "const":
        return const(a.payload + b.payload)
    if _is(a, 0):
        return b
    if _is(b, 0):
        return a
    if b.op == "neg":
        return sub(a, b.args[0])
    return Expr("add", (a, b))


def sub(a, b) -> Expr:
    a, b = _lift(a), _lift(b)
    if a.op == b.op == "const":
        return const(a.payload - b.payload)
    if _is(b, 0):
        return a
    if _is(a, 0):
        return neg(b)
    if b.op == "neg":
        return add(a, b.args[0])
    return Expr("sub", (a, b))


def neg(a) -> Expr:
    a = _lift(a)
    if a.op == "const":
        return const(-a.payload)
    if a.op == "neg":
        return a.args[0]
    if a.op == "sub":  # -(x - y) reads better as (y - x)
        return sub(a.args[1], a.args[0])
    if a.op == "mul" and a.args[1].op == "sub":  # −(c·(t − a)) as c·(a − t)
        return mul(a.args[0], neg(a.args[1]))
    return Expr("neg", (a,))


def mul(a, b) -> Expr:
    a, b = _lift(a), _lift(b)
    if a.op == b.op == "const":
        return const(a.payload * b.payload)
    if b.op == "const":  # constants lead: 2·x, not x·2
        a, b = b, a
    if a.op == "const":
        if a.payload == 0:
            return ZERO
        if a.payload == 1:
            return b
        if a.payload == -1:
            return neg(b)
        if b.op == "mul" and b.args[0].op == "const":
            return mul(a.payload * b.args[0].payload, b.args[1])
    if a.op == "neg":
        return neg(mul(a.args[0], b))
    if b.op == "neg":
        return neg(mul(a, b.args[0]))
    return Expr("mul", (a, b))


def div(a, b) -> Expr:
    a, b = _lift(a), _lift(b)
    if a.op == b.op == "const" and b.payload != 0:
        return const(a.payload / b.payload)
    if _is(b, 1):
        return a
    if _is(a, 0):
        return ZERO
    return Expr("div", (a, b))


def power(a, exponent: float) -> Expr:
    a = _lift(a)
    if exponent == 1:
        return a
    if exponent == 0:
        return ONE
    if a.op == "const":
        return const(a.payload ** exponent)
    return Expr("pow", (a,), float(exponent))


def exp(a) -> Expr: return Expr("exp", (_lift(a),))
def log(a) -> Expr: return Expr("log", (_lift(a),))  # the natural logarithm, Excel's LN
def sigmoid(a) -> Expr: return Expr("sigmoid", (_lift(a),))
def tanh(a) -> Expr: return Expr("tanh", (_lift(a),))
def relu(a) -> Expr: return Expr("relu", (_lift(a),))
def step(a) -> Expr: return Expr("step", (_lift(a),))  # Heaviside: 1 where a > 0, else 0
def linear(a) -> Expr: return _lift(a)


def raise_to(a, b) -> Expr:
    """a to the power of an expression (Adam's β1ᵗ); ``power`` is for constant exponents."""
    a, b = _lift(a), _lift(b)
    if b.op == "const":
        return power(a, b.payload)
    return Expr("raise_to", (a, b))


def softmax(logits, k: int) -> Expr:
    """exp(o_k) / Σ_j exp(o_j): the k-th (from 0) of a softmax layer's outputs."""
    return Expr("softmax", tuple(map(_lift, logits)), k)


def softmax_cross_entropy(probabilities, targets) -> Expr:
    """−Σ_k t_k·ln(a_k) over a softmax layer's outputs a_k (``softmax`` nodes of one layer).

    Fused, so that its derivative with respect to each logit is the textbook a_k − t_k (true
    when the targets sum to 1) instead of the quotient rule spelt out over every output."""
    probabilities, targets = tuple(map(_lift, probabilities)), tuple(map(_lift, targets))
    logits = {p.args for p in probabilities}
    if len(probabilities) != len(targets) or any(p.op != "softmax" for p in probabilities) or len(logits) != 1:
        raise ValueError("softmax_cross_entropy needs the softmax outputs of one layer and one target each")
    return Expr("softmax_cross_entropy", probabilities + targets)


def sigmoid_binary_cross_entropy(probability, target) -> Expr:
    """−(t·ln(a) + (1 − t)·ln(1 − a)) for a sigmoid output a; fused, so ∂E/∂o = a − t."""
    probability, target = _lift(probability), _lift(target)
    if probability.op != "sigmoid":
        raise ValueError("sigmoid_binary_cross_entropy needs a sigmoid output")
    return Expr("sigmoid_binary_cross_entropy", (probability, target))


# Each rule gives ∂node/∂arg for every argument, as expressions; ``node`` is the node itself,
# so σ' is written with σ's own node, a_h1·(1 − a_h1), exactly as the textbook does.
_LOCAL_DERIVATIVES = {
    "add": lambda node, a, b: (ONE, ONE),
    "sub": lambda node, a, b: (ONE, const(-1)),
    "mul": lambda node, a, b: (b, a),
    "div": lambda node, a, b: (div(1, b), neg(div(a, power(b, 2)))),
    "neg": lambda node, a: (const(-1),),
    "pow": lambda node, a: (mul(node.payload, power(a, node.payload - 1)),),
    "raise_to": lambda node, a, b: (mul(b, raise_to(a, sub(b, 1))), mul(node, log(a))),
    "exp": lambda node, a: (node,),
    "log": lambda node, a: (div(1, a),),
    "sigmoid": lambda node, a: (mul(node, sub(1, node)),),
    "tanh": lambda node, a: (sub(1, power(node, 2)),),
    "relu": lambda node, a: (step(a),),
    "step": lambda node, a: (ZERO,),
    # ∂a_k/∂o_j = a_k·(1 − a_k) when j = k, −a_k·a_j otherwise.
    "softmax": lambda node, *logits: tuple(
        mul(node, sub(1, node)) if j == node.payload else neg(mul(node, softmax(logits, j)))
        for j in range(len(logits))),
}

# Fused ops pass the chain rule past their own arguments, straight to the logits below them:
# each rule gives (node, ∂self/∂node) pairs. Their arguments (the softmax or sigmoid outputs)
# then receive nothing from them, which is right, since the pair already counts that path.
_SHORTCUT_DERIVATIVES = {
    # E = −Σ t_k ln a_k, a = softmax(o): ∂E/∂o_k = a_k·Σt − t_k = a_k − t_k for targets summing
    # to 1 (templates check it); ∂E/∂t_k = −ln a_k.
    "softmax_cross_entropy": lambda node: [
        pair for probability, target in _halves(node.args) for pair in (
            (probability.args[probability.payload], sub(probability, target)),
            (target, neg(log(probability))))],
    # E = −(t ln a + (1 − t) ln(1 − a)), a = σ(o): ∂E/∂o = a − t; ∂E/∂t = ln(1 − a) − ln a.
    "sigmoid_binary_cross_entropy": lambda node: [
        (node.args[0].args[0], sub(node.args[0], node.args[1])),
        (node.args[1], sub(log(sub(1, node.args[0])), log(node.args[0])))],
}

# Every op a graph can hold besides constants and variables: printers and the compiler must
# cover each one (a test holds them to it).
OPS = frozenset(_LOCAL_DERIVATIVES) | frozenset(_SHORTCUT_DERIVATIVES)


def _halves(args):
    half = len(args) // 2
    return zip(args[:half], args[half:])


def topological_order(roots) -> list[Expr]:
    """Every node reachable from ``roots``, each after all of its arguments."""
    order, seen = [], set()
    for root in roots:
        stack = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
            elif node not in seen:
                seen.add(node)
                stack.append((node, True))
                stack.extend((arg, False) for arg in node.args)
    return order


def grad(expr: Expr, wrt) -> list[Expr]:
    """∂expr/∂v for each variable in ``wrt``, by reverse-mode chain rule over the graph."""
    adjoint = {expr: ONE}
    for node in reversed(topological_order([expr])):
        upstream = adjoint.get(node)
        if upstream is None or not node.args:
            continue
        if node.op in _SHORTCUT_DERIVATIVES:
            pairs = _SHORTCUT_DERIVATIVES[node.op](node)
        else:
            pairs = zip(node.args, _LOCAL_DERIVATIVES[node.op](node, *node.args))
        for arg, local in pairs:
            contribution = mul(upstream, local)
            adjoint[arg] = add(adjoint[arg], contribution) if arg in adjoint else contribution
    return [adjoint.get(v, ZERO) for v in wrt]


def substitute(root: Expr, mapping: dict[Expr, Expr]) -> Expr:
    """``root`` with every node in ``mapping`` replaced by its image.

    Rebuilt with the plain constructor, not the simplifying ones: the result keeps the shape it
    was given (a student's formula with one reference swapped must still read like theirs)."""
    memo: dict[Expr, Expr] = {}
    for node in topological_order([root]):
        if node in mapping:
            memo[node] = mapping[node]
        elif node.args:
            memo[node] = Expr(node.op, tuple(memo[a] for a in node.args), node.payload)
        else:
            memo[node] = node
    return memo[root]


def contains(root: Expr, target: Expr) -> bool:
    return target in set(topological_order([root]))


# --- reference evaluation in float64 --------------------------------------------------------
# A spreadsheet turns an overflow into an error value that spreads to every dependent cell;
# NaN plays that part here, so a result is never a finite number Excel would not show.

def _exp(x):
    return math.exp(x) if x < 709.78 else math.nan


def _divide(a, b):
    return a / b if b != 0 else math.nan


def _log(a):
    return math.log(a) if a > 0 else math.nan  # LN of 0 or less is #NUM! in a spreadsheet


def _softmax(k, *logits):
    # As the spreadsheet computes it, EXP(o_k)/(EXP(o_1)+…): an overflow is an error there too.
    exps = [_exp(o) for o in logits]
    return _divide(exps[k], _sum(exps))


def _sum(values):
    total = 0.0
    for value in values:  # left to right, as a spreadsheet adds a+b+c
        total += value
    return total


def _softmax_cross_entropy(*args):
    half = len(args) // 2
    return -_sum([t * _log(a) for a, t in zip(args[:half], args[half:])])


def _sigmoid_binary_cross_entropy(a, t):
    return -(t * _log(a) + (1 - t) * _log(1 - a))


def _power(a, n):
    try:
        value = a ** n
    except (OverflowError, ZeroDivisionError):
        return math.nan
    return value if isinstance(value, float) else math.nan  # (−8)^0.5 is complex: #NUM!


_EVALUATE = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": _divide,
    "neg": lambda a: -a,
    "exp": _exp,
    "log": _log,
    "raise_to": _power,
    "softmax_cross_entropy": _softmax_cross_entropy,
    "sigmoid_binary_cross_entropy": _sigmoid_binary_cross_entropy,
    "sigmoid": lambda a: _divide(1.0, 1.0 + _exp(-a)),
    "tanh": math.tanh,
    "relu": lambda a: a if a > 0 or math.isnan(a) else 0.0,
    "step": lambda a: (1.0 if a > 0 else 0.0) if not math.isnan(a) else math.nan,
}


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
        elif node.op == "pow":
            value = _power(values[node.args[0]], node.payload)
        elif node.op == "softmax":
            value = _softmax(node.payload, *(values[a] for a in node.args))
        else:
            value = _EVALUATE[node.op](*(values[a] for a in node.args))
        values[node] = value if math.isfinite(value) else math.nan
    return [values[e] for e in exprs]
