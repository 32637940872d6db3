"""Pictures of the sheets a grader can read: each lr sheet's real columns — the band naming each
group, the header, the first steps and the last — drawn as a table from the workbook's own
numbers, each number as the sheet displays it (writer.number_formats), cropped to the table.
One picture per part of backprop (forward pass and loss; E_total and the backward pass; the
gradient check), split where a part is wider than a page on GitHub; and the summary's text with
the whole derivation."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

from sheetprop.handin.loss_figures import pyplot
from sheetprop.handin.sheets import StepSheet
from sheetprop.network import labels
from sheetprop.writer.number_formats import expected_text

FIRST_STEPS = 5            # steps 0..4, then the last one
MAX_COLUMNS = 9            # beside the step column: ~1,000 px wide, GitHub's page without shrinking
FONT_SIZE = 12
DPI = 100
CHAR_INCHES = 0.105        # a character at FONT_SIZE, with room
ROW_INCHES = 0.34
# The picture each band goes into (bands not named here are left out: the optimizer's state).
PARTS = [("forward", "forward pass and loss", ("constants", "weights", "forward pass", "loss")),
         ("backward", "E_total and the backward pass", ("backward pass",)),
         ("gradcheck", "the gradient check", ("gradient check",))]
BAND_COLOURS = {"constants": "#F2F2F2", "weights": "#DDEBF7", "forward pass": "#E2EFDA", "loss": "#FFF2CC",
                "backward pass": "#FCE4D6", "gradient check": "#EDE2F6"}


def shown(value) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "" if value is None else str(value)
    return "#NUM!" if math.isnan(value) else expected_text(float(value))


def _pieces(sheet: StepSheet) -> list[tuple[str, str, list[int]]]:
    """(file key, caption, column indexes) of each picture of ``sheet``."""
    out = []
    for key, caption, bands in PARTS:
        columns = [k for k, band in enumerate(sheet.bands) if band in bands and sheet.labels[k]]
        if key == "backward" and columns:
            columns = [sheet.labels.index(labels.LOSS), *columns]
        for n, start in enumerate(range(0, len(columns), MAX_COLUMNS)):
            part = columns[start:start + MAX_COLUMNS]
            many = len(columns) > MAX_COLUMNS
            out.append((f"{key}{n + 1 if many else ''}", caption + (f" ({n + 1} of {math.ceil(len(columns) / MAX_COLUMNS)})" if many else ""), part))
    return out


def _row_indexes(count: int) -> list[int | None]:
    """Steps 0..FIRST_STEPS-1, then a gap (None) and the last step."""
    if count <= FIRST_STEPS + 1:
        return list(range(count))
    return [*range(FIRST_STEPS), None, count - 1]


def draw_table(sheet: StepSheet, columns: list[int], caption: str, path: Path) -> None:
    rows = _row_indexes(len(sheet.rows))
    cells = [[sheet.labels[0], *(sheet.labels[k] for k in columns)]]
    for r in rows:
        cells.append(["⋮"] * (len(columns) + 1) if r is None else
                     [str(r), *(shown(sheet.rows[r][k]) for k in columns)])
    widths = [max(6, max(len(row[c]) for row in cells) + 2) * CHAR_INCHES for c in range(len(cells[0]))]
    bands = ["", *(sheet.bands[k] for k in columns)]
    n_rows = len(cells) + 1  # the band row
    plt = pyplot()
    width, height = sum(widths), ROW_INCHES * (n_rows + 1.2)
    fig = plt.figure(figsize=(width + 0.1, height), dpi=DPI)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width + 0.1)
    ax.set_ylim(0, height)
    ax.axis("off")
    top = height - ROW_INCHES * 1.1
    ax.text(0.05, top + ROW_INCHES * 0.55, f"{sheet.name}: {caption}", fontsize=FONT_SIZE + 1,
            fontweight="bold", va="center", ha="left")
    x = 0.05
    for c, w in enumerate(widths):
        # The band: one coloured run per group, named once.
        colour = BAND_COLOURS.get(bands[c], "white")
        ax.add_patch(plt.Rectangle((x, top - ROW_INCHES), w, ROW_INCHES, facecolor=colour, edgecolor="#BFBFBF",
                                   linewidth=0.6))
        if c and bands[c] != bands[c - 1]:
            ax.text(x + 0.05, top - ROW_INCHES / 2, bands[c], fontsize=FONT_SIZE - 2, va="center", ha="left",
                    style="italic")
        for r, row in enumerate(cells):
            y = top - ROW_INCHES * (r + 2)
            header = r == 0
            ax.add_patch(plt.Rectangle((x, y), w, ROW_INCHES, facecolor=colour if header else "white",
                                       edgecolor="#BFBFBF", linewidth=0.6))
            ax.text(x + (w / 2 if header or c == 0 else w - 0.06), y + ROW_INCHES / 2, row[c], fontsize=FONT_SIZE,
                    va="center", ha="center" if header or c == 0 else "right",
                    fontweight="bold" if header else "normal")
        x += w
    fig.savefig(path, format="png", bbox_inches="tight", pad_inches=0.05)
    plt.close(fig)


def draw_sheet(sheet: StepSheet, folder: Path, stem: str) -> list[tuple[str, Path]]:
    """Every picture of one lr sheet: (caption, path)."""
    out = []
    for key, caption, columns in _pieces(sheet):
        path = Path(folder) / f"{stem}_{key}.png"
        draw_table(sheet, columns, caption, path)
        out.append((caption, path))
    return out


def draw_text(lines: list[str], path: Path, title: str, width: int = 100) -> None:
    """Lines of text (the summary: the network, the starting values, the whole derivation),
    each wrapped at ``width`` characters, at a size a page shows without shrinking."""
    wrapped = []
    for line in lines:
        parts = textwrap.wrap(line, width, subsequent_indent="    ") or [""]
        wrapped.extend(parts)
    longest = max(len(line) for line in [title, *wrapped])
    plt = pyplot()
    height = 0.26 * (len(wrapped) + 2)
    fig = plt.figure(figsize=(longest * 0.095 + 0.3, height), dpi=DPI)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.axis("off")
    ax.set_ylim(0, height)
    ax.text(0.01, height - 0.2, title, fontsize=FONT_SIZE + 1, fontweight="bold", va="top", transform=ax.transData)
    for k, line in enumerate(wrapped):
        ax.text(0.01, height - 0.2 - 0.26 * (k + 1.3), line, fontsize=FONT_SIZE - 1, va="top", transform=ax.transData)
    fig.savefig(path, format="png", bbox_inches="tight", pad_inches=0.08)
    plt.close(fig)
