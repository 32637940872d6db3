"""The hand-in README: Part 1 the backprop sheet (the network drawn, the chain rule in steps with
the first step's numbers, the sheets' pictures, the loss per η), Part 2 the MNIST CNN. Math is
GitHub's ($$ … $$), printed from the engine's own expressions through the LaTeX printer."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from sheetprop.engine.printers import LatexPrinter, latex_symbol
from sheetprop.handin.chain_steps import Block, ChainRule, Line
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


def _latex_number(value: float) -> str:
    text = number(value)
    if "E" in text:
        mantissa, exponent = text.split("E")
        text = f"{mantissa} \\times 10^{{{int(exponent)}}}"
    return f"({text})" if value < 0 else text


def latex_line(line: Line, chain: ChainRule) -> str:
    """One step as LaTeX: its symbol, its expression or product, its number."""
    lhs = latex_symbol(line.lhs)
    if line.expression is not None:
        refs = {expr: latex_symbol(label) for expr, label in chain.refs.items()}
        body = LatexPrinter().doprint(line.expression, refs, expand_root=False)
        return f"{lhs} = {body} = {_latex_number(line.value)}"
    symbolic = " + ".join(" \\cdot ".join(latex_symbol(f) for f in term) for term in line.terms)
    numeric = " + ".join(" \\cdot ".join(_latex_number(v) for v in values) for values in line.term_values)
    return f"{lhs} = {symbolic} = {numeric} = {_latex_number(line.value)}"


def chain_rule_section(blocks: list[Block], chain: ChainRule, sheet_name: str, sheet_values: dict) -> list[str]:
    lines = ["### The chain rule, step by step", "",
             f"Each ∂E_total/∂w broken into local derivatives, one per line, each printed from the "
             f"expression the engine differentiates, then their product. The numbers are the first "
             f"step's on sheet {sheet_name}; the product is the sheet's own ∂E/∂w cell.", ""]
    for block in blocks:
        label = labels.gradient(block.parameter)
        shown = sheet_values.get(label)
        lines += [f"#### {labels.gradient_long(block.parameter)}", ""]
        if not block.lines:
            lines += [f"{block.parameter} does not reach {labels.LOSS}: its gradient is 0.", ""]
            continue
        for line in block.lines:
            lines += ["$$", latex_line(line, chain), "$$", ""]
        if shown is not None:
            lines += [f"The sheet's {label} at step 0: {number(shown)}.", ""]
    return lines


def part1(network: Network, description: list[str], base: Path, workbook: Path, from_note: str, curves,
          loss_pngs: list[Path], combined_png: Path, network_png: Path, pictures: list[tuple[str, str, Path]],
          summary_png: Path | None, blocks: list[Block], chain: ChainRule, chain_sheet: str,
          first_row: dict, pictures_note: str = "") -> list[str]:
    lines = [f"## Part 1 — Backpropagation, step by step ({network.template.name})", ""]
    lines += [*description, ""]
    lines += [f"The workbook: [{workbook.name}]({link(workbook, base)}) — every cell a live formula, "
              f"one sheet per learning rate.{from_note}", ""]
    lines += ["### The network", "", f"![the network, its weights named as in the sheet]({link(network_png, base)})", ""]
    lines += ["### The sheets", ""]
    if summary_png is not None:
        lines += ["**summary** — the network, its starting values and every column's formula:", "",
                  f"![summary]({link(summary_png, base)})", ""]
    for name, caption, png in pictures:
        lines += [f"**{name}** — {caption}:", "", f"![{name}: {caption}]({link(png, base)})", ""]
    if pictures_note:
        lines += [pictures_note, ""]
    lines += ["### Loss per learning rate", "", f"![{labels.LOSS} per step for every η]({link(combined_png, base)})", ""]
    lines += [f"| η | {labels.LOSS} first | {labels.LOSS} last | steps | curve |", "|---|---|---|---|---|"]
    for curve, png in zip(curves, loss_pngs):
        first, last = (curve.losses[0], curve.losses[-1]) if curve.losses else (float("nan"),) * 2
        lines.append(f"| {curve.learning_rate_text} | {number(first)} | {number(last)} | {len(curve.losses)} "
                     f"| [{png.name}]({link(png, base)}) |")
    lines.append("")
    lines += ["| | | |", "|---|---|---|"]  # the single curves 3 a row, as the course's READMEs show them
    cells = [f"![η = {c.learning_rate_text}]({link(p, base)})" for c, p in zip(curves, loss_pngs)]
    for k in range(0, len(cells), 3):
        row = cells[k:k + 3] + [""] * (3 - len(cells[k:k + 3]))
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines += chain_rule_section(blocks, chain, chain_sheet, first_row)
    lines += ["### Every column's formula", "",
              "Each line is one column's formula, printed from the same expressions the sheet's "
              "formulas are printed from.", ""]
    for quantity in network.computed:
        if quantity.role == "gradcheck":
            continue
        lines += ["$$", latex_derivation(network, quantity), "$$", ""]
    return lines


def _fact(run, key: str, unit: str = "") -> str:
    value = run.facts.get(key)
    if value is None or value == "":
        return "not recorded in this workbook"
    if isinstance(value, float):
        return f"{value:.2f}{unit}" if unit else f"{value:g}"
    return f"{value}{unit}"


def part2(run, base: Path) -> list[str]:
    best = run.best
    final = run.epochs[-1]
    lines = ["## Part 2 — The MNIST CNN", ""]
    model = run.facts.get("model") or "the CNN"
    parameters = f"{run.total_parameters:,}" if run.total_parameters is not None else "not recorded"
    lines += [f"Model **{model}**: {parameters} parameters. Run workbook: `{run.path.name}`.", ""]
    lines += ["| data | |", "|---|---|"]
    for key in ("dataset", "train data", "test data", "train images", "test images", "seed", "sheetprop version"):
        lines.append(f"| {key} | {_fact(run, key)} |")
    lines.append("")
    if not run.recorded:
        lines += ["(This workbook was written before `sheetprop mnist` recorded its run: the data it "
                  "trained and tested on is not recorded; best and final accuracy come from its epochs.)", ""]
    lines += [f"**Final test accuracy {final['test_accuracy']:.2f} %** (epoch {final['epoch']}); "
              f"**best {best['test_accuracy']:.2f} %** at epoch {best['epoch']}.", ""]
    met, why = run.target_met()
    lines += [f"Course target (≥ {99.4} % test accuracy, under 20k parameters, within 20 epochs): "
              f"**{'met' if met else 'not met'}** — {why}.", ""]
    if run.layers:
        columns = [c for c in run.layers[0] if c]
        lines += ["### Model summary", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        for layer in run.layers:
            lines.append("| " + " | ".join(str(layer.get(c, "")).replace("|", "\\|") for c in columns) + " |")
        lines.append("| **total params** | " + " | ".join(
            f"**{parameters}**" if c == "parameters" else "" for c in columns[1:]) + " |")
        lines.append("")
    if "samples" in run.pictures:
        lines += ["### Sample digits", "", f"![sample digits]({link(run.pictures['samples'], base)})", ""]
    lines += ["### Training log", "", "| epoch | train loss | train accuracy % | test loss | test accuracy % | lr | seconds |",
              "|---|---|---|---|---|---|---|"]
    for row in run.epochs:
        lines.append(f"| {row['epoch']} | {row['train_loss']:.4f} | {row['train_accuracy']:.2f} | {row['test_loss']:.4f} | "
                     f"{row['test_accuracy']:.2f} | {row['lr']:.6g} | {row['seconds']:.1f} |")
    lines.append("")
    if "curves" in run.pictures:
        lines += ["### Train and test curves", "", f"![loss and accuracy per epoch]({link(run.pictures['curves'], base)})", ""]
    if "misclassified" in run.pictures:
        lines += ["### Misclassified test digits", "",
                  f"![misclassified test digits]({link(run.pictures['misclassified'], base)})", ""]
    return lines
