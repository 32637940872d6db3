"""sheetprop: backpropagation as a live-formula spreadsheet.

The Python API (for notebooks), each function the command of the same name:

    import sheetprop
    result = sheetprop.build(lrs=[0.1, 0.5, 2], steps=50)   # .path, .losses, .sheet_names
    report = sheetprop.check(result.path)                    # .findings, .score, .text(), .to_json()
    handin = sheetprop.readme(lrs=[0.1, 0.5, 2])             # README.md and PNGs in output/handin
    run = sheetprop.train(epochs=1)                          # needs torch: .metrics, .paths

Bad input raises ``sheetprop.SheetpropError`` with the command line's one-line message.
"""

import sys
import types

from sheetprop.errors import SheetpropError
from sheetprop.version import __version__

__all__ = ["SheetpropError", "build", "check", "readme", "train", "__version__"]
_API = {"build", "check", "readme", "train", "BuildResult", "CheckReport", "ClassReport", "TrainResult"}


def __getattr__(name):
    # Lazily: `import sheetprop` (and `python -m sheetprop --help`) stays cheap; the API and what
    # it imports load on first use.
    if name in _API:
        from sheetprop import api

        return getattr(api, name)
    raise AttributeError(f"module 'sheetprop' has no attribute {name!r}")


class _Face(types.ModuleType):
    """Importing the subpackage sheetprop.check sets the attribute ``check`` to it, which would
    hide the function ``sheetprop.check``: the subpackage stays importable by its dotted path
    (sys.modules), and the name stays the API's."""

    def __setattr__(self, name, value):
        if name in _API and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Face
