"""`build`'s options checked in one place, for the command line and the Python API alike: each
bad value is a one-line UserError, and what passes is what the workbook is built from."""

from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass
from typing import Iterable

from sheetprop.errors import UserError
from sheetprop.network import optimizers
from sheetprop.network.template import Template, load_template
from sheetprop.writer.build import DEFAULT_LEARNING_RATES, DEFAULT_STEPS, LearningRate, parse_learning_rates, parse_steps

# How a template's name says its optimizer, so a name can follow --optimizer.
_SHORT_NAMES = {"sgd": "SGD", "momentum": "momentum", "rmsprop": "RMSprop", "adam": "Adam"}


@dataclass(frozen=True)
class BuildOptions:
    template: Template
    learning_rates: list[LearningRate]
    steps: int

    @property
    def rate_texts(self) -> list[str]:
        """Each learning rate as typed, which names its sheet (lr=0.5)."""
        return [rate.text for rate in self.learning_rates]


def resolve(template: str | Template = "era", optimizer: str | None = None,
            lrs: str | Iterable | None = None, steps: int | str = DEFAULT_STEPS) -> BuildOptions:
    """The template (a built-in name, a .toml path or a Template), the optimizer replacing the
    template's, the learning rates (text as the command line takes, or numbers) and the steps."""
    if not isinstance(template, Template):
        template = load_template(str(template))
    if optimizer is not None:
        template = with_optimizer(template, optimizer)
    if lrs is None:
        rates = template.learning_rates or DEFAULT_LEARNING_RATES
    elif isinstance(lrs, str):
        rates = lrs
    else:
        rates = [learning_rate_text(value) for value in lrs]
    if isinstance(steps, bool) or not isinstance(steps, (int, str)):
        raise UserError(f"--steps {steps!r} is not a whole number")
    return BuildOptions(template, parse_learning_rates(rates), parse_steps(str(steps)))


def learning_rate_text(value) -> str:
    """A learning rate given as a number, as a sheet names it: the shortest text that reads back
    as the same float (0.1, 2, 1e-05); text stays as typed."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise UserError(f"learning rate {value!r} is not a number")
    number = float(value)
    if number.is_integer() and abs(number) < 1e16:
        return str(int(number))
    return repr(number)


def with_optimizer(template: Template, name: str) -> Template:
    """``template`` stepping with optimizer ``name``; a name that says the old optimizer ("Two
    hidden layers with RMSprop") says the new one, so no title names an optimizer not used."""
    if name not in optimizers.OPTIMIZERS:
        raise UserError(f"unknown optimizer {name!r}; choose one of {', '.join(optimizers.OPTIMIZERS)}")
    if name == template.optimizer:
        return template
    old, new = _SHORT_NAMES[template.optimizer], _SHORT_NAMES[name]
    title = template.name.replace(old, new) if old in template.name else f"{template.name} with {new}"
    return dataclasses.replace(template, optimizer=name, name=title)
