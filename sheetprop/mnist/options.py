"""What `mnist` is asked to do, checked once for the command line and for ``sheetprop.train``: the
options with their ranges, the files a run writes beside ``--out``, the datasets' names and the data
folder, and torch imported with a one-line hint where it is missing. Importing this imports no torch.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

from sheetprop.errors import UserError

DEFAULT_DATA = Path("data")
DEFAULT_OUT = Path("output") / "mnist.xlsx"
DATASET_NAMES = ("mnist", "fashion-mnist")  # the keys of datasets.DATASETS (kept here: --help must stay light)
DEVICES = ("auto", "cpu", "cuda", "mps")
MAX_EPOCHS = 200
MAX_BATCH_SIZE = 8192
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


# --- the ranges: one check for argparse's types and for TrainOptions ---------------------------

def whole_number(value, low: int, high: int) -> int:
    """``value`` (an int, or the command line's text) as an int in low..high, or ValueError saying why."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"{value!r} is not a whole number")
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a whole number") from None
    if not low <= number <= high:
        raise ValueError(f"{number} is outside {low}..{high}")
    return number


def learning_rate(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{value!r} is not a number")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a number") from None
    if not (math.isfinite(number) and 0 < number <= 10):
        raise ValueError(f"{number} is outside (0, 10]")
    return number


def choice(value, choices) -> str:
    if value not in choices:
        raise ValueError(f"invalid choice: {value!r} (choose from {', '.join(map(repr, choices))})")
    return value


RANGES = {  # option -> its check; argparse's types and TrainOptions.checked both use these
    "epochs": lambda v: whole_number(v, 1, MAX_EPOCHS),
    "batch_size": lambda v: whole_number(v, 2, MAX_BATCH_SIZE),
    "lr": learning_rate,
    "seed": lambda v: whole_number(v, -(2**63), 2**64 - 1),
    "max_params": lambda v: whole_number(v, 1, 10**9),
    "split_test": lambda v: whole_number(v, 1, 10**6),
    "dataset": lambda v: choice(v, DATASET_NAMES),
    "device": lambda v: choice(v, DEVICES),
}


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


@dataclass(frozen=True)
class TrainOptions:
    """The options of ``sheetprop mnist``, as keyword arguments of ``sheetprop.train`` too."""
    out: Path = DEFAULT_OUT
    dataset: str = "mnist"
    data: Path | None = None  # None: ./data, or the system copy of Fashion-MNIST
    epochs: int = 15
    batch_size: int = 128
    lr: float = 0.05
    seed: int = 1
    device: str = "auto"
    resume: bool = False
    no_download: bool = False
    quiet: bool = False
    model: str | None = None  # a built-in's name or a model file
    summary: bool = False
    max_params: int | None = None
    split_test: int | None = None

    @classmethod
    def from_keywords(cls, **keywords) -> "TrainOptions":
        """The options of ``sheetprop.train(**keywords)``, checked; a one-line UserError otherwise."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(keywords) - known)
        if unknown:
            raise UserError(f"unrecognized arguments: {' '.join(flag(name) for name in unknown)} "
                            f"(train takes {', '.join(sorted(known))})")
        return cls(**keywords).checked()

    def checked(self) -> "TrainOptions":
        """These options with numbers as numbers and paths as paths, or a one-line UserError naming
        the option as the command line does (``argument --epochs: 0 is outside 1..200``)."""
        values = {}
        for name, check in RANGES.items():
            value = getattr(self, name)
            if value is None and name in ("max_params", "split_test"):
                continue
            try:
                values[name] = check(value)
            except ValueError as exc:
                raise UserError(f"argument {flag(name)}: {exc}") from None
        for name in ("resume", "no_download", "quiet", "summary"):
            if not isinstance(getattr(self, name), bool):
                raise UserError(f"argument {flag(name)}: {getattr(self, name)!r} is not True or False")
        for name in ("out", "data"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, (str, Path)):
                raise UserError(f"argument {flag(name)}: {value!r} is not a path")
            if value is not None:
                values[name] = Path(value).expanduser()
        if self.model is not None and not isinstance(self.model, (str, Path)):
            raise UserError(f"argument --model: {self.model!r} is not a model's name or file")
        return dataclasses.replace(self, **values)


@dataclass(frozen=True)
class OutputPaths:
    """Every file a run writes, named after ``--out``: ``output/mnist.xlsx`` ->
    ``output/mnist_metrics.csv``, ``output/mnist_curves.png``, ... ``output/mnist.ckpt.pt``."""
    workbook: Path
    metrics_csv: Path
    curves_png: Path
    misclassified_png: Path
    samples_png: Path
    readme: Path  # a README fragment: the data, the accuracy, the pictures, the model table
    model_workbook: Path | None  # the trained CNN as live formulas; None where it was not written
    checkpoint: Path

    @classmethod
    def beside(cls, workbook: Path) -> "OutputPaths":
        workbook = Path(workbook)

        def named(suffix: str) -> Path:
            return workbook.with_name(f"{workbook.stem}{suffix}")

        return cls(workbook, named("_metrics.csv"), named("_curves.png"), named("_misclassified.png"),
                   named("_samples.png"), named("_README.md"), named("_model.xlsx"), named(".ckpt.pt"))

    def all(self) -> list[Path]:
        return [path for path in dataclasses.astuple(self) if path is not None]


def refuse_inputs_as_outputs(outputs, inputs, command: str) -> None:
    """Every output path must differ from every input (the same file, however named): writing one
    would replace what the command is reading."""
    def key(path: Path):
        path = Path(path).expanduser()
        try:
            status = path.stat()
            return ("inode", status.st_dev, status.st_ino)
        except OSError:
            return ("path", str(path.resolve()))

    given = {}
    for path in inputs:
        if path is not None:
            given.setdefault(key(path), path)
    for path in outputs:
        if key(path) in given:
            raise UserError(f"{command}: the output {path} is also an input ({given[key(path)]}); "
                            "give another --out")
