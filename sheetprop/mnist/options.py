"""What `mnist` and `mnist-sheet` share on the command line: the datasets, the data folder, and
torch imported with a one-line hint where it is missing. Importing this imports no torch."""

from __future__ import annotations

from pathlib import Path

from sheetprop.errors import UserError

DEFAULT_DATA = Path("data")
DATASET_NAMES = ("mnist", "fashion-mnist")  # the keys of datasets.DATASETS (kept here: --help must stay light)
# sheetprop is installed from its source folder, not from an index: `pip install 'sheetprop[mnist]'`
# fails. torch itself is on PyPI, whichever way sheetprop was installed.
INSTALL_HINT = ("the mnist command needs PyTorch: pip install torch (CPU only: pip install torch "
                "--index-url https://download.pytorch.org/whl/cpu; other platforms: https://pytorch.org)")


def install_hint() -> str:
    """The hint, with the extra that also works where sheetprop runs from its source folder."""
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file():
        return f"{INSTALL_HINT}, or in {checkout}: pip install -e '.[mnist]'"
    return INSTALL_HINT


def torch_runtime():
    """The runtime module, imported first (it sets the OpenMP wait policy before torch loads), or
    the install hint as a one-line error where torch is missing."""
    try:
        from sheetprop.mnist.train import runtime
    except ImportError as exc:
        if (exc.name or "").split(".")[0] != "torch":
            raise
        raise UserError(install_hint()) from None
    return runtime
