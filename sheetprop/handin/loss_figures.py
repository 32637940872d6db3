"""Loss curves as PNGs, drawn from the numbers a built workbook holds (its cached values), so
a picture in the README shows exactly what the sheet shows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sheetprop.errors import UserError
from sheetprop.network import labels

STEP_LABEL = "step"


@dataclass(frozen=True)
class LossCurve:
    sheet: str
    learning_rate_text: str  # as typed: the sheet's name after "lr="
    learning_rate: float
    losses: list[float]      # E_total per step; NaN where the sheet shows #NUM!


def read_loss_curves(workbook_path: Path, sheet_names: list[str] | None = None) -> list[LossCurve]:
    """Each lr sheet's E_total column, as the workbook stores it."""
    import openpyxl

    book = openpyxl.load_workbook(workbook_path, data_only=True, read_only=True)
    try:
        names = sheet_names or [name for name in book.sheetnames if name.startswith("lr=")]
        return [_curve(book[name], name) for name in names]
    finally:
        book.close()


def _curve(sheet, name: str) -> LossCurve:
    rows = sheet.iter_rows(values_only=True)
    learning_rate = None
    for row in rows:
        if row and row[0] == STEP_LABEL:
            header = list(row)
            break
        if learning_rate is None and row and isinstance(row[0], (int, float)):
            learning_rate = float(row[0])  # A2: η, the first number in column A
    else:
        raise UserError(f"sheet {name!r} has no header row starting with {STEP_LABEL!r}")
    k = header.index(labels.LOSS)
    losses = []
    for row in rows:
        if row[0] is None:
            break
        value = row[k]
        losses.append(float(value) if isinstance(value, (int, float)) else float("nan"))
    return LossCurve(name, name.removeprefix("lr="), learning_rate, losses)


def pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, no window
    import matplotlib.pyplot as plt

    return plt


def plot_one(curve: LossCurve, path: Path, title: str) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=100)
    ax.plot(range(len(curve.losses)), curve.losses, color="#2F5597", linewidth=1.6)
    ax.set_title(f"{title}: η = {curve.learning_rate_text}", fontsize=10)
    ax.set_xlabel(STEP_LABEL)
    ax.set_ylabel(labels.LOSS)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)


def plot_all(curves: list[LossCurve], path: Path, title: str) -> None:
    """Every η on one figure: a linear axis, and a logarithmic one where the fast runs stay
    visible after their loss has dropped a millionfold."""
    plt = pyplot()
    fig, (linear, logarithmic) = plt.subplots(1, 2, figsize=(11, 4), dpi=100)
    for curve in curves:
        for ax in (linear, logarithmic):
            ax.plot(range(len(curve.losses)), curve.losses, linewidth=1.4, label=f"η = {curve.learning_rate_text}")
    positive = any(v > 0 for curve in curves for v in curve.losses)
    if positive:
        logarithmic.set_yscale("log")
    for ax, scale in ((linear, ""), (logarithmic, " (log scale)")):
        ax.set_xlabel(STEP_LABEL)
        ax.set_ylabel(labels.LOSS + scale)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
