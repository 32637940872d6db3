"""How big and slow a network's model workbook would be, estimated before a cell is written.

The model workbook promises < 20 MB on disk, written in < 10 s and recalculated by LibreOffice in
< 30 s on the 2-core machine it is developed on. A layer list can ask for far more (64 channels at
28x28 are 50,000 cells of 64 SUMPRODUCTs each), so the writer refuses such a network with the
budget it breaks and the ones it keeps. The estimate counts formula cells and formula characters,
layer by layer, and turns them into megabytes and seconds with rates measured on today's network
and on course-20k (benchmarks/mnist_sheet_bench.py prints the estimate beside what it measures).
No torch, no xlsxwriter: counting only, so ``--summary`` can say it too.
"""

from __future__ import annotations

from dataclasses import dataclass

from sheetprop.errors import UserError
from sheetprop.mnist.workbook.cnn_arrays import AvgPool, Cnn, ConvBlock, MaxPool, Mix

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
    recalc = RECALC_START_SECONDS + characters / CHARACTERS_PER_SECOND_RECALC
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


def estimate_architecture(architecture) -> Estimate:
    """The estimate for a layer list before any training (``--summary``): zero weights, same shapes."""
    import numpy as np

    from sheetprop.mnist.train.architecture import stages

    layers = []
    for stage in stages(architecture):
        c_in, c_out = stage.in_shape[0], stage.out_shape[0]
        if stage.kind == "conv":
            layers.append(ConvBlock(stage.module, np.zeros((c_out, c_in, 3, 3)), np.ones(c_out), np.zeros(c_out),
                                    architecture.padding))
        elif stage.kind in ("maxpool", "avgpool"):
            layers.append((MaxPool if stage.kind == "maxpool" else AvgPool)(stage.module))
        elif stage.kind == "transition":
            layers.append(Mix(stage.module, np.zeros((c_out, c_in))))
    return estimate(Cnn(tuple(layers), np.zeros((10, stages(architecture)[-1].out_shape[0])), 0.0, 1.0))
