"""A slip the judge found, where it stands again unjudged: the same formula copied down a column
or along a row, and a typed number pasted over an update."""

from __future__ import annotations

import re
from dataclasses import replace

from sheetprop.check.find.training import Key, Training
from sheetprop.check.report.findings import Finding
from sheetprop.spreadsheet.formulas import formula_at_row, relative_with_template


def copied(training: Training, findings: list[Finding], judged: set[Key]) -> list[Finding]:
    """The same formula copied down a column or along a row where it stands unjudged (the last
    example's δ, which no update reads; the rest of a grid judged by sample): the same slip."""
    graph, forms, found = training.graph, training.forms, {(f.sheet, f.cell) for f in findings}
    more = []
    for finding in findings:
        if finding.formula is None or finding.formula.startswith("{"):  # an array's cells are one formula
            continue
        for key in forms.same_formula((finding.sheet, finding.cell)):
            if key in judged or key in found:
                continue
            found.add(key)
            more.append(replace(finding, cell=key[1], formula=graph.texts[key], found=graph.saved.get(key),
                                message=f"{key[1]}: {finding.cell}'s formula copied{_direction(finding.cell, key[1])}, "
                                        f"the same slip ({finding.message})"))
    return more


def _direction(here: str, there: str) -> str:
    (a_column, a_row), (b_column, b_row) = (re.fullmatch(r"([A-Z]+)(\d+)", cell).groups() for cell in (here, there))
    return " down" if a_column == b_column else " along its row" if a_row == b_row else ""


def typed_where_updates_belong(training: Training) -> list[Finding]:
    """A number typed in a row where the other parameters are updated, in a column whose
    parameter is updated by the same formula in other rows: the update was pasted over."""
    graph = training.graph
    by_column: dict[tuple, list[int]] = {}
    update_rows: set[tuple] = set()
    for key in training.updates:
        column, row = re.fullmatch(r"([A-Z]+)(\d+)", key[1]).groups()
        by_column.setdefault((key[0], column), []).append(int(row))
        update_rows.add((key[0], int(row)))
    findings = []
    for (sheet, column), rows in by_column.items():
        rows.sort()
        template = relative_with_template(graph.texts[(sheet, f"{column}{rows[0]}")], rows[0])[1]
        for other in sorted({r for s, r in update_rows if s == sheet} - set(rows)):
            cell = (sheet, f"{column}{other}")
            if cell in graph.numbers and rows[0] < other:
                meant = formula_at_row(template, other)
                findings.append(Finding(sheet, cell[1], graph.header(cell) or "parameter", "typed number", None,
                                        graph.numbers[cell], None, None,
                                        f"{cell[1]} holds a typed number where the update {meant} belongs "
                                        "(the other parameters of its row are updated there)"))
    return findings
