"""The network a labelled table lays out: its layer sizes from the labels, its biases from the b
columns, its activation from the formulas."""

from __future__ import annotations

import re

from sheetprop.check.find import infer
from sheetprop.check.read.cells import as_number, references
from sheetprop.engine import ops
from sheetprop.errors import UserError
from sheetprop.network import Network, labels
from sheetprop.network.template import parse_template

# Each activation by the spreadsheet function its formula calls (the op table's Excel spelling:
# TANH, MAX, EXP), in the order they are looked for: softmax and σ both call EXP.
ACTIVATION_MARKERS = tuple((ops.excel_functions(name)[0] + "(", name) for name in ("tanh", "relu", "sigmoid"))


class NotCheckable(Exception):
    """A sheet that looks like the exercise but cannot be checked: the reason is its message."""


def infer_network(sheet, header_row: int, columns: dict[str, int]):
    """(network, columns, bias names): the network the labels and formulas imply, the columns
    under its labels, and {student's bias label: b_h1, …} where each neuron has a bias of its own."""
    def count(*prefixes):
        indices = [int(m.group(1)) for label in columns for prefix in prefixes
                   if (m := re.fullmatch(re.escape(prefix) + r"(\d+)", label))]
        return max(indices, default=0)

    layers = [count("i"), count("h", "a_h"), count("t", "o", "a_o", "E")]
    if not all(layers):
        missing = [name for name, n in zip(("inputs (i1…)", "hidden neurons (h1, a_h1…)",
                                            "outputs (t1, a_o1…)"), layers) if not n]
        raise NotCheckable(f"header row {header_row} names no {', '.join(missing)}")
    if max(layers) > 9:
        raise NotCheckable(f"header row {header_row} implies layers {layers}; at most 9 neurons each")
    n_in, n_hidden, n_out = layers
    n_weights = n_in * n_hidden + n_hidden * n_out
    bias_names = infer.neuron_biases(sheet, header_row + 1, columns, layers) if "b1" in columns else None
    if bias_names:
        columns = infer.renumbered(columns, bias_names)
    neuron_biases = [labels.neuron_bias(n) for n in [labels.hidden(j) for j in range(1, n_hidden + 1)]
                     + [labels.output(k) for k in range(1, n_out + 1)]]
    per_neuron = all(label in columns for label in neuron_biases)
    has_biases = "b1" in columns or "b2" in columns
    if has_biases and not ("b1" in columns and "b2" in columns):
        raise NotCheckable("sheetprop's network has one bias per layer: b1 and b2 both, or neither")

    first_row = header_row + 1

    def starting(label):
        value = _first_number(sheet, columns.get(label), first_row)
        # Only the network's shape matters here: every row is checked with its own values, so
        # 0 may stand in for a first-row formula (whose value is checked like any other cell).
        return 0.0 if value is None else value

    data = {
        "name": sheet.title,
        "layers": layers,
        "activations": [_activation(sheet, columns, "a_h", n_hidden, first_row),
                        _activation(sheet, columns, "a_o", n_out, first_row)],
        "inputs": [starting(f"i{k}") for k in range(1, n_in + 1)],
        "targets": [starting(f"t{k}") for k in range(1, n_out + 1)],
        "weights": [starting(f"w{k}") for k in range(1, n_weights + 1)],
    }
    if per_neuron:
        data["biases"] = [[starting(label) for label in neuron_biases[:n_hidden]],
                          [starting(label) for label in neuron_biases[n_hidden:]]]
        data["train_biases"] = infer.trained(sheet, first_row, columns, neuron_biases)
    elif has_biases:
        data["biases"] = [starting("b1"), starting("b2")]
    try:
        return Network(parse_template(data, source=f"sheet {sheet.title!r}")), columns, bias_names
    except UserError as exc:
        raise NotCheckable(str(exc)) from None


def _first_number(sheet, col: int | None, row: int) -> float | None:
    if col is None:
        return None
    return as_number(sheet.cell(row, col).value)


def _activation(sheet, columns, prefix: str, count: int, first_row: int) -> str:
    """The activation the formulas of the a_h (or a_o) columns use: the first function among
    TANH, MAX and EXP found in them; linear when they are formulas with none of those; sigmoid
    when no formula tells (the columns are missing or hold typed numbers)."""
    formulas = [formula for k in range(1, count + 1) if (col := columns.get(f"{prefix}{k}"))
                for row in range(first_row, min(sheet.max_row, first_row + 5) + 1)
                if isinstance(formula := sheet.cell(row, col).value, str) and formula.startswith("=")]
    for formula in formulas:
        for marker, name in ACTIVATION_MARKERS:
            if marker in formula.upper():
                return name
    return "linear" if any(references(formula) for formula in formulas) else "sigmoid"
