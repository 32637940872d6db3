"""The hand-in README: the network, its derivation as GitHub math (from the engine's own
expressions, through the LaTeX printer), each η's first and last loss, every picture linked."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from sheetprop.engine.printers import LatexPrinter, latex_symbol
from sheetprop.network import Network, Quantity, labels
from sheetprop.writer.number_formats import expected_text


def latex_derivation(network: Network, quantity: Quantity) -> str:
    """One computed column as LaTeX: \\frac{\\partial E_{total}}{\\partial w_{5}} = …"""
    symbols = {node: latex_symbol(label) for node, label in network.symbols().items()}
    lhs = quantity.label.replace(labels.gradient(""), labels.gradient_long(""))
    return f"{latex_symbol(lhs)} = {LatexPrinter().doprint(quantity.node, symbols)}"


def link(path: Path, base: Path) -> str:
    """A Markdown link target relative to the README, spaces and '=' made safe."""
    return quote(Path(path).relative_to(base).as_posix())


def number(value: float) -> str:
    return "#NUM!" if value != value else expected_text(value)  # NaN: what the sheet shows


def readme_text(network: Network, description: list[str], base: Path, workbook: Path, curves,
                loss_pngs: list[Path], combined_png: Path, screens: list[tuple[str, Path]],
                screens_note: str = "") -> str:
    lines = [f"# Backpropagation, step by step — {network.template.name}", ""]
    lines += [*description, ""]
    lines += [f"The workbook: [{workbook.name}]({link(workbook, base)}) — every cell a live formula, "
              "one sheet per learning rate.", ""]
    lines += ["## Loss per learning rate", "", f"![{labels.LOSS} per step for every η]({link(combined_png, base)})", ""]
    lines += [f"| η | {labels.LOSS} first | {labels.LOSS} last | steps | curve |", "|---|---|---|---|---|"]
    for curve, png in zip(curves, loss_pngs):
        first, last = (curve.losses[0], curve.losses[-1]) if curve.losses else (float("nan"),) * 2
        lines.append(f"| {curve.learning_rate_text} | {number(first)} | {number(last)} | {len(curve.losses)} "
                     f"| [{png.name}]({link(png, base)}) |")
    lines.append("")
    # A 2×3 table of the single curves, as the course's READMEs show them.
    lines += ["| | | |", "|---|---|---|"]
    cells = [f"![η = {c.learning_rate_text}]({link(p, base)})" for c, p in zip(curves, loss_pngs)]
    for k in range(0, len(cells), 3):
        row = cells[k:k + 3] + [""] * (3 - len(cells[k:k + 3]))
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines += ["## The sheets", ""]
    if screens:
        for name, png in screens:
            lines += [f"**{name}** — its first screen:", "", f"![{name}]({link(png, base)})", ""]
    else:
        lines += [screens_note, ""]
    lines += ["## The chain rule, derived by the engine", "",
              "Each line is one column's formula, printed from the same expressions the sheet's "
              "formulas are printed from.", ""]
    for quantity in network.computed:
        if quantity.role == "gradcheck":
            continue
        lines += ["$$", latex_derivation(network, quantity), "$$", ""]
    return "\n".join(lines)
