"""Command line: ``python -m sheetprop {build,mnist,mnist-sheet,check}``."""

from __future__ import annotations

import argparse
import errno
import os
import signal
import sys
import threading

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


class Terminated(Exception):
    """SIGTERM or SIGHUP: unwound like Ctrl-C, so every temp file is removed on the way out."""


def _terminate(signum, frame):
    raise Terminated(signal.Signals(signum).name)


def _readable_anywhere() -> None:
    # A console or redirect in a legacy code page (cp1252) cannot encode ∂ or η: replace them
    # rather than crash after the work is done.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")


def main(argv: list[str] | None = None) -> int:
    _readable_anywhere()
    parser = make_parser()
    args = parser.parse_args(argv)
    handlers = {}
    if threading.current_thread() is threading.main_thread():
        for name in ("SIGTERM", "SIGHUP"):
            if hasattr(signal, name):
                handlers[name] = signal.signal(getattr(signal, name), _terminate)
    try:
        code = int(args.run(args) or 0)
        sys.stdout.flush()  # here, not at exit, so a full output is reported like any other error
        return code
    except UserError as exc:
        print(f"sheetprop {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"sheetprop {args.command}: interrupted", file=sys.stderr)
        return 130
    except Terminated as exc:
        print(f"sheetprop {args.command}: stopped by {exc}; temporary files removed", file=sys.stderr)
        return 143
    except BrokenPipeError:
        # The reader went away (`sheetprop check --json | head`): not an error worth a traceback.
        # Point stdout at devnull so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EIO, errno.EDQUOT):
            raise
        # Standard output itself is full (a full disk, /dev/full): say so once, where it can be seen.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print(f"sheetprop {args.command}: error: cannot write the output: {exc.strerror}", file=sys.stderr)
        return 2
    finally:
        for name, handler in handlers.items():
            signal.signal(getattr(signal, name), handler)
