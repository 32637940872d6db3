"""Findings gathered into groups a teacher reads as one mistake: a hidden layer's error row, each
unit's cell missing the same factor (wild workbook 68's DI800:HD800), is one group along its row."""

from __future__ import annotations

from dataclasses import replace

from sheetprop.check.report.findings import Finding, Report, group_findings

MESSAGE = "{cell} does not compute −∂E/∂D{unit}: f(x) from the cells it reads"


def _row(columns, message=MESSAGE, formula="=I{unit}*DI$908+J{unit}*DJ$908", row=800):
    return [Finding("net", f"{column}{row}", "error", "wrong formula", formula.format(unit=804 + k), 0.1, None,
                    None, message.format(cell=f"{column}{row}", unit=804 + k))
            for k, column in enumerate(columns)]


def test_a_run_along_a_row_of_the_same_slip_is_one_group():
    groups = group_findings(_row(["DI", "DJ", "DK", "DL"]))
    assert [[f.cell for f in g] for g in groups] == [["DI800", "DJ800", "DK800", "DL800"]]


def test_two_cells_or_a_gap_or_another_slip_stay_apart():
    assert len(group_findings(_row(["DI", "DJ"]))) == 2
    assert len(group_findings(_row(["DI", "DJ", "DL"]))) == 3  # DK is missing: no run
    other = _row(["DI", "DJ", "DK"]) + _row(["DL"], "{cell} reads D{unit} where σ′ belongs", "=EXP(D{unit})")
    assert [len(g) for g in group_findings(other)] == [3, 1]


def test_one_formula_written_for_each_unit_is_one_group_whatever_each_message_names():
    row = _row(["DI", "DJ", "DK"])
    row[1] = replace(row[1], message="DJ800 does not compute −δ(L907) from the cells it reads")
    assert [len(g) for g in group_findings(row)] == [3]
    row[2] = replace(row[2], formula="=I806*DI$907", message="DK800 reads DI907 where δ belongs")
    assert [len(g) for g in group_findings(row)] == [1, 1, 1]


def test_the_report_counts_the_row_as_one_finding():
    report = Report("w.xlsx", [("net", 1)])
    report.findings.extend(_row(["DI", "DJ", "DK", "DL", "DM"]))
    assert "1 finding (5 cells)" in report.summary()
