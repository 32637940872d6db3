"""The `build` command's options and its report to the terminal."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from sheetprop import layout
from sheetprop.writer.build import DEFAULT_LEARNING_RATES, DEFAULT_STEPS, MAX_STEPS, build_workbook, gradcheck_step_cell
from sheetprop.writer.options import refuse_own_inputs, resolve
from sheetprop.writer.exercise import exercise_path
from sheetprop.network.optimizers import OPTIMIZERS
from sheetprop.network.template import builtin_templates
from sheetprop.network.variants import read_roster
from sheetprop.errors import UserError

DEFAULT_OUT = Path("output") / "BackPropagation.xlsx"


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "build",
        help="write BackPropagation.xlsx: the network's backprop as live formulas",
        description="Write a workbook in which a tiny network's forward pass, losses and every "
        "∂E/∂w are live Excel formulas, one row per gradient-descent step and one sheet per "
        "learning rate, with native charts of the loss. The formulas come from a symbolic "
        "chain-rule engine, and every cell also stores its computed value.",
    )
    add_build_arguments(parser)
    parser.add_argument("--out", metavar="FILE", type=output_file, default=DEFAULT_OUT,
                        help=f"the workbook to write (default {DEFAULT_OUT}; its folder is created, "
                        "and the file is written atomically)")
    parser.add_argument("--exercise", action="store_true",
                        help="teacher's kit: the --out file is the answer key, and beside it the student "
                        "version, named with _exercise (output/BackPropagation_exercise.xlsx): the "
                        "same sheets and columns "
                        "with only the starting values, targets and inputs filled in, every other "
                        "cell blank for the student's formulas, and instructions on its first "
                        "sheet; 'sheetprop check' grades the filled-in copy. Any optimizer works (its "
                        "state columns are the student's work too); --gradcheck and --mnist-metrics "
                        "go into the key alone")
    parser.add_argument("--roster", metavar="CSV", type=Path, default=None,
                        help="with --exercise: one student version per roster row (a CSV with an id column, "
                        "optionally name) in KEY_exercises/<id>.xlsx, each with its own starting numbers drawn "
                        "from the id (the same every time); grade them with 'check --key KEY --roster CSV'")
    parser.set_defaults(run=run)


def add_build_arguments(parser) -> None:
    """The options that say what to build (not where): shared with `sheetprop readme`."""
    parser.add_argument(
        "--lrs", metavar="LIST", default=None,
        help=f"comma-separated learning rates, one sheet each, named as typed ({layout.sheet_name('0.5')}); "
        f"default: the template's own, else {DEFAULT_LEARNING_RATES}")
    parser.add_argument(
        "--steps", metavar="N", default=str(DEFAULT_STEPS),
        help=f"rows per sheet: the starting row plus N-1 gradient-descent steps (1 to {MAX_STEPS:,}; default {DEFAULT_STEPS})")
    parser.add_argument(
        "--template", metavar="NAME|PATH", default="era",
        help=f"network template: a built-in name ({', '.join(builtin_templates()) or 'era'}) "
        "or the path of a .toml file (format in docs/templates.md); default era")
    parser.add_argument("--mnist-metrics", metavar="CSV", type=Path, default=None,
                        help="also add an 'mnist' sheet with these per-epoch metrics "
                        "(the CSV that 'sheetprop mnist' writes)")
    parser.add_argument("--gradcheck", action="store_true",
                        help="beside each ∂E/∂w, add the same derivative by finite differences "
                        "(the loss recomputed with w ± h) and their difference; h sits in column A below "
                        "η and the optimizer's hyper-parameters: "
                        + ", ".join(f"{gradcheck_step_cell(o)} with {name}" for name, o in OPTIMIZERS.items()))
    parser.add_argument("--optimizer", choices=list(OPTIMIZERS), default=None,
                        help="how the weights step: sgd (w − η·∂E/∂w), momentum, rmsprop or adam, "
                        "as in torch.optim; its hyper-parameters sit in labelled cells beside η "
                        "(default: the template's, else sgd)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")


def output_file(text: str) -> Path:
    """--out as a file path: Path("newdir/") is Path("newdir"), so a trailing slash, which names
    a folder, would be lost."""
    if text.endswith(("/", os.sep)):
        raise argparse.ArgumentTypeError(f"{text[:200]} names a folder; give a file name such as "
                                         f"{text[:200]}BackPropagation.xlsx")
    return Path(text)


def progress_bar(quiet: bool, rows: int):
    """A progress bar per sheet on a terminal, for builds long enough to want one; else None."""
    if quiet or not sys.stderr.isatty() or rows < 20_000:
        return None
    from tqdm import tqdm

    def progress(rows, total, desc):
        return tqdm(rows, total=total, desc=desc, unit="row", leave=False)

    return progress


def run(args) -> int:
    # Validate everything before writing anything, so a bad option leaves no trace.
    options = resolve(args.template, args.optimizer, args.lrs, args.steps)
    template, learning_rates, steps = options.template, options.learning_rates, options.steps
    roster = getattr(args, "roster", None)
    if roster is not None and not args.exercise:
        raise UserError("--roster writes each student's exercise: give --exercise too")
    students = read_roster(roster) if roster is not None else None
    exercise_out = exercise_path(args.out) if args.exercise and students is None else None
    outs = [args.out, exercise_out]
    if students is not None:
        from sheetprop.writer.roster import exercises_folder

        outs += [exercises_folder(args.out) / f"{student.id}.xlsx" for student in students]
    for out in outs:
        if out is not None:
            refuse_own_inputs(out, template, mnist_metrics=args.mnist_metrics, roster=roster)
    add_extra_sheets = None
    if args.mnist_metrics is not None:
        from sheetprop.metrics_sheet import add_metrics_sheet, read_metrics_csv

        metrics = read_metrics_csv(args.mnist_metrics)

        def add_extra_sheets(book, formats):
            add_metrics_sheet(book, metrics, name="mnist")

    progress = progress_bar(args.quiet, steps * len(learning_rates))
    results = build_workbook(template, learning_rates, steps, args.out, add_extra_sheets, progress,
                             gradcheck=args.gradcheck, exercise_out=exercise_out)
    folder = None
    if students is not None:
        from sheetprop.writer.roster import write_variants

        folder = write_variants(template, learning_rates, steps, args.out, students,
                                progress_bar(args.quiet, 20_000 * (len(students) > 20)))
    if not args.quiet:
        runs = "learning-rate sheet" if len(learning_rates) == 1 else "learning-rate sheets"
        extra = " + mnist" if add_extra_sheets is not None else ""
        key = " (the answer key)" if exercise_out else ""
        print(f"wrote {args.out}{key}: summary + {len(learning_rates)} {runs}{extra}, "
              f"{steps} steps each ({template.name})")
        if folder is not None:
            print(f"wrote {len(students)} student versions into {folder}, one per roster id, each with its own "
                  "starting numbers; grade them with 'sheetprop check --key KEY --roster ROSTER FOLDER'")
        if exercise_out:
            print(f"wrote {exercise_out} (the student version): exercise + {len(learning_rates)} {runs} "
                  "with the given values filled in, the rest blank to fill; grade a filled-in copy "
                  "with 'sheetprop check FILE'")
        for result in results:
            line = f"  {layout.sheet_name(result.learning_rate.text):<11} E_total {result.first_loss:.6g} -> {result.last_loss:.6g}"
            if result.overflow_step is not None:
                line += (f"  (overflows at step {result.overflow_step}: those cells show #NUM!, "
                         "as Excel computes too)")
            print(line)
    return 0
