"""`check --rubric FILE.toml`: how much each column group weighs in a submission's grade.

The file gives a weight to each of the table's column groups:

    [weights]
    forward = 1    # the forward pass: net inputs and activations
    loss = 1       # the losses and E_total
    backward = 2   # every gradient ∂E/∂…
    update = 1     # the new weights (and biases, and the optimizer's state)

A group left out weighs 1; 0 leaves it out of the grade. The rubric's grade is the weighted mean of
each group's fraction of cells right, in percent: the ``rubric_percent`` column beside ``percent``.
"""

from __future__ import annotations

import re
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from sheetprop.errors import UserError
from sheetprop.files import read_limited

GROUPS = ("forward", "loss", "backward", "update")
_ROLE_GROUP = {"forward": "forward", "loss": "loss", "gradient": "backward", "weight": "update",
               "bias": "update", "optimizer": "update"}


def read_rubric(path: Path) -> dict[str, float]:
    path = Path(path).expanduser()
    data = read_limited(path, "rubric", 2**20, "a rubric is at most 1 MB")
    try:
        table = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"the rubric {path.name} is not TOML: {exc}") from None
    weights = table.get("weights", table)
    if not isinstance(weights, dict):
        raise UserError(f"the rubric {path.name} needs a [weights] table")
    unknown = sorted(set(weights) - set(GROUPS))
    if unknown:
        raise UserError(f"the rubric {path.name} names {', '.join(unknown)}; its groups are {', '.join(GROUPS)}")
    found = {}
    for group in GROUPS:
        value = weights.get(group, 1)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1000:
            raise UserError(f"the rubric {path.name}: {group} must be a number from 0 to 1000")
        found[group] = float(value)
    if not any(found.values()):
        raise UserError(f"the rubric {path.name} weighs every group 0: nothing would count")
    return found


def group_of(label: str, network=None) -> str:
    """The column group of a label: by its role in the key's network, else by how it is written."""
    if network is not None:
        try:
            return _ROLE_GROUP.get(network.by_label(label).role, "forward")
        except (KeyError, ValueError, LookupError):
            pass
    if label.startswith("∂") or label.lower().startswith(("de/d", "grad")):
        return "backward"
    if label.startswith("E") or label.lower().startswith(("loss", "e_")):
        return "loss"
    if re.match(r"^(?:w\d+|b\d*|b_\w+|[vms]_\S+)$", label):
        return "update"
    return "forward"


def group_scores(report, network=None) -> dict[str, tuple[int, int]]:
    """{group: (cells right, cells owed)} over every sheet of the report."""
    totals = {g: [0, 0] for g in GROUPS}
    for sheet in report.scores if report is not None else ():
        for label, score in sheet.columns:
            total = totals[group_of(label, network)]
            total[0] += score.right
            total[1] += score.cells
    return {g: (right, cells) for g, (right, cells) in totals.items()}


def rubric_percent(report, weights: dict[str, float], network=None) -> float:
    """The weighted mean of each group's fraction right, in percent (0 for a file not graded)."""
    if report is None:
        return 0.0
    scores = group_scores(report, network)
    owed = [(weights[g], right / cells) for g, (right, cells) in scores.items() if cells and weights[g]]
    if not owed:
        return 0.0
    return 100.0 * sum(w * f for w, f in owed) / sum(w for w, _ in owed)
