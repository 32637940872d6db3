"""network.png: the network drawn as the course's READMEs draw it — inputs, each neuron with its
weighted sum and activation (h1 → a_h1), each weight named on its edge as the sheet names it,
the biases, and the loss with its targets. The structure is read from the network's own
expressions (any template), the first example's where a step has several."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sheetprop import engine
from sheetprop.handin.chain_steps import ChainRule
from sheetprop.handin.loss_figures import pyplot
from sheetprop.network import Network, labels

MAX_NAMED_EDGES = 48  # past this the names would cover the drawing: the caption names the range
_EXAMPLE = re.compile(r"⁽[⁰¹²³⁴⁵⁶⁷⁸⁹]+⁾$")


@dataclass
class Neuron:
    net: str                 # h1 (its weighted sum's column)
    activation: str          # a_h1
    layer: int
    sources: list[tuple[str, str]] = field(default_factory=list)  # (source neuron or input, weight)
    biases: list[str] = field(default_factory=list)


def _first_example(label: str) -> bool:
    match = _EXAMPLE.search(label)
    return match is None or match.group(0) == "⁽¹⁾"


def _plain(label: str) -> str:
    return _EXAMPLE.sub("", label)


def structure(network: Network) -> tuple[list[str], list[Neuron], list[str]]:
    """(inputs, neurons in layer order, targets) of the first example."""
    chain = ChainRule(network, {})
    roles = {q.label: q.role for q in network.quantities}
    inputs = [q.label for q in network.quantities if q.role == "input" and _first_example(q.label)]
    targets = [q.label for q in network.quantities if q.role == "target" and _first_example(q.label)]
    forward = [q.label for q in network.quantities if q.role == "forward" and _first_example(q.label)]
    by_activation: dict[str, Neuron] = {}
    layer_of = {label: 0 for label in inputs}
    neurons = []
    for label in forward:
        expr = chain.shallow[label]
        terms = [node for node in engine.topological_order([expr]) if node.op == "mul"
                 and all(a.op == "var" for a in node.args)]
        pairs = []
        for term in terms:
            a, b = (arg.payload for arg in term.args)
            if roles.get(a) in ("weight", "bias") and b in layer_of:
                pairs.append((b, a))
            elif roles.get(b) in ("weight", "bias") and a in layer_of:
                pairs.append((a, b))
        if not pairs:
            continue  # an activation, read with its neuron below
        suffix = label[len(_plain(label)):]
        activation = labels.activation(_plain(label)) + suffix
        biases = [node.payload for node in engine.topological_order([expr])
                  if node.op == "var" and roles.get(node.payload) == "bias"]
        neuron = Neuron(label, activation, 1 + max(layer_of[s] for s, _ in pairs), pairs, biases)
        neurons.append(neuron)
        by_activation[activation] = neuron
        layer_of[activation] = neuron.layer
    return inputs, neurons, targets


def draw_network(network: Network, path, title: str) -> None:
    inputs, neurons, targets = structure(network)
    layers = max((n.layer for n in neurons), default=0)
    columns: list[list[tuple[str, str]]] = [[(i, _plain(i)) for i in inputs]]  # (key, text)
    for layer in range(1, layers + 1):
        columns.append([(n.activation, f"{_plain(n.net)} → {_plain(n.activation)}")
                        for n in neurons if n.layer == layer])
    tallest = max(len(c) for c in columns)
    width = 2.6 * (len(columns) + 1)
    height = max(3.0, 1.05 * tallest + 1.2)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(width, height), dpi=100)
    position = {}
    for x, column in enumerate(columns):
        for k, (key, _) in enumerate(column):
            position[key] = (x * 2.6, (len(column) - 1) / 2 - k)
    edges = [(source, n.activation, weight) for n in neurons for source, weight in n.sources]
    named = len(edges) <= MAX_NAMED_EDGES
    for source, target, weight in edges:
        (x0, y0), (x1, y1) = position[source], position[target]
        ax.plot([x0 + 0.45, x1 - 0.55], [y0, y1], color="#8A8A8A", linewidth=1, zorder=1)
        if named:
            t = 0.3 if y0 >= y1 else 0.22  # edges crossing each other: their names apart
            xm, ym = x0 + 0.45 + t * (x1 - x0 - 1.0), y0 + t * (y1 - y0)
            ax.text(xm, ym, _plain(weight), fontsize=10, color="#1F4E79", ha="center", va="center", zorder=3,
                    bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none"})
    for x, column in enumerate(columns):
        for key, text in column:
            cx, cy = position[key]
            colour = "#DDEBF7" if x == 0 else ("#FCE4D6" if x == len(columns) - 1 else "#E2EFDA")
            ax.add_patch(plt.Rectangle((cx - 0.55, cy - 0.28), 1.1, 0.56, facecolor=colour,
                                       edgecolor="#404040", linewidth=1, zorder=2))
            ax.text(cx, cy, text, fontsize=11, ha="center", va="center", zorder=3)
    for n in neurons:
        if n.biases:
            cx, cy = position[n.activation]
            ax.text(cx, cy - 0.4, "+ " + ", ".join(_plain(b) for b in n.biases), fontsize=9, ha="center",
                    va="center", color="#7F6000")
    # The loss: E_total from the outputs and their targets.
    last = [n.activation for n in neurons if n.layer == layers]
    lx = (len(columns)) * 2.6
    ax.add_patch(plt.Rectangle((lx - 0.6, -0.3), 1.2, 0.6, facecolor="#FFF2CC", edgecolor="#404040", zorder=2))
    ax.text(lx, 0, labels.LOSS, fontsize=11, ha="center", va="center", zorder=3)
    for key in last:
        x0, y0 = position[key]
        ax.plot([x0 + 0.55, lx - 0.6], [y0, 0], color="#BF9000", linewidth=1, zorder=1)
    ax.text(lx, -0.55, "targets " + ", ".join(_plain(t) for t in targets), fontsize=9, ha="center", va="top")
    caption = title if named else f"{title} (weights {edges[0][2]}…{edges[-1][2]}, numbered as the sheet's columns)"
    if network.template.examples > 1:
        caption += f"; {network.template.examples} examples per step, the first drawn"
    ax.set_title(caption, fontsize=11)
    ax.set_xlim(-0.8, lx + 0.9)
    ax.set_ylim(-(tallest - 1) / 2 - 0.7, (tallest - 1) / 2 + 0.4)
    ax.axis("off")
    fig.savefig(path, format="png", bbox_inches="tight", pad_inches=0.08)
    plt.close(fig)
