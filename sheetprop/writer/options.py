"""`build`'s options checked in one place, for the command line and the Python API alike: each
bad value is a one-line UserError, and what passes is what the workbook is built from."""

from __future__ import annotations

import dataclasses
import math
import numbers
import re
from dataclasses import dataclass
from typing import Iterable, Sequence

from sheetprop import layout
from sheetprop.errors import UserError
from sheetprop.network import optimizers
from sheetprop.network.template import Template, load_template

DEFAULT_LEARNING_RATES = "0.1,0.2,0.5,0.8,1,2"
DEFAULT_STEPS = 100
# 6 learning rates x 50,000 rows x ~35 columns is ~10 million formula cells, a ~250 MB file
# that takes minutes to write and that spreadsheet programs open slowly; Excel's own limit is
# 1,048,576 rows. Past this, a chart of the loss says nothing a smaller run would not.
MAX_STEPS = 50_000
MAX_LEARNING_RATES = 20
# ASCII digits only: \d would take Arabic-Indic digits (١) and float() takes them, and 5_000.
_DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
@dataclass(frozen=True)
class LearningRate:
    """One learning rate, parsed once: ``text`` as typed names its sheet (lr=0.5), ``value`` steps."""
    text: str
    value: float


def parse_learning_rates(rates: str | Sequence[str | float]) -> list[LearningRate]:
    """The learning rates, validated: comma-separated text as typed ("0.1,0.2,1"), or a list of
    them (a template's, or numbers from Python), each named by ``learning_rate_text``."""
    if isinstance(rates, str):
        text = rates
        if not text.strip():
            raise UserError("--lrs is empty; give comma-separated learning rates, e.g. --lrs 0.1,0.5,1")
        tokens = [token.strip() for token in text.split(",")]
        if "" in tokens:
            raise UserError(f"--lrs {text!r} has an empty entry; separate numbers with single commas")
    else:
        tokens = [learning_rate_text(token) for token in rates]
        if not tokens:
            raise UserError("no learning rates given; give at least one, e.g. 0.5")
    rates = []
    for token in tokens:
        if not _DECIMAL.fullmatch(token):
            raise UserError(f"learning rate {token!r} is not a plain number (e.g. 0.5 or 1e-3)")
        value = float(token)
        if not math.isfinite(value):
            raise UserError(f"learning rate {token!r} is too large to be a number")
        if value <= 0:
            raise UserError(f"learning rate {token!r} must be greater than 0")
        twin = next((rate for rate in rates if rate.value == value), None)
        if twin is not None:  # 1, 1.0 and 01 are one rate: three sheets of the same numbers
            raise UserError(f"learning rate {token!r} is given twice" + (f" (as {twin.text!r})" if twin.text != token else ""))
        if len(layout.sheet_name(token)) > layout.MAX_SHEET_NAME:
            raise UserError(f"learning rate {token!r} is too long to name a sheet ({layout.MAX_SHEET_NAME} characters)")
        rates.append(LearningRate(token, value))
    if len(rates) > MAX_LEARNING_RATES:
        raise UserError(f"at most {MAX_LEARNING_RATES} learning rates, got {len(rates)}")
    return rates


def parse_steps(text: str) -> int:
    # int() takes 5_000 and Arabic-Indic digits (٧); a plain count is ASCII digits.
    if not re.fullmatch(r"\s*[+-]?[0-9]{1,9}\s*", text):
        raise UserError(f"--steps {text[:40]!r} is not a whole number (digits 0-9 only)")
    steps = int(text)
    if not 1 <= steps <= MAX_STEPS:
        raise UserError(f"--steps must be between 1 and {MAX_STEPS:,}, got {steps:,}")
    return steps



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
    rates = (template.learning_rates or DEFAULT_LEARNING_RATES) if lrs is None else lrs
    if isinstance(rates, numbers.Real) and not isinstance(rates, bool):
        rates = [rates]  # one learning rate, given alone
    elif not isinstance(rates, str):
        try:
            rates = list(rates)
        except TypeError:
            raise UserError(f"learning rates {rates!r}: give a list of numbers or text such as 0.1,0.5") from None
    if isinstance(steps, bool) or not isinstance(steps, (int, str)):
        raise UserError(f"--steps {steps!r} is not a whole number")
    return BuildOptions(template, parse_learning_rates(rates), parse_steps(str(steps)))


def learning_rate_text(value) -> str:
    """The one rule that names a learning rate's sheet, whatever the entry point: text (the
    command line's --lrs, a string in a template's list) as typed; a number (from Python or a
    TOML template) by the shortest text that reads back as the same float: 2.0 → "2", 0.1 →
    "0.1", 1e-05 → "1e-05"."""
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


def refuse_own_inputs(out, template: Template, **inputs) -> None:
    """Refuse, before any work, an output path that is one of the command's inputs: the
    template's .toml file or any file in ``inputs`` (flag name → path, e.g. mnist_metrics=)."""
    import os
    from pathlib import Path

    out = Path(out)
    named = {"--template": Path(template.source) if template.source and not template.source.endswith("(built-in)") else None,
             **{"--" + flag.replace("_", "-"): None if path is None else Path(path) for flag, path in inputs.items()}}
    for flag, path in named.items():
        if path is None:
            continue
        same = (out.exists() and path.exists() and os.path.samefile(out, path)) or \
            out.resolve() == path.resolve()
        if same:
            raise UserError(f"--out {out} is the {flag} file it reads; write to another file")
