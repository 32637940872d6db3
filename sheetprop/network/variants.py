"""A class that cannot copy: each student's own variant of a template, drawn from their id.

A roster (a CSV with an ``id`` column, optionally ``name``) lists the students. Each one's variant
is the template with its own starting weights (and biases, inputs and targets where the template
allows), drawn from a stable hash of the id, so that `build` and `check` draw the same numbers on
any machine, any day. The numbers keep the template's range and decimals: era's weights 0.15…0.55
give weights between 0.15 and 0.55 with two decimals.

Targets are drawn only where any number is a target the loss can reach: mean squared error on an
output layer that is not softmax (its targets are one-hot, and cross-entropy's are labels), and
within (0, 1) when the output is a sigmoid. Inputs or targets that are all whole numbers (XOR's
0/1 patterns, one-hot labels) are the problem itself and stay as the template gives them.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import random
import re
from pathlib import Path

from sheetprop.errors import UserError
from sheetprop.files import read_limited
from sheetprop.network.template import Template

MAX_ROSTER_BYTES = 8 * 2**20
MAX_STUDENTS = 10_000
# An id names the student's file (KEY_exercises/<id>.xlsx): letters, digits and . @ - _ only.
_ID = re.compile(r"^(?!\.+$)[\w.@+-]{1,100}$")
_SALT = "sheetprop-variant-1"


@dataclasses.dataclass(frozen=True)
class Student:
    id: str
    name: str = ""


def read_roster(path: Path) -> list[Student]:
    """The students of a roster CSV, in its order; a one-line UserError for a file that is not one."""
    path = Path(path).expanduser()
    data = read_limited(path, "roster", MAX_ROSTER_BYTES, f"a roster is at most {MAX_ROSTER_BYTES // 2**20} MB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UserError(f"the roster {path.name} is not UTF-8 text (save it as CSV UTF-8)") from None
    rows = csv.reader(io.StringIO(text))
    header = next(rows, None)
    columns = [c.strip().lower() for c in header] if header else []
    if "id" not in columns:
        raise UserError(f"the roster {path.name} has no 'id' column in its first row "
                        f"(it has: {', '.join(columns)[:200] or 'nothing'})")
    at_id, at_name = columns.index("id"), columns.index("name") if "name" in columns else None
    students, seen = [], {}
    for number, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue
        student_id = row[at_id].strip() if at_id < len(row) else ""
        if not _ID.match(student_id):
            raise UserError(f"the roster {path.name}, row {number}: the id {student_id[:60]!r} must be 1 to 100 "
                            "letters, digits or . @ + - _ (it names the student's file)")
        if student_id.lower() in seen:
            raise UserError(f"the roster {path.name}, row {number}: the id {student_id!r} is also in row "
                            f"{seen[student_id.lower()]}; each student needs their own")
        seen[student_id.lower()] = number
        name = row[at_name].strip() if at_name is not None and at_name < len(row) else ""
        students.append(Student(student_id, name))
        if len(students) > MAX_STUDENTS:
            raise UserError(f"the roster {path.name} lists more than {MAX_STUDENTS:,} students")
    if not students:
        raise UserError(f"the roster {path.name} lists no students")
    return students


def variant_template(template: Template, student_id: str) -> Template:
    """``template`` with the starting numbers of ``student_id``'s variant (the same every time)."""
    seed = int.from_bytes(hashlib.sha256(f"{_SALT}\0{student_id}".encode()).digest()[:8], "big")
    draw = random.Random(seed)
    changes = {"weights": _drawn(draw, template.weights, _range(template.weights)), "source": template.source}
    if template.biases is not None:
        flat = tuple(_flatten(template.biases))
        changes["biases"] = _shaped(template.biases, iter(_drawn(draw, flat, _range(flat))))
    flat_inputs = tuple(_flatten(template.inputs))
    if not _whole(flat_inputs):  # XOR's 0/1 inputs are the problem itself, not starting numbers
        changes["inputs"] = _shaped(template.inputs, iter(_drawn(draw, flat_inputs, _range(flat_inputs))))
    if _targets_can_vary(template):
        flat_targets = tuple(_flatten(template.targets))
        low, high = _range(flat_targets)
        if template.activations[-1] == "sigmoid":
            low, high = max(low, 0.01), min(high, 0.99)
        changes["targets"] = _shaped(template.targets, iter(_drawn(draw, flat_targets, (low, high))))
    return dataclasses.replace(template, **changes)


def _targets_can_vary(template: Template) -> bool:
    return (template.loss == "mse" and template.activations[-1] not in ("softmax",)
            and not _whole(tuple(_flatten(template.targets))))


def _whole(values) -> bool:
    """Whole numbers only (0/1 patterns, one-hot labels): kept as the template gives them."""
    return all(float(v).is_integer() for v in values)


def _range(values) -> tuple[float, float]:
    """The span the template's numbers cover; a single value (or all alike) spans ±50 % of itself."""
    values = [float(v) for v in values]
    low, high = min(values), max(values)
    if high - low < 1e-12:
        spread = abs(low) / 2 or 0.5
        low, high = low - spread, high + spread
    return low, high


def _decimals(values) -> int:
    """The decimals the template writes its numbers with: at least 2, at most 4."""
    most = 0
    for value in values:
        text = repr(float(value))
        if "e" not in text and "." in text:
            most = max(most, len(text.split(".")[1].rstrip("0")))
    return min(4, max(2, most))


def _drawn(draw: random.Random, values, span: tuple[float, float]) -> tuple[float, ...]:
    places = _decimals(values)
    low, high = span
    return tuple(round(draw.uniform(low, high), places) for _ in values)


def _flatten(values):
    for value in values:
        if isinstance(value, tuple):
            yield from value
        else:
            yield value


def _shaped(like, numbers):
    """``numbers`` laid out as ``like`` is: a tuple, or a tuple of tuples."""
    return tuple(_shaped(item, numbers) if isinstance(item, tuple) else next(numbers) for item in like)
