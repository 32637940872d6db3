"""A README fragment for an MNIST run: the curves and misclassified pictures, the model's layer
table and the accuracy per epoch, ready to paste under a hand-in README's MNIST heading."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

LAYER_COLUMNS = (("layer", "layer"), ("type", "type"), ("output_shape", "output"),
                 ("parameters", "parameters"), ("receptive_field", "receptive field"))


def _cell(value) -> str:
    return str(value).replace("|", "\\|")


def readme_fragment(metrics: list[dict], layers: list[dict], total_params: int, curves_png: Path,
                    misclassified_png: Path, title: str = "MNIST", base: Path | None = None) -> str:
    base = base or Path(curves_png).parent

    def link(path: Path) -> str:
        return quote(Path(path).resolve().relative_to(Path(base).resolve()).as_posix())

    final = metrics[-1]
    lines = [f"## {title}: the CNN", "",
             f"Test accuracy **{final['test_accuracy']:.2f} %** after {final['epoch']} "
             f"epoch{'s' if final['epoch'] != 1 else ''}; {total_params:,} parameters.", "",
             f"![loss and accuracy per epoch]({link(curves_png)})", "",
             "| epoch | train loss | train accuracy % | test loss | test accuracy % |",
             "|---|---|---|---|---|"]
    for row in metrics:
        lines.append(f"| {row['epoch']} | {row['train_loss']:.4f} | {row['train_accuracy']:.2f} | "
                     f"{row['test_loss']:.4f} | {row['test_accuracy']:.2f} |")
    lines += ["", "| " + " | ".join(header for _, header in LAYER_COLUMNS) + " |",
              "|" + "---|" * len(LAYER_COLUMNS)]
    for layer in layers:
        lines.append("| " + " | ".join(_cell(layer.get(key, "")) for key, _ in LAYER_COLUMNS) + " |")
    lines.append("| **total params** | | | **" + f"{total_params:,}" + "** | |")
    lines += ["", f"![misclassified test images]({link(misclassified_png)})", ""]
    return "\n".join(lines)
