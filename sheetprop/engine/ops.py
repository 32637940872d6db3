"""The op table: every op an expression can hold, each defined once.

As in micrograd's engine, each primitive op carries its own derivative rule; as in sympy's code
printers, each has a template per language. One ``Op`` holds all of it:

- ``derivative(node, *args)``: ∂node/∂arg for each argument, as graph nodes (``node`` is the node
  itself, so σ' reads σ·(1 − σ) with σ's own node); a fused op has ``shortcut(node)`` instead,
  (node, ∂self/∂node) pairs that pass the chain rule past its own arguments;
- ``value``: its float64 rule, NaN where a spreadsheet shows an error (``engine.evaluate`` and the
  compiled functions of ``engine.numeric``);
- ``sheet``: its spreadsheet rule, plain math that raises where a spreadsheet shows an error value
  (ZeroDivisionError: #DIV/0!; ValueError, OverflowError: #NUM!; a result that is not a finite
  float: #NUM!), read by ``sheetprop.spreadsheet.evaluate``. A ``strict`` op's value is the first
  error among its arguments; IF is not strict: an error in the branch not taken goes nowhere;
- its spellings, each (template, precedence of the result, precedence each argument needs) as
  the printers read them: ``excel``, ``math``, ``python``, ``latex``; ``function``: the Excel
  function a formula names it by, where a student writes it as one (the formula reader's map).

An op with a ``payload`` (a power's exponent, a softmax's index, a comparison's operator) gets
it first in ``value`` and ``sheet``. An op missing from a table fails loudly where it is used.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable

from sheetprop.engine import graph as g

LOWEST, ADD, MUL, NEG, POW, ATOM = range(6)  # how tightly a printed piece binds


@dataclass(frozen=True)
class Op:
    name: str
    value: Callable
    sheet: Callable
    excel: tuple
    math: tuple
    python: tuple
    latex: tuple
    derivative: Callable | None = None
    shortcut: Callable | None = None
    payload: bool = False
    strict: bool = True
    function: str | None = None


# --- float64 rules: NaN plays a spreadsheet's error value, so no result is a finite number a
# spreadsheet would not show ---------------------------------------------------------------

def _exp(x):
    return math.exp(x) if x < 709.78 else math.nan


def _divide(a, b):
    return a / b if b != 0 else math.nan


def _log(a):
    return math.log(a) if a > 0 else math.nan  # LN of 0 or less is #NUM! in a spreadsheet


def _sum(values):
    total = 0.0
    for value in values:  # left to right, as a spreadsheet adds a+b+c
        total += value
    return total


def _softmax(k, *logits):
    # As the spreadsheet computes it, EXP(o_k)/(EXP(o_1)+…): an overflow is an error there too.
    exps = [_exp(o) for o in logits]
    return _divide(exps[k], _sum(exps))


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


_COMPARE = {">": lambda a, b: a > b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b, "=": lambda a, b: a == b, "<>": lambda a, b: a != b}


def _compare(op, a, b):
    if a != a or b != b:
        return math.nan
    return 1.0 if _COMPARE[op](a, b) else 0.0


def _choose(condition, then, otherwise):
    if condition != condition:
        return math.nan
    return then if condition != 0 else otherwise


# --- spreadsheet rules: plain math that raises where the spreadsheet shows an error -----------

def _sheet_power(a, n):
    value = a ** n  # 0^−1 raises ZeroDivisionError (#DIV/0!), 10.0^400 OverflowError (#NUM!)
    if not isinstance(value, float):
        raise ValueError("a complex power")  # (−8)^0.5: #NUM!
    return value


def _sheet_softmax(k, *logits):
    exps = [math.exp(o) for o in logits]
    return exps[k] / _sum(exps)


def _sheet_choose(condition, then, otherwise):
    if type(condition) is str:  # an error in the condition: IF shows it
        return condition
    return then if condition != 0 else otherwise


def _halves(args):
    """(probability, target) pairs of a fused cross-entropy's arguments."""
    half = len(args) // 2
    return zip(args[:half], args[half:])


_MATH_COMPARE = {">": ">", ">=": "≥", "<": "<", "<=": "≤", "=": "=", "<>": "≠"}
_LATEX_COMPARE = {">": ">", ">=": "\\geq", "<": "<", "<=": "\\leq", "=": "=", "<>": "\\neq"}


def _ops(*ops: Op) -> dict[str, Op]:
    return {op.name: op for op in ops}


# The ops. Spellings: excel, math, python, latex.
TABLE: dict[str, Op] = _ops(
    Op("add", lambda a, b: a + b, lambda a, b: a + b,
       ("{0}+{1}", ADD, (ADD, ADD)), ("{0} + {1}", ADD, (ADD, ADD)),
       ("{0} + {1}", ADD, (ADD, ADD)), ("{0} + {1}", ADD, (ADD, ADD)),
       derivative=lambda node, a, b: (g.ONE, g.ONE)),
    Op("sub", lambda a, b: a - b, lambda a, b: a - b,
       ("{0}-{1}", ADD, (ADD, MUL)), ("{0} − {1}", ADD, (ADD, MUL)),
       ("{0} - {1}", ADD, (ADD, MUL)), ("{0} - {1}", ADD, (ADD, MUL)),
       derivative=lambda node, a, b: (g.ONE, g.const(-1))),
    Op("mul", lambda a, b: a * b, lambda a, b: a * b,
       ("{0}*{1}", MUL, (MUL, MUL)), ("{0}·{1}", MUL, (MUL, MUL)),
       ("{0} * {1}", MUL, (MUL, MUL)), ("{0} \\cdot {1}", MUL, (MUL, MUL)),
       derivative=lambda node, a, b: (b, a)),
    Op("div", _divide, lambda a, b: a / b,
       ("{0}/{1}", MUL, (MUL, NEG)), ("{0}/{1}", MUL, (MUL, POW)),
       ("_div({0}, {1})", ATOM, (LOWEST, LOWEST)), ("\\frac{{{0}}}{{{1}}}", ATOM, (LOWEST, LOWEST)),
       derivative=lambda node, a, b: (g.div(1, b), g.neg(g.div(a, g.power(b, 2))))),
    Op("neg", lambda a: -a, lambda a: -a,
       # Excel's unary minus binds tighter than ^ (-x^2 is (-x)^2): its operand must be an atom.
       ("-{0}", NEG, (ATOM,)), ("−{0}", NEG, (POW,)), ("-{0}", NEG, (ATOM,)), ("-{0}", NEG, (POW,)),
       derivative=lambda node, a: (g.const(-1),)),
    # A constant exponent (the payload); the printers print it with their ``exponent``.
    Op("pow", lambda n, a: _power(a, n), lambda n, a: _sheet_power(a, n),
       ("{0}^{1}", POW, (ATOM,)), ("{0}{1}", POW, (ATOM,)),
       ("_pow({1}, {0})", ATOM, (LOWEST,)),
       # The base in braces: a symbol may carry its own superscript (a_{h1}^{(2)}).
       ("{{{0}}}^{{{1}}}", POW, (ATOM,)),
       derivative=lambda node, a: (g.mul(node.payload, g.power(a, node.payload - 1)),), payload=True),
    Op("raise_to", _power, _sheet_power,
       ("{0}^{1}", POW, (ATOM, ATOM)), ("{0}^{1}", POW, (ATOM, ATOM)),
       ("_raise_to({0}, {1})", ATOM, (LOWEST, LOWEST)), ("{{{0}}}^{{{1}}}", POW, (ATOM, LOWEST)),
       derivative=lambda node, a, b: (g.mul(b, g.raise_to(a, g.sub(b, 1))), g.mul(node, g.log(a)))),
    Op("exp", _exp, math.exp,
       ("EXP({0})", ATOM, (LOWEST,)), ("exp({0})", ATOM, (LOWEST,)),
       ("_exp({0})", ATOM, (LOWEST,)), ("e^{{{0}}}", ATOM, (LOWEST,)),
       derivative=lambda node, a: (node,), function="EXP"),
    # The natural logarithm, Excel's LN.
    Op("log", _log, math.log,
       ("LN({0})", ATOM, (LOWEST,)), ("ln({0})", ATOM, (LOWEST,)),
       ("_log({0})", ATOM, (LOWEST,)), ("\\ln({0})", ATOM, (LOWEST,)),
       derivative=lambda node, a: (g.div(1, a),), function="LN"),
    Op("sigmoid", lambda a: _divide(1.0, 1.0 + _exp(-a)), lambda a: 1.0 / (1.0 + math.exp(-a)),
       ("1/(1+EXP(-{0}))", MUL, (ATOM,)), ("σ({0})", ATOM, (LOWEST,)),
       ("_sigmoid({0})", ATOM, (LOWEST,)), ("\\sigma({0})", ATOM, (LOWEST,)),
       derivative=lambda node, a: (g.mul(node, g.sub(1, node)),)),
    Op("tanh", math.tanh, math.tanh,
       ("TANH({0})", ATOM, (LOWEST,)), ("tanh({0})", ATOM, (LOWEST,)),
       ("_tanh({0})", ATOM, (LOWEST,)), ("\\tanh({0})", ATOM, (LOWEST,)),
       derivative=lambda node, a: (g.sub(1, g.power(node, 2)),), function="TANH"),
    Op("relu", lambda a: a if a > 0 or math.isnan(a) else 0.0, lambda a: a if a > 0 else 0.0,
       ("MAX(0,{0})", ATOM, (LOWEST,)), ("relu({0})", ATOM, (LOWEST,)),
       ("_relu({0})", ATOM, (LOWEST,)), ("\\mathrm{{relu}}({0})", ATOM, (LOWEST,)),
       derivative=lambda node, a: (g.step(a),)),
    # Heaviside: 1 where a > 0, else 0.
    Op("step", lambda a: (1.0 if a > 0 else 0.0) if not math.isnan(a) else math.nan,
       lambda a: 1.0 if a > 0 else 0.0,
       ("IF({0}>0,1,0)", ATOM, (LOWEST,)), ("[{0} > 0]", ATOM, (LOWEST,)),
       ("_step({0})", ATOM, (LOWEST,)), ("[{0} > 0]", ATOM, (LOWEST,)),
       derivative=lambda node, a: (g.ZERO,)),
    # a op b, 1 or 0, exactly as a spreadsheet compares (IF's condition; the payload is the operator).
    Op("compare", _compare, lambda op, a, b: 1.0 if _COMPARE[op](a, b) else 0.0,
       (lambda o, op: f"{o[0]}{op}{o[1]}", LOWEST, ADD),
       (lambda o, op: f"{o[0]} {_MATH_COMPARE[op]} {o[1]}", LOWEST, ADD),
       (lambda o, op: f"_compare({op!r}, {o[0]}, {o[1]})", ATOM, LOWEST),
       (lambda o, op: f"{o[0]} {_LATEX_COMPARE[op]} {o[1]}", LOWEST, ADD),
       derivative=lambda node, a, b: (g.ZERO, g.ZERO), payload=True),
    # IF(condition, then, otherwise): only the branch taken counts, an error in the other too.
    Op("if", _choose, _sheet_choose,
       ("IF({0},{1},{2})", ATOM, (LOWEST, LOWEST, LOWEST)),
       ("if({0}, {1}, {2})", ATOM, (LOWEST, LOWEST, LOWEST)),
       ("_if({0}, {1}, {2})", ATOM, (LOWEST, LOWEST, LOWEST)),
       ("\\mathrm{{if}}({0}, {1}, {2})", ATOM, (LOWEST, LOWEST, LOWEST)),
       derivative=lambda node, c, a, b: (g.ZERO, c, g.sub(1, c)), strict=False, function="IF"),
    # exp(o_k) / Σ_j exp(o_j): the k-th (the payload, from 0) of a softmax layer's outputs.
    Op("softmax", _softmax, _sheet_softmax,
       (lambda o, k: f"EXP({o[k]})/({'+'.join(f'EXP({x})' for x in o)})", MUL, LOWEST),
       (lambda o, k: f"exp({o[k]})/({' + '.join(f'exp({x})' for x in o)})", MUL, LOWEST),
       (lambda o, k: f"_softmax({k}, {', '.join(o)})", ATOM, LOWEST),
       (lambda o, k: f"\\frac{{e^{{{o[k]}}}}}{{{' + '.join(f'e^{{{x}}}' for x in o)}}}", ATOM, LOWEST),
       # ∂a_k/∂o_j = a_k·(1 − a_k) when j = k, −a_k·a_j otherwise.
       derivative=lambda node, *logits: tuple(
           g.mul(node, g.sub(1, node)) if j == node.payload else g.neg(g.mul(node, g.softmax(logits, j)))
           for j in range(len(logits))), payload=True),
    # Fused ops pass the chain rule past their own arguments, straight to the logits below them.
    # Their arguments (the softmax or sigmoid outputs) then receive nothing from them, which is
    # right, since the pair already counts that path.
    # E = −Σ t_k ln a_k, a = softmax(o): ∂E/∂o_k = a_k·Σt − t_k = a_k − t_k for targets summing
    # to 1 (templates check it); ∂E/∂t_k = −ln a_k.
    Op("softmax_cross_entropy", _softmax_cross_entropy,
       lambda *args: -_sum([t * math.log(a) for a, t in _halves(args)]),
       (lambda args, _: "-(" + "+".join(f"{t}*LN({a})" for a, t in _halves(args)) + ")", NEG, MUL),
       (lambda args, _: "−(" + " + ".join(f"{t}·ln({a})" for a, t in _halves(args)) + ")", NEG, MUL),
       (lambda args, _: f"_softmax_cross_entropy({', '.join(args)})", ATOM, LOWEST),
       (lambda args, _: "-(" + " + ".join(f"{t} \\ln({a})" for a, t in _halves(args)) + ")", NEG, MUL),
       shortcut=lambda node: [
           pair for probability, target in _halves(node.args) for pair in (
               (probability.args[probability.payload], g.sub(probability, target)),
               (target, g.neg(g.log(probability))))]),
    # E = −(t ln a + (1 − t) ln(1 − a)), a = σ(o): ∂E/∂o = a − t; ∂E/∂t = ln(1 − a) − ln a.
    Op("sigmoid_binary_cross_entropy", _sigmoid_binary_cross_entropy,
       lambda a, t: -(t * math.log(a) + (1 - t) * math.log(1 - a)),
       (lambda args, _: "-({1}*LN({0})+(1-{1})*LN(1-{0}))".format(*args), NEG, ATOM),
       (lambda args, _: "−({1}·ln({0}) + (1 − {1})·ln(1 − {0}))".format(*args), NEG, ATOM),
       (lambda args, _: "_sigmoid_binary_cross_entropy({0}, {1})".format(*args), ATOM, LOWEST),
       (lambda args, _: "-({1} \\ln({0}) + (1 - {1}) \\ln(1 - {0}))".format(*args), NEG, ATOM),
       shortcut=lambda node: [
           (node.args[0].args[0], g.sub(node.args[0], node.args[1])),
           (node.args[1], g.sub(g.log(g.sub(1, node.args[0])), g.log(node.args[0])))]),
)

# Every op a graph can hold besides constants and variables: printers and the compiler cover
# each one (a test holds them to it).
OPS = frozenset(TABLE)

LANGUAGES = ("excel", "math", "python", "latex")


def spellings(language: str) -> dict[str, tuple]:
    """op name -> (template, precedence, needs) in ``language``: a printer's table."""
    return {name: getattr(op, language) for name, op in TABLE.items()}


# The functions the Python spellings call, by name: each op's float64 rule.
PYTHON_HELPERS = {"nan": math.nan, "_compare": _compare, "_if": _choose,
                  **{f"_{name}": op.value for name, op in TABLE.items() if name not in ("compare", "if")}}
PYTHON_HELPERS["_div"] = _divide

_FUNCTION = re.compile(r"\b([A-Z][A-Z0-9.]*)\(")


def excel_functions(name: str) -> list[str]:
    """The spreadsheet functions op ``name``'s Excel spelling calls, in order (sigmoid: [EXP])."""
    template = TABLE[name].excel[0]
    text = template(["x", "y"], 0) if callable(template) else template.format("x", "y", "z")
    return list(dict.fromkeys(_FUNCTION.findall(text)))


# The one-argument functions a formula names an op by: {"EXP": "exp", "LN": "log", "TANH": "tanh"}.
FUNCTIONS = {op.function: name for name, op in TABLE.items() if op.function and name != "if"}
