"""`sheetprop build`: the network's forward and backward pass as BackPropagation.xlsx.

Joins the pieces: a template becomes a Network (the calculus), the Network's quantities become
sheet columns (the layout), and the workbook module writes them (the cells).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import xlsxwriter

from sheetprop.atomic import atomic_output
from sheetprop.network import (CARRIED_ROLES, DEFAULT_FINITE_DIFFERENCE_STEP, FINITE_DIFFERENCE_STEP,
                               LEARNING_RATE, Network, previous)
from sheetprop.network.template import Template
from sheetprop import layout, record
from sheetprop.writer import exercise, step_view, workbook as wb
from sheetprop.network import labels, losses, stack

# The options' rules live in writer.options; these names stay importable from here.
from sheetprop.writer.options import (DEFAULT_LEARNING_RATES, DEFAULT_STEPS, MAX_LEARNING_RATES,  # noqa: F401
                                      MAX_STEPS, LearningRate, parse_learning_rates, parse_steps)
# Which band of the sheet each role of quantity sits under.
GROUPS = {"target": "constants", "input": "constants", "weight": "weights", "bias": "constants",
          "forward": "forward pass", "loss": "loss", "backward": "backward pass", "gradient": "backward pass",
          "gradcheck": "gradient check", "optimizer": "optimizer state"}
LEARNING_RATE_LABEL, GRADCHECK_STEP_LABEL = "learning rate η", "gradcheck h"
GRADCHECK_NOTE = ("Finite differences: (E_total(p + h) − E_total(p − h)) / 2h, the loss recomputed "
                  "from this row's given cells by one formula, with h from the last labelled cell of "
                  "column A. Beside it, the chain rule's ∂E/∂p minus this: tiny (about h²) when backprop "
                  "is right.")


def sheet_columns(network: Network) -> list[wb.Column]:
    """One column per quantity: given ones start as numbers and step by the update rule;
    computed ones carry their derivation as the header note."""
    columns = []
    trained = {q.label for q in network.trained}
    state_notes = {}
    for state in network.optimizer.states:
        for q in network.quantities:
            if q.role == "optimizer" and (q.label == state.label if state.shared else
                                          any(q.label == state.label(p) for p in trained)):
                state_notes[q.label] = state.note
    for q in network.quantities:
        given = q.role in CARRIED_ROLES
        if given:
            note = (network.optimizer.parameter_note if q.label in trained
                    else state_notes.get(q.label, ""))
        else:
            note = GRADCHECK_NOTE if q.role == "gradcheck" else network.derivation(q)
        columns.append(wb.Column(label=q.label, node=q.node, given=given,
                                 next_row=network.update(q) if given else None,
                                 previous=previous(q.label), note=note, group=GROUPS.get(q.role, "")))
    return columns


@dataclass(frozen=True)
class LearningRateResult:
    learning_rate: LearningRate
    first_loss: float
    last_loss: float
    overflow_step: int | None  # first step whose numbers overflowed (cells show #NUM!)
    losses: tuple[float, ...] = ()  # E_total of every step, as the sheet's cells hold it (NaN: #NUM!)


def summary_title(network: Network) -> str:
    """The summary's title: the template's name (which follows a changed optimizer, see
    writer.options.with_optimizer) and the network's shape."""
    t = network.template
    if t.stack:
        return f"Backpropagation, step by step — {t.name} ({'-'.join(layer.kind for layer in t.stack)} network)"
    return f"Backpropagation, step by step — {t.name} ({'-'.join(map(str, t.layers))} network)"


def describe(network: Network) -> list[str]:
    """The summary sheet's opening lines: the network, its loss and how it trains."""
    return [
        *describe_network(network),
        f"Each {layout.SHEET_PREFIX}… sheet is one run: η sits in its {layout.cell_name(layout.LEARNING_RATE_CELL)}, "
        "and its first data row follows the starting "
        "values below; change a starting value here and every sheet re-runs, or type over one "
        "sheet's first row to change that sheet alone.",
        f"Template: {network.template.source}",
    ]


def describe_network(network: Network) -> list[str]:
    """The network, its loss and how it trains, in two lines."""
    t = network.template
    if t.stack:
        return _describe_stack(network)
    layers = ", ".join(f"{'hidden' if k < len(t.activations) - 1 else 'output'} {size} ({activation})"
                       for k, (size, activation) in enumerate(zip(t.layers[1:], t.activations)))
    if t.biases is None:
        biases = "no biases"
    else:
        biases = ("one bias per neuron" if t.biases_per_neuron else "one bias per layer, shared by its neurons")
        biases += ", trained like the weights" if t.train_biases else ", fixed"
    examples = (f"{t.examples} examples per step (a group of columns each); E_total is the mean of "
                "their losses E, and each gradient is the gradient of that mean"
                if t.examples > 1 else "one example per step")
    optimizer = network.optimizer
    return [
        f"Network {'-'.join(map(str, t.layers))}: inputs {t.layers[0]}, {layers}; {biases}; {examples}.",
        f"Loss {losses.get(t.loss).formula}. Optimizer: {optimizer.title}: {optimizer.rule}.",
    ]


def _describe_stack(network: Network) -> list[str]:
    t = network.template
    optimizer = network.optimizer
    return [f"Network: {stack.describe(t.stack, t.input_shape, t.examples)} ({len(sheet_columns(network)):,} here). "
            "E_total is the mean of the examples' losses E.",
            f"Loss {losses.get(t.loss).formula}. Optimizer: {optimizer.title}: {optimizer.rule}."]


def build_workbook(template: Template, learning_rates: Sequence[LearningRate], steps: int, out: Path,
                   add_extra_sheets: Callable | None = None, progress=None,
                   gradcheck: bool = False, exercise_out: Path | None = None) -> list[LearningRateResult]:
    """Write the workbook to ``out`` atomically; return each learning rate's loss figures.

    With ``exercise_out``, also the student version there (see ``write_exercise``): both files
    are written before either is moved into place, so a failure leaves neither."""
    plain = Network(template)
    if gradcheck:
        refuse_long_gradcheck(plain, steps)
    # The gradient check's columns go in the key alone; the exercise is built from the plain network.
    network = Network(template, gradcheck=True) if gradcheck else plain
    columns = sheet_columns(network)
    wb.check_sheet_limits(columns, network.parameters, steps, len(learning_rates))
    with contextlib.ExitStack() as outputs:
        tmp = outputs.enter_context(atomic_output(out))
        exercise_tmp = outputs.enter_context(atomic_output(exercise_out)) if exercise_out else None
        results = write_key(network, columns, learning_rates, steps, tmp, add_extra_sheets, progress)
        if exercise_tmp is not None:
            write_exercise(plain, learning_rates, steps, exercise_tmp, progress)
    return results


def refuse_long_gradcheck(network: Network, steps: int) -> None:
    """Refuse a --gradcheck whose first finite difference already passes Excel's formula length,
    before one is built for every parameter (on a 16-16-16-16-16 network, minutes). ``network``
    is the plain one, without the gradient check."""
    if not network.trained or network.template.stack:
        return  # a layered network's check recomputes the cuts a column each: check_sheet_limits measures them
    columns = sheet_columns(network)
    # Measured with this network's cell references: the gradient check's extra columns only
    # push the real ones further right, so the real formula is at least this long.
    refs = wb.last_row_refs(columns, [*network.parameters, FINITE_DIFFERENCE_STEP], steps)
    parameter = network.trained[0]  # the first layer's: its loss is recomputed through every layer
    fd = network.finite_difference(parameter.node)
    wb.check_formula_length(labels.finite_difference(parameter.label),
                            wb.ExcelPrinter().printed_length(fd, refs), gradcheck=True)


def _new_book(tmp: Path):
    # xlsxwriter's own temp files (constant_memory) go in the private folder too.
    return xlsxwriter.Workbook(str(tmp), {"constant_memory": True, "tmpdir": str(tmp.parent)})


def gradcheck_step_cell(optimizer) -> str:
    """Where --gradcheck's h sits with this optimizer: below η and the hyper-parameters."""
    return layout.cell_name(layout.parameter_cell(1 + len(optimizer.hyperparameters)))


def layout_table() -> list[str]:
    """The lr sheet's layout as a Markdown table (docs/workbook.md holds exactly these lines)."""
    from sheetprop.network.optimizers import OPTIMIZERS

    def cells(optimizer):
        return ", ".join(f"`{layout.cell_name(layout.parameter_cell(1 + k))}` {p.label}"
                         for k, p in enumerate(optimizer.hyperparameters))

    rows = [("cell or rows", "what it holds"),
            (f"`{layout.cell_name(layout.LEARNING_RATE_CELL)}`",
             f"η, under its label in `{layout.cell_name(layout.parameter_label_cell(0))}`; every update formula reads it"),
            *((f"below η ({name})", cells(o)) for name, o in OPTIMIZERS.items() if o.hyperparameters),
            ("below those", "`--gradcheck`'s h: " + ", ".join(f"`{gradcheck_step_cell(o)}` with {name}"
                                                            for name, o in OPTIMIZERS.items())),
            (f"rows {layout.CHART_ROW + 1}–{layout.CHART_ROW + layout.CHART_HEIGHT_ROWS}", "the sheet's loss chart, right of column A"),
            (f"row {layout.BAND_ROW + 1}", "the coloured band naming each group of columns"),
            (f"row {layout.HEADER_ROW + 1}", "the header: one label per column"),
            (f"row {layout.FIRST_DATA_ROW + 1} on", "one row per step, the starting values first; column A numbers the steps"),
            ]
    lines = [f"| {a} | {b} |" for a, b in rows]
    lines.insert(1, "|---|---|")
    return lines


def _sheet_parameters(network: Network, rate: LearningRate) -> list[wb.Parameter]:
    """Column A of an lr sheet, in this order: η, the optimizer's hyper-parameters, the gradient
    check's h (``gradcheck_step_cell`` says where that puts h)."""
    hyperparameters = network.hyperparameter_values()
    parameters = [wb.Parameter(LEARNING_RATE_LABEL, LEARNING_RATE, rate.value)]
    parameters += [wb.Parameter(p.label, p.symbol, hyperparameters[p.key]) for p in network.hyperparameters]
    if network.gradcheck:
        parameters.append(wb.Parameter(GRADCHECK_STEP_LABEL, FINITE_DIFFERENCE_STEP, DEFAULT_FINITE_DIFFERENCE_STEP))
    return parameters


def _rows(network: Network, rate: LearningRate, steps: int, progress, desc: str):
    rows = network.rows(rate.value, steps)
    return rows if progress is None else progress(rows, total=steps, desc=desc)


def write_key(network: Network, columns: list[wb.Column], learning_rates: Sequence[LearningRate], steps: int,
              tmp: Path, add_extra_sheets: Callable | None = None, progress=None) -> list[LearningRateResult]:
    """The full workbook, every cell a live formula: the answer key of an exercise."""
    template = network.template
    results = []
    book = _new_book(tmp)
    try:
        formats = wb.make_formats(book)
        derivations = [network.derivation(q) for q in network.computed if q.role != "gradcheck"]
        summary, results_row, chart_anchor, sources = wb.add_summary_sheet(
            book, formats, summary_title(network),
            describe(network),
            list(network.starting_values().items()), derivations)
        sheets = []
        loss_index = [q.label for q in network.quantities].index(labels.LOSS)
        for rate in learning_rates:
            rows = _rows(network, rate, steps, progress, layout.sheet_name(rate.text))
            steps_sheet = wb.add_steps_sheet(
                book, formats, layout.sheet_name(rate.text), _sheet_parameters(network, rate), columns,
                _watch_overflow(rows, results, rate, loss_index),
                chart_title=f"{labels.LOSS} per step", loss_label=labels.LOSS,
                first_row_sources=sources)
            sheets.append((rate.value, steps_sheet))
        wb.add_summary_results(book, formats, summary, results_row, chart_anchor, sheets, labels.LOSS)
        step_view.add_step_view(book, formats, network.grids, [s for _, s in sheets], steps)
        if add_extra_sheets is not None:
            add_extra_sheets(book, formats)
        record.write_exercise_record(book, template, steps, [s.name for _, s in sheets])
    finally:
        book.close()
    return results


def write_exercise(network: Network, learning_rates: Sequence[LearningRate], steps: int, tmp: Path,
                   progress=None, student: str | None = None) -> None:
    """The student version: the key's lr sheets with only the given numbers filled in (no
    gradient check, no extra sheets), behind an instructions sheet. ``network`` is the plain
    one: the gradient check is the teacher's tool, not part of the exercise."""
    template = network.template
    columns = sheet_columns(network)
    names = [layout.sheet_name(rate.text) for rate in learning_rates]
    book = _new_book(tmp)
    try:
        formats = wb.make_formats(book)
        exercise.add_instructions_sheet(book, formats, template, describe_network(network),
                                        [c.label for c in columns if not c.given], names,
                                        first_data_row=wb.HEADER_ROW + 2)
        for rate, name in zip(learning_rates, names):
            wb.add_steps_sheet(book, formats, name, _sheet_parameters(network, rate), columns,
                               _rows(network, rate, steps, progress, f"{name} (exercise)"),
                               chart_title=f"{labels.LOSS} per step", loss_label=labels.LOSS,
                               exercise=True)
        record.write_exercise_record(book, template, steps, names, student)
    finally:
        book.close()


def _watch_overflow(rows, results: list, rate: LearningRate, loss_index: int):
    """Pass rows through, noting the first and last loss and the first row that overflowed."""
    losses = []
    overflow_step = None
    for step, row in enumerate(rows):
        loss = row[loss_index]
        losses.append(loss if math.isfinite(loss) else math.nan)
        if overflow_step is None and not all(math.isfinite(v) for v in row):
            overflow_step = step
        yield row
    first, last = (losses[0], losses[-1]) if losses else (math.nan, math.nan)
    results.append(LearningRateResult(rate, first, last, overflow_step, tuple(losses)))
