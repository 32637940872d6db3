"""Command line: ``python -m sheetprop {build,readme,mnist,mnist-sheet,check,autograder}``."""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import signal
import sys
import threading

from sheetprop.version import __version__
from sheetprop.errors import UserError


# Each command's module registers its parser and sets ``run``. Only the module of the command a
# command line names is imported: `check` needs the formula judge (and openpyxl for files its
# streaming reader cannot read), which would double `build`'s memory and start-up. Importing any
# of them stays cheap (no torch), so `--help` works on a core install.
COMMANDS = {
    "build": "sheetprop.writer.cli",
    "mnist": "sheetprop.mnist.cli",
    "mnist-sheet": "sheetprop.mnist.workbook.sheet_cli",
    "mnist-compare": "sheetprop.mnist.workbook.compare",
    "check": "sheetprop.check.cli",
    "autograder": "sheetprop.check.classroom.autograder",
    "readme": "sheetprop.handin.cli",
}


def _command_named(argv: list[str] | None) -> str | None:
    """The command ``argv`` runs, or None where every command's parser is needed (no argv,
    `sheetprop --help`, no command or an unknown one: messages that list them all)."""
    # The only options before a command are --help and --version, which need them all or none.
    return argv[0] if argv and argv[0] in COMMANDS else None


class OneLineParser(argparse.ArgumentParser):
    """argparse, with its errors as every other error of sheetprop's: one line and exit code 2 (the
    usage is one ``--help`` away, not printed above the error). Every command's parser is one:
    subparsers take their parent's class."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def make_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser for ``argv``: with the named command's module alone imported, the others
    registered by name only; without ``argv``, every command's parser."""
    wanted = _command_named(argv)
    parser = OneLineParser(
        prog="sheetprop",
        description="Backpropagation as a live-formula spreadsheet. "
        "Run 'sheetprop COMMAND --help' for the options of each command.",
    )
    parser.add_argument("--version", action="version", version=f"sheetprop {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module in COMMANDS.items():
        if wanted is None or name == wanted:
            importlib.import_module(module).add_parser(commands)
        else:
            commands.add_parser(name)  # never parsed with: its name keeps the list of choices whole
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


def _closed_streams_to_devnull() -> None:
    # Started with standard output or error closed (>&-, 2>&-): Python sets them to None, and the
    # first print or isatty() would crash with nowhere to say so. Point them at /dev/null, which
    # also fills the closed descriptor, so no file opened later becomes "standard output".
    for name, fd in (("stdin", 0), ("stdout", 1), ("stderr", 2)):
        if getattr(sys, name) is None:
            opened = os.open(os.devnull, os.O_RDONLY if fd == 0 else os.O_WRONLY)
            if opened != fd:
                os.dup2(opened, fd)
                os.close(opened)
            setattr(sys, name, open(fd, "r" if fd == 0 else "w", encoding="utf-8", closefd=False))


def main(argv: list[str] | None = None) -> int:
    _closed_streams_to_devnull()
    _readable_anywhere()
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = make_parser(argv)
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
