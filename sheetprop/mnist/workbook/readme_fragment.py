"""A README fragment for an MNIST run: the data it was measured on, its final and best accuracy and
the course target (from the run record, the same values as the ``run`` sheet), the pictures, the
model's layer table and the accuracy per epoch, ready to paste under a hand-in README's MNIST heading."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from sheetprop.mnist.workbook.run_record import TARGET_ACCURACY, TARGET_EPOCHS, TARGET_PARAMETERS

LAYER_COLUMNS = (("layer", "layer"), ("type", "type"), ("output_shape", "output"),
                 ("parameters", "parameters"), ("receptive_field", "receptive field"))


def _cell(value) -> str:
    """Text inside a table cell or a line: no table breaks, no line breaks, no HTML."""
    text = str(value).replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;")
    return " ".join(text.split())


def readme_fragment(metrics: list[dict], layers: list[dict], total_params: int, paths, record: dict,
                    title: str = "MNIST", base: Path | None = None) -> str:
    """``paths``: the run's OutputPaths (the pictures are linked relative to ``base``, by default
    their folder); ``record``: the run sheet's keys and values."""
    base = base or Path(paths.curves_png).parent

    def link(path: Path) -> str:
        return quote(Path(path).resolve().relative_to(Path(base).resolve()).as_posix())

    final, epochs = record["final test accuracy"], record["epochs"]
    lines = [f"## {title}: the CNN", "",
             f"Model **{_cell(record['model'])}**, {total_params:,} parameters. "
             f"Test accuracy **{final:.2f} %** after {epochs} epoch{'s' if epochs != 1 else ''}; "
             f"best {record['best test accuracy']:.2f} % at epoch {record['best epoch']}.", "",
             f"- trained on: {_cell(record['train data'])}",
             f"- tested on: {_cell(record['test data'])}",
             f"- course target ({TARGET_ACCURACY} % test accuracy with under {TARGET_PARAMETERS:,} parameters "
             f"within {TARGET_EPOCHS} epochs, on MNIST's full test set): **{_cell(record['course target'])}**", "",
             f"![training images and their labels]({link(paths.samples_png)})", "",
             f"![loss and accuracy per epoch]({link(paths.curves_png)})", "",
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
    lines += ["", f"![misclassified test images]({link(paths.misclassified_png)})", ""]
    return "\n".join(lines)
