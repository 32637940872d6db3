"""What `mnist` and `mnist-sheet` share on the command line: the datasets, the data folder, and
torch imported with a one-line hint where it is missing. Importing this imports no torch."""

from __future__ import annotations

from pathlib import Path

from sheetprop.errors import UserError

DEFAULT_DATA = Path("data")
DATASET_NAMES = ("mnist", "fashion-mnist")  # the keys of datasets.DATASETS (kept here: --help must stay light)
INSTALL_HINT = "the mnist command needs PyTorch: pip install 'sheetprop[mnist]' (or install torch for your platform from https://pytorch.org)"


def torch_runtime():
    """The runtime module, imported first (it sets the OpenMP wait policy before torch loads), or
    the install hint as a one-line error where torch is missing."""
    try:
        from sheetprop.mnist import runtime
    except ImportError as exc:
        if (exc.name or "").split(".")[0] != "torch":
            raise
        raise UserError(INSTALL_HINT) from None
    return runtime
