"""Read a network from its formulas alone, cell by cell, where no table with labelled columns is.

Some students lay the exercise out one neuron or one weight per row, in their own language, or
one sheet per iteration: no header names i1, w1, ∂E/∂w1. The network is then in the formula
graph itself. A cell whose formula is σ (or tanh) of one other cell is a neuron's activation,
and that cell, a sum of products of two cells (plus a bias cell), is its weighted sum; a factor
that is another neuron's cell is a source, and of the other two factors in the first layer the
one every neuron shares is the input. A formula ``=W ± …`` that starts from a weight is that
weight's update. ``formula_graph_judge`` then judges the cells against the chain rule.
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from dataclasses import dataclass, field

from sheetprop import engine
from sheetprop.engine import ops
from sheetprop.spreadsheet import formulas
from sheetprop.spreadsheet.agree import SAME_FUNCTION_FLOOR, agree
from sheetprop.spreadsheet.references import ADDRESS, SHEET, column_letters, column_number, unquoted_sheet

from sheetprop.check.read.cells import as_number, present_rows

Key = tuple[str, str]  # (sheet, "A1")
POINTS = 4
# How far a sheet is read for a network: the exercise is a few dozen cells, a sheet per step.
MAX_ROWS, MAX_COLUMNS = 2000, 200
# A network laid out a neuron a row is the exercise's few dozen cells, or a sheet of them per
# step; past this many formulas a workbook is a grid, for the training route (find.training).
MAX_FORMULAS = 20_000
_CELL = ADDRESS
_UPDATE = re.compile(r"^=\s*\(?\s*" + SHEET + r"?\$?([A-Z]{1,3})\$?([0-9]+)\s*[-+]")


def name(key: Key) -> str:
    return f"{key[0]}!{key[1]}"


@dataclass
class Neuron:
    net: Key
    act: Key
    activation: str                       # sigmoid | tanh
    terms: list[tuple[Key | None, Key]]   # (source or None for a bias, weight): the student's own
    layer: int = 0


@dataclass
class GraphNetwork:
    neurons: list[Neuron]
    inputs: list[Key]
    targets: dict[Key, Key] = field(default_factory=dict)      # output act -> target cell
    updates: dict[Key, Key] = field(default_factory=dict)      # update cell -> weight
    eta: Key | None = None
    wrong_sources: dict[Key, list[tuple[Key, Key]]] = field(default_factory=dict)  # net -> (read, meant)
    wrong_weights: dict[Key, tuple[Key, Key]] = field(default_factory=dict)        # net -> (read, meant)

    @property
    def sheet(self) -> str:
        return self.neurons[0].net[0]

    def describe(self) -> str:
        sizes = Counter(n.layer for n in self.neurons)
        layers = [len(self.inputs)] + [sizes[k] for k in sorted(sizes)]
        sheets = sorted({n.net[0] for n in self.neurons})
        return ("layers " + "-".join(map(str, layers)) + f", {len(self.updates)} weight updates"
                + (f", over sheets {', '.join(sheets)}" if len(sheets) > 1 else ""))

    @property
    def weights(self) -> set[Key]:
        return {w for n in self.neurons for _, w in n.terms}


class Graph:
    """Every cell of the workbook: formulas read into expressions over cell variables, typed numbers."""

    def __init__(self, books):
        formula_book, value_book = books
        self.exprs: dict[Key, engine.Expr] = {}
        self.texts: dict[Key, str] = {}
        self.numbers: dict[Key, float] = {}
        self.too_large = False
        cells = []  # (sheet, key, content) first: a grid of formulas is told before any is read
        for sheet in formula_book.worksheets:
            for row in present_rows(sheet, 1, min(sheet.max_row, MAX_ROWS)):
                for found in row:
                    r, c, content = found.row, found.column, found.value
                    if content is None or c > MAX_COLUMNS:
                        continue
                    cells.append((sheet.title, r, c, content.text if hasattr(content, "text") else content))
        if sum(isinstance(content, str) and content.startswith("=") for *_, content in cells) > MAX_FORMULAS:
            self.too_large = True
            cells = []
        value_sheets = {sheet.title: value_book[sheet.title] for sheet in formula_book.worksheets}
        for title, r, c, content in cells:
            key = (title, f"{column_letters(c)}{r}")
            if isinstance(content, str) and content.startswith("="):
                try:
                    self.exprs[key] = formulas.parse(content, lambda ref, s=title: engine.var(
                        name((ref[0] or s, f"{ref[1]}{ref[2]}"))))
                    self.texts[key] = content
                except (formulas.FormulaError, RecursionError):
                    pass
            else:
                number = as_number(content)
                if number is None and isinstance(content, str):
                    try:  # a number typed as text ('0): every spreadsheet computes with it
                        number = float(content)
                    except ValueError:
                        number = None
                if number is None:
                    number = as_number(value_sheets[title].cell(r, c).value)
                if number is not None:
                    self.numbers[key] = number
        self.reads = {key: [_key(v.payload) for v in engine.topological_order([e]) if v.op == "var"]
                      for key, e in self.exprs.items()}
        self.readers: dict[Key, list[Key]] = {}
        for key, refs in self.reads.items():
            for ref in refs:
                self.readers.setdefault(ref, []).append(key)
        self.alias: dict[Key, Key] = {}
        for key, e in self.exprs.items():  # =X: a copy of X
            if e.op == "var":
                self.alias[key] = _key(e.payload)

    def root(self, key: Key) -> Key:
        seen = set()
        while key in self.alias and key not in seen:
            seen.add(key)
            key = self.alias[key]
        return key

    def evaluate(self, base: dict[Key, float]) -> dict[Key, float]:
        """Every formula cell's value with the typed cells ``base`` overrides (the rest as typed)."""
        values: dict[Key, float] = {}

        def value(key: Key, depth: int = 0) -> float:
            if key in values:
                return values[key]
            if key in base:
                return base[key]
            if key in self.exprs and depth < 200:
                values[key] = math.nan  # a circle reads NaN
                env = {name(r): value(r, depth + 1) for r in self.reads[key]}
                try:
                    values[key] = engine.evaluate([self.exprs[key]], env)[0]
                except (ArithmeticError, ValueError):
                    values[key] = math.nan
                return values[key]
            return self.numbers.get(key, 0.0)

        for key in self.exprs:
            value(key)
        return values


def _key(text: str) -> Key:
    sheet, _, cell = text.rpartition("!")
    return sheet, cell


def _terms(e: engine.Expr) -> list[engine.Expr] | None:
    if e.op == "add":
        left, right = _terms(e.args[0]), _terms(e.args[1])
        return None if left is None or right is None else left + right
    if e.op == "var" or (e.op == "mul" and all(a.op == "var" for a in e.args)):
        return [e]
    return None


def _activation_of(graph: Graph, key: Key) -> tuple[Key, str] | None:
    """(the cell, sigmoid|tanh) where ``key``'s formula applies an activation to one cell."""
    refs = set(graph.reads.get(key, ()))
    if len(refs) != 1:
        return None
    (ref,) = refs
    rng = random.Random(1)
    points = [rng.uniform(-3, 3) for _ in range(3)]
    try:
        got = [engine.evaluate([graph.exprs[key]], {name(ref): x})[0] for x in points]
    except (ArithmeticError, ValueError):
        return None
    for activation in ("sigmoid", "tanh"):
        f = ops.TABLE[activation].value  # the engine's own float rule
        if all(agree(g, f(x), 0.0, SAME_FUNCTION_FLOOR, nan_agrees=False) for g, x in zip(got, points)):
            return ref, activation
    return None


def find_networks(books) -> tuple[Graph, list[GraphNetwork]]:
    graph = Graph(books)
    if graph.too_large:
        return graph, []
    neurons: dict[Key, Neuron] = {}
    for key in graph.exprs:
        found = _activation_of(graph, key)
        if found is None:
            continue
        net = graph.root(found[0])
        terms = _terms(graph.exprs.get(net, engine.ZERO))
        if not terms or not any(t.op == "mul" for t in terms):
            continue
        pairs = [(None if t.op == "var" else [graph.root(_key(a.payload)) for a in t.args],
                  graph.root(_key(t.payload)) if t.op == "var" else None) for t in terms]
        neurons[net] = Neuron(net, key, found[1], [(tuple(p) if p else None, w) for p, w in pairs])
    if not neurons:
        return graph, []
    neuron_cells = {n.net: n for n in neurons.values()} | {n.act: n for n in neurons.values()}
    # Which factor is the source: another neuron's cell, else the input every neuron shares.
    shared = Counter(f for n in neurons.values() for pair, _ in n.terms if pair for f in set(pair))
    for n in neurons.values():
        terms = []
        for pair, bias in n.terms:
            if pair is None:
                terms.append((None, bias))
                continue
            a, b = pair
            if (b in neuron_cells) > (a in neuron_cells) or (
                    b not in neuron_cells and a not in neuron_cells and shared[b] > shared[a]):
                a, b = b, a
            terms.append((a, b))
        n.terms = terms
    # Layers, and the networks as groups of neurons joined by their sources.
    def layer(n: Neuron, depth=0) -> int:
        if not n.layer:
            sources = [neuron_cells[s] for s, _ in n.terms if s in neuron_cells and neuron_cells[s] is not n]
            n.layer = 1 + max((layer(s, depth + 1) for s in sources), default=0) if depth < 20 else 1
        return n.layer
    for n in neurons.values():
        layer(n)
    groups: list[list[Neuron]] = []
    for n in sorted(neurons.values(), key=lambda n: n.layer):
        linked = [g for g in groups if any(s in neuron_cells and neuron_cells[s] in g for s, _ in n.terms)]
        for other in linked[1:]:  # the neuron joins groups: one network
            linked[0].extend(other)
            groups.remove(other)
        if linked:
            linked[0].append(n)
        else:
            groups.append([n])
    networks = [_network(graph, group, neuron_cells) for group in groups]
    return graph, [net for net in networks if net is not None]


def _network(graph: Graph, group: list[Neuron], neuron_cells) -> GraphNetwork | None:
    if max(n.layer for n in group) < 2:
        return None
    inputs = sorted({s for n in group if n.layer == 1 for s, _ in n.terms if s is not None})
    network = GraphNetwork(sorted(group, key=lambda n: (n.layer, n.net)), inputs)
    # A sum that reads another neuron's weighted sum where its activation belongs.
    for n in group:
        for k, (source, weight) in enumerate(n.terms):
            if source in neuron_cells and source == neuron_cells[source].net:
                network.wrong_sources.setdefault(n.net, []).append((source, neuron_cells[source].act))
                n.terms[k] = (neuron_cells[source].act, weight)
    _alias_typed_copies(graph, network)
    weights = network.weights
    for key, text in graph.texts.items():
        match = _UPDATE.match(text)
        if match and key not in neuron_cells:
            quoted, plain, column, row = match.groups()
            sheet = unquoted_sheet(quoted, plain) or key[0]
            start = graph.root((sheet, f"{column}{row}"))
            if start != key and start in weights or start in _orphans(graph, network):
                network.updates[key] = start
    _repair_weight_references(graph, network)
    outputs = [n for n in group if not any(s == n.act for m in group for s, _ in m.terms)]
    givens = set(inputs) | network.weights | {n.act for n in group} | {n.net for n in group}
    for n in outputs:
        partners = Counter(graph.root(r) for reader in graph.readers.get(n.act, ()) if reader not in neuron_cells
                           for r in graph.reads[reader] if graph.root(r) not in givens
                           and graph.root(r) not in graph.exprs)
        if partners:
            network.targets[n.act] = partners.most_common(1)[0][0]
    # η: the typed cell the updates read that is none of the network's own.
    etas = Counter(graph.root(r) for u in network.updates for r in graph.reads[u]
                   if graph.root(r) not in graph.exprs and graph.root(r) not in givens)
    if etas:
        network.eta = etas.most_common(1)[0][0]
    return network


def _feed_row(graph: Graph, network: GraphNetwork) -> tuple[str, str] | None:
    """The row that holds the typed inputs and weights, where one row holds most of them (a feed
    row, as opposed to a weight a row or a sheet per step)."""
    typed = sorted(k for k in network.weights | set(network.inputs) if k in graph.numbers)
    rows = Counter((k[0], _CELL.fullmatch(k[1]).group(2)) for k in typed)
    if not rows:
        return None
    row, count = rows.most_common(1)[0]
    return row if count >= 3 and 2 * count >= len(typed) else None


def _alias_typed_copies(graph: Graph, network: GraphNetwork) -> None:
    """A row that types the forward row's inputs and weights again (a "back" row the updates
    start from) holds copies of them: each typed cell equal to the forward row's cell above it."""
    feed = _feed_row(graph, network)
    if feed is None:
        return
    sheet, row = feed
    used = network.weights | set(network.inputs)
    for key, number in graph.numbers.items():
        if key in used:
            continue
        column, own_row = _CELL.fullmatch(key[1]).groups()
        canonical = (sheet, f"{column}{row}")
        if key[0] == sheet and own_row != row and canonical in graph.numbers and key not in graph.alias \
                and graph.numbers[canonical] == number and graph.readers.get(key):
            graph.alias[key] = canonical


def _orphans(graph: Graph, network: GraphNetwork) -> set[Key]:
    """Typed cells of the forward row among the weights (between the first and the last) that
    no sum reads."""
    feed = _feed_row(graph, network)
    if feed is None:
        return set()
    column = lambda key: column_number(_CELL.fullmatch(key[1]).group(1))  # noqa: E731
    on_feed = [w for w in network.weights if (w[0], _CELL.fullmatch(w[1]).group(2)) == feed]
    if not on_feed:
        return set()
    low, high = min(map(column, on_feed)), max(map(column, on_feed))
    used = network.weights | set(network.inputs)
    return {key for key in graph.numbers if (key[0], _CELL.fullmatch(key[1]).group(2)) == feed
            and low < column(key) < high and key not in used}


def _repair_weight_references(graph: Graph, network: GraphNetwork) -> None:
    """A weight two sums read while an updated weight beside it none reads: one of the two reads
    is a slip. The one kept is the one whose weights, by input, run on in even column steps."""
    uses = Counter(w for n in network.neurons for s, w in n.terms if s is not None)
    orphans = sorted(set(network.updates.values()) - network.weights)
    for weight, count in uses.items():
        if count != 2 or not orphans:
            continue
        orphan = orphans.pop(0)
        best = None
        for n in network.neurons:
            for k, (source, w) in enumerate(n.terms):
                if w != weight:
                    continue
                n.terms[k] = (source, orphan)
                score = _regularity(network)
                n.terms[k] = (source, w)
                if best is None or score > best[0]:
                    best = (score, n, k)
        _, n, k = best
        network.wrong_weights[n.net] = (weight, orphan)
        n.terms[k] = (n.terms[k][0], orphan)


def _regularity(network: GraphNetwork) -> int:
    score = 0
    for source in {s for n in network.neurons for s, _ in n.terms if s is not None}:
        cols = [column_number(_CELL.fullmatch(w[1]).group(1))
                for n in network.neurons for s, w in n.terms if s == source]
        steps = [b - a for a, b in zip(cols, cols[1:])]
        score += max(Counter(steps).values(), default=0)
    return score
