"""Find the training in a workbook from its formulas, whatever its layout and labels.

A workbook that trains a network holds parameters: cells whose next value is computed from their
own earlier value by an update, ``w − η·g`` or ``w + Δ`` where Δ depends on w through the
forward pass. That is looked for in every formula, so no header, label or layout is needed: a
weight a row, a block of rows per batch, weights read through ``INDEX`` by row arithmetic, a
sheet per step. From each update the forward pass of its example is the set of cells that
depend on the parameter (up to the next updates), and its outputs are the cells a target is
subtracted from (``t − y`` in the student's own backward formulas, or inside the update itself,
ADALINE's ``w + η·(t − w·x)·x``). Each update's step is counted along its parameter's updates
(Adam's t), and its example's loss is the cell the sheet labels so (``find.losses``).
``judge.gradients`` then holds each update against the derivative of that forward pass.

The formulas as a graph of cells are ``find.cell_graph``'s.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from sheetprop import engine
from sheetprop.check.find.cell_graph import CellGraph, Key, key_of, name  # noqa: F401 (the route's names)
from sheetprop.check.find.grids import CopiedForms, stand_ins
from sheetprop.check.find.losses import LOSS_WORDS, example_losses  # noqa: F401 (LOSS_WORDS: the route's words)



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
    losses: dict[Key, Key] = field(default_factory=dict)   # update -> the loss cell its example labels
    steps: dict[Key, int] = field(default_factory=dict)    # update -> its step, from 1 (Adam's t)

    @functools.cached_property
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
            if parameter == key or not direct:
                continue
            if parameter in direct and not _holds_inline_output(graph, step, parameter):
                continue  # w + f(w) is a forward step (a residual), unless f holds t − y(w)
            if parameter in direct or graph.ancestors_reach(direct, parameter):
                sign = -1 if e.op == "sub" else 1
                step_cell = key_of(step.payload) if step.op == "var" and key_of(step.payload) in graph.exprs else None
                updates[key] = Update(key, parameter, step, sign, step_cell)
                break
    return updates


def _holds_inline_output(graph: CellGraph, step: engine.Expr, parameter: Key) -> bool:
    """Whether ``step`` holds a typed target minus an expression of ``parameter``: t − w·x."""
    return any(parameter in reads for _, _, reads in _target_minus_expression(graph, step))


def _target_minus_expression(graph: CellGraph, step: engine.Expr):
    """(t, the expression, the cells it reads) for each ``t − expression`` (or the other way
    round) in ``step`` where t is a typed number and the expression more than one cell."""
    for node in engine.topological_order([step]):
        if node.op != "sub":
            continue
        for t_node, y_node in (node.args, node.args[::-1]):
            if t_node.op == "var" and key_of(t_node.payload) in graph.numbers and y_node.op not in ("var", "const"):
                yield key_of(t_node.payload), y_node, [key_of(v.payload) for v in engine.topological_order([y_node])
                                                        if v.op == "var"]


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


def output_pairs(graph: CellGraph, cells: set[Key], parameters: set[Key], updates=(),
                 moving: set[Key] | None = None) -> list[tuple[Key, Key]]:
    """(output, target): a target subtracted from one of ``cells`` (or it from the target) in a
    formula of ``cells``, else of the ``updates`` that read them: ``t − y`` as the student writes
    it for the loss or δ, or inside the update (ADALINE's w + η·(t − y)·x). A target is a typed
    cell, or a formula that no parameter reaches (``=IF(label=3, 0.99, 0.01)``) where ``moving``
    names the cells that depend on a parameter."""
    def held(keys) -> list[tuple[Key, Key]]:
        pairs = []
        for key in sorted(keys):
            for a, b in graph.subtractions(key):
                for y, t in ((a, b), (b, a)):
                    fixed = t in graph.numbers or (moving is not None and t in graph.exprs and t not in moving)
                    if y in cells and fixed and t not in parameters and (y, t) not in pairs:
                        pairs.append((y, t))
        return pairs

    pairs = held(cells) or held(u for u in updates if any(r in cells for r in graph.reads.get(u, ())))
    # The output is the one the target is held to, not a cell computed from it (y − t, then δ).
    ys = {y for y, _ in pairs}
    computed = {y for y in ys if _reads_another(graph, y, ys, cells)}
    return [(y, t) for y, t in pairs if y not in computed]


def _reads_another(graph: CellGraph, start: Key, ys: set[Key], cells: set[Key]) -> bool:
    """Whether ``start`` is computed (through ``cells``) from another of ``ys``: one walk, not
    one a pair."""
    seen, stack = {start}, [start]
    while stack:
        for ref in graph.reads.get(stack.pop(), ()):
            if ref in seen or ref not in cells:
                continue
            if ref in ys:
                return True
            seen.add(ref)
            stack.append(ref)
    return False


def inline_outputs(graph: CellGraph, update: Update, parameters: set[Key]) -> list[tuple[Key, Key]]:
    """(output, target) where the output is written inside the update itself, ``t − (w·x)``
    (ADALINE's w + η·(t − w·x)·x): the expression becomes a cell of its own in the graph, named
    after the update (``D3:y1``), that the derivatives are taken through."""
    pairs = []
    for t, expression, reads in _target_minus_expression(graph, update.step):
        if t in parameters or update.parameter not in reads:
            continue
        y = (update.cell[0], f"{update.cell[1]}:y{len(pairs) + 1}")
        graph.exprs[y], graph.reads[y] = expression, reads
        for ref in reads:
            graph.readers.setdefault(ref, []).append(y)
        pairs.append((y, t))
    return pairs


def step_numbers(graph: CellGraph, updates: dict[Key, Update]) -> dict[Key, int]:
    """Each update's step, from 1: one more than the update its parameter is (or copies, =C3)."""
    steps: dict[Key, int] = {}

    def previous(update: Update) -> Key | None:
        cell, seen = update.parameter, set()
        while cell not in updates and cell not in seen:
            seen.add(cell)
            expr = graph.exprs.get(cell)
            if expr is None or expr.op != "var":
                return None
            cell = key_of(expr.payload)
        return cell if cell in updates else None

    for key in updates:
        chain = []
        while key is not None and key not in steps and key not in chain:
            chain.append(key)
            key = previous(updates[key])
        start = steps.get(key, 0)
        for k, cell in enumerate(reversed(chain), start=1):
            steps[cell] = start + k
    return steps


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
    training = Training(graph, updates, stands_for=stand_ins(forms, updates), forms=forms,
                        steps=step_numbers(graph, updates))
    for key in training.stands_for:
        cells = example_cells(graph, updates[key].parameter, stops, onward)
        pairs = (output_pairs(graph, cells, parameters, stops, moving)
                 or inline_outputs(graph, updates[key], parameters))
        if pairs:
            training.outputs[key] = pairs
            training.forward[key] = cells
    if not training.outputs:
        return None
    training.losses = example_losses(graph, set(updates), training.outputs, training.forward, training.steps)
    return training
