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

import re
from dataclasses import dataclass, field

from sheetprop import engine
from sheetprop.check.find.cell_graph import CellGraph, Key, key_of, name  # noqa: F401 (the route's names)
from sheetprop.spreadsheet.references import column_letters, column_number

LOSS_WORDS = ("loss", "error", "cost", "erro", "誤差", "損失")
# A label naming a derivative or an error signal, not the loss: "error gradient", "dE/dw", "δ".
_NOT_LOSS = re.compile(r"grad|delta|deriv|δ|∂|\bd\s*[A-Za-z]*\s*/\s*d|signal|term", re.IGNORECASE)
_LOSS_SYMBOL = re.compile(r"E(\s*_?\s*(total|tot|sum))?", re.IGNORECASE)


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
    losses: dict[Key, Key] = field(default_factory=dict)   # update -> the loss cell its example labels
    steps: dict[Key, int] = field(default_factory=dict)    # update -> its step, from 1 (Adam's t)

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
    for node in engine.topological_order([step]):
        if node.op == "sub":
            for t_node, y_node in (node.args, node.args[::-1]):
                if t_node.op == "var" and key_of(t_node.payload) in graph.numbers and y_node.op not in ("var", "const") \
                        and any(v.op == "var" and key_of(v.payload) == parameter for v in engine.topological_order([y_node])):
                    return True
    return False


def example_cells(graph: CellGraph, parameter: Key, stops: set[Key]) -> set[Key]:
    """The cells that depend on ``parameter``, up to (not into) the next updates."""
    found, stack = set(), [parameter]
    while stack:
        key = stack.pop()
        for reader in graph.readers.get(key, ()):
            if reader not in found and reader not in stops and reader in graph.exprs:
                found.add(reader)
                stack.append(reader)
    return found


def output_pairs(graph: CellGraph, cells: set[Key], parameters: set[Key], updates=(),
                 subtractions: dict | None = None) -> list[tuple[Key, Key]]:
    """(output, target): a typed cell subtracted from one of ``cells`` (or it from the typed
    cell) in a formula of ``cells``, else of the ``updates`` that read them: ``t − y`` as the
    student writes it for the loss or δ, or inside the update (ADALINE's w + η·(t − y)·x).
    ``subtractions`` keeps each formula's cell-minus-cell pairs between calls."""
    subtractions = {} if subtractions is None else subtractions

    def held(keys) -> list[tuple[Key, Key]]:
        pairs = []
        for key in sorted(keys):
            if key not in subtractions:
                subtractions[key] = [tuple(key_of(x.payload) for x in node.args)
                                     for node in engine.topological_order([graph.exprs[key]])
                                     if node.op == "sub" and all(a.op == "var" for a in node.args)]
            for a, b in subtractions[key]:
                for y, t in ((a, b), (b, a)):
                    if y in cells and t in graph.numbers and t not in parameters and (y, t) not in pairs:
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
    (ADALINE's w + η·(t − w·x)·x): the expression becomes a cell of its own, named after the
    update (``D3:y``), that the derivatives are taken through."""
    pairs = []
    for node in engine.topological_order([update.step]):
        if node.op != "sub":
            continue
        for t_node, y_node in (node.args, node.args[::-1]):
            if t_node.op != "var" or y_node.op in ("var", "const"):
                continue
            t = key_of(t_node.payload)
            reads = [key_of(v.payload) for v in engine.topological_order([y_node]) if v.op == "var"]
            if t not in graph.numbers or t in parameters or update.parameter not in reads:
                continue
            y = (update.cell[0], f"{update.cell[1]}:y{len(pairs) + 1}")
            graph.exprs[y], graph.reads[y] = y_node, reads
            for ref in reads:
                graph.readers.setdefault(ref, []).append(y)
            pairs.append((y, t))
    return pairs


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


def loss_cell(training: Training, update: Key, labelled: set[Key], steps_of_outputs: dict[Key, set[int]],
              cones: dict[Key, set[Key]]) -> Key | None:
    """The cell of the example labelled as its loss (``LOSS_WORDS``, E, E_total) that is computed
    from every one of its outputs, not linear in them (t − y labelled "error" is no loss); the
    nearest such cell. A total over the examples of an online training (outputs of other
    steps) stands for the one term of it that is this example's."""
    graph, cells, step = training.graph, training.forward[update], training.steps[update]
    ys = {y for y, _ in training.outputs[update]}

    def reaches_all(key: Key) -> bool:
        return all(graph.ancestors_reach([key], y, cells) for y in ys)

    found = []
    for key in labelled & cells:
        while key is not None and key not in ys:
            if key not in cones:
                cones[key] = _cone(training, key)
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


def _cone(training: Training, key: Key, limit: int = 5000) -> set[Key]:
    """The formulas ``key`` is computed from, down to the parameters and updates."""
    graph, seen, stack = training.graph, {key}, [key]
    while stack and len(seen) < limit:
        for ref in graph.reads.get(stack.pop(), ()):
            if ref not in seen and ref in graph.exprs and ref not in training.updates:
                seen.add(ref)
                stack.append(ref)
    return seen


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


def find_training(books) -> Training | None:
    """The training the workbook's formulas hold, or None where no parameter is updated from itself."""
    graph = CellGraph(books)
    if graph.too_large:
        return None
    updates = find_updates(graph)
    if not updates:
        return None
    training = Training(graph, updates, steps=step_numbers(graph, updates))
    stops = set(updates)
    parameters = {u.parameter for u in updates.values()}
    labelled, subtractions = loss_labelled(graph), {}
    for key, update in updates.items():
        cells = example_cells(graph, update.parameter, stops)
        pairs = output_pairs(graph, cells, parameters, stops, subtractions) or inline_outputs(graph, update, parameters)
        if pairs:
            training.outputs[key] = pairs
            training.forward[key] = cells
    if not training.outputs:
        return None
    steps_of_outputs: dict[Key, set[int]] = {}
    for key, pairs in training.outputs.items():
        for y, _ in pairs:
            steps_of_outputs.setdefault(y, set()).add(training.steps[key])
    cones: dict[Key, set[Key]] = {}
    for key in training.outputs:
        loss = loss_cell(training, key, labelled, steps_of_outputs, cones)
        if loss is not None:
            training.losses[key] = loss
    return training
