"""A layered template (``stack``) as the engine's expressions: one named quantity per column.

The forward pass names every value a course draws: a recurrent layer's sums z and states h at
each time step, a convolution's sums c and activations a_c at each position, an attention head's
q, k, v, scores S, weights A and outputs y, the pooled p, the outputs o and a_o and the losses.
The sums (and the pooled values, scores, attention weights and outputs) are *cuts*: each gets a
δ column ∂E/∂cut. Backpropagation runs over the cuts from the loss down: each cut's δ is the sum,
over the cuts that read it directly, of their δ times the local derivative, and a parameter's
gradient the same sum over the cuts it enters, one term per time step, position or token. A cut
is read through a stand-in variable, so the chain rule stops there and the formula points at
the δ cell. The gradient check recomputes the cuts with a parameter moved by ±h, one helper
column each, so no formula recomputes the whole network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sheetprop import engine
from sheetprop.engine import Expr, var
from sheetprop.network import labels, losses

_ACTIVATE = {"sigmoid": engine.sigmoid, "tanh": engine.tanh, "relu": engine.relu, "linear": engine.linear}


@dataclass(frozen=True)
class Grid:
    """Labels laid out as the course draws them (an image, a kernel, a matrix of scores)."""
    title: str
    rows: tuple[tuple[str, ...], ...]
    example: int = 0          # 0: the parameters, shared by every example


class Stacked:
    """Builds a layered template's quantities into ``network`` (a ``Network``)."""

    def __init__(self, network):
        self.net = network
        self.template = network.template
        self.cuts: list[list[tuple[str, Expr]]] = []   # by example: (label, node), forward order
        self.grids: list[Grid] = []
        self._locals: dict[Expr, Expr] = {}
        self._stand: dict[Expr, Expr] = {}
        self._loss_local: Expr | None = None
        self._perturbed: dict[Expr, tuple] = {}

    # --- forward ------------------------------------------------------------------------------

    def forward(self) -> Expr:
        t = self.template
        stack = t.stack
        count = t.examples
        feature, dense = stack[0], stack[-1]
        pool = stack[1] if len(stack) == 3 else None
        params = self._parameters(feature)
        shape_in = t.input_shape
        outputs = dense.units
        n_sources = len(dense.get("weights")[0])
        w = [[self._trained(labels.weight(j * n_sources + i + 1), "weight", dense.get("weights")[j][i])
              for i in range(n_sources)] for j in range(outputs)]
        b = [self._trained(labels.neuron_bias(labels.output(j + 1)), "bias", dense.get("biases")[j])
             for j in range(outputs)]
        loss = losses.get(t.loss)
        example_losses = []
        for n, (inputs, targets) in enumerate(zip(t.example_inputs, t.example_targets), start=1):
            own = _own(n, count)
            self.cuts.append([])
            target_nodes = [self.net._given(own(labels.target(k + 1)), "target", v) for k, v in enumerate(targets)]
            if feature.kind == "recurrent":
                x = [[self.net._given(own(labels.sequence_input(f + 1, s + 1)), "input", inputs[s][f])
                      for f in range(shape_in[1])] for s in range(shape_in[0])]
                out = self._recurrent(feature, params, x, own, n)
            else:
                x = [[self.net._given(own(labels.grid_input(r + 1, c + 1)), "input", inputs[r][c])
                      for c in range(shape_in[1])] for r in range(shape_in[0])]
                self._grid("x (input)" if feature.kind == "conv" else "x (tokens × dimensions)",
                           x, own, n)
                out = (self._conv if feature.kind == "conv" else self._attention)(feature, params, x, own, n)
            if pool is not None:
                out = self._pool(pool, out, own, n)
            sources = _flatten(out)
            nets = [self._cut(own(labels.output(j + 1)),
                              _weighted_sum(w[j], sources) + b[j]) for j in range(outputs)]
            if dense.activation == "softmax":
                activated = [self.net._add(own(labels.activation(labels.output(j + 1))), engine.softmax(nets, j),
                                           "forward") for j in range(outputs)]
            else:
                activated = [self.net._add(own(labels.activation(labels.output(j + 1))),
                                           _ACTIVATE[dense.activation](o), "forward") for j, o in enumerate(nets)]
            terms = loss.terms(activated, target_nodes)
            if loss.per_output is not None:
                terms = [self.net._add(own(labels.output_loss(k + 1)), term, "loss") for k, term in enumerate(terms)]
            example_losses.append(_sum(terms))
        if count == 1:
            return example_losses[0]
        named = [self.net._add(labels.for_example(labels.EXAMPLE_LOSS, n, count), e, "loss")
                 for n, e in enumerate(example_losses, start=1)]
        return _sum(named) / count

    def _parameters(self, layer) -> dict[str, list]:
        """The feature layer's trained parameters, made first (shared by every example)."""
        if layer.kind == "recurrent":
            wx = self._matrix(layer.get("input_weights"), lambda j, f: labels.recurrent_weight("x", j, f))
            wh = self._matrix(layer.get("recurrent_weights"), lambda j, i: labels.recurrent_weight("h", j, i))
            b = [self._trained(labels.neuron_bias(labels.hidden(j + 1)), "bias", v)
                 for j, v in enumerate(layer.get("biases"))]
            self.grids.append(Grid("Wx (units × inputs)", _labels_of(wx, self.net)))
            self.grids.append(Grid("Wh (units × units)", _labels_of(wh, self.net)))
            return {"wx": wx, "wh": wh, "b": b}
        if layer.kind == "conv":
            kernels = []
            for k, kernel in enumerate(layer.get("kernels"), start=1):
                kernels.append(self._matrix(kernel, lambda r, c, k=k: labels.kernel(k, r, c)))
                self.grids.append(Grid(f"kernel {k}", _labels_of(kernels[-1], self.net)))
            b = [self._trained(labels.neuron_bias(f"K{k}"), "bias", v)
                 for k, v in enumerate(layer.get("biases"), start=1)]
            return {"kernels": kernels, "b": b}
        out = {}
        for kind, key in (("q", "query"), ("k", "key"), ("v", "value")):
            out[kind] = self._matrix(layer.get(key), lambda i, d, kind=kind: labels.projection_weight(kind, i, d))
            self.grids.append(Grid(f"W{kind} ({key} × input dimension)", _labels_of(out[kind], self.net)))
        return out

    def _recurrent(self, layer, params, x, own, n):
        units, steps = layer.units, len(x)
        activate = _ACTIVATE[layer.activation]
        h = [self.net._given(own(labels.state(j + 1, 0)), "input", layer.get("initial_state")[j])
             for j in range(units)]
        states, sums = [[label] for label in self._names(h)], [[] for _ in range(units)]
        for s in range(1, steps + 1):
            z = [self._cut(own(labels.recurrent_net(j + 1, s)),
                           _weighted_sum(params["wx"][j], x[s - 1]) + _weighted_sum(params["wh"][j], h)
                           + params["b"][j]) for j in range(units)]
            h = [self.net._add(own(labels.state(j + 1, s)), activate(zj), "forward") for j, zj in enumerate(z)]
            for j in range(units):
                states[j].append(own(labels.state(j + 1, s)))
                sums[j].append(own(labels.recurrent_net(j + 1, s)))
        self.grids.append(Grid("x (inputs × time)", tuple(tuple(self._names(row)) for row in zip(*x)), n))
        self.grids.append(Grid("h_t (units × time, from t0)", tuple(map(tuple, states)), n))
        self.grids.append(Grid("∂E/∂z_t (units × time)", tuple(tuple(map(labels.gradient, row)) for row in sums), n))
        return h

    def _conv(self, layer, params, x, own, n):
        activate = _ACTIVATE[layer.activation]
        maps = []
        for k, (kernel, bias) in enumerate(zip(params["kernels"], params["b"]), start=1):
            side = len(kernel)
            rows, cols = len(x) - side + 1, len(x[0]) - side + 1
            grid = []
            for r in range(rows):
                grid.append([])
                for c in range(cols):
                    terms = [kernel[i][j] * x[r + i][c + j] for i in range(side) for j in range(side)]
                    net = self._cut(own(labels.feature_map(k, r + 1, c + 1)), _sum(terms) + bias)
                    grid[-1].append(self.net._add(own(labels.activation(labels.feature_map(k, r + 1, c + 1))),
                                                  activate(net), "forward"))
            maps.append(grid)
            self._grid(f"feature map {k} ({layer.activation})", grid, own, n)
            self.grids.append(Grid(f"∂E/∂c (map {k}, before {layer.activation})", tuple(
                tuple(labels.gradient(own(labels.feature_map(k, r + 1, c + 1))) for c in range(cols))
                for r in range(rows)), n))
        return maps

    def _attention(self, layer, params, x, own, n):
        tokens = len(x)
        projected = {}
        for kind in ("q", "k", "v"):
            weights = params[kind]
            projected[kind] = [[self._cut(own(labels.projected(kind, s + 1, i + 1)), _weighted_sum(weights[i], x[s]))
                                for i in range(len(weights))] for s in range(tokens)]
            self._grid(f"{kind.upper()} (tokens × components)", projected[kind], own, n)
        scale = math.sqrt(len(params["q"]))
        scores = [[self._cut(own(labels.score(s + 1, u + 1)),
                             engine.div(_weighted_sum(projected["q"][s], projected["k"][u]), scale))
                   for u in range(tokens)] for s in range(tokens)]
        weights = [[self._cut(own(labels.attention_weight(s + 1, u + 1)), engine.softmax(scores[s], u))
                    for u in range(tokens)] for s in range(tokens)]
        values = projected["v"]
        out = [[self._cut(own(labels.attended(s + 1, i + 1)),
                          _weighted_sum(weights[s], [values[u][i] for u in range(tokens)]))
                for i in range(len(values[0]))] for s in range(tokens)]
        self._grid(f"S = q·k/√{len(params['q'])} (queries × keys)", scores, own, n)
        self._grid("A = softmax of each row of S", weights, own, n)
        self.grids.append(Grid("∂E/∂A", tuple(tuple(labels.gradient(label) for label in self._names(row))
                                               for row in weights), n))
        self._grid("y = A·V (tokens × components)", out, own, n)
        return out

    def _pool(self, layer, values, own, n):
        if layer.size:  # maps: each size × size window's mean
            s, pooled = layer.size, []
            for k, grid in enumerate(values, start=1):
                pooled.append([[self._cut(own(labels.pooled(k, r + 1, c + 1)),
                                          engine.div(_sum([grid[r * s + i][c * s + j] for i in range(s)
                                                           for j in range(s)]), s * s))
                                for c in range(len(grid[0]) // s)] for r in range(len(grid) // s)])
            return pooled
        if isinstance(values[0][0], list):  # maps: each map's mean
            return [self._cut(own(labels.pooled(k)), engine.div(_sum(_flatten(grid)), len(_flatten(grid))))
                    for k, grid in enumerate(values, start=1)]
        return [self._cut(own(labels.pooled(i + 1)), engine.div(_sum(list(column)), len(values)))
                for i, column in enumerate(zip(*values))]  # tokens: each dimension's mean

    # --- helpers ------------------------------------------------------------------------------

    def _trained(self, label: str, role: str, value: float) -> Expr:
        return self.net._given(label, role, value, trained=True)

    def _matrix(self, values, label):
        return [[self._trained(label(r + 1, c + 1), "weight", v) for c, v in enumerate(row)]
                for r, row in enumerate(values)]

    def _cut(self, label: str, node: Expr) -> Expr:
        node = self.net._add(label, node, "forward")
        self.cuts[-1].append((label, node))
        return node

    def _names(self, nodes) -> list[str]:
        return [_label(self.net, node) for node in nodes]

    def _grid(self, title: str, grid, own, n) -> None:
        self.grids.append(Grid(title, tuple(tuple(self._names(row)) for row in grid), n))

    # --- backward -----------------------------------------------------------------------------

    def gradients(self, loss: Expr, trained: list[Expr]) -> list[Expr]:
        """Adds the δ columns (each example's, from the loss down); returns ∂E_total/∂p for each
        trained parameter, as sums over the cuts it enters."""
        every = [node for example in self.cuts for _, node in example]
        self._stand = {node: var(f"cut·{k}") for k, node in enumerate(every)}
        delta_stand = {node: var(f"δ·{k}") for k, node in enumerate(every)}
        self._loss_local = _local(loss, self._stand)
        surrogate = self._loss_local
        for node in every:
            self._locals[node] = _local(node, self._stand, keep=node)
            surrogate = surrogate + delta_stand[node] * self._locals[node]
        found = engine.grad(surrogate, [self._stand[node] for node in every] + trained)
        by_cut = dict(zip(every, found))
        back = {stand: node for node, stand in self._stand.items()}
        for example in self.cuts:
            for label, node in reversed(example):
                delta = engine.substitute(by_cut[node], back)
                back[delta_stand[node]] = self.net._add(labels.gradient(label), delta, "backward")
        return [engine.substitute(g, back) for g in found[len(every):]]

    def finite_difference(self, parameter: Expr, h: Expr) -> tuple[list[tuple[str, Expr]], Expr]:
        """(helper columns, fd): each cut that ``parameter`` reaches recomputed with it moved by
        +h and by −h (a column each), then (E(p + h) − E(p − h)) / 2h over those columns."""
        if parameter not in self._perturbed:
            helpers, ends = [], []
            parameter_label = _label(self.net, parameter)
            for sign in (1, -1):
                moved = {parameter: parameter + h if sign > 0 else parameter - h}
                mapping = {stand: node for node, stand in self._stand.items()}
                for example in self.cuts:
                    for label, node in example:
                        new = engine.substitute(self._locals[node], {**mapping, **moved})
                        if new is not node:
                            helpers.append((labels.perturbed(label, parameter_label, sign), new))
                            mapping[self._stand[node]] = new
                ends.append(engine.substitute(self._loss_local, {**mapping, **moved}))
            self._perturbed[parameter] = helpers, (ends[0] - ends[1]) / (2 * h)
        return self._perturbed[parameter]


def _local(root: Expr, stand: dict[Expr, Expr], keep: Expr | None = None) -> Expr:
    """``root`` with every cut below it read through its stand-in: its direct dependence only.
    Rebuilt with the plain constructor, so putting the cuts back gives ``root`` itself."""
    memo: dict[Expr, Expr] = {}

    def visit(node: Expr) -> Expr:
        if node is not keep and node in stand:
            return stand[node]
        if not node.args:
            return node
        rebuilt = memo.get(node)
        if rebuilt is None:
            rebuilt = memo[node] = Expr(node.op, tuple(visit(a) for a in node.args), node.payload)
        return rebuilt

    return visit(root)


def _own(n: int, count: int):
    return lambda label: labels.for_example(label, n, count)


def _label(network, node: Expr) -> str:
    for q in reversed(network.quantities):
        if q.node is node:
            return q.label
    raise KeyError(node)


def _labels_of(matrix, network) -> tuple:
    return tuple(tuple(_label(network, node) for node in row) for row in matrix)


def _flatten(values) -> list:
    if isinstance(values, list):
        return [x for v in values for x in _flatten(v)]
    return [values]


def _weighted_sum(weights, sources):
    return _sum([w * x for w, x in zip(weights, sources)])


def _sum(terms):
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total
