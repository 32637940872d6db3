"""Every column label of a step table, made in one place.

The writer (``network``/``build``) and the reader (``audit``/``check``) both go through this
module, so a label the workbook writes is always a label ``check`` can read back.
"""

from __future__ import annotations

import re

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


def hidden(j: int, layer: int = 1, hidden_layers: int = 1) -> str:
    """h1, h2, … with one hidden layer (the ERA/Mazur names); h1_2 (layer 1, neuron 2) with more."""
    return f"h{j}" if hidden_layers == 1 else f"h{layer}_{j}"


def output(k: int) -> str:
    return f"o{k}"


def activation(neuron_label: str) -> str:
    """a_h1 for h1, a_o2 for o2."""
    return f"a_{neuron_label}"


def neuron_bias(neuron_label: str) -> str:
    """One bias per neuron: b_h1, b_h1_2, b_o1 (``bias(n)`` is one shared by layer n)."""
    return f"b_{neuron_label}"


def output_loss(k: int) -> str:
    return f"E{k}"


# --- layered templates (sheetprop.network.stack): a grid of values per layer ---------------------

def grid_input(row: int, col: int) -> str:
    """An image's pixel (row, column) or a token's component (token, dimension): x2_3."""
    return f"x{row}_{col}"


def sequence_input(feature: int, time: int) -> str:
    """A sequence's input ``feature`` at time step ``time``: x1_t2."""
    return f"x{feature}_t{time}"


def state(unit: int, time: int) -> str:
    """A recurrent unit's hidden state after time step ``time`` (h1_t0 is the starting state)."""
    return f"h{unit}_t{time}"


def recurrent_net(unit: int, time: int) -> str:
    """A recurrent unit's weighted sum at time step ``time``, before its activation: z1_t2."""
    return f"z{unit}_t{time}"


def recurrent_weight(source: str, unit: int, k: int) -> str:
    """Wx1_2 (input 2 -> unit 1) and Wh1_2 (state of unit 2 at t−1 -> unit 1)."""
    return f"W{source}{unit}_{k}"


def kernel(k: int, row: int, col: int) -> str:
    return f"K{k}_{row}_{col}"


def feature_map(k: int, row: int, col: int) -> str:
    """Kernel k's weighted sum at (row, col), before its activation: c1_2_1 (a_c1_2_1 after)."""
    return f"c{k}_{row}_{col}"


def pooled(*position: int) -> str:
    """An average-pooled value: p1_1_1 (map 1's window at row 1, column 1), or p2 (global)."""
    return "p" + "_".join(map(str, position))


def projection_weight(kind: str, out: int, k: int) -> str:
    """Attention's projections: Wq1_2 (input dimension 2 -> query component 1), Wk…, Wv…."""
    return f"W{kind}{out}_{k}"


def projected(kind: str, token: int, k: int) -> str:
    """Token ``token``'s query, key or value component ``k``: q2_1, k2_1, v2_1."""
    return f"{kind}{token}_{k}"


def score(query: int, key: int) -> str:
    """Scaled dot product of query ``query`` with key ``key``: S1_2."""
    return f"S{query}_{key}"


def attention_weight(query: int, key: int) -> str:
    """Softmax of query ``query``'s scores, at key ``key``: A1_2."""
    return f"A{query}_{key}"


def attended(token: int, k: int) -> str:
    """Component ``k`` of token ``token``'s weighted sum of values: y1_2."""
    return f"y{token}_{k}"


def perturbed(label: str, parameter_label: str, sign: int) -> str:
    """The gradient check's helper: ``label`` recomputed with a parameter moved by ±h."""
    return f"{label}({parameter_label}{'+' if sign > 0 else '−'}h)"


EXAMPLE_LOSS = "E"  # one example's loss, when the step's loss is the mean over several
_SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def for_example(label: str, n: int, examples: int) -> str:
    """``label`` as it belongs to example n of several, marked the textbook way: a_o1⁽²⁾.
    With one example the label stays as it is."""
    return label if examples == 1 else f"{label}⁽{str(n).translate(_SUPERSCRIPTS)}⁾"


# --- optimizer state: one column per trained parameter (and Adam's step count) ---------------

def velocity(parameter_label: str) -> str:
    """SGD momentum's running sum of gradients: v_w1."""
    return f"v_{parameter_label}"


def first_moment(parameter_label: str) -> str:
    """Adam's running mean of gradients: m_w1."""
    return f"m_{parameter_label}"


def second_moment(parameter_label: str) -> str:
    """RMSprop's and Adam's running mean of squared gradients: s_w1."""
    return f"s_{parameter_label}"


ADAM_STEP = "t"  # Adam's step count, for its bias correction 1 − β1ᵗ


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


# --- reading labels back: by meaning, not from a list of spellings -------------------------------
# Students write ∂, δ or d for the derivative, E, E_t, E_tot or E_total for the loss, a_, out_ or
# act_ for an activation, net_ for a weighted sum, with any spacing and case. A label is taken
# apart into those pieces: which quantity (t, i, w, b, h, o, E), which number, which prefix.

# ∂ and δ in every style Unicode has for mathematics (bold, italic, sans-serif: 𝝏, 𝛿, 𝜹, …),
# as a formula editor or a font menu writes them.
_DERIVATIVE_MARKS = str.maketrans(
    {mark: "d" for mark in "∂δΔ" + "".join(chr(0x1D6C5 + 0x3A * k) for k in range(5))    # 𝛅 𝛿 𝜹 𝝳 𝞭
     + "".join(chr(0x1D6DB + 0x3A * k) for k in range(5))})                                 # 𝛛 𝜕 𝝏 𝞉 𝟃
_LOSS_NAME = r"e(?:total|tot|t)"
_GIVEN = re.compile(r"(?P<kind>[tiwb])(?P<n>\d+)")
_NEURON = re.compile(r"(?P<prefix>net|a|out|act)?(?P<kind>[ho])(?P<n>\d+)")
_OUTPUT_LOSS = re.compile(r"e(?P<n>\d+)")
# ∂E/∂w1 and its spellings: dE/dw1, δE_tot/δw1, dE_t/dw1, E∂w1, Edw1, dw1.
_GRADIENT = re.compile(rf"(?:d?(?:{_LOSS_NAME}|e)/?)?dw(?P<n>\d+)")
_BIAS_GRADIENT = re.compile(rf"(?:d?(?:{_LOSS_NAME}|e)/?)?db(?P<n>\d+)")  # ∂E/∂b1, dE/db2


# Every label this module makes, as a grammar: a header written by ``build`` reads back as itself.
_NEURON_NAME = r"(?:h\d+(?:_\d+)?|o\d+)"
# A layered template's quantities (see the functions above): states, sums, maps, pools, attention.
_LAYER_NAME = (r"(?:[xhz]\d+_t\d+|x\d+_\d+|c\d+_\d+_\d+|p\d+(?:_\d+_\d+)?|[qkvSAy]\d+_\d+)")
_LAYER_PARAMETER = r"(?:W[xhqkv]\d+_\d+|K\d+_\d+_\d+|b_K\d+)"
_PARAMETER_NAME = rf"(?:w\d+|b\d+|b_{_NEURON_NAME}|{_LAYER_PARAMETER})"
_EXAMPLE = r"(?:⁽[⁰¹²³⁴⁵⁶⁷⁸⁹]+⁾)?"
_QUANTITY = (rf"(?:[ti]\d+|{_PARAMETER_NAME}|a_{_NEURON_NAME}|{_NEURON_NAME}|a_c\d+_\d+_\d+|{_LAYER_NAME}"
             rf"|E\d*|{LOSS}|{ADAM_STEP}|[vms]_{_PARAMETER_NAME}|(?:fd |Δ )?∂E/∂{_PARAMETER_NAME}"
             rf"|∂E/∂(?:{_NEURON_NAME}|{_LAYER_NAME}|a_o\d+)){_EXAMPLE}")
_MADE = re.compile(rf"{_QUANTITY}(?:\({_PARAMETER_NAME}[+−]h\))?")


def parse(text) -> str | None:
    """The label a header cell stands for (``w1``, ``a_h1``, ``E_total``, ``∂E/∂w1``), or None.
    Labels ``build`` writes read back exactly; others are read by meaning (see above)."""
    if not isinstance(text, str):
        return None
    if _MADE.fullmatch(text.strip()):
        return text.strip()
    key = re.sub(r"[\s_]", "", text.translate(_DERIVATIVE_MARKS)).lower()
    if match := _GIVEN.fullmatch(key):
        return {"t": target, "i": input_, "w": weight, "b": bias}[match["kind"]](int(match["n"]))
    if match := _NEURON.fullmatch(key):
        neuron = (hidden if match["kind"] == "h" else output)(int(match["n"]))
        return activation(neuron) if match["prefix"] in ("a", "out", "act") else neuron
    if match := _OUTPUT_LOSS.fullmatch(key):
        return output_loss(int(match["n"]))
    if re.fullmatch(_LOSS_NAME, key):
        return LOSS
    if match := _GRADIENT.fullmatch(key):
        return gradient(weight(int(match["n"])))
    if match := _BIAS_GRADIENT.fullmatch(key):
        return gradient(bias(int(match["n"])))
    # A label with words of the student's own after it, in brackets: "t1 ( output of out_o1)".
    plain = _REMARK.sub(" ", text).strip()
    if plain and plain != text.strip():
        return parse(plain)
    return None


_REMARK = re.compile(r"[(\[][^()\[\]]*[)\]]")
_NUMBERED = re.compile(r"(.*?)(\d+)")


def settle_repeated(found: list[tuple[str, int]], columns: dict[str, int]) -> dict[str, int]:
    """A header row's labels where one is typed twice (i2 typed over the t2 column): each column of
    a repeated label keeps it where its neighbours number on from it (i1 | i2), and one that stands
    among another kind's numbers is the label its place gives (t1 | "i2" | i1 is t2) when that
    label is missing. ``found``: (label, column) of the row's labels in order; ``columns``: the
    first (or best) column of each. Returns the settled columns."""
    at = {column: label for label, column in found}
    counts: dict[str, int] = {}
    for label, _ in found:
        counts[label] = counts.get(label, 0) + 1

    def step(label: str, by: int) -> str | None:
        match = _NUMBERED.fullmatch(label)
        return f"{match[1]}{int(match[2]) + by}" if match and int(match[2]) + by > 0 else None

    def in_place(label: str, column: int) -> bool:
        return any(at.get(column + d) == step(label, d) for d in (-1, 1))

    settled = dict(columns)
    for label, count in counts.items():
        if count < 2 or not _NUMBERED.fullmatch(label):
            continue
        where = [column for name, column in found if name == label]
        fitting = [column for column in where if in_place(label, column)]
        if len(fitting) != 1:
            continue
        settled[label] = fitting[0]
        for column in where:
            if column == fitting[0]:
                continue
            meant = {step(at[column + d], -d) for d in (-1, 1) if column + d in at} - {None}
            meant = {m for m in meant if m not in columns and m not in settled}
            if len(meant) == 1:
                settled[meant.pop()] = column
    return settled
