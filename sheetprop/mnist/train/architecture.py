"""The CNN as a layer list (``--model NAME|FILE.toml``): parsed, checked and summarised in pure Python.

A model file, in the style of torchvision's VGG configurations::

    name = "default"
    description = "..."
    layers = [10, 16, "M", "T10", 14, 16, 16, "GAP"]
    padding = 0        # 1: every 3x3 convolution keeps the map's size
    dropout = 0.05     # after every 3x3 block

An integer n is a 3x3 convolution to n channels without bias, then BatchNorm, ReLU and dropout;
"M" a 2x2 max-pool, "A" a 2x2 average pool; "T<n>" a 1x1 convolution to n channels without bias
(no BatchNorm, no ReLU); "GAP" global average pooling, the last entry, after which a 1x1
convolution without bias maps to the classes and log-softmax follows.

No torch here: ``--summary`` and ``--max-params`` answer before torch loads, and ``model.py``
builds the network from the same ``Architecture``, naming its modules as ``layer_rows`` does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sheetprop.errors import UserError

IMAGE_SIZE = 28
IN_CHANNELS = 1
CLASSES = 10
DEFAULT_DROPOUT = 0.05  # light: a network of a few thousand parameters underfits long before it overfits
MAX_PARAMETERS = 200_000  # far beyond the course's budgets; the CPU epoch and the workbook grow with it
MAX_CHANNELS = 512
MAX_ENTRIES = 64
MAX_FILE_BYTES = 64 * 1024  # a model file is a few lines; never read a device or a huge file
BUILT_IN_FOLDER = Path(__file__).resolve().parent / "models"
DEFAULT_MODEL = "default"
KEYS = ("name", "description", "layers", "padding", "dropout")
_TRANSITION = re.compile(r"T(\d+)")


@dataclass(frozen=True)
class Architecture:
    name: str
    layers: tuple  # ints and the strings "M", "A", "T<n>", "GAP"
    padding: int = 0
    dropout: float = DEFAULT_DROPOUT
    description: str = ""

    def record(self) -> dict:
        """What a checkpoint keeps, so 'mnist-sheet' and '--resume' rebuild exactly this network (not the
        description: rewording it must not stop a resume)."""
        return {"name": self.name, "layers": list(self.layers), "padding": self.padding, "dropout": self.dropout}

    @classmethod
    def from_record(cls, record: dict, source: str) -> "Architecture":
        return parse_architecture(dict(record), source)


@dataclass(frozen=True)
class Stage:
    """One entry of the layer list as the network runs it: ``kind`` is conv, maxpool, avgpool,
    transition or gap; ``module`` the name of its torch module inside ``features`` (``block1``,
    ``pool``, ``squeeze``...); shapes are (channels, height, width)."""
    kind: str
    module: str
    in_shape: tuple
    out_shape: tuple


def _fail(source: str, message: str):
    raise UserError(f"{source}: {message}")


def parse_architecture(data: dict, source: str) -> Architecture:
    """An ``Architecture`` from a model file's table, or a one-line UserError naming the problem."""
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        _fail(source, f"unknown key {unknown[0]!r}; a model file has {', '.join(KEYS)}")
    layers = data.get("layers")
    if not isinstance(layers, list) or not layers:
        _fail(source, "'layers' must be a non-empty list such as [10, 16, \"M\", \"T10\", 14, 16, 16, \"GAP\"]")
    if len(layers) > MAX_ENTRIES:
        _fail(source, f"'layers' has {len(layers)} entries; at most {MAX_ENTRIES}")
    for position, entry in enumerate(layers, start=1):
        if isinstance(entry, bool) or not isinstance(entry, (int, str)):
            _fail(source, f"layer {position} is {entry!r}: an entry is a channel count, \"M\", \"A\", \"T<n>\" or \"GAP\"")
        match = _TRANSITION.fullmatch(entry) if isinstance(entry, str) else None
        channels = entry if isinstance(entry, int) else int(match.group(1)) if match else None
        if isinstance(entry, str) and entry not in ("M", "A", "GAP") and match is None:
            _fail(source, f"layer {position} is unknown entry {entry!r}: use a channel count, \"M\" (max-pool), "
                          "\"A\" (average pool), \"T<n>\" (1x1 transition) or \"GAP\"")
        if channels is not None and not 1 <= channels <= MAX_CHANNELS:
            _fail(source, f"layer {position} ({entry!r}) has {channels} channels; 1 to {MAX_CHANNELS}")
    if "GAP" not in layers:
        _fail(source, "no \"GAP\": the list must end in global average pooling (the head follows it)")
    if layers.index("GAP") != len(layers) - 1:
        _fail(source, "\"GAP\" must be the last entry: the 1x1 head to the classes follows it")
    if not any(isinstance(entry, int) and not isinstance(entry, bool) for entry in layers):
        _fail(source, "no 3x3 convolution (an integer entry) in 'layers'")
    padding = data.get("padding", 0)
    if padding not in (0, 1) or isinstance(padding, bool):
        _fail(source, f"'padding' is {padding!r}; 0 (valid convolutions) or 1 (size-keeping)")
    dropout = data.get("dropout", DEFAULT_DROPOUT)
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        _fail(source, f"'dropout' is {dropout!r}; a probability from 0 up to (not including) 1")
    for key in ("name", "description"):
        if key in data and not isinstance(data[key], str):
            _fail(source, f"'{key}' must be a string")
    architecture = Architecture(name=data.get("name") or Path(source).stem, layers=tuple(layers),
                                padding=int(padding), dropout=float(dropout),
                                description=data.get("description", ""))
    stages(architecture, source)  # the shapes: a map that shrinks away is refused here
    total = parameter_count(architecture)
    if total > MAX_PARAMETERS:
        _fail(source, f"{total:,} parameters; sheetprop mnist trains at most {MAX_PARAMETERS:,}")
    return architecture


def built_in_names() -> list[str]:
    return sorted(path.stem for path in BUILT_IN_FOLDER.glob("*.toml"))


def load_architecture(spec: str | Path | None) -> Architecture:
    """``--model``'s value: a built-in's name (``default``, ...) or a model file's path."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    spec = DEFAULT_MODEL if spec is None else str(spec)
    path = BUILT_IN_FOLDER / f"{spec}.toml" if spec in built_in_names() else Path(spec).expanduser()
    if path.parent != BUILT_IN_FOLDER and path.suffix != ".toml":
        raise UserError(f"--model {spec}: not a built-in model ({', '.join(built_in_names())}) "
                        "nor a .toml model file")
    try:
        if path.exists() and (not path.is_file() or path.stat().st_size > MAX_FILE_BYTES):
            raise UserError(f"--model {spec}: not a regular file of at most {MAX_FILE_BYTES // 1024} KB")
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UserError(f"--model {spec}: no such file (built-in models: {', '.join(built_in_names())})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"--model {spec}: cannot read it: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"--model {spec}: not valid TOML: {exc}") from None
    return parse_architecture(data, str(path) if path.parent != BUILT_IN_FOLDER else f"model {spec}")


def stages(architecture: Architecture, source: str = "model") -> list[Stage]:
    """The layer list with every entry's input and output shape and its module name."""
    shape = (IN_CHANNELS, IMAGE_SIZE, IMAGE_SIZE)
    counters = {"block": 0, "pool": 0, "squeeze": 0}
    result = []

    def named(prefix: str) -> str:
        counters[prefix] += 1
        # The first pool and transition keep today's names (pool, squeeze): old checkpoints' keys.
        return f"{prefix}{counters[prefix]}" if prefix == "block" or counters[prefix] > 1 else prefix

    for position, entry in enumerate(architecture.layers, start=1):
        channels, height, width = shape
        if isinstance(entry, int):
            shrink = 0 if architecture.padding else 2
            kind, module, out = "conv", named("block"), (entry, height - shrink, width - shrink)
        elif entry in ("M", "A"):
            kind, module, out = ("maxpool" if entry == "M" else "avgpool"), named("pool"), (channels, height // 2, width // 2)
        elif entry == "GAP":
            kind, module, out = "gap", "gap", (channels, 1, 1)
        else:
            kind, module, out = "transition", named("squeeze"), (int(entry[1:]), height, width)
        if out[1] < 1 or out[2] < 1:
            _fail(source, f"layer {position} ({entry!r}) shrinks the {height}x{width} map below 1x1; "
                          "remove a layer or a pool, or set padding = 1")
        result.append(Stage(kind, module, shape, out))
        shape = out
    return result


def _row(layer: str, kind: str, shape: tuple, parameters: int, rf: int, jump: int) -> dict:
    return {"layer": layer, "type": kind, "output_shape": "x".join(str(n) for n in shape),
            "parameters": parameters, "receptive_field": rf, "jump": jump}


def layer_rows(architecture: Architecture) -> list[dict]:
    """The model sheet's table: one row per torch leaf module in execution order, with its type,
    output shape, trainable parameters, receptive field and jump (rf += (k − 1)·jump, jump *= stride)."""
    rows, rf, jump = [], 1, 1
    for stage in stages(architecture):
        c_in, c_out = stage.in_shape[0], stage.out_shape[0]
        name = f"features.{stage.module}"
        if stage.kind == "conv":
            rf += 2 * jump
            rows += [_row(f"{name}.conv", "Conv2d", stage.out_shape, 9 * c_in * c_out, rf, jump),
                     _row(f"{name}.bn", "BatchNorm2d", stage.out_shape, 2 * c_out, rf, jump),
                     _row(f"{name}.relu", "ReLU", stage.out_shape, 0, rf, jump),
                     _row(f"{name}.drop", "Dropout", stage.out_shape, 0, rf, jump)]
        elif stage.kind in ("maxpool", "avgpool"):
            rf, jump = rf + jump, jump * 2
            rows.append(_row(name, "MaxPool2d" if stage.kind == "maxpool" else "AvgPool2d", stage.out_shape, 0, rf, jump))
        elif stage.kind == "transition":
            rows.append(_row(name, "Conv2d", stage.out_shape, c_in * c_out, rf, jump))
        else:  # global pooling: one window over the whole map
            size = stage.in_shape[1]
            rf, jump = rf + (size - 1) * jump, jump * size
            rows.append(_row("gap", "AdaptiveAvgPool2d", stage.out_shape, 0, rf, jump))
            rows.append(_row("head", "Conv2d", (CLASSES, 1, 1), c_out * CLASSES, rf, jump))
    return rows


def parameter_count(architecture: Architecture) -> int:
    return sum(row["parameters"] for row in layer_rows(architecture))


def receptive_field(architecture: Architecture) -> int:
    """The receptive field of the last feature map, before global average pooling."""
    rows = layer_rows(architecture)
    return next(row["receptive_field"] for row in reversed(rows) if row["layer"] != "gap" and row["layer"] != "head")


def summary_text(architecture: Architecture) -> str:
    """The table ``--summary`` prints."""
    rows = layer_rows(architecture)
    header = ("layer", "type", "output", "params", "RF", "jump")
    cells = [header] + [(r["layer"], r["type"], r["output_shape"], f"{r['parameters']:,}", str(r["receptive_field"]),
                         str(r["jump"])) for r in rows]
    widths = [max(len(line[col]) for line in cells) for col in range(len(header))]
    lines = [f"model {architecture.name}: {architecture.description}".rstrip(": "),
             f"layers = {list(architecture.layers)}, padding = {architecture.padding}, dropout = {architecture.dropout}"]
    for index, line in enumerate(cells):
        lines.append("  ".join(text.ljust(width) if col < 3 else text.rjust(width)
                               for col, (text, width) in enumerate(zip(line, widths))).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    lines.append(f"total trainable parameters {parameter_count(architecture):,}; receptive field "
                 f"{receptive_field(architecture)} before global average pooling")
    return "\n".join(lines)


def multiply_adds(architecture: Architecture) -> int:
    """Multiply-adds of one forward pass of one image: what a CPU epoch's time grows with."""
    total = 0
    for stage in stages(architecture):
        c_in, (c_out, h, w) = stage.in_shape[0], stage.out_shape
        if stage.kind == "conv":
            total += 9 * c_in * c_out * h * w
        elif stage.kind == "transition":
            total += c_in * c_out * h * w
    return total + stages(architecture)[-1].out_shape[0] * CLASSES


def check_budget(architecture: Architecture, max_params: int | None) -> None:
    if max_params is not None and parameter_count(architecture) > max_params:
        raise UserError(f"model {architecture.name} has {parameter_count(architecture):,} parameters, over "
                        f"--max-params {max_params:,}")

