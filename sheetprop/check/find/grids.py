"""Copied formulas: the cells that hold one formula copied down a column or along a row, and the
few of a large such grid that are judged for all of it.

A network of 784 inputs and 100 hidden units updates 78,400 weights with one formula copied over
a grid. Its cells are grouped by their formula's relative form (``formulas.relative_form``) and
by the relative forms of the cells each reads, so a cell that reads an odd cell (one formula
typed over where the rest were copied) is a group of its own. Past ``JUDGE_ALL`` updates, a
group of up to ``SAMPLE_FROM`` cells is judged whole; a larger one by ``SAMPLES`` cells spread over it (the first, the middle,
the last), which stand for the rest: a copied formula that reads the same formulas computes the
same function of the cells at the same offsets.
"""

from __future__ import annotations

import re

from sheetprop.check.find.cell_graph import CellGraph, Key
from sheetprop.spreadsheet.formulas import relative_form
from sheetprop.spreadsheet.references import column_number

JUDGE_ALL = 2000  # updates: a training this small is judged cell by cell
SAMPLE_FROM = 16
SAMPLES = 3
_ADDRESS = re.compile(r"([A-Z]+)(\d+)")


def position(key: Key) -> tuple[int, int]:
    """(row, column) of a cell, both from 1."""
    letters, digits = _ADDRESS.fullmatch(key[1]).groups()
    return int(digits), column_number(letters)


class CopiedForms:
    """Each formula cell's relative form, worked out once."""

    def __init__(self, graph: CellGraph, moving: set[Key] | None = None):
        self.graph, self.moving = graph, moving
        self._forms: dict[Key, str | None] = {}
        self._by_form: dict[tuple[str, str], list[Key]] | None = None

    def form(self, key: Key) -> str | None:
        """The formula's relative form; None for a typed cell or an empty one."""
        if key not in self._forms:
            text = self.graph.texts.get(key)
            self._forms[key] = None if text is None else relative_form(text, *position(key))
        return self._forms[key]

    def signature(self, key: Key) -> tuple:
        """The cell's formula and the formulas of the cells it reads, in its formula's order (of
        those a parameter moves, where ``moving`` names them: an input read through its own
        formula is an input all the same)."""
        def kind(ref: Key):
            if ref in self.graph.texts:
                return self.form(ref) if self.moving is None or ref in self.moving else "fixed"
            return "number" if ref in self.graph.numbers else "empty"
        return key[0], self.form(key), tuple(kind(ref) for ref in self.graph.reads.get(key, ()))

    def groups(self, keys) -> list[list[Key]]:
        """``keys`` grouped by signature, each group in row-then-column order."""
        found: dict[tuple, list[Key]] = {}
        for key in keys:
            found.setdefault(self.signature(key), []).append(key)
        return [sorted(group, key=lambda k: (k[0], *position(k))) for group in found.values()]

    def same_formula(self, key: Key) -> list[Key]:
        """The other cells of ``key``'s sheet that hold its formula, copied."""
        if self._by_form is None:
            self._by_form = {}
            for other in self.graph.texts:
                self._by_form.setdefault((other[0], self.form(other)), []).append(other)
        return [other for other in self._by_form.get((key[0], self.form(key)), ()) if other != key]


def spread(group: list[Key]) -> list[Key]:
    """The cells of a group that are judged: all of a small one; of a large one, the first, the
    last and cells evenly spaced between."""
    if len(group) <= SAMPLE_FROM:
        return list(group)
    step = (len(group) - 1) / (SAMPLES - 1)
    return list(dict.fromkeys(group[round(k * step)] for k in range(SAMPLES)))


def stand_ins(forms: CopiedForms, keys) -> dict[Key, list[Key]]:
    """Each cell to judge, with the cells it stands for (itself first): every cell of up to
    ``JUDGE_ALL``; of more, the few of each group (``spread``)."""
    if len(keys) <= JUDGE_ALL:
        return {key: [key] for key in keys}
    chosen: dict[Key, list[Key]] = {}
    for group in forms.groups(keys):
        picked = spread(group)
        for key in picked:
            chosen[key] = [key]
        if len(picked) < len(group):
            rest = [k for k in group if k not in set(picked)]
            for k, key in enumerate(rest):  # each unjudged cell goes with the judged one nearest in order
                chosen[picked[min(len(picked) - 1, k * len(picked) // len(rest))]].append(key)
    return chosen
