"""Network templates: TOML files describing a tiny network and its starting values.

A template names the layer sizes (inputs, hidden, outputs), one activation per non-input
layer, the input and target values, every weight in the course's numbering, optional fixed
biases (one per layer) and optional default learning rates. See README for the format.
"""

from __future__ import annotations

import math
import stat
from dataclasses import dataclass
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from sheetprop.errors import UserError

ACTIVATIONS = ("sigmoid", "tanh", "relu", "linear")
_KNOWN_KEYS = {"name", "description", "layers", "activations", "inputs", "targets", "weights",
               "biases", "learning_rates"}


@dataclass(frozen=True)
class Template:
    name: str
    layers: tuple[int, int, int]
    activations: tuple[str, str]
    inputs: tuple[float, ...]
    targets: tuple[float, ...]
    weights: tuple[float, ...]
    biases: tuple[float, float] | None = None
    learning_rates: tuple[str, ...] | None = None
    source: str = ""


def builtin_templates() -> dict[str, Path]:
    """The templates shipped with the package, by name (era, mazur, ...)."""
    here = Path(__file__).resolve().parent
    # Installed, they sit in the sheetprop.templates package; in a checkout, at the top level.
    for folder in (here / "templates", here.parent / "templates"):
        if folder.is_dir():
            return {p.stem: p for p in sorted(folder.glob("*.toml"))}
    return {}


def load_template(name_or_path: str) -> Template:
    """Load a built-in template by name, or any template file by path."""
    builtins = builtin_templates()
    if name_or_path in builtins:
        path = builtins[name_or_path]
    else:
        path = Path(name_or_path).expanduser()
        if not path.suffix and not path.exists():
            known = ", ".join(builtins) or "none found"
            raise UserError(f"unknown template {name_or_path!r} (built-in templates: {known}; "
                            "or give the path of a .toml file)")
    text = _read_template_text(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"template {path} is not valid TOML: {exc}") from None
    source = f"{name_or_path} (built-in)" if name_or_path in builtins else str(path)
    return parse_template(data, source=source)


MAX_TEMPLATE_BYTES = 64 * 1024  # the largest network a template can describe needs ~10 KB
MAX_NESTING = 8  # keys a.b.c and brackets [[...]]: templates need 2; a parser fed 50,000 needs GBs


def _read_template_text(path: Path) -> str:
    """The file's text, refusing what is not a small regular file before reading it (a FIFO
    would block forever, /dev/zero never ends) and what nests deeper than any template does."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise UserError(f"template file {path} not found") from None
    except OSError as exc:
        raise UserError(f"cannot read template {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise UserError(f"cannot read template {path}: it is {kind}")
    if info.st_size > MAX_TEMPLATE_BYTES:
        raise UserError(f"template {path} is {info.st_size:,} bytes; templates are at most "
                        f"{MAX_TEMPLATE_BYTES // 1024} KB")
    try:
        text = path.read_bytes()[:MAX_TEMPLATE_BYTES + 1].decode("utf-8-sig")  # a BOM is fine
    except UnicodeDecodeError:
        raise UserError(f"template {path} is not UTF-8 text") from None
    except OSError as exc:
        raise UserError(f"cannot read template {path}: {exc.strerror or exc}") from None
    depth = _deepest_nesting(text)
    if depth > MAX_NESTING:
        raise UserError(f"template {path} nests {depth} levels deep; templates need at most {MAX_NESTING}")
    return text


def _deepest_nesting(text: str) -> int:
    """The deepest run of brackets, or of dots in a key, outside strings and comments."""
    deepest = depth = dots = 0
    quote = None
    for line in text.splitlines():
        dots = 0
        for char in line:
            if quote:
                quote = None if char == quote else quote
            elif char in "\"'":
                quote = char
            elif char == "#":
                break
            elif char in "[{":
                depth += 1
            elif char in "]}":
                depth = max(0, depth - 1)
            elif char == "." and depth == 0:
                dots += 1
            deepest = max(deepest, depth, dots + 1 if dots else 0)
    return deepest


def parse_template(data: dict, source: str = "<template>") -> Template:
    def fail(message):
        raise UserError(f"template {source}: {message}")

    def numbers(key, count, what):
        values = data.get(key)
        if values is None:
            fail(f"missing '{key}' ({count} {what})")
        if not isinstance(values, list) or not all(_is_number(v) for v in values):
            fail(f"'{key}' must be a list of numbers")
        if len(values) != count:
            fail(f"'{key}' has {len(values)} values; layers {list(layers)} need {count} {what}")
        if not all(math.isfinite(v) for v in values):
            fail(f"'{key}' holds a value that is not a finite number")
        return tuple(float(v) for v in values)

    unknown = set(data) - _KNOWN_KEYS
    if unknown:
        named = sorted(unknown)[:10]  # a template of thousands of stray keys still gets one short line
        more = f" and {len(unknown) - len(named)} more" if len(unknown) > len(named) else ""
        fail(f"unknown key(s) {', '.join(named)}{more}; known: {', '.join(sorted(_KNOWN_KEYS))}")
    layers = data.get("layers")
    if (not isinstance(layers, list) or len(layers) != 3
            or not all(isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 9 for n in layers)):
        fail("'layers' must list three sizes from 1 to 9: inputs, hidden, outputs, e.g. [2, 2, 2]")
    layers = tuple(layers)
    activations = data.get("activations", ["sigmoid", "sigmoid"])
    if not isinstance(activations, list) or len(activations) != 2:
        fail("'activations' must list two names: hidden layer, output layer")
    for name in activations:
        if name not in ACTIVATIONS:
            fail(f"unknown activation {name!r}; choose from {', '.join(ACTIVATIONS)}")
    n_in, n_hidden, n_out = layers
    inputs = numbers("inputs", n_in, "inputs")
    targets = numbers("targets", n_out, "targets")
    weights = numbers("weights", n_in * n_hidden + n_hidden * n_out, "weights")
    biases = numbers("biases", 2, "biases (one per layer)") if "biases" in data else None
    learning_rates = data.get("learning_rates")
    if learning_rates is not None:
        if not isinstance(learning_rates, list) or not learning_rates or not all(
                _is_number(v) or isinstance(v, str) for v in learning_rates):
            fail("'learning_rates' must be a non-empty list of numbers")
        learning_rates = tuple(str(v) for v in learning_rates)
    name = data.get("name", Path(source).stem)
    if not isinstance(name, str):
        fail("'name' must be a string")
    return Template(name, layers, tuple(activations), inputs, targets, weights, biases,
                    learning_rates, source)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
