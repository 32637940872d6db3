"""How a trained parameter steps from one row to the next: SGD, momentum, RMSprop and Adam.

The one home of the update rule. Each optimizer names its hyper-parameters (a labelled cell
each on every sheet, beside η), its state (a column per trained parameter, plus Adam's step
count), the expressions that give the next row's state and parameter, and the words that
explain them. The rules are torch.optim's, with its defaults, so a sheet and a torch run of
the same network agree step for step.

A row holds the state *after* that row's step: row r's v_w1 = μ·v_w1(row r−1) + ∂E/∂w1(row
r−1), and row r's w1 = w1(row r−1) − η·v_w1(row r), reading the state cell beside it. The first
row's state is the starting state (zeros), as torch's is before its first step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from sheetprop.network import labels
from sheetprop.engine import Expr, raise_to, var

LEARNING_RATE = var("η")


@dataclass(frozen=True)
class HyperParameter:
    key: str         # its template key: "beta1"
    label: str       # its cell's label on every sheet: "β1 (decay of m)"
    symbol: Expr     # the variable formulas use, printed as a reference to that cell
    default: float   # torch.optim's default
    lowest: float    # the allowed range is lowest <= value < 1 (ε: lowest < value)

    def check(self, value: float) -> str | None:
        """Why ``value`` cannot be used, or None."""
        if self.key == "eps":
            return None if 0 < value < 1 else "must be greater than 0 and less than 1"
        return None if self.lowest <= value < 1 else f"must be at least {self.lowest:g} and less than 1"


MOMENTUM = HyperParameter("momentum", "momentum μ", var("μ"), 0.9, 0.0)
ALPHA = HyperParameter("alpha", "α (decay of s)", var("α"), 0.99, 0.0)
BETA1 = HyperParameter("beta1", "β1 (decay of m)", var("β1"), 0.9, 0.0)
BETA2 = HyperParameter("beta2", "β2 (decay of s)", var("β2"), 0.999, 0.0)
EPS = HyperParameter("eps", "ε", var("ε"), 1e-8, 0.0)
HYPERPARAMETERS = {p.key: p for p in (MOMENTUM, ALPHA, BETA1, BETA2, EPS)}


@dataclass(frozen=True)
class State:
    """One kind of optimizer state: a column per trained parameter (or one column in all)."""
    label: Callable[[str], str] | str  # parameter label -> state label, or the one shared label
    start: float
    note: str

    @property
    def shared(self) -> bool:
        return isinstance(self.label, str)


# Rows are wired with two lookups: ``previous(label)`` is the value one row up, ``now(label)``
# this row's (only a state of this row may be read by its parameter's update).
Lookup = Callable[[str], Expr]


@dataclass(frozen=True)
class Optimizer:
    name: str
    title: str
    hyperparameters: tuple[HyperParameter, ...]
    states: tuple[State, ...]
    rule: str  # the whole rule in words, for the summary sheet and README
    parameter_note: str  # the header note of a trained parameter's column
    _next_state: Callable
    _next_parameter: Callable

    def next_states(self, parameter: str, gradient: str, previous: Lookup) -> list[tuple[str, Expr]]:
        """(label, next-row expression) of each per-parameter state of ``parameter``."""
        exprs = self._next_state(previous(gradient), previous, parameter)
        return [(state.label(parameter), expr) for state, expr in zip(self._own_states, exprs)]

    def next_shared_states(self, previous: Lookup) -> list[tuple[str, Expr]]:
        return [(state.label, previous(state.label) + 1) for state in self.states if state.shared]

    def next_parameter(self, parameter: str, gradient: str, previous: Lookup, now: Lookup) -> Expr:
        return self._next_parameter(previous(parameter), previous(gradient), parameter, now)

    @property
    def _own_states(self) -> list[State]:
        return [s for s in self.states if not s.shared]


def _sgd_parameter(p, g, name, now):
    return p - LEARNING_RATE * g


def _momentum_state(g, previous, name):
    return [MOMENTUM.symbol * previous(labels.velocity(name)) + g]


def _momentum_parameter(p, g, name, now):
    return p - LEARNING_RATE * now(labels.velocity(name))


def _rmsprop_state(g, previous, name):
    return [ALPHA.symbol * previous(labels.second_moment(name)) + (1 - ALPHA.symbol) * g ** 2]


def _rmsprop_parameter(p, g, name, now):
    return p - LEARNING_RATE * (g / (now(labels.second_moment(name)) ** 0.5 + EPS.symbol))


def _adam_state(g, previous, name):
    return [BETA1.symbol * previous(labels.first_moment(name)) + (1 - BETA1.symbol) * g,
            BETA2.symbol * previous(labels.second_moment(name)) + (1 - BETA2.symbol) * g ** 2]


def _adam_parameter(p, g, name, now):
    # torch's order of operations: w − (η / (1 − β1ᵗ))·(m / (√s / √(1 − β2ᵗ) + ε)).
    t = now(labels.ADAM_STEP)
    step_size = LEARNING_RATE / (1 - raise_to(BETA1.symbol, t))
    denominator = now(labels.second_moment(name)) ** 0.5 / (1 - raise_to(BETA2.symbol, t)) ** 0.5 + EPS.symbol
    return p - step_size * (now(labels.first_moment(name)) / denominator)


OPTIMIZERS = {
    "sgd": Optimizer(
        "sgd", "plain gradient descent", (), (),
        "every parameter steps by w ← w − η·∂E/∂w, every gradient from the same row",
        "w − η·∂E/∂w of the row above", lambda g, previous, name: [], _sgd_parameter),
    "momentum": Optimizer(
        "momentum", "SGD with momentum (torch.optim.SGD)", (MOMENTUM,),
        (State(labels.velocity, 0.0, "v ← μ·v + ∂E/∂w: the row above's v and gradient"),),
        "v ← μ·v + ∂E/∂w, then w ← w − η·v (torch.optim.SGD with momentum μ)",
        "w − η·v: the row above's w, this row's v", _momentum_state, _momentum_parameter),
    "rmsprop": Optimizer(
        "rmsprop", "RMSprop (torch.optim.RMSprop)", (ALPHA, EPS),
        (State(labels.second_moment, 0.0, "s ← α·s + (1 − α)·(∂E/∂w)²: the row above's s and gradient"),),
        "s ← α·s + (1 − α)·(∂E/∂w)², then w ← w − η·∂E/∂w / (√s + ε) (torch.optim.RMSprop)",
        "w − η·∂E/∂w / (√s + ε): the row above's w and gradient, this row's s",
        _rmsprop_state, _rmsprop_parameter),
    "adam": Optimizer(
        "adam", "Adam (torch.optim.Adam)", (BETA1, BETA2, EPS),
        (State(labels.ADAM_STEP, 0.0, "t ← t + 1: the number of steps taken"),
         State(labels.first_moment, 0.0, "m ← β1·m + (1 − β1)·∂E/∂w: the row above's m and gradient"),
         State(labels.second_moment, 0.0, "s ← β2·s + (1 − β2)·(∂E/∂w)²: the row above's s and gradient")),
        "t ← t + 1, m ← β1·m + (1 − β1)·∂E/∂w, s ← β2·s + (1 − β2)·(∂E/∂w)², then "
        "w ← w − η/(1 − β1ᵗ)·m / (√s/√(1 − β2ᵗ) + ε) (torch.optim.Adam, bias-corrected)",
        "w − η/(1 − β1ᵗ)·m / (√s/√(1 − β2ᵗ) + ε): the row above's w, this row's t, m and s",
        _adam_state, _adam_parameter),
}


def get(name: str) -> Optimizer:
    try:
        return OPTIMIZERS[name]
    except KeyError:
        raise ValueError(f"unknown optimizer {name!r}; choose from {', '.join(OPTIMIZERS)}") from None


def hyperparameter_problem(key: str, value) -> str | None:
    """Why a template's hyper-parameter value cannot be used, or None."""
    if (not isinstance(value, (int, float)) or isinstance(value, bool)
            or (isinstance(value, int) and value.bit_length() > 1023) or not math.isfinite(value)):
        return "must be a number"
    return HYPERPARAMETERS[key].check(float(value))
