"""The loss an example of a training is judged under: the cell the sheet labels as its loss.

A cell labelled loss, error, cost (erro, 誤差, 損失), E or E_total, in the header above it or the
label left of it, that is computed from every output of the example and is not linear in them
(an "error" column of t − y is no loss), is the loss ``judge.derivatives`` differentiates: a
cross-entropy, a mean of squares, a sum without ½. A total over the examples of an online
training stands for the example's own term of it. Without one the loss is ½·Σ(t − y)².
"""

from __future__ import annotations

import re

from sheetprop import engine
from sheetprop.check.find.cell_graph import CellGraph, Key, key_of, name
from sheetprop.spreadsheet.references import column_letters, column_number

LOSS_WORDS = ("loss", "error", "cost", "erro", "誤差", "損失")
# A label naming a derivative or an error signal, not the loss: "error gradient", "dE/dw", "δ".
_NOT_LOSS = re.compile(r"grad|delta|deriv|δ|∂|\bd\s*[A-Za-z]*\s*/\s*d|signal|term", re.IGNORECASE)
_LOSS_SYMBOL = re.compile(r"E(\s*_?\s*(total|tot|sum))?", re.IGNORECASE)


def example_losses(graph: CellGraph, updates: set[Key], outputs: dict[Key, list[tuple[Key, Key]]],
                   forward: dict[Key, set[Key]], steps: dict[Key, int]) -> dict[Key, Key]:
    """Each update's loss cell, where its example labels one."""
    labelled = loss_labelled(graph)
    if not labelled:
        return {}
    steps_of_outputs: dict[Key, set[int]] = {}
    for key, pairs in outputs.items():
        for y, _ in pairs:
            steps_of_outputs.setdefault(y, set()).add(steps[key])
    cones: dict[Key, set[Key]] = {}
    found = {}
    for key, pairs in outputs.items():
        loss = loss_cell(graph, updates, forward[key], {y for y, _ in pairs}, steps[key], labelled,
                         steps_of_outputs, cones)
        if loss is not None:
            found[key] = loss
    return found


def is_loss_label(text: str | None) -> bool:
    """A label naming a loss: loss, error, cost (and their words in other languages), E, E_total."""
    if not text:
        return False
    words = text.strip()
    if _NOT_LOSS.search(words):
        return False
    return any(word in words.lower() for word in LOSS_WORDS) or (
        words[0] == "E" and _LOSS_SYMBOL.fullmatch(words) is not None)


def labels_of(graph: CellGraph, key: Key) -> list[str]:
    """The words naming ``key``: the text just left of it in its row (a quantity a row, label
    in A, value in B), and its column's header."""
    column, row = re.fullmatch(r"([A-Z]+)(\d+)", key[1]).groups()
    found = []
    for c in range(column_number(column) - 1, max(0, column_number(column) - 4), -1):
        beside = (key[0], f"{column_letters(c)}{row}")
        if beside in graph.words:
            found.append(graph.words[beside])
        if beside in graph.words or beside in graph.exprs or beside in graph.numbers:
            break  # the nearest filled cell: a label, or a value of a row of values (no label)
    header = graph.header(key)
    if header is not None:
        found.append(header)
    return found


def loss_labelled(graph: CellGraph) -> set[Key]:
    """The formulas labelled as a loss (only those in a row or column of such a word are asked)."""
    places = set()
    for (sheet, cell), word in graph.words.items():
        if is_loss_label(word):
            column, row = re.fullmatch(r"([A-Z]+)(\d+)", cell).groups()
            places |= {(sheet, column), (sheet, row)}
    found = set()
    for key in graph.texts:
        where = re.fullmatch(r"([A-Z]+)(\d+)", key[1])
        if where and ((key[0], where[1]) in places or (key[0], where[2]) in places) \
                and any(is_loss_label(label) for label in labels_of(graph, key)):
            found.add(key)
    return found


def loss_cell(graph: CellGraph, updates: set[Key], cells: set[Key], ys: set[Key], step: int, labelled: set[Key],
              steps_of_outputs: dict[Key, set[int]], cones: dict[Key, set[Key]]) -> Key | None:
    """The cell of the example labelled as its loss (``LOSS_WORDS``, E, E_total) that is computed
    from every one of its outputs, not linear in them (t − y labelled "error" is no loss); the
    nearest such cell. A total over the examples of an online training (outputs of other
    steps) stands for the one term of it that is this example's."""
    def reaches_all(key: Key) -> bool:
        return all(graph.ancestors_reach([key], y, cells) for y in ys)

    found = []
    for key in labelled & cells:
        while key is not None and key not in ys:
            if key not in cones:
                cones[key] = _cone(graph, updates, key)
            if all(steps_of_outputs.get(cell, {step}) == {step} for cell in cones[key]):
                break
            terms = [r for r in dict.fromkeys(graph.reads.get(key, ())) if r in cells and r in graph.exprs and reaches_all(r)]
            key = terms[0] if len(terms) == 1 else None
        if key is None or key in ys or not reaches_all(key) or graph.saved.get(key, 0.0) < 0:
            continue
        inside = _expression_of_outputs(graph, key, ys, cells)
        if inside is None or not _curved(inside, ys):
            continue
        found.append((len(engine.topological_order([inside])), key))
    return min(found)[1] if found else None


def _cone(graph: CellGraph, updates: set[Key], key: Key, limit: int = 5000) -> set[Key]:
    """The formulas ``key`` is computed from, down to the updates."""
    seen, stack = {key}, [key]
    while stack and len(seen) < limit:
        for ref in graph.reads.get(stack.pop(), ()):
            if ref not in seen and ref in graph.exprs and ref not in updates:
                seen.add(ref)
                stack.append(ref)
    return seen


def _expression_of_outputs(graph: CellGraph, key: Key, ys: set[Key], cells: set[Key]):
    """``key``'s formula with the cells between it and the outputs written out."""
    expr = graph.exprs[key]
    for _ in range(20):
        inner = {v: graph.exprs[key_of(v.payload)] for v in engine.topological_order([expr])
                 if v.op == "var" and key_of(v.payload) in cells and key_of(v.payload) not in ys}
        if not inner:
            return expr
        expr = engine.substitute(expr, inner)
    return None


def _curved(expr, ys: set[Key]) -> bool:
    """Whether the derivative of ``expr`` by some output still depends on an output."""
    outputs = [engine.var(name(y)) for y in sorted(ys)]
    for derivative in engine.grad(expr, outputs):
        if any(v.op == "var" and key_of(v.payload) in ys for v in engine.topological_order([derivative])):
            return True
    return False
