"""Every column label of a step table, made in one place.

The writer (``network``/``build``) and the reader (``audit``/``check``) both go through this
module, so a label the workbook writes is always a label ``check`` can read back.
"""

from __future__ import annotations

LOSS = "E_total"
STEP = "step"


def target(k: int) -> str:
    return f"t{k}"


def input_(k: int) -> str:
    return f"i{k}"


def weight(n: int) -> str:
    return f"w{n}"


def bias(n: int) -> str:
    return f"b{n}"


def hidden(j: int) -> str:
    return f"h{j}"


def output(k: int) -> str:
    return f"o{k}"


def activation(neuron_label: str) -> str:
    """a_h1 for h1, a_o2 for o2."""
    return f"a_{neuron_label}"


def output_loss(k: int) -> str:
    return f"E{k}"


def gradient(parameter_label: str) -> str:
    """The column of ∂E_total/∂w, headed the short way: ∂E/∂w1."""
    return f"∂E/∂{parameter_label}"


def gradient_long(parameter_label: str) -> str:
    """The same derivative as written in a derivation: ∂E_total/∂w1."""
    return f"∂{LOSS}/∂{parameter_label}"


def finite_difference(parameter_label: str) -> str:
    """The gradient check's column: the same derivative by central differences."""
    return f"fd ∂E/∂{parameter_label}"


def gradcheck_error(parameter_label: str) -> str:
    """The chain rule's derivative minus the finite difference."""
    return f"Δ ∂E/∂{parameter_label}"
