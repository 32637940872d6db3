"""`check --format gradescope|prairielearn`: a report in the JSON each platform documents. The
reports here are built by hand, so every expected score is counted from the fixture itself; each
result is validated against a schema written from the platform's documentation."""

import json
from pathlib import Path

import pytest

from platform_schemas import GRADESCOPE_RESULTS, PRAIRIELEARN_MAX_BYTES, PRAIRIELEARN_RESULTS, validate
from sheetprop.check import Finding, Report, check_workbook
from sheetprop.check.classroom.platforms import (gradescope_result, gradescope_ungradable, prairielearn_result,
                                       prairielearn_ungradable)
from sheetprop.check.report.findings import Score, SheetScore, group_labels
from sheetprop.cli import main

pytest.importorskip("jsonschema")

SLIP_ROWS = (20, 21, 22)


def slip(row: int) -> Finding:
    """σ'(h1) where σ'(h2) belongs, in ∂E/∂w3 (column Z), copied down: one group."""
    return Finding("lr=0.5", f"Z{row}", "∂E/∂w3", "wrong formula", f"=(X{row}-B{row})*K{row}*(1-K{row})",
                   0.01, 0.02, 0.5, "uses a_h1·(1 − a_h1) where ∂E/∂w3 needs a_h2·(1 − a_h2)",
                   hint="σ′(h1) where σ′(h2) belongs")


DRIFT = Finding("lr=1", "A2", "η", "η drift", None, 0.7, 1.0, 0.3, "η changed from 1 to 0.7 in row 21")

# lr=0.5: w1 2/2, ∂E/∂w3 0/3 (the slip); lr=1: w1 1/2 (a row not started), ∂E/∂w3 3/3.
COLUMNS = {"lr=0.5": {"w1": (2, 2), "∂E/∂w3": (0, 3)}, "lr=1": {"w1": (1, 2), "∂E/∂w3": (3, 3)}}
RIGHT = sum(r for sheet in COLUMNS.values() for r, _ in sheet.values())    # 6
CELLS = sum(c for sheet in COLUMNS.values() for _, c in sheet.values())    # 10


def report(findings=None, columns=COLUMNS) -> Report:
    scores = [SheetScore(sum(r for r, _ in cols.values()), sum(c for _, c in cols.values()), sheet,
                         tuple((label, Score(r, c)) for label, (r, c) in cols.items()))
              for sheet, cols in columns.items()]
    return Report("submission.xlsx", [("lr=0.5", 3), ("lr=1", 3)],
                  findings=[slip(r) for r in SLIP_ROWS] + [DRIFT] if findings is None else findings,
                  scores=scores, exercise=True)


def by_name(tests):
    return {t["name"]: t for t in tests}


def test_gradescope_scores_each_column_in_points_of_the_whole():
    result = gradescope_result(report(), points=50, visibility="after_due_date", seconds=3.4)
    validate(result, GRADESCOPE_RESULTS)
    assert result["score"] == pytest.approx(50 * RIGHT / CELLS)
    assert result["visibility"] == "after_due_date" and result["execution_time"] == 3
    tests = by_name(result["tests"])
    columns = {f"{sheet}: {label}": rc for sheet, cols in COLUMNS.items() for label, rc in cols.items()}
    assert set(columns) | {"lr=1: other findings"} == set(tests)
    for name, (right, cells) in columns.items():
        assert tests[name]["score"] == pytest.approx(50 * right / CELLS, abs=1e-4)
        assert tests[name]["max_score"] == pytest.approx(50 * cells / CELLS, abs=1e-4)
        assert tests[name]["status"] == ("passed" if right == cells else "failed")
        assert tests[name]["visibility"] == "after_due_date"
    assert sum(t.get("max_score", 0) for t in result["tests"]) == pytest.approx(50, abs=1e-3)


def test_gradescope_test_output_says_where_the_mistake_enters_and_how_far_it_goes():
    tests = by_name(gradescope_result(report())["tests"])
    slipped = tests["lr=0.5: ∂E/∂w3"]["output"]
    assert "0/3 cells right" in slipped
    assert "Z20" in slipped and "3 cells, to Z22" in slipped and "a_h2·(1 − a_h2)" in slipped
    assert "σ′(h1) where σ′(h2) belongs" in slipped
    assert "not done" in tests["lr=1: w1"]["output"]                 # short, with no finding
    assert tests["lr=1: other findings"]["status"] == "failed"       # η is no scored column
    assert "A2" in tests["lr=1: other findings"]["output"]
    assert "score" not in tests["lr=1: other findings"]


def test_gradescope_leaves_visibility_to_gradescope_by_default():
    result = gradescope_result(report())
    validate(result, GRADESCOPE_RESULTS)
    assert "visibility" not in result and all("visibility" not in t for t in result["tests"])
    assert result["output_format"] == "text"  # a formula's "<" is no HTML tag


def test_a_clean_report_passes_every_gradescope_test():
    all_right = {sheet: {label: (cells, cells) for label, (_, cells) in cols.items()}
                 for sheet, cols in COLUMNS.items()}
    result = gradescope_result(report(findings=[], columns=all_right))
    validate(result, GRADESCOPE_RESULTS)
    assert result["score"] == 100.0 and {t["status"] for t in result["tests"]} == {"passed"}


def test_prairielearn_scores_the_fraction_of_right_cells():
    result = prairielearn_result(report())
    validate(result, PRAIRIELEARN_RESULTS)
    assert result["gradable"] is True and result["score"] == pytest.approx(RIGHT / CELLS)
    tests = by_name(result["tests"])
    assert (tests["lr=0.5: ∂E/∂w3"]["points"], tests["lr=0.5: ∂E/∂w3"]["max_points"]) == COLUMNS["lr=0.5"]["∂E/∂w3"]
    assert (tests["lr=1: w1"]["points"], tests["lr=1: w1"]["max_points"]) == COLUMNS["lr=1"]["w1"]
    assert f"{RIGHT}/{CELLS} cells right" in result["message"]
    # The feedback is check's JSON report: findings a question template can show.
    assert [f["cell"] for f in result["feedback"]["findings"]] == [f"Z{r}" for r in SLIP_ROWS] + ["A2"]


@pytest.mark.parametrize("sheets", [("lr=0.5",), ("lr=0.5", "lr=1")], ids=["one column", "every column"])
def test_results_stay_under_prairielearns_1_mb_limit(sheets):
    many = [Finding(sheet, f"{column}{row}", label, "wrong value", None, float(row), 1.0, 1.0, "∂" * 2000)
            for sheet in sheets for column, label in (("F", "w1"), ("Z", "∂E/∂w3"))
            for row in range(20, 1020, 2)]  # every other row: a thousand findings a sheet, none grouped
    prairielearn = prairielearn_result(report(findings=many))
    validate(prairielearn, PRAIRIELEARN_RESULTS)
    gradescope = gradescope_result(report(findings=many))
    validate(gradescope, GRADESCOPE_RESULTS)
    for result in (prairielearn, gradescope):
        assert len(json.dumps(result, ensure_ascii=False).encode()) < PRAIRIELEARN_MAX_BYTES
        assert all("cut" in t["output"] for t in result["tests"] if t["name"].startswith(sheets))
    assert prairielearn["score"] == pytest.approx(RIGHT / CELLS) and gradescope["score"] == pytest.approx(100 * RIGHT / CELLS)


def test_an_ungradable_file_is_a_result_on_both_platforms():
    message = "answer.xlsx is a text file, not an .xlsx workbook"
    gradescope = gradescope_ungradable(message, points=10)
    validate(gradescope, GRADESCOPE_RESULTS)
    assert gradescope["score"] == 0 and message in gradescope["output"]
    assert [t["status"] for t in gradescope["tests"]] == ["failed"]
    prairielearn = prairielearn_ungradable(message)
    validate(prairielearn, PRAIRIELEARN_RESULTS)
    assert prairielearn["gradable"] is False and prairielearn["format_errors"] == [message]


def test_the_schemas_can_fail():
    with pytest.raises(Exception, match="max_points"):
        validate({"score": 1, "tests": [{"name": "x", "max_points": 1}]}, GRADESCOPE_RESULTS)
    with pytest.raises(Exception, match="format_errors"):
        validate({"gradable": False, "score": 0}, PRAIRIELEARN_RESULTS)
    with pytest.raises(Exception, match="1.5"):
        validate({"score": 1.5}, PRAIRIELEARN_RESULTS)


def test_check_writes_a_result_even_for_a_file_that_is_no_workbook(tmp_path, capsys):
    bogus = tmp_path / "answer.xlsx"
    bogus.write_text("i1,i2\n0.05,0.1\n")
    assert main(["check", "--format", "gradescope", str(bogus)]) == 2
    out, err = capsys.readouterr()
    result = json.loads(out)
    validate(result, GRADESCOPE_RESULTS)
    assert result["score"] == 0 and "CSV" in result["output"] and "CSV" in err
    target = tmp_path / "results" / "results.json"
    assert main(["check", "--format", "prairielearn", "--out", str(target), str(bogus)]) == 2
    assert capsys.readouterr().out == ""
    result = json.loads(target.read_text(encoding="utf-8"))
    validate(result, PRAIRIELEARN_RESULTS)
    assert result["gradable"] is False and "CSV" in result["format_errors"][0]


@pytest.mark.parametrize("options", [["--json", "--format", "gradescope"], ["--out", "r.json"]], ids=str)
def test_format_options_that_contradict_are_usage_errors(tmp_path, options, capsys):
    bogus = tmp_path / "a.xlsx"
    bogus.write_text("x")
    assert main(["check", *options, str(bogus)]) == 2
    assert "error:" in capsys.readouterr().err


# ../shared/wild beside the checkout (or beside the folder of worktrees a checkout sits in).
_REPO = Path(__file__).resolve().parents[1]
WILD = next((p for p in (_REPO.parent / "shared" / "wild", _REPO.parent.parent / "shared" / "wild") if p.is_dir()),
            _REPO.parent / "shared" / "wild")


@pytest.mark.parametrize("prefix", ["02", pytest.param("06", marks=pytest.mark.slow),
                                    pytest.param("15", marks=pytest.mark.slow)])  # 15: six sheets
def test_real_hand_made_workbooks_give_valid_results(prefix):
    """The real workbooks of ../shared/wild (skipped where absent): each column that lost points
    is a failed test whose output shows the first cell of each of its findings."""
    files = sorted(WILD.glob(f"{prefix}_*.xlsx")) if WILD.is_dir() else []
    if not files:
        pytest.skip(f"no {prefix}_*.xlsx in {WILD}")
    graded = check_workbook(files[0])
    gradescope, prairielearn = gradescope_result(graded), prairielearn_result(graded)
    validate(gradescope, GRADESCOPE_RESULTS)
    validate(prairielearn, PRAIRIELEARN_RESULTS)
    assert len(json.dumps(prairielearn, ensure_ascii=False).encode()) < PRAIRIELEARN_MAX_BYTES
    tests = by_name(gradescope["tests"])
    for sheet in graded.scores:
        for label, score in sheet.columns:
            test = tests[f"{sheet.sheet}: {label}"]
            assert (test["status"] == "passed") == (score.right == score.cells)
            firsts = [g[0].cell for g in graded.groups if g[0].sheet == sheet.sheet and label in group_labels(g)]
            assert all(f"!{cell} " in test["output"] for cell in firsts)
    assert gradescope["score"] == pytest.approx(100 * graded.score.right / graded.score.cells, abs=1e-3)
