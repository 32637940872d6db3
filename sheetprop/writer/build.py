"""`sheetprop build`: the network's forward and backward pass as BackPropagation.xlsx.

Joins the pieces: a template becomes a Network (the calculus), the Network's quantities become
sheet columns (the layout), and the workbook module writes them (the cells).
"""

from __future__ import annotations

import contextlib
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import xlsxwriter

from sheetprop.atomic import atomic_output
from sheetprop.errors import UserError
from sheetprop.network import (CARRIED_ROLES, DEFAULT_FINITE_DIFFERENCE_STEP, FINITE_DIFFERENCE_STEP,
                               LEARNING_RATE, Network, previous)
from sheetprop.network.template import Template
from sheetprop import record
from sheetprop.writer import exercise, workbook as wb
from sheetprop.network import labels, losses

DEFAULT_LEARNING_RATES = "0.1,0.2,0.5,0.8,1,2"
DEFAULT_STEPS = 100
# 6 learning rates x 50,000 rows x ~35 columns is ~10 million formula cells, a ~250 MB file
# that takes minutes to write and that spreadsheet programs open slowly; Excel's own limit is
# 1,048,576 rows. Past this, a chart of the loss says nothing a smaller run would not.
MAX_STEPS = 50_000
MAX_LEARNING_RATES = 20
_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
# Which band of the sheet each role of quantity sits under.
GROUPS = {"target": "constants", "input": "constants", "weight": "weights", "bias": "constants",
          "forward": "forward pass", "loss": "loss", "backward": "backward pass", "gradient": "backward pass",
          "gradcheck": "gradient check", "optimizer": "optimizer state"}
GRADCHECK_NOTE = ("Finite differences: (E_total(p + h) − E_total(p − h)) / 2h, the loss recomputed "
                  "from this row's given cells by one formula, with h from row 1. Beside it, the chain "
                  "rule's ∂E/∂p minus this: tiny (about h²) when backprop is right.")


def parse_learning_rates(text: str) -> list[str]:
    """The learning rates as typed ("0.1,0.2,1"), validated; the text names each sheet."""
    tokens = [token.strip() for token in text.split(",")]
    if not text.strip():
        raise UserError("--lrs is empty; give comma-separated learning rates, e.g. --lrs 0.1,0.5,1")
    if "" in tokens:
        raise UserError(f"--lrs {text!r} has an empty entry; separate numbers with single commas")
    rates = []
    for token in tokens:
        if not _DECIMAL.fullmatch(token):
            raise UserError(f"learning rate {token!r} is not a plain number (e.g. 0.5 or 1e-3)")
        value = float(token)
        if not math.isfinite(value):
            raise UserError(f"learning rate {token!r} is too large to be a number")
        if value <= 0:
            raise UserError(f"learning rate {token!r} must be greater than 0")
        if token in rates:
            raise UserError(f"learning rate {token!r} is given twice")
        if len("lr=" + token) > 31:
            raise UserError(f"learning rate {token!r} is too long to name a sheet (31 characters)")
        rates.append(token)
    if len(rates) > MAX_LEARNING_RATES:
        raise UserError(f"at most {MAX_LEARNING_RATES} learning rates, got {len(rates)}")
    return rates


def parse_steps(text: str) -> int:
    try:
        steps = int(text)
    except ValueError:
        raise UserError(f"--steps {text!r} is not a whole number") from None
    if not 1 <= steps <= MAX_STEPS:
        raise UserError(f"--steps must be between 1 and {MAX_STEPS:,}, got {steps:,}")
    return steps


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
    learning_rate: str
    first_loss: float
    last_loss: float
    overflow_step: int | None  # first step whose numbers overflowed (cells show #NUM!)


def summary_title(network: Network) -> str:
    """The summary's title: the template's name (which follows a changed optimizer, see
    writer.options.with_optimizer) and the network's shape."""
    t = network.template
    return f"Backpropagation, step by step — {t.name} ({'-'.join(map(str, t.layers))} network)"


def describe(network: Network) -> list[str]:
    """The summary sheet's opening lines: the network, its loss and how it trains."""
    return [
        *describe_network(network),
        "Each lr=… sheet is one run: η sits in its A2, and its first data row follows the starting "
        "values below; change a starting value here and every sheet re-runs, or type over one "
        "sheet's first row to change that sheet alone.",
        f"Template: {network.template.source}",
    ]


def describe_network(network: Network) -> list[str]:
    """The network, its loss and how it trains, in two lines."""
    t = network.template
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


def build_workbook(template: Template, learning_rates: list[str], steps: int, out: Path,
                   add_extra_sheets: Callable | None = None, progress=None,
                   gradcheck: bool = False, exercise_out: Path | None = None,
                   first_screen_only: bool = False) -> list[LearningRateResult]:
    """Write the workbook to ``out`` atomically; return each learning rate's loss figures.

    ``first_screen_only``: each sheet prints as one page of what its window first shows (the
    pictures `sheetprop readme` renders), instead of readable pages of the whole table.

    With ``exercise_out``, also the student version there (see ``write_exercise``): both files
    are written before either is moved into place, so a failure leaves neither."""
    if gradcheck:
        refuse_long_gradcheck(template, steps)
    network = Network(template, gradcheck=gradcheck)
    columns = sheet_columns(network)
    wb.check_sheet_limits(columns, network.parameters, steps)
    with contextlib.ExitStack() as outputs:
        tmp = outputs.enter_context(atomic_output(out))
        exercise_tmp = outputs.enter_context(atomic_output(exercise_out)) if exercise_out else None
        results = write_key(network, columns, learning_rates, steps, tmp, add_extra_sheets, progress,
                            first_screen_only)
        if exercise_tmp is not None:
            write_exercise(network, learning_rates, steps, exercise_tmp, progress)
    return results


def refuse_long_gradcheck(template: Template, steps: int) -> None:
    """Refuse a --gradcheck whose first finite difference already passes Excel's formula length,
    before one is built for every parameter (on a 16-16-16-16-16 network, minutes)."""
    network = Network(template)
    if not network.trained:
        return
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


def _sheet_parameters(network: Network, lr_text: str) -> list[wb.Parameter]:
    """Column A of an lr sheet: η, the optimizer's hyper-parameters, the gradient check's h."""
    hyperparameters = network.hyperparameter_values()
    parameters = [wb.Parameter("learning rate η", LEARNING_RATE, float(lr_text))]
    parameters += [wb.Parameter(p.label, p.symbol, hyperparameters[p.key]) for p in network.hyperparameters]
    if network.gradcheck:
        parameters.append(wb.Parameter("gradcheck h", FINITE_DIFFERENCE_STEP, DEFAULT_FINITE_DIFFERENCE_STEP))
    return parameters


def _rows(network: Network, lr_text: str, steps: int, progress, desc: str):
    rows = network.rows(float(lr_text), steps)
    return rows if progress is None else progress(rows, total=steps, desc=desc)


def write_key(network: Network, columns: list[wb.Column], learning_rates: list[str], steps: int,
              tmp: Path, add_extra_sheets: Callable | None = None, progress=None,
              first_screen_only: bool = False) -> list[LearningRateResult]:
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
            list(network.starting_values().items()), derivations, first_screen_only)
        sheets = []
        loss_index = [q.label for q in network.quantities].index(labels.LOSS)
        for lr_text in learning_rates:
            rows = _rows(network, lr_text, steps, progress, f"lr={lr_text}")
            steps_sheet = wb.add_steps_sheet(
                book, formats, f"lr={lr_text}", _sheet_parameters(network, lr_text), columns,
                _watch_overflow(rows, results, lr_text, loss_index),
                chart_title=f"{labels.LOSS} per step", loss_label=labels.LOSS,
                first_row_sources=sources, first_screen_only=first_screen_only)
            sheets.append((float(lr_text), steps_sheet))
        wb.add_summary_results(book, formats, summary, results_row, chart_anchor, sheets, labels.LOSS)
        if add_extra_sheets is not None:
            add_extra_sheets(book, formats)
        record.write_exercise_record(book, template, steps, [s.name for _, s in sheets])
    finally:
        book.close()
    return results


def write_exercise(network: Network, learning_rates: list[str], steps: int, tmp: Path,
                   progress=None) -> None:
    """The student version: the key's lr sheets with only the given numbers filled in (no
    gradient check, no extra sheets), behind an instructions sheet."""
    template = network.template
    if network.gradcheck:  # the teacher's tool, not part of the exercise: backprop alone
        network = Network(template)
    columns = sheet_columns(network)
    names = [f"lr={lr_text}" for lr_text in learning_rates]
    book = _new_book(tmp)
    try:
        formats = wb.make_formats(book)
        exercise.add_instructions_sheet(book, formats, template, describe_network(network),
                                        [c.label for c in columns if not c.given], names,
                                        first_data_row=wb.HEADER_ROW + 2)
        for lr_text, name in zip(learning_rates, names):
            wb.add_steps_sheet(book, formats, name, _sheet_parameters(network, lr_text), columns,
                               _rows(network, lr_text, steps, progress, f"{name} (exercise)"),
                               chart_title=f"{labels.LOSS} per step", loss_label=labels.LOSS,
                               exercise=True)
        record.write_exercise_record(book, template, steps, names)
    finally:
        book.close()


def _watch_overflow(rows, results: list, lr_text: str, loss_index: int):
    """Pass rows through, noting the first and last loss and the first row that overflowed."""
    first = last = math.nan
    overflow_step = None
    for step, row in enumerate(rows):
        if step == 0:
            first = row[loss_index]
        last = row[loss_index]
        if overflow_step is None and not all(math.isfinite(v) for v in row):
            overflow_step = step
        yield row
    results.append(LearningRateResult(lr_text, first, last, overflow_step))
