"""The tiny network as an expression graph: one named quantity per spreadsheet column.

Builds, from a template, the forward pass (h, a_h, o, a_o), the losses (E1.., E_total), every
∂E_total/∂w by the engine's chain rule, and the gradient-descent step that turns one row's
values into the next row's. Knows nothing of cells or files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

from sheetprop import engine, labels
from sheetprop.engine import Expr, var
from sheetprop.numeric import compile_function
from sheetprop.printers import MathPrinter
from sheetprop.template import Template

GIVEN_ROLES = ("target", "input", "weight", "bias")
_ACTIVATE = {"sigmoid": engine.sigmoid, "tanh": engine.tanh, "relu": engine.relu,
             "linear": engine.linear}


@dataclass(frozen=True)
class Quantity:
    label: str   # the column header: "w1", "a_h1", "E_total", "∂E/∂w1"
    node: Expr   # a variable for given quantities, an expression over them otherwise
    role: str    # target | input | weight | bias | forward | loss | gradient


gradient_label = labels.gradient


def previous(label: str) -> Expr:
    """The variable standing for ``label``'s value in the row before."""
    return var(f"previous {label}")


LEARNING_RATE = var("η")
FINITE_DIFFERENCE_STEP = var("h")  # the gradient check's w ± h
DEFAULT_FINITE_DIFFERENCE_STEP = 1e-4  # central differences: error ~h², far above float rounding


@dataclass
class Network:
    template: Template
    gradcheck: bool = False  # beside each ∂E/∂w, the same derivative by finite differences
    quantities: list[Quantity] = field(default_factory=list)

    def __post_init__(self):
        t = self.template
        n_in, n_hidden, n_out = t.layers
        hidden_act, output_act = (_ACTIVATE[name] for name in t.activations)
        add = self._add

        targets = [add(labels.target(k + 1), None, "target") for k in range(n_out)]
        inputs = [add(labels.input_(k + 1), None, "input") for k in range(n_in)]
        # Weights are numbered layer by layer, by target neuron then source neuron.
        weight_number = iter(range(1, len(t.weights) + 1))
        hidden_weights = [[add(labels.weight(next(weight_number)), None, "weight") for _ in range(n_in)]
                          for _ in range(n_hidden)]
        hidden_bias = add(labels.bias(1), None, "bias") if t.biases else None
        activations = []
        for j in range(n_hidden):
            net = _weighted_sum(hidden_weights[j], inputs, hidden_bias)
            h = add(labels.hidden(j + 1), net, "forward")
            activations.append(add(labels.activation(labels.hidden(j + 1)), hidden_act(h), "forward"))
        output_weights = [[add(labels.weight(next(weight_number)), None, "weight") for _ in range(n_hidden)]
                          for _ in range(n_out)]
        output_bias = add(labels.bias(2), None, "bias") if t.biases else None
        outputs = []
        for k in range(n_out):
            o = add(labels.output(k + 1), _weighted_sum(output_weights[k], activations, output_bias),
                    "forward")
            outputs.append(add(labels.activation(labels.output(k + 1)), output_act(o), "forward"))
        losses = [add(labels.output_loss(k + 1), 0.5 * (target - output) ** 2, "loss")
                  for k, (target, output) in enumerate(zip(targets, outputs))]
        total = losses[0]
        for loss in losses[1:]:
            total = total + loss
        self.loss = add(labels.LOSS, total, "loss")
        weights = [q for q in self.quantities if q.role == "weight"]
        for weight, derivative in zip(weights, engine.grad(self.loss, [q.node for q in weights])):
            chain_rule = add(gradient_label(weight.label), derivative, "gradient")
            if self.gradcheck:
                numeric = add(labels.finite_difference(weight.label),
                              self.finite_difference(weight.node), "gradcheck")
                add(labels.gradcheck_error(weight.label), chain_rule - numeric, "gradcheck")

    def _add(self, label: str, node: Expr | None, role: str) -> Expr:
        node = var(label) if node is None else node
        self.quantities.append(Quantity(label, node, role))
        return node

    def finite_difference(self, parameter: Expr) -> Expr:
        """(E_total(p + h) − E_total(p − h)) / 2h: the loss recomputed twice, by brute force."""
        h = FINITE_DIFFERENCE_STEP
        plus = engine.substitute(self.loss, {parameter: parameter + h})
        minus = engine.substitute(self.loss, {parameter: parameter - h})
        return (plus - minus) / (2 * h)

    @property
    def parameters(self) -> list[Expr]:
        """The sheet-wide constants formulas read besides the row's own cells."""
        return [LEARNING_RATE, FINITE_DIFFERENCE_STEP] if self.gradcheck else [LEARNING_RATE]

    # --- views --------------------------------------------------------------------------------

    @property
    def given(self) -> list[Quantity]:
        return [q for q in self.quantities if q.role in GIVEN_ROLES]

    @property
    def computed(self) -> list[Quantity]:
        return [q for q in self.quantities if q.role not in GIVEN_ROLES]

    def by_label(self, label: str) -> Quantity:
        for q in self.quantities:
            if q.label == label:
                return q
        raise KeyError(label)

    def starting_values(self) -> dict[str, float]:
        t = self.template
        values = [*t.targets, *t.inputs, *t.weights[:t.layers[0] * t.layers[1]],
                  *(t.biases[:1] if t.biases else ()), *t.weights[t.layers[0] * t.layers[1]:],
                  *(t.biases[1:] if t.biases else ())]
        return dict(zip((q.label for q in self.given), values))

    def symbols(self) -> dict[Expr, str]:
        """Each computed quantity's node and its label, so printed math names it."""
        return {q.node: q.label for q in self.computed}

    def update(self, quantity: Quantity) -> Expr:
        """The expression for ``quantity`` in the next row, over the previous row's values:
        w − η·∂E/∂w for weights (every gradient from the old weights), unchanged otherwise."""
        if quantity.role == "weight":
            return previous(quantity.label) - LEARNING_RATE * previous(gradient_label(quantity.label))
        return previous(quantity.label)

    def derivation(self, quantity: Quantity) -> str:
        """Textbook math for a computed quantity: "∂E_total/∂w5 = (a_o1 − t1)·a_o1·…"."""
        lhs = quantity.label.replace(labels.gradient(""), labels.gradient_long(""))
        return f"{lhs} = {MathPrinter().doprint(quantity.node, self.symbols())}"

    # --- numbers ------------------------------------------------------------------------------

    def rows(self, learning_rate: float, steps: int, start: dict[str, float] | None = None,
             finite_difference_step: float = DEFAULT_FINITE_DIFFERENCE_STEP) -> Iterator[tuple[float, ...]]:
        """One tuple of values per gradient-descent step, in column order (``quantities``)."""
        given, computed = self.given, self.computed
        constants = (finite_difference_step,) if self.gradcheck else ()
        forward = compile_function([q.node for q in computed],
                                   [q.node for q in given] + self.parameters[1:])
        by_kind = [q.label for q in given] + [q.label for q in computed]
        step = compile_function([self.update(q) for q in given],
                                [previous(label) for label in by_kind] + [LEARNING_RATE])
        order = {q.label: k for k, q in enumerate(self.quantities)}
        position = [order[label] for label in by_kind]
        values = [(start or self.starting_values())[q.label] for q in given]
        for _ in range(steps):
            row_by_kind = (*values, *forward(*values, *constants))
            row = [0.0] * len(row_by_kind)
            for k, value in zip(position, row_by_kind):
                row[k] = value
            yield tuple(row)
            values = step(*row_by_kind, learning_rate)


def _weighted_sum(weights, sources, bias):
    total = weights[0] * sources[0]
    for w, x in zip(weights[1:], sources[1:]):
        total = total + w * x
    return total if bias is None else total + bias
