"""The `readme` command: build's options, and a folder for everything the README shows."""

from __future__ import annotations

from pathlib import Path

from sheetprop.writer.cli import add_build_arguments, progress_bar

DEFAULT_FOLDER = Path("output") / "handin"


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "readme",
        help="write a hand-in folder: the workbook, the network, sheet pictures, loss PNGs and README.md",
        description="Write the hand-in the course asks for, into one folder with one README.md. Part 1: "
        "the workbook (built with the same options as 'build', or the student's own with --from), "
        "network.png (the network, its weights named as in the sheet), pictures of each sheet's "
        "forward pass, E_total and backward pass (and its gradient check), the summary with the whole "
        "derivation, one loss PNG per learning rate and one with every η, and the chain rule in steps "
        "(each local derivative on its own line, then their product, with the first step's numbers). "
        "Part 2 with --mnist: the CNN's model summary, data, training log, curves, sample and "
        "misclassified digits, and whether the course's target was met.",
    )
    add_build_arguments(parser)
    parser.add_argument("--out", metavar="DIR", type=Path, default=DEFAULT_FOLDER,
                        help=f"the folder to write into (default {DEFAULT_FOLDER}; created if missing)")
    parser.add_argument("--from", dest="from_workbook", metavar="FILE.xlsx", type=Path, default=None,
                        help="hand in this workbook (e.g. one you changed η or a weight in) instead of "
                        "building one; its values are calculated first where they are missing or out of "
                        "date; the build options are then ignored")
    parser.add_argument("--mnist", dest="mnist_run", metavar="RUN.xlsx", type=Path, default=None,
                        help="add Part 2 from the metrics workbook 'sheetprop mnist' wrote (and the "
                        "RUN_curves.png, RUN_misclassified.png, RUN_samples.png beside it)")
    parser.set_defaults(run=run)


def run(args) -> int:
    from sheetprop.handin.readme import write_handin
    from sheetprop.writer.options import refuse_own_inputs, resolve

    options = resolve(args.template, args.optimizer, args.lrs, args.steps)
    extra = None
    if args.mnist_metrics is not None:
        from sheetprop.metrics_sheet import add_metrics_sheet, read_metrics_csv

        metrics = read_metrics_csv(args.mnist_metrics)

        def extra(book, formats):
            add_metrics_sheet(book, metrics, name="mnist")
    if args.from_workbook is None:
        refuse_own_inputs(Path(args.out) / "BackPropagation.xlsx", options.template, mnist_metrics=args.mnist_metrics)
    result = write_handin(options, args.out, gradcheck=args.gradcheck, add_extra_sheets=extra,
                          progress=progress_bar(args.quiet, options.steps * len(options.learning_rates)),
                          from_workbook=args.from_workbook, mnist_run=args.mnist_run)
    if not args.quiet:
        print(f"wrote {result.readme} with {result.workbook.name}, network.png, {len(result.sheet_pngs)} sheet "
              f"pictures, {len(result.loss_pngs)} loss PNGs and {result.combined_png.name}"
              + (" and Part 2 (MNIST)" if result.mnist is not None else ""))
        if result.recalculated:
            print(f"  {result.workbook.name}: values calculated by {result.recalculated} first")
    return 0
