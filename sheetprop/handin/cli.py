"""The `readme` command: build's options, and a folder for everything the README shows."""

from __future__ import annotations

from pathlib import Path

from sheetprop.writer.cli import add_build_arguments, progress_bar

DEFAULT_FOLDER = Path("output") / "handin"


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "readme",
        help="write a hand-in folder: the workbook, loss PNGs, sheet pictures and README.md",
        description="Build the workbook (same options as 'build') and, beside it, what a hand-in "
        "README shows: one loss PNG per learning rate (named for η as typed), one PNG with every "
        "η (linear and log axes), each sheet's first screen as a PNG (where LibreOffice and "
        "pdftoppm are installed) and README.md with the network, every derivation as GitHub math "
        "and a table of each η's first and last loss, every picture linked.",
    )
    add_build_arguments(parser)
    parser.add_argument("--out", metavar="DIR", type=Path, default=DEFAULT_FOLDER,
                        help=f"the folder to write into (default {DEFAULT_FOLDER}; created if missing)")
    parser.set_defaults(run=run)


def run(args) -> int:
    from sheetprop import api

    from sheetprop.writer.options import resolve

    options = resolve(args.template, args.optimizer, args.lrs, args.steps)
    result = api.readme(template=options.template, lrs=options.rate_texts, steps=options.steps,
                        out=args.out, gradcheck=args.gradcheck, mnist_metrics=args.mnist_metrics,
                        progress=progress_bar(args.quiet, options.steps * len(options.learning_rates)))
    if not args.quiet:
        print(f"wrote {result.readme} with {result.workbook.name}, {len(result.loss_pngs)} loss PNGs "
              f"and {result.combined_png.name}")
        if result.sheet_pngs:
            print(f"  sheet pictures: {', '.join(p.name for p in result.sheet_pngs.values())}")
        else:
            print(f"  {result.skipped}")
    return 0
