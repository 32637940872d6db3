"""The CNN as a layer list: one list of small frozen ``Layer`` records, read by everything that
needs the network's shape — the torch model (``model.py``), the ``--summary`` table and receptive
field (here), the model workbook's budget and its export (``workbook/``).

A model file spells the list as torchvision's VGG configurations do::

    name = "default"
    description = "..."
    layers = [10, 16, "M", "T10", 14, 16, 16, "GAP"]
    padding = 0        # 1: every 3x3 convolution keeps the map's size
    dropout = 0.05     # after every 3x3 block

An integer n is a 3x3 convolution to n channels without bias, then BatchNorm, ReLU and dropout;
"M" a 2x2 max-pool, "A" a 2x2 average pool; "T<n>" a 1x1 convolution to n channels without bias
(no BatchNorm, no ReLU); "GAP" global average pooling, the last entry, after which a 1x1
convolution without bias (the head) maps to the classes and log-softmax follows.

``parse_architecture`` turns that spelling into ``Architecture.layers``: one ``Layer`` per entry,
plus the head, each with its kind, its torch module's name and its input and output shapes. No
torch here: ``--summary`` and ``--max-params`` answer before torch loads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
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

# The kinds of layer, in the order a list may hold them (the head is never written: it follows GAP).
CONV, MAXPOOL, AVGPOOL, TRANSITION, GAP, HEAD = "conv", "maxpool", "avgpool", "transition", "gap", "head"
# What the receptive-field arithmetic needs of each kind: (kernel, stride); GAP's window is the map.
_WINDOW = {CONV: (3, 1), MAXPOOL: (2, 2), AVGPOOL: (2, 2), TRANSITION: (1, 1), HEAD: (1, 1)}


@dataclass(frozen=True)
class Layer:
    """One layer of the network: ``kind`` (conv, maxpool, avgpool, transition, gap, head), the name of
    its torch module (``block1``, ``pool``, ``squeeze`` … inside ``features``; ``gap`` and ``head``
    outside it), its input and output shapes (channels, height, width) and, for a 3x3 convolution,
    its zero border."""
    kind: str
    module: str
    in_shape: tuple
    out_shape: tuple
    padding: int = 0

    @property
    def in_features(self) -> bool:
        """Inside the network's ``features`` (a sheet of its own in the model workbook)."""
        return self.kind not in (GAP, HEAD)

    @property
    def path(self) -> str:
        """The torch module's full name: ``features.block1``, ``gap``, ``head``."""
        return f"features.{self.module}" if self.in_features else self.module

    @property
    def entry(self):
        """How a model file writes this layer (None for the head, which no file writes)."""
        return {CONV: self.out_shape[0], MAXPOOL: "M", AVGPOOL: "A", TRANSITION: f"T{self.out_shape[0]}",
                GAP: "GAP", HEAD: None}[self.kind]

    @property
    def parameters(self) -> int:
        """Trainable parameters: a 3x3 kernel per channel pair and BatchNorm's γ, β; a 1x1 weight per pair."""
        c_in, c_out = self.in_shape[0], self.out_shape[0]
        if self.kind == CONV:
            return 9 * c_in * c_out + 2 * c_out
        return c_in * c_out if self.kind in (TRANSITION, HEAD) else 0

    @property
    def multiply_adds(self) -> int:
        c_in, (c_out, height, width) = self.in_shape[0], self.out_shape
        kernel = {CONV: 9, TRANSITION: 1, HEAD: 1}.get(self.kind, 0)
        return kernel * c_in * c_out * height * width

    def window(self) -> tuple[int, int]:
        """(kernel, stride) along one axis; global pooling is one window over the whole map."""
        return (self.in_shape[1], self.in_shape[1]) if self.kind == GAP else _WINDOW[self.kind]


@dataclass(frozen=True)
class Architecture:
    """A network: its name, the entries as its model file writes them, and ``layers`` built from them."""
    name: str
    entries: tuple  # ints and the strings "M", "A", "T<n>", "GAP", as the model file writes them
    padding: int = 0
    dropout: float = DEFAULT_DROPOUT
    description: str = ""
    layers: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "layers", tuple(_build_layers(self.entries, self.padding, f"model {self.name}")))

    @property
    def features(self) -> tuple:
        """The layers inside ``features``: everything before global pooling and the head."""
        return tuple(layer for layer in self.layers if layer.in_features)

    def record(self) -> dict:
        """What a checkpoint keeps, so 'mnist-sheet' and '--resume' rebuild exactly this network (not the
        description: rewording it must not stop a resume)."""
        return {"name": self.name, "layers": list(self.entries), "padding": self.padding, "dropout": self.dropout}

    @classmethod
    def from_record(cls, record: dict, source: str) -> "Architecture":
        return parse_architecture(dict(record), source)


def _fail(source: str, message: str):
    raise UserError(f"{source}: {message}")


def _shown(value) -> str:
    text = repr(value) if not isinstance(value, (list, dict)) else type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."


def _build_layers(entries, padding: int, source: str) -> list[Layer]:
    """The layer list with every entry's shapes and module name, and the head after GAP."""
    shape = (IN_CHANNELS, IMAGE_SIZE, IMAGE_SIZE)
    counters = {"block": 0, "pool": 0, "squeeze": 0}
    layers = []

    def named(prefix: str) -> str:
        counters[prefix] += 1
        # The first pool and transition keep their first names (pool, squeeze): old checkpoints' keys.
        return f"{prefix}{counters[prefix]}" if prefix == "block" or counters[prefix] > 1 else prefix

    for position, entry in enumerate(entries, start=1):
        channels, height, width = shape
        if isinstance(entry, int):
            shrink = 0 if padding else 2
            layer = Layer(CONV, named("block"), shape, (entry, height - shrink, width - shrink), padding)
        elif entry in ("M", "A"):
            layer = Layer(MAXPOOL if entry == "M" else AVGPOOL, named("pool"), shape, (channels, height // 2, width // 2))
        elif entry == "GAP":
            layer = Layer(GAP, "gap", shape, (channels, 1, 1))
        else:
            layer = Layer(TRANSITION, named("squeeze"), shape, (int(entry[1:]), height, width))
        if layer.out_shape[1] < 1 or layer.out_shape[2] < 1:
            _fail(source, f"layer {position} ({entry!r}) shrinks the {height}x{width} map below 1x1; "
                          "remove a layer or a pool, or set padding = 1")
        layers.append(layer)
        shape = layer.out_shape
    layers.append(Layer(HEAD, "head", shape, (CLASSES, 1, 1)))
    return layers


def parse_architecture(data: dict, source: str) -> Architecture:
    """An ``Architecture`` from a model file's table, or a one-line UserError naming the problem."""
    unknown = sorted(str(key) for key in set(data) - set(KEYS))
    if unknown:
        _fail(source, f"unknown key {_shown(unknown[0])}; a model file has {', '.join(KEYS)}")
    layers = data.get("layers")
    if not isinstance(layers, list) or not layers:
        _fail(source, "'layers' must be a non-empty list such as [10, 16, \"M\", \"T10\", 14, 16, 16, \"GAP\"]")
    if len(layers) > MAX_ENTRIES:
        _fail(source, f"'layers' has {len(layers)} entries; at most {MAX_ENTRIES}")
    for position, entry in enumerate(layers, start=1):
        if isinstance(entry, bool) or not isinstance(entry, (int, str)):
            _fail(source, f"layer {position} is {_shown(entry)}: an entry is a channel count, \"M\", \"A\", "
                          "\"T<n>\" or \"GAP\"")
        match = _TRANSITION.fullmatch(entry) if isinstance(entry, str) else None
        channels = entry if isinstance(entry, int) else int(match.group(1)) if match else None
        if isinstance(entry, str) and entry not in ("M", "A", "GAP") and match is None:
            _fail(source, f"layer {position} is unknown entry {_shown(entry)}: use a channel count, \"M\" "
                          "(max-pool), \"A\" (average pool), \"T<n>\" (1x1 transition) or \"GAP\"")
        if channels is not None and not 1 <= channels <= MAX_CHANNELS:
            _fail(source, f"layer {position} ({_shown(entry)}) has {channels} channels; 1 to {MAX_CHANNELS}")
    if "GAP" not in layers:
        _fail(source, "no \"GAP\": the list must end in global average pooling (the head follows it)")
    if layers.index("GAP") != len(layers) - 1:
        _fail(source, "\"GAP\" must be the last entry: the 1x1 head to the classes follows it")
    if not any(isinstance(entry, int) and not isinstance(entry, bool) for entry in layers):
        _fail(source, "no 3x3 convolution (an integer entry) in 'layers'")
    padding = data.get("padding", 0)
    if padding not in (0, 1) or isinstance(padding, bool):
        _fail(source, f"'padding' is {_shown(padding)}; 0 (valid convolutions) or 1 (size-keeping)")
    dropout = data.get("dropout", DEFAULT_DROPOUT)
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        _fail(source, f"'dropout' is {_shown(dropout)}; a probability from 0 up to (not including) 1")
    for key in ("name", "description"):
        if key in data and not isinstance(data[key], str):
            _fail(source, f"'{key}' must be a string")
    name = data.get("name") or Path(source).stem
    _build_layers(layers, int(padding), source)  # the shapes: a map that shrinks away is refused with its source
    architecture = Architecture(name=name, entries=tuple(layers), padding=int(padding), dropout=float(dropout),
                                description=data.get("description", ""))
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
    except RecursionError:  # tomllib parses nested arrays and tables recursively
        raise UserError(f"--model {spec}: nested too deeply to be a model file (a model file is a few "
                        "flat lines)") from None
    return parse_architecture(data, str(path) if path.parent != BUILT_IN_FOLDER else f"model {spec}")


def receptive_fields(architecture: Architecture) -> list[tuple[int, int]]:
    """(receptive field, jump) after each layer: rf += (k − 1)·jump, jump *= stride."""
    found, rf, jump = [], 1, 1
    for layer in architecture.layers:
        kernel, stride = layer.window()
        rf, jump = rf + (kernel - 1) * jump, jump * stride
        found.append((rf, jump))
    return found


# The torch leaf modules of one layer, as the model sheet lists them: a 3x3 block is four.
_LEAVES = {CONV: (("conv", "Conv2d"), ("bn", "BatchNorm2d"), ("relu", "ReLU"), ("drop", "Dropout")),
           MAXPOOL: (("", "MaxPool2d"),), AVGPOOL: (("", "AvgPool2d"),), TRANSITION: (("", "Conv2d"),),
           GAP: (("", "AdaptiveAvgPool2d"),), HEAD: (("", "Conv2d"),)}


def layer_rows(architecture: Architecture) -> list[dict]:
    """The model sheet's table: one row per torch leaf module in execution order, with its type,
    output shape, trainable parameters, receptive field and jump."""
    rows = []
    for layer, (rf, jump) in zip(architecture.layers, receptive_fields(architecture)):
        for leaf, (part, kind) in enumerate(_LEAVES[layer.kind]):
            params = (9 * layer.in_shape[0] * layer.out_shape[0] if part == "conv"
                      else 2 * layer.out_shape[0] if part == "bn" else layer.parameters if not part else 0)
            rows.append({"layer": f"{layer.path}.{part}" if part else layer.path, "type": kind,
                         "output_shape": "x".join(str(n) for n in layer.out_shape), "parameters": params,
                         "receptive_field": rf, "jump": jump})
    return rows


def parameter_count(architecture: Architecture) -> int:
    return sum(layer.parameters for layer in architecture.layers)


def receptive_field(architecture: Architecture) -> int:
    """The receptive field of the last feature map, before global average pooling."""
    fields = receptive_fields(architecture)
    return fields[len(architecture.features) - 1][0]


def summary_text(architecture: Architecture) -> str:
    """The table ``--summary`` prints."""
    rows = layer_rows(architecture)
    header = ("layer", "type", "output", "params", "RF", "jump")
    cells = [header] + [(r["layer"], r["type"], r["output_shape"], f"{r['parameters']:,}", str(r["receptive_field"]),
                         str(r["jump"])) for r in rows]
    widths = [max(len(line[col]) for line in cells) for col in range(len(header))]
    lines = [f"model {architecture.name}: {architecture.description}".rstrip(": "),
             f"layers = {list(architecture.entries)}, padding = {architecture.padding}, dropout = {architecture.dropout}"]
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
    return sum(layer.multiply_adds for layer in architecture.layers)


def check_budget(architecture: Architecture, max_params: int | None) -> None:
    if max_params is not None and parameter_count(architecture) > max_params:
        raise UserError(f"model {architecture.name} has {parameter_count(architecture):,} parameters, over "
                        f"--max-params {max_params:,}")
