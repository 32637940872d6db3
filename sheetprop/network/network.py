"""The tiny network as an expression graph: one named quantity per spreadsheet column.

Builds, from a template, the forward pass of every example (h, a_h, o, a_o), the losses (E1..,
E_total, the mean over the examples), every ∂E_total/∂w (and ∂E_total/∂b for trained biases)
by the engine's chain rule, and the optimizer's step that turns one row's values into the
next row's. Knows nothing of cells or files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

from sheetprop import engine

from sheetprop.network import labels, losses, optimizers
from sheetprop.engine import Expr, var
from sheetprop.engine.numeric import compile_function
from sheetprop.network.optimizers import LEARNING_RATE
from sheetprop.engine.printers import MathPrinter
from sheetprop.network.stacked import Stacked
from sheetprop.network.template import Template

GIVEN_ROLES = ("target", "input", "weight", "bias")
# Quantities whose value in one row comes from the row above (or, in the first row, a start).
CARRIED_ROLES = GIVEN_ROLES + ("optimizer",)
_ACTIVATE = {"sigmoid": engine.sigmoid, "tanh": engine.tanh, "relu": engine.relu,
             "linear": engine.linear}


@dataclass(frozen=True)
class Quantity:
    label: str   # the column header: "w1", "a_h1", "E_total", "∂E/∂w1", "v_w1"
    node: Expr   # a variable for given and optimizer quantities, an expression over them otherwise
    role: str    # target | input | weight | bias | forward | loss | gradient | gradcheck | optimizer


gradient_label = labels.gradient


def previous(label: str) -> Expr:
    """The variable standing for ``label``'s value in the row before."""
    return var(f"previous {label}")


FINITE_DIFFERENCE_STEP = var("h")  # the gradient check's w ± h
DEFAULT_FINITE_DIFFERENCE_STEP = 1e-4  # central differences: error ~h², far above float rounding


@dataclass
class Network:
    template: Template
    gradcheck: bool = False  # beside each ∂E/∂w, the same derivative by finite differences
    quantities: list[Quantity] = field(default_factory=list)

    def __post_init__(self):
        t = self.template
        self.optimizer = optimizers.get(t.optimizer)
        self._start: dict[str, float] = {}
        self._next_state_cache: dict[str, Expr] | None = None
        self._compiled = None  # (forward, step), see _row_functions
        self._trained: list[Quantity] = []
        self._trained_by_layer: list[list[Quantity]] = []  # layers are made in order
        self._nets: list[list[list[Expr]]] = []  # by example, by layer: each neuron's weighted sum
        self._stacked = Stacked(self) if t.stack else None  # a layered template's builder
        self._build_forward_and_loss()
        for parameter, derivative in zip(self._trained, self._gradients()):
            chain_rule = self._add(gradient_label(parameter.label), derivative, "gradient")
            if self.gradcheck:
                if self._stacked is not None:  # the cuts recomputed with p ± h, a column each
                    for label, node in self._stacked.finite_difference(parameter.node, FINITE_DIFFERENCE_STEP)[0]:
                        self._add(label, node, "gradcheck")
                numeric = self._add(labels.finite_difference(parameter.label),
                                    self.finite_difference(parameter.node), "gradcheck")
                self._add(labels.gradcheck_error(parameter.label), chain_rule - numeric, "gradcheck")
        self._build_optimizer_state()

    # --- construction ---------------------------------------------------------------------------

    def _build_forward_and_loss(self):
        t = self.template
        if self._stacked is not None:
            self.loss = self._add(labels.LOSS, self._stacked.forward(), "loss")
            return
        count = t.examples
        hidden_layers = len(t.layers) - 2
        parameters = [None] * (len(t.layers) - 1)  # per layer: (weights by neuron, biases by neuron)

        def layer_parameters(layer):
            """Layer ``layer``'s weights (numbered on from the layers before) and biases."""
            if parameters[layer] is None:
                trained_before = len(self._trained)
                n_from, n_to = t.layers[layer], t.layers[layer + 1]
                first = sum(a * b for a, b in zip(t.layers[:layer], t.layers[1:layer + 1]))
                weights = [[self._given(labels.weight(first + j * n_from + i + 1), "weight",
                                        t.weights[first + j * n_from + i], trained=True)
                            for i in range(n_from)] for j in range(n_to)]
                if t.biases is None:
                    biases = [None] * n_to
                elif t.biases_per_neuron:
                    biases = [self._given(labels.neuron_bias(_neuron(layer, j, hidden_layers, len(t.layers))),
                                          "bias", t.biases[layer][j], trained=t.train_biases)
                              for j in range(n_to)]
                else:
                    biases = [self._given(labels.bias(layer + 1), "bias", t.biases[layer],
                                          trained=t.train_biases)] * n_to
                parameters[layer] = (weights, biases)
                self._trained_by_layer.append(self._trained[trained_before:])
            return parameters[layer]

        if count > 1:  # the parameters first, then one group of columns per example
            for layer in range(len(t.layers) - 1):
                layer_parameters(layer)
        loss = losses.get(t.loss)
        example_losses = []
        for n, (inputs, targets) in enumerate(zip(t.example_inputs, t.example_targets), start=1):
            def own(label):
                return labels.for_example(label, n, count)
            target_nodes = [self._given(own(labels.target(k + 1)), "target", value)
                            for k, value in enumerate(targets)]
            sources = [self._given(own(labels.input_(k + 1)), "input", value)
                       for k, value in enumerate(inputs)]
            self._nets.append([])
            for layer, activation in enumerate(t.activations):
                weights, biases = layer_parameters(layer)
                names = [_neuron(layer, j, hidden_layers, len(t.layers)) for j in range(t.layers[layer + 1])]
                nets = [_weighted_sum(weights[j], sources, biases[j]) for j in range(len(names))]
                if activation == "softmax":  # every output's net first: each a_o reads them all
                    nets = [self._add(own(name), net, "forward") for name, net in zip(names, nets)]
                    activated = [engine.softmax(nets, j) for j in range(len(nets))]
                    sources = [self._add(own(labels.activation(name)), a, "forward")
                               for name, a in zip(names, activated)]
                else:  # h1, a_h1, h2, a_h2, … as the course's sheets have them
                    sources, named_nets = [], []
                    for name, net in zip(names, nets):
                        named_nets.append(self._add(own(name), net, "forward"))
                        sources.append(self._add(own(labels.activation(name)), _ACTIVATE[activation](named_nets[-1]),
                                                 "forward"))
                    nets = named_nets
                self._nets[-1].append(nets)
            terms = loss.terms(sources, target_nodes)
            if loss.per_output is not None:
                terms = [self._add(own(labels.output_loss(k + 1)), term, "loss")
                         for k, term in enumerate(terms)]
            example_losses.append(_sum(terms))
        if count == 1:
            total = example_losses[0]
        else:
            named = [self._add(labels.for_example(labels.EXAMPLE_LOSS, n, count), e, "loss")
                     for n, e in enumerate(example_losses, start=1)]
            total = _sum(named) / count  # the mean: a step's loss does not grow with the examples
        self.loss = self._add(labels.LOSS, total, "loss")

    def _gradients(self) -> list[Expr]:
        """∂E_total/∂p for every trained parameter p.

        With one example and at most one hidden layer, straight from the chain rule, each
        formula written out in full as the course's sheets have them. Otherwise through δ
        columns, ∂E/∂o and ∂E/∂h of every neuron and example, layer by layer from the output
        down, as backpropagation computes them: written out in full, a first-layer formula would
        hold one term per path through the net and soon pass Excel's 8,192 characters."""
        t = self.template
        if self._stacked is not None:
            return self._stacked.gradients(self.loss, [q.node for q in self._trained])
        if t.examples == 1 and len(t.layers) <= 3:
            return engine.grad(self.loss, [q.node for q in self._trained])
        count, hidden_layers = t.examples, len(t.layers) - 2
        deltas: dict[Expr, Expr] = {}  # each neuron's weighted sum -> its δ column's expression
        # The output layer's δ straight from the loss: one chain-rule pass for every example.
        outputs = [net for nets in self._nets for net in nets[-1]]
        from_loss = dict(zip(outputs, engine.grad(self.loss, outputs)))
        for n, nets in enumerate(self._nets, start=1):
            for layer in reversed(range(len(nets))):
                if layer == len(nets) - 1:
                    found = [from_loss[net] for net in nets[layer]]
                else:
                    found = _backpropagate(nets[layer + 1], nets[layer], deltas)
                for j, (net, delta) in enumerate(zip(nets[layer], found)):
                    neuron = labels.for_example(_neuron(layer, j, hidden_layers, len(t.layers)), n, count)
                    deltas[net] = self._add(gradient_label(neuron), delta, "backward")
        # ∂E/∂p = Σ over the neurons p feeds (in every example) of δ·∂net/∂p: layer by layer, since
        # a parameter enters its own layer's weighted sums directly and the later ones only
        # through them (counted already in their δ).
        gradients = {}
        for layer in range(len(t.layers) - 1):
            nets = [net for example in self._nets for net in example[layer]]
            own = [q.node for q in self._trained_by_layer[layer]]
            gradients.update(zip(own, _backpropagate(nets, own, deltas)))
        return [gradients[q.node] for q in self._trained]

    def _build_optimizer_state(self):
        for state in self.optimizer.states:
            if state.shared:
                self._state(state.label, state.start)
        for state in self.optimizer.states:
            if not state.shared:
                for parameter in self._trained:
                    self._state(state.label(parameter.label), state.start)

    def _add(self, label: str, node: Expr | None, role: str) -> Expr:
        node = var(label) if node is None else node
        self.quantities.append(Quantity(label, node, role))
        return node

    def _given(self, label: str, role: str, start: float, trained: bool = False) -> Expr:
        node = self._add(label, None, role)
        self._start[label] = start
        if trained:
            self._trained.append(self.quantities[-1])
        return node

    def _state(self, label: str, start: float) -> None:
        self._add(label, None, "optimizer")
        self._start[label] = start

    def finite_difference(self, parameter: Expr) -> Expr:
        """(E_total(p + h) − E_total(p − h)) / 2h: the loss recomputed twice, by brute force."""
        h = FINITE_DIFFERENCE_STEP
        if self._stacked is not None:  # over the helper columns of the cuts moved by ±h
            return self._stacked.finite_difference(parameter, h)[1]
        plus = engine.substitute(self.loss, {parameter: parameter + h})
        minus = engine.substitute(self.loss, {parameter: parameter - h})
        return (plus - minus) / (2 * h)

    @property
    def hyperparameters(self) -> list[optimizers.HyperParameter]:
        return list(self.optimizer.hyperparameters)

    def hyperparameter_values(self) -> dict[str, float]:
        """Each hyper-parameter's value by template key: the template's, else torch's default."""
        given = dict(self.template.hyperparameters)
        return {p.key: given.get(p.key, p.default) for p in self.hyperparameters}

    @property
    def parameters(self) -> list[Expr]:
        """The sheet-wide constants formulas read besides the row's own cells: η, the optimizer's
        hyper-parameters, the gradient check's h."""
        return ([LEARNING_RATE, *(p.symbol for p in self.hyperparameters)]
                + ([FINITE_DIFFERENCE_STEP] if self.gradcheck else []))

    # --- views --------------------------------------------------------------------------------

    @property
    def grids(self) -> list:
        """A layered template's values laid out as the course draws them (``stacked.Grid``)."""
        return list(self._stacked.grids) if self._stacked is not None else []

    @property
    def given(self) -> list[Quantity]:
        return [q for q in self.quantities if q.role in GIVEN_ROLES]

    @property
    def carried(self) -> list[Quantity]:
        """Given quantities and optimizer state: each row's value comes from the row above."""
        return [q for q in self.quantities if q.role in CARRIED_ROLES]

    @property
    def computed(self) -> list[Quantity]:
        return [q for q in self.quantities if q.role not in CARRIED_ROLES]

    @property
    def trained(self) -> list[Quantity]:
        """The parameters the optimizer steps: every weight, and the biases if trained."""
        return list(self._trained)

    def by_label(self, label: str) -> Quantity:
        for q in self.quantities:
            if q.label == label:
                return q
        raise KeyError(label)

    def starting_values(self) -> dict[str, float]:
        """The first row's given values (targets, inputs, weights, biases), by label."""
        return {q.label: self._start[q.label] for q in self.given}

    def starting_state(self) -> dict[str, float]:
        """The first row's optimizer state (zeros), by label."""
        return {q.label: self._start[q.label] for q in self.quantities if q.role == "optimizer"}

    def symbols(self) -> dict[Expr, str]:
        """Each computed quantity's node and its label, so printed math names it."""
        return {q.node: q.label for q in self.computed}

    def update(self, quantity: Quantity) -> Expr:
        """The expression for ``quantity`` in the next row. Over the previous row's values, and
        for a trained parameter also over this row's optimizer state (the cells beside it):
        w − η·∂E/∂w with plain SGD (every gradient from the old weights); the same value for
        what is not trained."""
        if quantity in self._trained:
            return self.optimizer.next_parameter(quantity.label, gradient_label(quantity.label),
                                                 previous, var)
        if quantity.role == "optimizer":
            return self._next_state()[quantity.label]
        return previous(quantity.label)

    def _next_state(self) -> dict[str, Expr]:
        # Made once: every update reads it, and remaking it per column is quadratic in the
        # parameters (a 2-8-8-8-2 net spent 24 s here).
        if self._next_state_cache is not None:
            return self._next_state_cache
        updates = dict(self.optimizer.next_shared_states(previous))
        for parameter in self._trained:
            updates.update(self.optimizer.next_states(parameter.label, gradient_label(parameter.label),
                                                      previous))
        self._next_state_cache = updates
        return updates

    def next_value(self, quantity: Quantity) -> Expr:
        """``update`` over the previous row alone: this row's state replaced by its own update."""
        update, state = self.update(quantity), self._next_state()
        if quantity not in self._trained or not state:
            return update
        return engine.substitute(update, {var(label): expr for label, expr in state.items()})

    def derivation(self, quantity: Quantity) -> str:
        """Textbook math for a computed quantity: "∂E_total/∂w5 = (a_o1 − t1)·a_o1·…"."""
        lhs = quantity.label.replace(labels.gradient(""), labels.gradient_long(""))
        return f"{lhs} = {MathPrinter().doprint(quantity.node, self.symbols())}"

    # --- numbers ------------------------------------------------------------------------------

    def _row_functions(self):
        """The compiled forward pass and update step, compiled once per network: every sheet's
        rows (one per learning rate, key and exercise alike) reuse them."""
        if self._compiled is None:
            carried, computed = self.carried, self.computed
            forward = compile_function([q.node for q in computed],
                                       [q.node for q in carried] + ([FINITE_DIFFERENCE_STEP] if self.gradcheck else []))
            by_kind = [q.label for q in carried] + [q.label for q in computed]
            step = compile_function([self.next_value(q) for q in carried],
                                    [previous(label) for label in by_kind] + self.parameters[:1 + len(self.hyperparameters)])
            self._compiled = forward, step
        return self._compiled

    def rows(self, learning_rate: float, steps: int, start: dict[str, float] | None = None,
             finite_difference_step: float = DEFAULT_FINITE_DIFFERENCE_STEP,
             hyperparameters: dict[str, float] | None = None) -> Iterator[tuple[float, ...]]:
        """One tuple of values per step, in column order (``quantities``)."""
        carried, computed = self.carried, self.computed
        constants = (finite_difference_step,) if self.gradcheck else ()
        forward, step = self._row_functions()
        by_kind = [q.label for q in carried] + [q.label for q in computed]
        settings = {**self.hyperparameter_values(), **(hyperparameters or {})}
        rates = (learning_rate, *(settings[p.key] for p in self.hyperparameters))
        order = {q.label: k for k, q in enumerate(self.quantities)}
        position = [order[label] for label in by_kind]
        first = {**self._start, **(start or {})}
        values = [first[q.label] for q in carried]
        for _ in range(steps):
            row_by_kind = (*values, *forward(*values, *constants))
            row = [0.0] * len(row_by_kind)
            for k, value in zip(position, row_by_kind):
                row[k] = value
            yield tuple(row)
            values = step(*row_by_kind, *rates)


def _backpropagate(nets: list[Expr], wrt: list[Expr], deltas: dict[Expr, Expr]) -> list[Expr]:
    """Σ_k δ_k·∂net_k/∂x for each x in ``wrt``, reading each δ_k as its own column's node.

    The chain rule runs over Σ_k D_k·net_k with a stand-in variable D_k for each δ, which is then
    swapped for δ_k's expression, so the printed formula points at δ's cell."""
    stand_ins = {var(f"δ stand-in {k}"): deltas[net] for k, net in enumerate(nets)}
    surrogate = _sum([d * net for d, net in zip(stand_ins, nets)])
    return [engine.substitute(g, stand_ins) for g in engine.grad(surrogate, wrt)]


def _neuron(layer: int, j: int, hidden_layers: int, n_layers: int) -> str:
    """The label of neuron j (from 0) of weight layer ``layer`` (from 0): h…, or o… for the last."""
    if layer == n_layers - 2:
        return labels.output(j + 1)
    return labels.hidden(j + 1, layer + 1, hidden_layers)


def _weighted_sum(weights, sources, bias):
    total = weights[0] * sources[0]
    for w, x in zip(weights[1:], sources[1:]):
        total = total + w * x
    return total if bias is None else total + bias


def _sum(terms):
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total
