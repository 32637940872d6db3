"""`check --class-report FILE.xlsx`: the class at a glance, for the teacher.

Sheet ``columns``: per column group (forward, loss, backward, update) and column, how many of the
graded students got it wrong (a finding there), how many lost cells there for any reason, and the
most common hint (else message) of the findings in it, with a bar chart of the first count. Sheet ``scores``: how many students scored in each tenth of 0-100 %, with a
column chart. Written with xlsxwriter: check never imports the writer.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from sheetprop.atomic import atomic_output
from sheetprop.check.report.rubric import GROUPS, group_of

BINS = 10


HEADER = ("group", "column", "students wrong", "students short", "students graded", "most common hint")


def column_rows(outcomes: list, network=None) -> list[tuple[str, str, int, int, int, str]]:
    """Per column, in group then sheet order: (group, column, students with a finding in it,
    students who lost cells in it for any reason (wrong, blank, not their own variant), students
    graded, the most common hint or else message of its findings)."""
    graded = [o for o in outcomes if o.report is not None and o.status == "graded"]
    order: dict[str, int] = {}
    wrong: Counter = Counter()
    short: Counter = Counter()
    hints: dict[str, Counter] = {}
    for outcome in graded:
        lost = set()
        for sheet in outcome.report.scores:
            for label, score in sheet.columns:
                order.setdefault(label, len(order))
                if score.right < score.cells:
                    lost.add(label)
        short.update(lost)
        wrong.update({f.label for f in outcome.report.findings if f.label in order or f.label})
        for finding in outcome.report.findings:
            hints.setdefault(finding.label, Counter())[finding.hint or finding.message] += 1
    rows = []
    for label in sorted(order, key=lambda l: (GROUPS.index(group_of(l, network)), order[l])):
        common = hints.get(label, Counter()).most_common(1)
        rows.append((group_of(label, network), label, wrong[label], short[label], len(graded),
                     common[0][0] if common else ""))
    return rows


def distribution(outcomes: list, owed: int = 0) -> list[tuple[str, int]]:
    """(range, students) for each tenth of the percent score: 0-10 %, …, 90-100 %."""
    counts = [0] * BINS
    for outcome in outcomes:
        percent = outcome.percent(owed)
        counts[min(BINS - 1, int(percent // (100 / BINS)))] += 1
    step = 100 // BINS
    return [(f"{k * step}-{(k + 1) * step} %", n) for k, n in enumerate(counts)]


def write_class_workbook(path: Path, outcomes: list, owed: int = 0, network=None) -> None:
    import xlsxwriter

    rows = column_rows(outcomes, network)
    bins = distribution(outcomes, owed)
    with atomic_output(Path(path)) as tmp:
        book = xlsxwriter.Workbook(str(tmp), {"strings_to_formulas": False, "strings_to_urls": False})
        try:
            bold = book.add_format({"bold": True})
            sheet = book.add_worksheet("columns")
            sheet.write_row(0, 0, HEADER, bold)
            for r, row in enumerate(rows, start=1):
                sheet.write_row(r, 0, row)
            sheet.set_column(0, 1, 12)
            sheet.set_column(2, 4, 15)
            sheet.set_column(5, 5, 80)
            if rows:
                chart = book.add_chart({"type": "bar"})
                chart.add_series({"name": "students wrong", "categories": ["columns", 1, 1, len(rows), 1],
                                  "values": ["columns", 1, 2, len(rows), 2]})
                chart.set_title({"name": "Students wrong, per column"})
                chart.set_y_axis({"reverse": True})
                chart.set_legend({"none": True})
                chart.set_size({"width": 640, "height": max(300, 18 * len(rows) + 80)})
                sheet.insert_chart(1, 7, chart)
            scores = book.add_worksheet("scores")
            scores.write_row(0, 0, ("score", "students"), bold)
            for r, (label, count) in enumerate(bins, start=1):
                scores.write_string(r, 0, label)
                scores.write_number(r, 1, count)
            graded = [o for o in outcomes if o.status == "graded"]
            scores.write_string(len(bins) + 2, 0, "submissions", bold)
            scores.write_number(len(bins) + 2, 1, len(outcomes))
            scores.write_string(len(bins) + 3, 0, "graded", bold)
            scores.write_number(len(bins) + 3, 1, len(graded))
            scores.set_column(0, 0, 14)
            chart = book.add_chart({"type": "column"})
            chart.add_series({"name": "students", "categories": ["scores", 1, 0, len(bins), 0],
                              "values": ["scores", 1, 1, len(bins), 1]})
            chart.set_title({"name": "Score distribution"})
            chart.set_legend({"none": True})
            scores.insert_chart(1, 3, chart)
        finally:
            book.close()
