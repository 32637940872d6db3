"""Command line: ``python -m sheetprop {build,mnist,mnist-sheet,check}``."""

from __future__ import annotations

import argparse
import os
import sys

from sheetprop import __version__
from sheetprop.errors import UserError


def make_parser() -> argparse.ArgumentParser:
    # Each subcommand module registers its own parser and sets ``run``; importing them must stay
    # cheap (no torch), so `--help` works on a core install.
    from sheetprop import build_cli, check_cli
    from sheetprop.mnist import cli as mnist_cli, sheet_cli as mnist_sheet_cli

    parser = argparse.ArgumentParser(
        prog="sheetprop",
        description="Backpropagation as a live-formula spreadsheet. "
        "Run 'sheetprop COMMAND --help' for the options of each command.",
    )
    parser.add_argument("--version", action="version", version=f"sheetprop {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    build_cli.add_parser(commands)
    mnist_cli.add_parser(commands)
    mnist_sheet_cli.add_parser(commands)
    check_cli.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except UserError as exc:
        print(f"sheetprop {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"sheetprop {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`sheetprop check --json | head`): not an error worth a traceback.
        # Point stdout at devnull so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
