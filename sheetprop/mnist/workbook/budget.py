"""How big and slow a network's model workbook would be, estimated before a cell is written.

The model workbook promises < 20 MB on disk, written in < 10 s and recalculated by LibreOffice in
< 30 s on the 2-core machine it is developed on. A layer list can ask for far more (64 channels at
28x28 are 50,000 cells of 64 SUMPRODUCTs each), so the writer refuses such a network with the
budget it breaks and the ones it keeps. The estimate counts formula cells and formula characters,
layer by layer, and turns them into megabytes and seconds with rates measured on today's network
and on course-20k (benchmarks/mnist_sheet_bench.py prints the estimate beside what it measures).
No torch, no xlsxwriter: counting the layer list's cells only, so ``--summary`` can say it too.
"""

from __future__ import annotations

from dataclasses import dataclass

from sheetprop.errors import UserError
from sheetprop.mnist.train.architecture import CONV, TRANSITION, Architecture

MAX_MEGABYTES = 20.0
MAX_WRITE_SECONDS = 10.0
MAX_RECALC_SECONDS = 30.0
FIXED_CELLS = 2 * 28 * 28 + 40  # the predict sheet's pixel grid, the input sheet, P(k), the head

# Rates fitted to today's network and course-20k written and recalculated in the same run (their
# ratio gives the share of cells and of formula text), scaled to the default's times on this
# machine with both cores free (3.3 s written, 5.0 s recalculated), then made 1.5x slower for
# safety; the file size needs no scaling (its fit is within a few percent, plus 10%).
BYTES_PER_CELL = 28.0          # zipped XML around a formula and its cached value
BYTES_PER_CHARACTER = 0.13     # formula text zips well: the same shapes repeat cell after cell
CELLS_PER_SECOND_WRITTEN = 7_600.0
CHARACTERS_PER_SECOND_WRITTEN = 3_800_000.0
RECALC_START_SECONDS = 4.5     # LibreOffice starting, loading and saving, whatever the formulas
CHARACTERS_PER_SECOND_RECALC = 2_400_000.0  # parsing and computing grow with the formula text


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


def _cell_characters(kind: str, in_channels: int, sheet: str) -> int:
    """About how long one output cell's formula is (sheet names are quoted into every reference)."""
    reference = len(sheet) + 3 + 8  # 'sheet'!B12:D14
    if kind == CONV:
        return 26 + in_channels * (13 + reference + 14)  # SUMPRODUCT(window,$X$1:$Z$3)+
    if kind == TRANSITION:
        return 1 + in_channels * (8 + reference)  # $X$1*'sheet'!B3+
    return 8 + reference  # =MAX(…) or =AVERAGE(…)


def estimate(architecture: Architecture) -> Estimate:
    """The model workbook of this layer list: a sheet of formula cells for each layer's output."""
    cells, characters, sheet = FIXED_CELLS, FIXED_CELLS * 40, "input"
    for layer in architecture.features:
        channels, height, width = layer.out_shape
        layer_cells = channels * height * width
        cells += layer_cells
        characters += layer_cells * _cell_characters(layer.kind, layer.in_shape[0], sheet)
        sheet = layer.module
    megabytes = (cells * BYTES_PER_CELL + characters * BYTES_PER_CHARACTER) / 1e6
    write = cells / CELLS_PER_SECOND_WRITTEN + characters / CHARACTERS_PER_SECOND_WRITTEN
    recalc = RECALC_START_SECONDS + characters / CHARACTERS_PER_SECOND_RECALC
    return Estimate(cells, characters, megabytes, write, recalc)


class WorkbookOverBudget(UserError):
    """The network is too big for a workbook; 'mnist' still writes its other outputs."""


def check_workbook_budget(architecture: Architecture) -> Estimate:
    """The estimate, or WorkbookOverBudget naming the budgets broken and those kept."""
    found = estimate(architecture)
    broken = found.broken()
    if broken:
        kept = f"; it keeps {', '.join(found.kept())}" if found.kept() else ""
        raise WorkbookOverBudget(f"the model workbook of model {architecture.name} ({found.cells:,} formula cells) "
                                 f"would break its budget: {', '.join(broken)}{kept}; not written")
    return found
