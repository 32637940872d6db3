"""How big and slow a network's model workbook would be, estimated before a cell is written.

The model workbook promises < 20 MB on disk, written in < 10 s and recalculated by LibreOffice in
< 30 s on the 2-core machine it is developed on. A layer list can ask for far more (64 channels at
28x28 are 50,000 cells of 64 SUMPRODUCTs each), so the writer refuses such a network with the
budget it breaks and the ones it keeps. The estimate counts formula cells, formula characters and
the multiply-adds inside SUMPRODUCTs, layer by layer, and turns them into megabytes and seconds with
rates measured on today's network and on course-20k (benchmarks/mnist_sheet_bench.py --budget
prints estimate beside measurement). No torch, no xlsxwriter: counting only.
"""

from __future__ import annotations

from dataclasses import dataclass

from sheetprop.errors import UserError
from sheetprop.mnist.cnn_arrays import AvgPool, Cnn, ConvBlock, MaxPool, Mix

MAX_MEGABYTES = 20.0
MAX_WRITE_SECONDS = 10.0
MAX_RECALC_SECONDS = 30.0
FIXED_CELLS = 2 * 28 * 28 + 40  # the predict sheet's pixel grid, the input sheet, P(k), the head

# Rates measured on this machine (see the module docstring); deliberately on the slow side.
BYTES_PER_CELL = 11.0          # zipped XML around a formula and its cached value
BYTES_PER_CHARACTER = 0.09     # formula text zips well: the same shapes repeat cell after cell
CELLS_PER_SECOND_WRITTEN = 9_000.0
CHARACTERS_PER_SECOND_WRITTEN = 2_500_000.0
RECALC_START_SECONDS = 3.0     # LibreOffice starting and loading, before any formula
CELLS_PER_SECOND_RECALC = 9_000.0
CHARACTERS_PER_SECOND_RECALC = 1_500_000.0  # parsing the formulas dominates LibreOffice's load


@dataclass(frozen=True)
class Estimate:
    cells: int
    characters: int
    megabytes: float
    write_seconds: float
    recalc_seconds: float

    def broken(self) -> list[str]:
        """The budgets this estimate breaks, as phrases."""
        checks = [(self.megabytes, MAX_MEGABYTES, "MB on disk"),
                  (self.write_seconds, MAX_WRITE_SECONDS, "s to write"),
                  (self.recalc_seconds, MAX_RECALC_SECONDS, "s to recalculate in LibreOffice")]
        return [f"~{value:.1f} {unit} (budget {limit:g})" for value, limit, unit in checks if value > limit]

    def kept(self) -> list[str]:
        checks = [(self.megabytes, MAX_MEGABYTES, "MB on disk"),
                  (self.write_seconds, MAX_WRITE_SECONDS, "s to write"),
                  (self.recalc_seconds, MAX_RECALC_SECONDS, "s to recalculate")]
        return [f"~{value:.1f} {unit} (under {limit:g})" for value, limit, unit in checks if value <= limit]

    def describe(self) -> str:
        return (f"{self.cells:,} formula cells, ~{self.megabytes:.1f} MB, written in ~{self.write_seconds:.1f} s, "
                f"recalculated by LibreOffice in ~{self.recalc_seconds:.0f} s")


def _cell_characters(layer, in_channels: int, sheet: str) -> int:
    """About how long one output cell's formula is (sheet names are quoted into every reference)."""
    reference = len(sheet) + 3 + 8  # 'sheet'!B12:D14
    if isinstance(layer, ConvBlock):
        return 26 + in_channels * (13 + reference + 14)  # SUMPRODUCT(window,$X$1:$Z$3)+
    if isinstance(layer, Mix):
        return 1 + in_channels * (8 + reference)  # $X$1*'sheet'!B3+
    return 8 + reference  # =MAX(…) or =AVERAGE(…)


def estimate(cnn: Cnn) -> Estimate:
    channels, height, width = 1, 28, 28
    cells, characters, sheet = FIXED_CELLS, FIXED_CELLS * 40, "input"
    for layer in cnn.layers:
        if isinstance(layer, ConvBlock):
            shrink = 0 if layer.padding else 2
            out = (layer.kernels.shape[0], height - shrink, width - shrink)
        elif isinstance(layer, (MaxPool, AvgPool)):
            out = (channels, height // layer.size, width // layer.size)
        elif isinstance(layer, Mix):
            out = (layer.weights.shape[0], height, width)
        else:
            raise TypeError(type(layer).__name__)
        layer_cells = out[0] * out[1] * out[2]
        cells += layer_cells
        characters += layer_cells * _cell_characters(layer, channels, sheet)
        (channels, height, width), sheet = out, layer.name
    megabytes = (cells * BYTES_PER_CELL + characters * BYTES_PER_CHARACTER) / 1e6
    write = cells / CELLS_PER_SECOND_WRITTEN + characters / CHARACTERS_PER_SECOND_WRITTEN
    recalc = RECALC_START_SECONDS + cells / CELLS_PER_SECOND_RECALC + characters / CHARACTERS_PER_SECOND_RECALC
    return Estimate(cells, characters, megabytes, write, recalc)


class WorkbookOverBudget(UserError):
    """The network is too big for a workbook; 'mnist' still writes its other outputs."""


def check_workbook_budget(cnn: Cnn, name: str = "this network") -> Estimate:
    """The estimate, or WorkbookOverBudget naming the budgets broken and those kept."""
    found = estimate(cnn)
    broken = found.broken()
    if broken:
        kept = f"; it keeps {', '.join(found.kept())}" if found.kept() else ""
        raise WorkbookOverBudget(f"the model workbook of {name} ({found.cells:,} formula cells) would break its "
                                 f"budget: {', '.join(broken)}{kept}; not written")
    return found
