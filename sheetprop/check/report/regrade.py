"""`check --regrade previous.csv`: whose score changed since an earlier run, and why.

Every CSV row carries the sheetprop version that graded it, the answer key's sha256 and the graded
file's sha256, so that a changed score can be put down to its cause: a new sheetprop, another key,
another file handed in, or (none of these changed) the options the class was graded with. Rows are
matched by student id where both runs have one, else by submission.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from sheetprop.errors import UserError
from sheetprop.files import read_limited

MAX_PREVIOUS_BYTES = 64 * 2**20


def read_previous(path: Path) -> list[dict]:
    path = Path(path).expanduser()
    data = read_limited(path, "previous grades", MAX_PREVIOUS_BYTES, "at most 64 MB are read")
    try:
        rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise UserError(f"--regrade {path.name} is not a CSV that check wrote: {exc}") from None
    if rows and not {"submission", "percent"} <= set(rows[0]):
        raise UserError(f"--regrade {path.name} has no 'submission' and 'percent' columns: give a CSV that check --csv wrote")
    return rows


def _who(row: dict) -> str:
    return (row.get("student_id") or "").strip() or (row.get("submission") or "").strip()


def changes(previous: list[dict], current: list[dict]) -> list[str]:
    """One line per student whose percent changed (or who came or went), with the reasons."""
    before = {_who(r): r for r in previous}
    lines = []
    for row in current:
        who = _who(row)
        old = before.pop(who, None)
        if old is None:
            lines.append(f"{who}: new, {row['percent']}%")
            continue
        try:
            moved = abs(float(old["percent"]) - float(row["percent"])) > 0.05
        except (TypeError, ValueError):
            moved = old.get("percent") != row["percent"]
        if moved:
            lines.append(f"{who}: {old['percent']}% -> {row['percent']}%: {'; '.join(_reasons(old, row))}")
    lines.extend(f"{who}: no longer in the class (was {row.get('percent', '?')}%)" for who, row in before.items())
    return lines


def _reasons(old: dict, new: dict) -> list[str]:
    reasons = []
    if old.get("sheetprop_version") and old["sheetprop_version"] != new.get("sheetprop_version"):
        reasons.append(f"sheetprop {old['sheetprop_version']} -> {new.get('sheetprop_version')}")
    if old.get("key_sha256") and old["key_sha256"] != new.get("key_sha256"):
        reasons.append("another answer key")
    if old.get("file_sha256") and old["file_sha256"] != new.get("file_sha256"):
        reasons.append("another file handed in")
    if old.get("status") != new.get("status"):
        reasons.append(f"status {old.get('status')} -> {new.get('status')}")
    if not reasons:
        reasons.append("the same file, key and sheetprop: the options differ (tolerance, rubric, roster, …)")
    if old.get("findings") != str(new.get("findings")):
        reasons.append(f"findings {old.get('findings')} -> {new.get('findings')}")
    return reasons
