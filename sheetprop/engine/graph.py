"""A scalar expression graph whose derivatives are graph nodes too.

Like micrograd's engine, each primitive op carries its own derivative rule (in the op table,
``ops``) and derived ops are one-liners over primitives. Unlike it, ``calculus.grad`` returns
*expressions*, so a derivative can be printed (as an Excel formula, as textbook math) and
evaluated like anything else.

Nodes are interned: building the same expression twice gives the same object, so equal
subexpressions are shared, and identity is equality. Constructors simplify just enough that
derivatives read like a textbook (no ``*1``, ``+0``, ``--``).
"""

from __future__ import annotations

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


def compare(a, operator: str, b) -> Expr:
    """1 where ``a operator b`` (>, >=, <, <=, =, <>) holds, else 0: a spreadsheet's comparison."""
    return Expr("compare", (_lift(a), _lift(b)), operator)


def choose(condition, then, otherwise) -> Expr:
    """A spreadsheet's IF: ``then`` where ``condition`` is not 0, else ``otherwise``."""
    return Expr("if", (_lift(condition), _lift(then), _lift(otherwise)))


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
