"""Hints for a wrong cell: the small slips people make in a hand-typed chain rule (one label for
another of its kind, a factor left out, a sign flipped), tried against what the cell computes,
and the wording that names cells the way a student does."""

from __future__ import annotations

import re

from sheetprop import engine
from sheetprop.check.judge.formula import agree, values_at, variables
from sheetprop.engine import Expr, var
from sheetprop.engine.numeric import compile_function
from sheetprop.engine.printers import MathPrinter

MAX_HINTS = 2


def find_hint(expr: Expr, envs: list[dict], found: list[float], lhs: str, tolerance: float) -> str | None:
    """Describe the variants of ``expr`` that compute what was found in every one of ``envs``:
    the random points a formula was read at, or the one row of values a typed number sits in.
    A hint is only given when it was verified so, and when one or two variants explain it."""
    right = values_at(expr, envs)
    if right is None:
        return None
    same = lambda a, b: all(agree(x, y, tolerance) for x, y in zip(a, b))  # noqa: E731
    matches = []
    variants = _variants_of(expr, envs[0], lhs)
    for (description, _), value in zip(variants, _variant_values(expr, envs, lhs, variants)):
        if value is not None and same(found, value) and not same(value, right):
            if description not in matches:
                matches.append(description)
    if not matches or len(matches) > MAX_HINTS:
        return None  # nothing, or too many explanations to single one out
    return " — or — ".join(matches)


_VARIANTS: dict[tuple, list[tuple[str, Expr]]] = {}
MAX_CACHED_VARIANTS = 2_000  # lists of a few dozen variants each


def _variants_of(expr: Expr, env: dict, lhs: str) -> list[tuple[str, Expr]]:
    """``variants``, built (and printed) once per expression: a column of pasted numbers asks
    for the same expression's hints in every row, only the numbers differ."""
    key = (expr, tuple(sorted(env)), lhs)
    found = _VARIANTS.get(key)
    if found is None:
        if len(_VARIANTS) >= MAX_CACHED_VARIANTS:
            _VARIANTS.clear()
        found = _VARIANTS[key] = list(variants(expr, env, lhs))
    return found


_VARIANT_FUNCTIONS: dict[tuple, tuple] = {}


def _variant_values(expr: Expr, envs: list[dict], lhs: str, variants) -> list[list[float] | None]:
    """Each variant's values in every one of ``envs`` (None where it reads a variable they lack),
    from one compiled function of all the variants: a column of pasted numbers asks this of
    every row, and evaluating dozens of variants node by node was most of a hint's cost."""
    names = sorted(envs[0])
    key = (expr, tuple(names), lhs)
    entry = _VARIANT_FUNCTIONS.get(key)
    if entry is None:
        if len(_VARIANT_FUNCTIONS) >= MAX_CACHED_VARIANTS:
            _VARIANT_FUNCTIONS.clear()
        known = set(names)
        readable = [k for k, (_, variant) in enumerate(variants) if variables(variant) <= known]
        compiled = compile_function([variants[k][1] for k in readable], [var(name) for name in names])
        entry = _VARIANT_FUNCTIONS[key] = (readable, compiled)
    readable, compiled = entry
    if any(len(env) != len(names) or any(name not in env for name in names) for env in envs[1:]):
        return [values_at(variant, envs) for _, variant in variants]  # envs of other shapes: one by one
    rows = [compiled(*(float(env[name]) for name in names)) for env in envs]
    values: list[list[float] | None] = [None] * len(variants)
    for position, k in enumerate(readable):
        values[k] = [row[position] for row in rows]
    return values


def _replace(root: Expr, old: Expr, new: Expr) -> Expr:
    return engine.substitute(root, {old: new})


def _focus(root: Expr, leaf: Expr) -> Expr:
    """The smallest part of ``root`` that holds every use of ``leaf``, widened to its parent
    when that part is the leaf alone (so a hint reads "t1 − a_o2", not just "t1")."""
    node, parent = root, None
    while node is not leaf:
        holding = [a for a in node.args if engine.contains(a, leaf)]
        if len(holding) != 1:
            return node
        parent, node = node, holding[0]
    return parent if parent is not None else node


def _kind(name: str) -> str:
    return re.sub(r"\d+$", "", name)


def same_kind_swap(used: frozenset, needed: frozenset) -> tuple[str, str] | None:
    """(used, needed): a variable read where the chain rule needs another of its kind (t1 for t2)."""
    for extra in sorted(used - needed):
        for missing in sorted(needed - used):
            if _kind(extra) == _kind(missing):
                return extra, missing
    return None


def student_name(variable: str) -> str:
    """A variable as a student calls it: "previous w1" is the row above's w1."""
    return f"{variable.removeprefix('previous ')} of the row above" if variable.startswith("previous ") else variable


def variants(expr: Expr, env: dict, lhs: str):
    """(description, expression) for the slips people make in a hand-typed chain rule."""
    names = {node.payload for node in engine.topological_order([expr]) if node.op == "var"}
    for name in sorted(names):
        leaf = var(name)
        focus = _focus(expr, leaf)
        for other in sorted(env):
            if other != name and _kind(other) == _kind(name):
                swapped = _replace(focus, leaf, var(other))
                yield (f"uses {as_read(swapped)} where {lhs} needs {as_read(focus)}",
                       _replace(expr, leaf, var(other)))
    for node in engine.topological_order([expr]):
        if node.op == "mul":
            for kept, dropped in (node.args, reversed(node.args)):
                yield f"leaves out the factor {as_read(dropped)}", _replace(expr, node, kept)
        elif node.op in ("add", "sub"):
            flipped = Expr("sub" if node.op == "add" else "add", node.args)
            yield (f"uses {as_read(flipped)} where {lhs} needs {as_read(node)}",
                   _replace(expr, node, flipped))
    yield "has the opposite sign", Expr("neg", (expr,))


class _HintPrinter(MathPrinter):
    """Math for hints: the row above's values print by their labels, as the student wrote them
    in an update; in a computed cell, where only this row belongs, they are marked."""

    def __init__(self, update: bool = True):
        self.update = update

    def variable(self, name: str) -> str:
        if name.startswith("previous "):
            return name.removeprefix("previous ") + ("" if self.update else "(row above)")
        return name


def as_read(expr: Expr, update: bool = True) -> str:
    return _HintPrinter(update).doprint(expr)


def absolute(where: str) -> str:
    """B32 -> $B$32 (a sheet prefix is kept)."""
    return re.sub(r"\$?([A-Z]{1,3})\$?(\d+)$", r"$\1$\2", where)


def update_rule(label: str, update: Expr) -> str:
    return f"{label} = {as_read(update)} (from the row above)"
