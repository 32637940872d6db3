"""The losses a template can choose, each as engine expressions and in words.

A loss either has one term per output (squared error, binary cross-entropy: the sheet shows
E1, E2, … and their sum) or is one expression over all the outputs (cross-entropy over a
softmax). With several examples the step's loss is the mean of the examples' losses; that is
the network's business, not the loss's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from sheetprop import engine
from sheetprop.engine import Expr


@dataclass(frozen=True)
class Loss:
    name: str
    formula: str                                   # for people: "E = ½·Σ_k (t_k − a_k)²"
    per_output: Callable[[Expr, Expr], Expr] | None  # (a_k, t_k) -> E_k, or None
    whole: Callable[[list, list], Expr] | None       # (all a, all t) -> E, when not per output
    output_activation: str | None = None           # the output activation it requires, if any

    def terms(self, outputs: list[Expr], targets: list[Expr]) -> list[Expr]:
        """One term per output (summed into the example's loss), or the whole loss as one."""
        if self.per_output is not None:
            return [self.per_output(a, t) for a, t in zip(outputs, targets)]
        return [self.whole(outputs, targets)]


LOSSES = {
    "mse": Loss("mse", "E = Σ_k ½(t_k − a_o_k)²", lambda a, t: 0.5 * (t - a) ** 2, None),
    "cross_entropy": Loss(
        "cross_entropy", "E = −Σ_k t_k·ln(a_o_k) over the softmax outputs (∂E/∂o_k = a_o_k − t_k)",
        None, engine.softmax_cross_entropy, "softmax"),
    "binary_cross_entropy": Loss(
        "binary_cross_entropy",
        "E = Σ_k −(t_k·ln(a_o_k) + (1 − t_k)·ln(1 − a_o_k)) over sigmoid outputs (∂E/∂o_k = a_o_k − t_k)",
        engine.sigmoid_binary_cross_entropy, None, "sigmoid"),
}


def get(name: str) -> Loss:
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; choose from {', '.join(LOSSES)}") from None
