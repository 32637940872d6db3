"""`check` on workbooks without a labelled table (issue 19): the network is read from the formulas
alone, each fixture laid out by hand in ``formula_graph_workbooks``; a slip is named in the cell
where it enters, and only there."""

from __future__ import annotations

import json

import pytest

import formula_graph_workbooks as layouts
from sheetprop.cli import main


def check(path, sheets, capsys):
    layouts.write(path, sheets)
    code = main(["check", "--json", str(path)])
    report = json.loads(capsys.readouterr().out)
    return code, report, {(f["sheet"], f["cell"], f["kind"]) for f in report["findings"]}


def test_a_network_laid_out_a_weight_a_row_is_read_and_a_right_one_is_clean(tmp_path, capsys):
    code, report, found = check(tmp_path / "per_row.xlsx", {"시트1": layouts.per_row_2_2_1()}, capsys)
    assert (code, found) == (0, set())
    assert any("read from the formulas alone (layers 2-2-1, 9 weight updates)" in note for note in report["notes"])


def test_swapped_slopes_and_eta_read_from_a_weight_are_found_where_they_enter(tmp_path, capsys):
    # x1 = 1, x2 = 0: the swapped σ′ in the row of x2→h1 changes no value downstream, and is found.
    sheets = {"시트1": layouts.per_row_2_2_1(swapped_slopes=True, eta_from_a_weight=True)}
    code, report, found = check(tmp_path / "per_row.xlsx", sheets, capsys)
    assert code == 1
    assert found == {("시트1", "R5", "wrong reference"), ("시트1", "R6", "wrong reference"),
                     ("시트1", "V8", "wrong reference"), ("시트1", "V9", "wrong reference")}
    messages = {f["cell"]: f["message"] for f in report["findings"]}
    assert "reads D5" in messages["R5"] and "where η belongs" in messages["V8"]


def test_a_feed_row_and_back_rows_are_read_and_a_right_one_is_clean(tmp_path, capsys):
    code, report, found = check(tmp_path / "feed.xlsx", {"Planilha1": layouts.feed_and_back_rows_2_4_1()}, capsys)
    assert (code, found) == (0, set())
    assert any("layers 2-4-1, 12 weight updates" in note for note in report["notes"])


def test_an_output_sum_of_pre_activations_is_one_finding_in_that_sum(tmp_path, capsys):
    sheets = {"Planilha1": layouts.feed_and_back_rows_2_4_1(sums_of_pre_activations=True)}
    code, report, found = check(tmp_path / "feed.xlsx", sheets, capsys)
    assert (code, found) == (1, {("Planilha1", "AB4", "wrong formula")})
    assert "Q4, T4, W4, Z4" in report["findings"][0]["message"]


def test_a_sum_reading_another_neurons_weight_is_a_wrong_reference(tmp_path, capsys):
    sheets = {"Planilha1": layouts.feed_and_back_rows_2_4_1(wrong_weight=True)}
    code, report, found = check(tmp_path / "feed.xlsx", sheets, capsys)
    assert (code, found) == (1, {("Planilha1", "Y4", "wrong reference")})
    assert "reads the weight J4 where G4 belongs" in report["findings"][0]["message"]


@pytest.mark.parametrize("slip_on", [None, "Iteration 2"])
def test_mazurs_example_a_sheet_per_iteration(tmp_path, capsys, slip_on):
    sheets = layouts.mazur_sheet_per_iteration(iterations=3, slip_on=slip_on)
    code, report, found = check(tmp_path / "mazur.xlsx", sheets, capsys)
    assert sorted(s["sheet"] for s in report["sheets"]) == ["Iteration 1", "Iteration 2", "Iteration 3"]
    if slip_on is None:
        assert (code, found) == (0, set())
    else:
        # σ′(h2) written with out_h1 on the second sheet: that cell, not the third sheet it feeds.
        assert (code, found) == (1, {("Iteration 2", "H6", "wrong reference")})


def test_a_sheet_without_any_network_still_says_no_table_was_found(tmp_path, capsys):
    layouts.write(tmp_path / "none.xlsx", {"Sheet1": {"A1": "notes", "B2": 1, "B3": "=B2*2"}})
    assert main(["check", str(tmp_path / "none.xlsx")]) == 2
    assert "no backpropagation table found" in capsys.readouterr().err
