"""Grading against an exercise's answer key: what the key says the student owes, whatever the
student's file says. The network, sheets and rows come from the key's ``_sheetprop`` record (the
student can edit their own copy of it); a sheet deleted or renamed owes all its cells, and a
record that disagrees with the key is a finding."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

from sheetprop.check.report.findings import Finding, Score, SheetScore
from sheetprop.errors import UserError
from sheetprop.files import read_limited
from sheetprop.network import Network
from sheetprop.record import RECORD_SHEET, read_exercise_record, template_record

MAX_KEY_BYTES = 300 * 2**20  # the largest key `build` writes (50,000 steps) is ~250 MB


def read_key(path: Path) -> dict:
    """The answer key's record; a one-line UserError when the file is not a key `build` wrote."""
    from openpyxl import load_workbook

    path = Path(path).expanduser()
    data = read_limited(path, "key", MAX_KEY_BYTES, f"a key is at most {MAX_KEY_BYTES // 2**20} MB")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # Read-only: only the small record sheet is read, not the key's thousands of rows.
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - a damaged part raises anything
        raise UserError(f"cannot read the key {path.name} as an .xlsx workbook ({type(exc).__name__})") from None
    try:
        record = read_exercise_record(book)
    finally:
        book.close()
    if record is None:
        raise UserError(f"{path.name} is not an answer key: it has no {RECORD_SHEET} record "
                        "(give the workbook `build --exercise` wrote beside the student version)")
    return record


def owed_cells(network: Network, steps: int) -> list[tuple[str, int]]:
    """Per label, in the sheet's order, the cells a student works out on one sheet: every computed
    cell of every row, and each later row's trained parameters and optimizer state."""
    carried = {q.label for q in network.trained} | {q.label for q in network.carried if q.role == "optimizer"}
    computed = {q.label for q in network.computed}
    return [(q.label, steps if q.label in computed else steps - 1)
            for q in network.quantities if q.label in computed or (q.label in carried and steps > 1)]


def missing_sheet_scores(record: dict, present: set[str], notes: list[str]) -> list[SheetScore]:
    """A zero score for each sheet the record names that the workbook lacks (deleted or renamed)."""
    owed = owed_cells(Network(record["template"]), record["steps"])
    scores = []
    for sheet in record["sheets"]:
        if sheet in present:
            continue
        columns = tuple((label, Score(0, n)) for label, n in owed)
        total = sum(n for _, n in owed)
        # The reader noted the sheet as skipped; one note says it, with what it costs.
        notes[:] = [n for n in notes if not n.startswith(f"skipped sheet {sheet!r} is named in the workbook's record")]
        notes.append(f"sheet {sheet!r} is missing (deleted or renamed): its {total} cells count as not done")
        scores.append(SheetScore(0, total, sheet, columns))
    return scores


def owed_in_full(score: SheetScore, record: dict) -> SheetScore:
    """A sheet's score with every column owing at least what the key asks: a sheet read by its labels
    (a header relabelled) ends at its first unfinished row, and those rows are still owed."""
    owed = dict(owed_cells(Network(record["template"]), record["steps"]))
    columns = dict(score.columns)
    for label, n in owed.items():
        have = columns.get(label, Score(0, 0))
        columns[label] = Score(have.right, max(have.cells, n))
    ordered = [label for label, _ in score.columns] + [label for label in owed if label not in dict(score.columns)]
    new = tuple((label, columns[label]) for label in ordered)
    return SheetScore(sum(c.right for _, c in new), sum(c.cells for _, c in new), score.sheet, new)


def record_findings(own: dict | None, key: dict) -> list[Finding]:
    """One finding when the student's own record names another network, row count or sheets than
    the key's (graded against the key all the same)."""
    if own is None:
        return []
    differences = []
    if template_record(own["template"]) != template_record(key["template"]):
        differences.append("the network (template)")
    if own["steps"] != key["steps"]:
        differences.append(f"the rows ({own['steps']}, the key {key['steps']})")
    if own["sheets"] != key["sheets"]:
        differences.append(f"the sheets ({', '.join(own['sheets'])}; the key {', '.join(key['sheets'])})")
    if not differences:
        return []
    return [Finding(RECORD_SHEET, "B2", "record", "record differs", None, None, None, None,
                    f"the workbook's {RECORD_SHEET} record differs from the answer key's in {' and '.join(differences)}; "
                    "it was graded against the key")]


def owed_total(record: dict) -> int:
    """Every cell the exercise asks for, over all its sheets: the max_score of a submission."""
    return len(record["sheets"]) * sum(n for _, n in owed_cells(Network(record["template"]), record["steps"]))
