"""Find the training in a workbook from its formulas, whatever its layout and labels.

A workbook that trains a network holds parameters: cells whose next value is computed from their
own earlier value by an update, ``w − η·g`` or ``w + Δ`` where Δ depends on w through the
forward pass. That is looked for in every formula, so no header, label or layout is needed: a
weight a row, a block of rows per batch, weights read through ``INDEX`` by row arithmetic, a
sheet per step. From each update the forward pass of its example is the set of cells that
depend on the parameter (up to the next updates), and its outputs are the cells a target is
subtracted from (``t − y`` in the student's own backward formulas). ``judge.gradients`` then
holds each update against the derivative of that forward pass.

The formulas as a graph of cells are ``find.cell_graph``'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sheetprop import engine
from sheetprop.check.find.cell_graph import CellGraph, Key, key_of, name  # noqa: F401 (the route's names)
from sheetprop.check.find.grids import CopiedForms, stand_ins

LOSS_WORDS = ("loss", "error", "cost", "erro", "誤差", "損失")


@dataclass
class Update:
    cell: Key              # the parameter's next value
    parameter: Key         # the value it is computed from
    step: engine.Expr      # Δ as the formula has it: new = parameter + sign·step
    sign: int
    step_cell: Key | None = None  # Δ where it is a cell of its own (=C3+L3): L3


@dataclass
class Training:
    graph: CellGraph
    updates: dict[Key, Update]
    outputs: dict[Key, list[tuple[Key, Key]]] = field(default_factory=dict)  # update -> (y, t) pairs
    forward: dict[Key, set[Key]] = field(default_factory=dict)               # update -> its example's cells
    # Each update judged -> the copies of its formula it stands for (find.grids): a grid of
    # 78,400 copied updates is judged by a few.
    stands_for: dict[Key, list[Key]] = field(default_factory=dict)
    forms: CopiedForms | None = None

    @property
    def sheet(self) -> str:
        return min(self.updates)[0]

    def describe(self) -> str:
        parameters = {u.parameter for u in self.updates.values()}
        outputs = {y for pairs in self.outputs.values() for y, _ in pairs}
        return (f"{len(self.updates)} parameter updates of {len(parameters)} parameter values, "
                f"{len(outputs)} outputs held to their targets; cells are named by their references")


def find_updates(graph: CellGraph) -> dict[Key, Update]:
    """Every cell computed from an earlier value of itself: ``= w ± Δ`` with Δ depending on w
    through other cells (a sum of a weighted sum's terms, E1 + E2, does not)."""
    updates = {}
    for key, e in graph.exprs.items():
        if e.op not in ("add", "sub"):
            continue
        for side in ((0, 1) if e.op == "add" else (0,)):
            start, step = e.args[side], e.args[1 - side]
            if start.op != "var":
                continue
            parameter = key_of(start.payload)
            direct = [key_of(v.payload) for v in engine.topological_order([step]) if v.op == "var"]
            if parameter == key or parameter in direct or not direct:
                continue
            if graph.ancestors_reach(direct, parameter):
                sign = -1 if e.op == "sub" else 1
                step_cell = key_of(step.payload) if step.op == "var" and key_of(step.payload) in graph.exprs else None
                updates[key] = Update(key, parameter, step, sign, step_cell)
                break
    return updates


def example_cells(graph: CellGraph, parameter: Key, stops: set[Key], onward: dict | None = None) -> set[Key]:
    """The cells that depend on ``parameter``, up to (not into) the next updates. ``onward``
    keeps each cell's readers less the updates, for the next call (a grid's hidden unit is read
    by 784 updates)."""
    onward = {} if onward is None else onward
    found, stack = set(), [parameter]
    while stack:
        key = stack.pop()
        readers = onward.get(key)
        if readers is None:
            readers = onward[key] = [r for r in graph.readers.get(key, ()) if r not in stops and r in graph.exprs]
        for reader in readers:
            if reader not in found:
                found.add(reader)
                stack.append(reader)
    return found


def depends_on(graph: CellGraph, cells: set[Key]) -> set[Key]:
    """Every cell that reads one of ``cells``, directly or through others."""
    found, stack = set(cells), list(cells)
    while stack:
        for reader in graph.readers.get(stack.pop(), ()):
            if reader not in found:
                found.add(reader)
                stack.append(reader)
    return found


def output_pairs(graph: CellGraph, cells: set[Key], parameters: set[Key],
                 moving: set[Key] | None = None) -> list[tuple[Key, Key]]:
    """(output, target): a target subtracted from one of ``cells`` (or it from the target) in a
    formula of ``cells``: ``t − y`` as the student writes it for the loss or δ. A target is a
    typed cell, or a formula that no parameter reaches (``=IF(label=3, 0.99, 0.01)``) where
    ``moving`` names the cells that depend on a parameter."""
    pairs = []
    for key in sorted(cells):
        for a, b in graph.subtractions(key):
            for y, t in ((a, b), (b, a)):
                fixed = t in graph.numbers or (moving is not None and t in graph.exprs and t not in moving)
                if y in cells and fixed and t not in parameters and (y, t) not in pairs:
                    pairs.append((y, t))
    # The output is the one the target is held to, not a cell computed from it (y − t, then δ).
    ys = {y for y, _ in pairs}
    return [(y, t) for y, t in pairs
            if not any(graph.ancestors_reach([y], other) and graph.ancestors_reach([y], other, cells)
                       for other in ys if other != y)]


def find_training(books) -> Training | None:
    """The training the workbook's formulas hold, or None where no parameter is updated from itself."""
    graph = CellGraph(books)
    if graph.too_large:
        return None
    updates = find_updates(graph)
    if not updates:
        return None
    stops = set(updates)
    parameters = {u.parameter for u in updates.values()}
    moving, onward = depends_on(graph, parameters), {}
    forms = CopiedForms(graph, moving)
    training = Training(graph, updates, stands_for=stand_ins(forms, updates), forms=forms)
    for key in training.stands_for:
        cells = example_cells(graph, updates[key].parameter, stops, onward)
        pairs = output_pairs(graph, cells, parameters, moving)
        if pairs:
            training.outputs[key] = pairs
            training.forward[key] = cells
    if not training.outputs:
        return None
    return training
