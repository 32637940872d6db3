"""`check --similarity FILE.csv`: pairs of submissions ranked by the evidence that one was copied.

Each piece of evidence is a thing two or more files share: the same bytes, the same wrong formula
in the same column (a mistake copied down is one), another student's variant, the same document
metadata (creator, last modified by, created) or the same styles. What many files share is what a
course shares, not what a pair does: each piece weighs ``rarity`` of its weight, 1 when exactly two
files share it, falling to 0 when every file does. Identical files and another's variant weigh
the most; the "why" lists a pair's evidence, strongest first. It is evidence for a teacher to look
at, not a verdict.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections import defaultdict
from pathlib import Path

from sheetprop.atomic import atomic_output
from sheetprop.spreadsheet.formulas import relative_to_row

COLUMNS = ("rank", "submission_a", "submission_b", "score", "why")
WEIGHTS = {"identical": 100.0, "variant": 60.0, "slip": 30.0, "created": 15.0, "creator": 5.0,
           "lastModifiedBy": 5.0, "styles": 5.0}
GENERIC_AUTHORS = {"", "openpyxl", "xlsxwriter", "microsoft office user", "user", "author", "unknown",
                   "administrator", "admin", "apache poi", "libreoffice", "gnumeric"}
MAX_PAIRS = 1_000


def rarity(shared_by: int, total: int) -> float:
    """1 for a thing two files share, falling (logarithmically) to 0 for one all ``total`` share."""
    if shared_by < 2 or total <= 2:
        return 1.0 if shared_by >= 2 else 0.0
    return max(0.0, math.log(total / shared_by) / math.log(total / 2))


def features(outcome) -> list[tuple[str, object, str]]:
    """(kind, value, words) for each thing this submission's file may share with another."""
    found = []
    evidence = getattr(outcome, "evidence", None)
    if evidence is not None:
        if evidence.sha256:
            found.append(("identical", evidence.sha256, "identical files"))
        for name in ("creator", "lastModifiedBy", "created"):
            value = evidence.metadata.get(name, "")
            if value and value.strip().lower() not in GENERIC_AUTHORS:
                found.append((name, value, f"the same {name} ({value[:40]})"))
        if evidence.styles:
            found.append(("styles", evidence.styles, "identical styles"))
    report = outcome.report
    if report is not None:
        seen = set()
        for group in report.groups:
            first = group[0]
            if first.formula is None or first.kind in ("record",):
                continue
            column, row = re.fullmatch(r"([A-Z]{1,3})(\d+)", first.cell).groups()
            sheet = first.sheet
            shape = (sheet, column, relative_to_row(first.formula, int(row)))
            if shape not in seen:
                seen.add(shape)
                found.append(("slip", shape, f"the same wrong {first.label} in {sheet}!{first.cell} ({first.formula[:60]})"))
    return found


def rank_pairs(outcomes: list, variants: dict[str, str] | None = None) -> list[tuple[str, str, float, str]]:
    """(a, b, score, why) for every pair with evidence, the strongest first. ``variants`` maps a
    submission to its variant verdict (``copied from <id>``) and to the roster id it is, as
    {submission: (student_id, verdict)}."""
    total = len(outcomes)
    buckets: dict[tuple, list[int]] = defaultdict(list)
    words: dict[tuple, str] = {}
    for index, outcome in enumerate(outcomes):
        for kind, value, text in features(outcome):
            buckets[(kind, value)].append(index)
            words.setdefault((kind, value), text)
    pairs: dict[tuple[int, int], list[tuple[float, str]]] = defaultdict(list)
    for (kind, value), members in buckets.items():
        weight = WEIGHTS[kind] * (max(0.5, rarity(len(members), total)) if kind == "identical"
                                  else rarity(len(members), total))
        if len(members) < 2 or weight < 0.01:
            continue
        common = f" (common: {len(members)} files)" if len(members) > 2 else ""
        for i, a in enumerate(members):
            for b in members[i + 1:]:
                pairs[(a, b)].append((weight, words[(kind, value)] + common))
    if variants:
        by_student = {student: k for k, o in enumerate(outcomes)
                      for student, _ in [variants.get(o.submission, ("", ""))] if student}
        for k, outcome in enumerate(outcomes):
            student, verdict = variants.get(outcome.submission, ("", ""))
            if verdict.startswith("copied from "):
                other = verdict[len("copied from "):]
                j = by_student.get(other)
                if j is not None and j != k:
                    pairs[tuple(sorted((k, j)))].append(
                        (WEIGHTS["variant"], f"{outcome.submission} holds {other}'s variant"))
    ranked = []
    for (a, b), evidence in pairs.items():
        evidence.sort(key=lambda item: -item[0])
        score = sum(w for w, _ in evidence)
        ranked.append((outcomes[a].submission, outcomes[b].submission, round(score, 1),
                       "; ".join(text for _, text in evidence)))
    ranked.sort(key=lambda row: (-row[2], row[0], row[1]))
    return ranked[:MAX_PAIRS]


def write_similarity(path: Path, ranked: list[tuple[str, str, float, str]]) -> None:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(COLUMNS)
    for rank, (a, b, score, why) in enumerate(ranked, start=1):
        writer.writerow([rank, _safe(a), _safe(b), f"{score:g}", _safe(why)])
    with atomic_output(Path(path)) as tmp:
        tmp.write_text(text.getvalue(), encoding="utf-8")


def _safe(text: str) -> str:
    """A cell a spreadsheet program would run as a formula (=, +, -, @) starts with a quote."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
