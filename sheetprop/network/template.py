"""Network templates: TOML files describing a tiny network and its starting values.

A template names the layer sizes (inputs, hidden layers, outputs), one activation per
non-input layer, the loss, the input and target values of one example or several, every
weight in the course's numbering, optional biases (one per layer, or one per neuron; fixed or
trained), the optimizer with its hyper-parameters, and optional default learning rates. See
docs/templates.md for the format.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from sheetprop.network import losses, optimizers, stack as stacks
from sheetprop.errors import UserError
from sheetprop.files import read_limited

ACTIVATIONS = ("sigmoid", "tanh", "relu", "linear", "softmax")
MAX_LAYERS, MAX_NEURONS, MAX_EXAMPLES = 5, 16, 32
_KNOWN_KEYS = {"name", "description", "layers", "activations", "inputs", "targets", "weights",
               "biases", "learning_rates", "loss", "train_biases", "optimizer", "layer",
               *optimizers.HYPERPARAMETERS}


@dataclass(frozen=True)
class Template:
    name: str
    layers: tuple[int, ...]         # inputs, hidden layers..., outputs
    activations: tuple[str, ...]    # one per non-input layer
    inputs: tuple                   # one example: numbers; several: a tuple of numbers per example
    targets: tuple                  # the same shape as inputs
    weights: tuple[float, ...]
    biases: tuple | None = None     # one number per layer (shared), or a tuple per layer (per neuron)
    learning_rates: tuple[str | float, ...] | None = None
    source: str = ""
    loss: str = "mse"
    train_biases: bool = False
    optimizer: str = "sgd"
    hyperparameters: tuple[tuple[str, float], ...] = ()  # (key, value) as the template gives them
    # A layered template's layers (``stack.Layer``: recurrent, conv, attention, pool, dense); then
    # ``layers`` and ``activations`` are empty, ``weights`` lists every trained parameter's start,
    # and each example's inputs are a grid (a sequence, an image or tokens).
    stack: tuple = ()

    @property
    def input_shape(self) -> tuple[int, ...]:
        """A layered template's example shape: (time, features), (rows, columns), (tokens, dims)."""
        return (len(self.inputs[0]), len(self.inputs[0][0])) if self.stack else (self.layers[0],)

    @property
    def examples(self) -> int:
        return len(self.inputs) if self.inputs and isinstance(self.inputs[0], tuple) else 1

    @property
    def example_inputs(self) -> tuple[tuple[float, ...], ...]:
        return self.inputs if self.examples > 1 or isinstance(self.inputs[0], tuple) else (self.inputs,)

    @property
    def example_targets(self) -> tuple[tuple[float, ...], ...]:
        return self.targets if self.examples > 1 or isinstance(self.targets[0], tuple) else (self.targets,)

    @property
    def biases_per_neuron(self) -> bool:
        return self.biases is not None and isinstance(self.biases[0], tuple)


def builtin_templates() -> dict[str, Path]:
    """The templates shipped with the package, by name (era, mazur, ...)."""
    package = Path(__file__).resolve().parents[1]  # sheetprop/
    # Installed, they sit in the sheetprop.templates package; in a checkout, at the top level.
    for folder in (package / "templates", package.parent / "templates"):
        if folder.is_dir():
            return {p.stem: p for p in sorted(folder.glob("*.toml"))}
    return {}


def load_template(name_or_path: str) -> Template:
    """Load a built-in template by name, or any template file by path."""
    builtins = builtin_templates()
    if name_or_path in builtins:
        path = builtins[name_or_path]
    else:
        path = Path(name_or_path).expanduser()
        if not path.suffix and not path.exists():
            known = ", ".join(builtins) or "none found"
            raise UserError(f"unknown template {name_or_path!r} (built-in templates: {known}; "
                            "or give the path of a .toml file)")
    text = _read_template_text(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"template {path} is not valid TOML: {exc}") from None
    source = f"{name_or_path} (built-in)" if name_or_path in builtins else str(path)
    return parse_template(data, source=source)


MAX_TEMPLATE_BYTES = 64 * 1024  # the largest network a template can describe needs ~10 KB
MAX_NESTING = 8  # keys a.b.c and brackets [[...]]: templates need 2; a parser fed 50,000 needs GBs


def _read_template_text(path: Path) -> str:
    """The file's text, refusing what is not a small regular file before reading it (a FIFO
    would block forever, /dev/zero never ends) and what nests deeper than any template does."""
    data = read_limited(path, "template", MAX_TEMPLATE_BYTES,
                        f"templates are at most {MAX_TEMPLATE_BYTES // 1024} KB")
    try:
        text = data.decode("utf-8-sig")  # a BOM is fine
    except UnicodeDecodeError:
        raise UserError(f"template {path} is not UTF-8 text") from None
    depth = _deepest_nesting(text)
    if depth > MAX_NESTING:
        raise UserError(f"template {path} nests {depth} levels deep; templates need at most {MAX_NESTING}")
    return text


def _deepest_nesting(text: str) -> int:
    """The deepest run of brackets, or of dots in a key, outside strings and comments."""
    deepest = depth = dots = 0
    quote = None
    for line in text.splitlines():
        dots = 0
        for char in line:
            if quote:
                quote = None if char == quote else quote
            elif char in "\"'":
                quote = char
            elif char == "#":
                break
            elif char in "[{":
                depth += 1
            elif char in "]}":
                depth = max(0, depth - 1)
            elif char == "." and depth == 0:
                dots += 1
            deepest = max(deepest, depth, dots + 1 if dots else 0)
    return deepest


def parse_template(data: dict, source: str = "<template>") -> Template:
    def fail(message):
        raise UserError(f"template {source}: {message}")

    def numbers(key, values, count, what):
        if not isinstance(values, list) or not all(_is_number(v) for v in values):
            fail(f"'{key}' must be a list of numbers")
        if len(values) != count:
            fail(f"'{key}' has {len(values)} values; layers {list(layers)} need {count} {what}")
        if not all(math.isfinite(v) for v in values):
            fail(f"'{key}' holds a value that is not a finite number")
        return tuple(float(v) for v in values)

    def required(key, what):
        if key not in data:
            fail(f"missing '{key}' ({what})")
        return data[key]

    def examples(key, count, what):
        """One example's numbers (a flat list), or a list of lists, one per example."""
        values = required(key, f"{count} {what}")
        if isinstance(values, list) and values and all(isinstance(v, list) for v in values):
            if len(values) > MAX_EXAMPLES:
                fail(f"'{key}' lists {len(values)} examples; at most {MAX_EXAMPLES}")
            return tuple(numbers(f"{key}[{n}]", v, count, what) for n, v in enumerate(values, start=1))
        return numbers(key, values, count, what)

    unknown = set(data) - _KNOWN_KEYS
    if unknown:
        named = sorted(unknown)[:10]  # a template of thousands of stray keys still gets one short line
        more = f" and {len(unknown) - len(named)} more" if len(unknown) > len(named) else ""
        fail(f"unknown key(s) {', '.join(named)}{more}; known: {', '.join(sorted(_KNOWN_KEYS))}")
    if "layer" in data:
        parts = stacks.parse_layers(data, fail)
        name, optimizer, hyperparameters, learning_rates = _training(data, source, fail)
        return Template(name, (), (), parts["inputs"], parts["targets"], parts["weights"], None,
                        learning_rates, source, parts["loss"], True, optimizer, hyperparameters,
                        stack=parts["stack"])
    layers = data.get("layers")
    if (not isinstance(layers, list) or not 2 <= len(layers) <= MAX_LAYERS
            or not all(isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= MAX_NEURONS
                       for n in layers)):
        fail(f"'layers' must list 2 to {MAX_LAYERS} sizes from 1 to {MAX_NEURONS}: inputs, hidden "
             "layers, outputs, e.g. [2, 2, 2]")
    layers = tuple(layers)
    depth = len(layers) - 1
    activations = data.get("activations", ["sigmoid"] * depth)
    if not isinstance(activations, list) or len(activations) != depth:
        fail(f"'activations' must list {depth} names, one per layer after the inputs")
    for name in activations:
        if name not in ACTIVATIONS:
            fail(f"unknown activation {name!r}; choose from {', '.join(ACTIVATIONS)}")
    if "softmax" in activations[:-1]:
        fail("softmax can only be the output layer's activation")
    if activations[-1] == "softmax" and layers[-1] < 2:
        fail("a softmax output needs at least 2 outputs")
    loss_name = data.get("loss", "mse")
    if loss_name not in losses.LOSSES:
        fail(f"unknown loss {loss_name!r}; choose from {', '.join(losses.LOSSES)}")
    loss = losses.get(loss_name)
    if loss.output_activation and activations[-1] != loss.output_activation:
        fail(f"loss {loss_name!r} needs {loss.output_activation} outputs (the last activation), "
             f"not {activations[-1]}")

    n_in, n_out = layers[0], layers[-1]
    inputs = examples("inputs", n_in, "inputs")
    targets = examples("targets", n_out, "targets")
    several_inputs, several_targets = isinstance(inputs[0], tuple), isinstance(targets[0], tuple)
    if several_inputs != several_targets or (several_inputs and len(inputs) != len(targets)):
        fail(f"'inputs' and 'targets' must list the same examples "
             f"({len(inputs) if several_inputs else 1} and {len(targets) if several_targets else 1} given)")
    if loss_name == "cross_entropy":
        for n, row in enumerate(targets if several_targets else (targets,), start=1):
            if min(row) < 0 or abs(sum(row) - 1) > 1e-9:
                fail(f"cross-entropy targets are probabilities: example {n}'s must be 0 or more and "
                     f"sum to 1 (they sum to {sum(row):g})")
    if loss_name == "binary_cross_entropy":
        if any(not 0 <= t <= 1 for row in (targets if several_targets else (targets,)) for t in row):
            fail("binary cross-entropy targets must lie between 0 and 1")
    weights = numbers("weights", required("weights", f"{_weight_count(layers)} weights"),
                      _weight_count(layers), "weights")

    biases = data.get("biases")
    if biases is not None:
        if isinstance(biases, list) and biases and all(isinstance(b, list) for b in biases):
            if len(biases) != depth:
                fail(f"'biases' lists {len(biases)} layers; layers {list(layers)} need {depth} "
                     "(one list per layer after the inputs)")
            biases = tuple(numbers(f"biases[{k}]", b, size, f"biases (one per neuron of layer {k})")
                           for k, (b, size) in enumerate(zip(biases, layers[1:]), start=1))
        else:
            biases = numbers("biases", biases, depth, "biases (one per layer)")
    train_biases = data.get("train_biases", False)
    if not isinstance(train_biases, bool):
        fail("'train_biases' must be true or false")
    if train_biases and biases is None:
        fail("'train_biases' needs 'biases' (their starting values)")

    name, optimizer, hyperparameters, learning_rates = _training(data, source, fail)
    return Template(name, layers, tuple(activations), inputs, targets, weights, biases,
                    learning_rates, source, loss_name, train_biases, optimizer, hyperparameters)


def _training(data: dict, source: str, fail):
    """The name, optimizer, hyper-parameters and learning rates: every template's own."""
    optimizer = data.get("optimizer", "sgd")
    if optimizer not in optimizers.OPTIMIZERS:
        fail(f"unknown optimizer {optimizer!r}; choose from {', '.join(optimizers.OPTIMIZERS)}")
    hyperparameters = []
    for key in optimizers.HYPERPARAMETERS:
        if key in data:
            problem = optimizers.hyperparameter_problem(key, data[key])
            if problem:
                fail(f"'{key}' {problem}")
            hyperparameters.append((key, float(data[key])))

    learning_rates = data.get("learning_rates")
    if learning_rates is not None:
        if not isinstance(learning_rates, list) or not learning_rates or not all(
                _is_number(v) or isinstance(v, str) for v in learning_rates):
            fail("'learning_rates' must be a non-empty list of numbers")
        learning_rates = tuple(learning_rates)  # as given: writer.options names each sheet
    name = data.get("name", Path(source).stem)
    if not isinstance(name, str):
        fail("'name' must be a string")
    return name, optimizer, tuple(hyperparameters), learning_rates


def template_record(template: Template) -> dict:
    """The template as the plain data ``parse_template`` reads (what a TOML file would hold):
    ``parse_template(template_record(t))`` rebuilds ``t``, all but its ``source``. Plain lists,
    strings and numbers only, so it goes through JSON unchanged."""
    def plain(values):
        return [plain(v) for v in values] if isinstance(values, tuple) else values

    if template.stack:
        data = {"name": template.name, "loss": template.loss, "inputs": plain(template.inputs),
                "targets": plain(template.targets), "layer": stacks.record(template.stack)}
    else:
        data = {"name": template.name, "layers": list(template.layers),
                "activations": list(template.activations), "loss": template.loss,
                "inputs": plain(template.inputs), "targets": plain(template.targets),
                "weights": list(template.weights)}
        if template.biases is not None:
            data["biases"] = plain(template.biases)
        data["train_biases"] = template.train_biases
    data["optimizer"] = template.optimizer
    data.update(template.hyperparameters)
    if template.learning_rates is not None:
        data["learning_rates"] = list(template.learning_rates)  # as typed: they name the sheets
    return data


def _weight_count(layers) -> int:
    return sum(a * b for a, b in zip(layers, layers[1:]))


def _is_number(value) -> bool:
    # An integer past a float's range (400 digits in a TOML file or a record) is no number a
    # network can hold: float() of it overflows, and str() of 5,000 digits passes Python's limit.
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and not (isinstance(value, int) and value.bit_length() > 1023))
