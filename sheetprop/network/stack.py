"""Layered templates: a network as a stack of layers, each a table of data in the TOML file.

A template with ``[[layer]]`` tables describes a feature layer (``recurrent``, ``conv`` or
``attention``), an optional ``pool`` and a ``dense`` output layer, each with its starting
parameters; ``inputs`` lists one example per entry (a sequence, an image, or tokens) and
``targets`` one vector per example. This module reads and checks that data, says how big the
sheet will be, and writes it back as plain data; ``stacked`` builds the network from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sheetprop.layout import MAX_COLUMNS
from sheetprop.network import losses

FEATURE_KINDS = ("recurrent", "conv", "attention")
KINDS = (*FEATURE_KINDS, "pool", "dense")
ACTIVATIONS = {"recurrent": ("tanh", "sigmoid", "relu", "linear"),
               "conv": ("relu", "tanh", "sigmoid", "linear"),
               "dense": ("linear", "sigmoid", "tanh", "relu", "softmax")}
DEFAULT_ACTIVATION = {"recurrent": "tanh", "conv": "relu", "dense": "linear"}
# Each kind's keys: its parameters (trained, in column order) and its other keys.
PARAMETERS = {"recurrent": ("input_weights", "recurrent_weights", "biases"),
              "conv": ("kernels", "biases"),
              "attention": ("query", "key", "value"),
              "pool": (), "dense": ("weights", "biases")}
OTHER_KEYS = {"recurrent": ("units", "activation", "initial_state"), "conv": ("activation",),
              "attention": (), "pool": ("size",), "dense": ("units", "activation")}
MAX_SIDE = 8       # time steps, tokens, image rows and columns, units, kernels, dimensions
MAX_EXAMPLES = 32


@dataclass(frozen=True)
class Layer:
    kind: str
    activation: str = "linear"
    units: int = 0
    size: int = 0                 # pool: the window's side; 0 averages everything (global)
    values: tuple = ()            # ((key, nested tuple of floats), …): parameters and initial_state

    def get(self, key: str):
        return dict(self.values).get(key)


@dataclass(frozen=True)
class Shapes:
    """What flows through the stack for one example."""
    input: tuple[int, ...]        # (time, features), (rows, columns) or (tokens, dimensions)
    feature: tuple[int, ...]      # the feature layer's output per example
    pooled: tuple[int, ...]       # after the pool (the feature output without one)
    outputs: int


def parse_layers(data: dict, fail) -> dict:
    """The stack part of a template: {"stack", "inputs", "targets", "weights", "loss"}, checked;
    ``fail(message)`` raises the template's one-line error."""
    for key in ("layers", "activations", "weights", "biases", "train_biases"):
        if key in data:
            fail(f"'{key}' belongs to a dense template; with [[layer]] tables each layer holds its own "
                 "parameters (biases are always trained)")
    tables = data["layer"]
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        fail("'layer' must be a list of tables ([[layer]] in TOML)")
    kinds = [t.get("type") for t in tables]
    if not (2 <= len(kinds) <= 3 and kinds[0] in FEATURE_KINDS and kinds[-1] == "dense"
            and (len(kinds) == 2 or kinds[1] == "pool")):
        fail(f"the layers must be one of {', '.join(FEATURE_KINDS)}, then an optional pool, then a dense "
             f"output layer; got {', '.join(map(str, kinds))}")
    examples = data.get("inputs")
    if not isinstance(examples, list) or not examples:
        fail("'inputs' must list the examples, one entry each (a sequence, an image or tokens)")
    if len(examples) > MAX_EXAMPLES:
        fail(f"'inputs' lists {len(examples)} examples; at most {MAX_EXAMPLES}")
    first = examples[0]
    shape = _shape(first)
    if shape is None or len(shape) != 2:
        fail("each example of 'inputs' must be a list of lists of numbers (rows of an image, time steps "
             "of a sequence, or tokens)")
    if max(shape) > MAX_SIDE:
        fail(f"an example of 'inputs' is {shape[0]}×{shape[1]}; layered templates stay at {MAX_SIDE} or less a side")
    inputs = tuple(_array(f"inputs[{n}]", x, shape, fail) for n, x in enumerate(examples, start=1))

    layers, shape_now = [], shape
    for n, (kind, table) in enumerate(zip(kinds, tables), start=1):
        layer, shape_now = _layer(n, kind, table, shape_now, fail)
        layers.append(layer)
    outputs = layers[-1].units
    targets = data.get("targets")
    if not isinstance(targets, list) or len(targets) != len(inputs):
        fail(f"'targets' must list one vector of {outputs} numbers per example ({len(inputs)} examples)")
    targets = tuple(_array(f"targets[{n}]", t, (outputs,), fail) for n, t in enumerate(targets, start=1))
    loss_name = data.get("loss", "mse")
    if loss_name not in losses.LOSSES:
        fail(f"unknown loss {loss_name!r}; choose from {', '.join(losses.LOSSES)}")
    needed = losses.get(loss_name).output_activation
    if needed and layers[-1].activation != needed:
        fail(f"loss {loss_name!r} needs a {needed} output layer, not {layers[-1].activation}")
    if layers[-1].activation == "softmax" and outputs < 2:
        fail("a softmax output needs at least 2 units")
    if loss_name == "cross_entropy" and any(min(t) < 0 or abs(sum(t) - 1) > 1e-9 for t in targets):
        fail("cross-entropy targets are probabilities: each example's must be 0 or more and sum to 1")
    if loss_name == "binary_cross_entropy" and any(not 0 <= v <= 1 for t in targets for v in t):
        fail("binary cross-entropy targets must lie between 0 and 1")
    stack = tuple(layers)
    columns = column_estimate(stack, shape, len(inputs))
    if columns > MAX_COLUMNS:
        fail(f"this network needs about {columns:,} columns per sheet; Excel allows {MAX_COLUMNS:,} "
             "(use fewer examples, time steps, tokens, kernels or pixels)")
    weights = tuple(v for layer in stack for key in PARAMETERS[layer.kind] for v in _flat(layer.get(key)))
    return {"stack": stack, "inputs": inputs, "targets": targets, "weights": weights, "loss": loss_name}


def _layer(n: int, kind: str, table: dict, shape: tuple, fail) -> tuple[Layer, tuple]:
    where = f"layer {n} ({kind})"
    allowed = {"type", *PARAMETERS[kind], *OTHER_KEYS[kind]}
    unknown = sorted(set(table) - allowed)
    if unknown:
        fail(f"{where}: unknown key(s) {', '.join(unknown[:10])}; known: {', '.join(sorted(allowed))}")
    activation = table.get("activation", DEFAULT_ACTIVATION.get(kind, "linear"))
    if kind in ACTIVATIONS and activation not in ACTIVATIONS[kind]:
        fail(f"{where}: unknown activation {activation!r}; choose from {', '.join(ACTIVATIONS[kind])}")

    def count(key, default=None):
        value = table.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_SIDE:
            fail(f"{where}: '{key}' must be a whole number from 1 to {MAX_SIDE}")
        return value

    def array(key, expected):
        if key not in table:
            fail(f"{where}: missing '{key}' ({'×'.join(map(str, expected))} numbers)")
        return key, _array(f"{where} '{key}'", table[key], expected, fail)

    size, units, values = 0, 0, []
    if kind == "recurrent":
        steps, features = shape
        units = count("units")
        values = [array("input_weights", (units, features)), array("recurrent_weights", (units, units)),
                  array("biases", (units,))]
        values.append(array("initial_state", (units,)) if "initial_state" in table
                      else ("initial_state", (0.0,) * units))
        out = (units,)  # the state after the last step feeds the next layer
    elif kind == "conv":
        kernels = table.get("kernels")
        kernel_shape = _shape(kernels)
        if kernel_shape is None or len(kernel_shape) != 3 or kernel_shape[1] != kernel_shape[2]:
            fail(f"{where}: 'kernels' must list square kernels, each a list of rows of numbers")
        count_, side = kernel_shape[0], kernel_shape[1]
        if count_ > MAX_SIDE or not 1 <= side <= min(shape):
            fail(f"{where}: at most {MAX_SIDE} kernels, each no larger than the image ({shape[0]}×{shape[1]})")
        values = [array("kernels", kernel_shape), array("biases", (count_,))]
        out = (count_, shape[0] - side + 1, shape[1] - side + 1)
    elif kind == "attention":
        tokens, dimensions = shape
        query = _shape(table.get("query"))
        if query is None or len(query) != 2 or query[1] != dimensions or query[0] > MAX_SIDE:
            fail(f"{where}: 'query' must be a matrix of {dimensions} columns (one per input dimension)")
        values = [array("query", query), array("key", query)]
        value = _shape(table.get("value"))
        if value is None or len(value) != 2 or value[1] != dimensions or value[0] > MAX_SIDE:
            fail(f"{where}: 'value' must be a matrix of {dimensions} columns (one per input dimension)")
        values.append(array("value", value))
        out = (tokens, value[0])
    elif kind == "pool":
        size = table.get("size", 0)
        if size != 0:
            size = count("size")
            if len(shape) != 3 or shape[1] % size or shape[2] % size:
                fail(f"{where}: a window of {size}×{size} must tile the feature maps "
                     f"({'×'.join(map(str, shape[1:]))}); or leave out 'size' for the global average")
            out = (shape[0], shape[1] // size, shape[2] // size)
        elif len(shape) == 3:
            out = (shape[0],)          # each feature map's mean
        elif len(shape) == 2:
            out = (shape[1],)          # each dimension's mean over the tokens
        else:
            fail(f"{where}: nothing to pool after a recurrent layer (it passes on its last state)")
    else:  # dense
        units = count("units")
        inputs = math.prod(shape)
        values = [array("weights", (units, inputs)), array("biases", (units,))]
        out = (units,)
    return Layer(kind, activation if kind in ACTIVATIONS else "linear", units, size, tuple(values)), out


def shapes(stack: tuple[Layer, ...], input_shape: tuple[int, ...]) -> Shapes:
    feature, pooled = stack[0], stack[1] if stack[1].kind == "pool" else None
    if feature.kind == "recurrent":
        out = (feature.units,)
    elif feature.kind == "conv":
        count, side = len(feature.get("kernels")), len(feature.get("kernels")[0])
        out = (count, input_shape[0] - side + 1, input_shape[1] - side + 1)
    else:
        out = (input_shape[0], len(feature.get("value")))
    after = out
    if pooled is not None:
        if pooled.size:
            after = (out[0], out[1] // pooled.size, out[2] // pooled.size)
        else:
            after = (out[0],) if len(out) == 3 else (out[1],)
    return Shapes(input_shape, out, after, stack[-1].units)


def column_estimate(stack: tuple[Layer, ...], input_shape: tuple[int, ...], examples: int) -> int:
    """Columns per sheet, counted from the shapes before any network is built (at least the
    real count with SGD; the optimizers' state adds up to three columns per parameter)."""
    s = shapes(stack, input_shape)
    feature = stack[0]
    per_example = math.prod(input_shape) + s.outputs * 4 + 1
    if feature.kind == "recurrent":
        per_example += feature.units * (1 + 3 * input_shape[0])          # h0, then z, h, δz per step
    elif feature.kind == "conv":
        per_example += 3 * math.prod(s.feature)                            # c, a_c, δc
    else:
        tokens, keys = input_shape[0], len(feature.get("query"))
        per_example += 2 * (tokens * (2 * keys + 2 * s.feature[1]) + 2 * tokens * tokens)
    if len(stack) == 3:
        per_example += 2 * math.prod(s.pooled)
    parameters = sum(len(_flat(layer.get(key))) for layer in stack for key in PARAMETERS[layer.kind])
    return 1 + examples * per_example + 2 * parameters + 1


def parameter_count(stack) -> int:
    return sum(len(_flat(layer.get(key))) for layer in stack for key in PARAMETERS[layer.kind])


def describe(stack: tuple[Layer, ...], input_shape: tuple[int, ...], examples: int) -> str:
    """The stack in one line, with its size."""
    s = shapes(stack, input_shape)
    feature = stack[0]
    if feature.kind == "recurrent":
        parts = [f"a recurrent layer of {feature.units} {feature.activation} units unrolled over "
                 f"{input_shape[0]} time steps of {input_shape[1]} input(s), passing on its last state"]
    elif feature.kind == "conv":
        side = len(feature.get("kernels")[0])
        parts = [f"{input_shape[0]}×{input_shape[1]} images, {s.feature[0]} learned {side}×{side} kernels "
                 f"with biases ({feature.activation}) making {s.feature[1]}×{s.feature[2]} feature maps"]
    else:
        parts = [f"one attention head over {input_shape[0]} tokens of dimension {input_shape[1]} "
                 f"(queries and keys of {len(feature.get('query'))}, values of {s.feature[1]})"]
    if len(stack) == 3:
        pool = stack[1]
        parts.append(f"{pool.size}×{pool.size} average pooling" if pool.size else "global average pooling")
    parts.append(f"a dense output of {s.outputs} ({stack[-1].activation})")
    return (f"{', '.join(parts)}; {parameter_count(stack)} trained parameters, {examples} examples per step, "
            f"about {column_estimate(stack, input_shape, examples):,} columns per sheet")


def record(stack: tuple[Layer, ...]) -> list[dict]:
    """The layers as the plain data ``parse_layers`` reads."""
    out = []
    for layer in stack:
        table = {"type": layer.kind}
        if layer.kind in ACTIVATIONS:
            table["activation"] = layer.activation
        if layer.units:
            table["units"] = layer.units
        if layer.kind == "pool" and layer.size:
            table["size"] = layer.size
        table.update((key, _plain(value)) for key, value in layer.values)
        out.append(table)
    return out


def _plain(value):
    return [_plain(v) for v in value] if isinstance(value, tuple) else value


def _shape(value) -> tuple[int, ...] | None:
    """The shape of a nested list of numbers with equal-length rows, or None."""
    if _is_number(value):
        return ()
    if not isinstance(value, list) or not value:
        return None
    inner = [_shape(v) for v in value]
    if inner[0] is None or any(s != inner[0] for s in inner):
        return None
    return (len(value), *inner[0])


def _array(where: str, value, expected: tuple, fail) -> tuple:
    found = _shape(value)
    if found != tuple(expected):
        shown = "×".join(map(str, expected))
        fail(f"{where} must be {shown} numbers" + (f", not {'×'.join(map(str, found))}" if found else ""))
    if not all(math.isfinite(v) for v in _flat(value)):
        fail(f"{where} holds a value that is not a finite number")
    return _frozen(value)


def _frozen(value):
    return tuple(_frozen(v) for v in value) if isinstance(value, (list, tuple)) else float(value)


def _flat(value) -> list[float]:
    if isinstance(value, (list, tuple)):
        return [x for v in value for x in _flat(v)]
    return [value]


def _is_number(value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and not (isinstance(value, int) and value.bit_length() > 1023))
