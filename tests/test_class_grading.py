"""Grading a class: `check --key KEY PATH…` over a folder of submissions, one CSV row each.

The class is built here from `build --exercise`: the key's formulas copied into the student copy
(right), with one slip, untouched (blank), a sheet deleted, the key's numbers pasted, η typed
without $ and copied down, a file that is not a workbook, a student folder holding two workbooks,
and a zip bomb. What each row must say is counted from how the fixture was made: the cells a
student owes per sheet are the 19 computed columns of every row and the 8 new weights of every
later row; a slip copied down one column costs that column's cells; η read from the text under it
makes every weight from the second update on wrong, and nothing leaves the denominator."""

import csv
import json
import os
import re
import shutil
import time
import zipfile
from pathlib import Path

import openpyxl
import pytest

import exercise_fill
from exercise_fill import header
from sheetprop.cli import main
from sheetprop.check.classroom import pool
from sheetprop.check.classroom import safe_zip
from sheetprop.check.classroom.submissions import find_submissions
from sheetprop.libreoffice import find_soffice

STEPS = 6
SHEETS = ("lr=0.5", "lr=1")
PER_SHEET = 19 * STEPS + 8 * (STEPS - 1)
TOTAL = PER_SHEET * len(SHEETS)
CONTRACT = ["submission", "file", "status", "score", "max_score", "percent", "findings"]

needs_soffice = pytest.mark.skipif(find_soffice() is None, reason="LibreOffice (soffice) not installed")


def fill(key, exercise, out, edit=None, values=False, extra=None):
    """The student copy with every blank cell of the table given the key's formula (or, with
    ``values``, the number the key saved for it); ``edit(sheet, label, row, formula)`` may change it."""
    return exercise_fill.fill(key, exercise, out, SHEETS, STEPS, edit, values=values, extra=extra)


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kit")
    key = folder / "BackPropagation.xlsx"
    assert main(["build", "--quiet", "--exercise", "--steps", str(STEPS), "--lrs", "0.5,1", "--out", str(key)]) == 0
    return key, folder / "BackPropagation_exercise.xlsx"


@pytest.fixture(scope="module")
def klass(kit, tmp_path_factory):
    """The class folder, and how each submission was made."""
    key, exercise = kit
    root = tmp_path_factory.mktemp("class") / "submissions"
    root.mkdir()
    fill(key, exercise, root / "right.xlsx")
    _, columns = header(openpyxl.load_workbook(exercise)["lr=0.5"])

    def sigma_of_h1_for_h2(sheet, label, row, formula):
        if sheet == "lr=0.5" and label == "∂E/∂w3":
            return re.sub(rf"\b{columns['a_h2']}{row}\b", f"{columns['a_h1']}{row}", formula)
        return formula

    fill(key, exercise, root / "slip.xlsx", sigma_of_h1_for_h2)
    shutil.copy(exercise, root / "blank.xlsx")
    fill(key, exercise, root / "deleted.xlsx", extra=lambda book: book.remove(book["lr=1"]))
    fill(key, exercise, root / "renamed.xlsx", extra=lambda book: setattr(book["lr=1"], "title", "my lr=1"))
    fill(key, exercise, root / "pasted.xlsx", values=True)

    first_data_row = header(openpyxl.load_workbook(exercise)["lr=0.5"])[0] + 1

    def eta_relative(sheet, label, row, formula):  # $A$2 typed as A2 in the first update, copied down
        return formula.replace("$A$2", f"A{row - first_data_row + 1}") if isinstance(formula, str) else formula

    fill(key, exercise, root / "eta.xlsx", eta_relative)
    (root / "notes.txt").write_text("my answers are in my head\n")
    # A student folder (a repo clone): a budget workbook without a table, and the exercise.
    (root / "carol" / "docs").mkdir(parents=True)
    other = openpyxl.Workbook()
    other.active["A1"] = "budget"
    other.save(root / "carol" / "aaa_budget.xlsx")
    fill(key, exercise, root / "carol" / "docs" / "final.xlsx")
    # A zip of 60 MB of zeros: refused at unpacking, a row of its own.
    with zipfile.ZipFile(root / "mallory.zip", "w", zipfile.ZIP_DEFLATED) as bomb:
        bomb.writestr("mallory/answer.xlsx", b"\0" * (60 * 2**20))
    return key, root


@pytest.fixture(scope="module")
def graded(klass, tmp_path_factory):
    key, root = klass
    out = tmp_path_factory.mktemp("out")
    code = main(["check", "--key", str(key), str(root), "--jobs", "2", "--json", "--csv", str(out / "grades.csv"),
                 "--feedback", str(out / "feedback"), "--annotate"])
    with open(out / "grades.csv", newline="", encoding="utf-8") as handle:
        rows = {row["submission"]: row for row in csv.DictReader(handle)}
    return code, rows, out


@needs_soffice
@pytest.mark.slow
def test_every_student_gets_the_row_they_earned(graded):
    code, rows, _ = graded
    assert code == 1  # findings, short scores, an unreadable file
    assert set(rows) == {"right.xlsx", "slip.xlsx", "blank.xlsx", "deleted.xlsx", "renamed.xlsx", "pasted.xlsx", "eta.xlsx",
                         "notes.txt", "carol", "mallory.zip"}

    def row(name):
        r = rows[name]
        return r["status"], int(r["score"]), int(r["max_score"]), float(r["percent"]), int(r["findings"])

    assert row("right.xlsx") == ("graded", TOTAL, TOTAL, 100.0, 0)
    assert row("slip.xlsx") == ("graded", TOTAL - STEPS, TOTAL, round(100 * (TOTAL - STEPS) / TOTAL, 1), 1)
    assert row("blank.xlsx") == ("graded", 0, TOTAL, 0.0, 0)
    assert row("deleted.xlsx") == ("graded", PER_SHEET, TOTAL, 50.0, 0)
    assert row("renamed.xlsx") == ("graded", PER_SHEET, TOTAL, 50.0, 0)  # checked, but not the exercise's sheet
    status, score, max_score, percent, findings = row("pasted.xlsx")
    assert (status, score, max_score, percent) == ("graded", 0, TOTAL, 0.0)
    assert findings == 27 * len(SHEETS)  # one per column of typed numbers: 19 computed, 8 weights
    wrong_weights = 8 * (STEPS - 2) * len(SHEETS)  # from the second update row on, in both sheets
    assert row("eta.xlsx") == ("graded", TOTAL - wrong_weights, TOTAL,
                               round(100 * (TOTAL - wrong_weights) / TOTAL, 1), len(SHEETS))
    assert rows["eta.xlsx"]["finding_cells"] == str(wrong_weights)
    assert row("notes.txt")[:4] == ("unreadable", 0, TOTAL, 0.0) and "text file" in rows["notes.txt"]["message"]
    assert row("carol") == ("graded", TOTAL, TOTAL, 100.0, 0)
    assert rows["carol"]["file"].endswith("carol/docs/final.xlsx")
    assert rows["carol"]["others"].endswith("carol/aaa_budget.xlsx")
    assert rows["mallory.zip"]["status"] == "error" and "zip bomb" in rows["mallory.zip"]["message"]
    with open(graded[2] / "grades.csv", encoding="utf-8") as handle:
        assert handle.readline().strip().split(",")[:len(CONTRACT)] == CONTRACT


@needs_soffice
@pytest.mark.slow
def test_the_feedback_folder_holds_each_students_report_and_workbook(graded, klass):
    _, rows, out = graded
    feedback = out / "feedback"
    assert {p.name for p in feedback.glob("*.txt")} == {
        "right.txt", "slip.txt", "blank.txt", "deleted.txt", "renamed.txt", "pasted.txt", "eta.txt", "notes.txt", "carol.txt",
        "mallory.txt"}
    eta = (feedback / "eta.txt").read_text(encoding="utf-8")
    assert "η drift" in eta and "#VALUE!" in eta and "it comes from A3, which holds the text '↑ change η'" in eta
    assert re.search(rf"score: {TOTAL - 8 * (STEPS - 2) * 2}/{TOTAL} cells right", eta)
    assert "sheet 'lr=1' is missing" in (feedback / "deleted.txt").read_text(encoding="utf-8")
    # The annotated slip: its wrong cells coloured with a note, the rest as the student saved it.
    _, root = klass
    book = openpyxl.load_workbook(feedback / "slip.xlsx")
    original = openpyxl.load_workbook(root / "slip.xlsx")
    first, columns = header(book["lr=0.5"])
    for row in range(first + 1, first + 1 + STEPS):
        cell = book["lr=0.5"][f"{columns['∂E/∂w3']}{row}"]
        assert cell.fill.fgColor.rgb.endswith("FFC7CE") and "a_h2" in cell.comment.text
        assert "expected" in cell.comment.text
        assert cell.value == original["lr=0.5"][cell.coordinate].value
    untouched = book["lr=0.5"][f"{columns['∂E/∂w4']}{first + 1}"]
    assert untouched.comment is None and not untouched.fill.fgColor.rgb.endswith("FFC7CE")
    charts = lambda path: sorted(n for n in zipfile.ZipFile(path).namelist() if "chart" in n)  # noqa: E731
    assert charts(feedback / "slip.xlsx") == charts(root / "slip.xlsx") != []


@needs_soffice
@pytest.mark.slow
def test_json_lines_and_class_exit_codes(klass, tmp_path, capsys):
    key, root = klass
    small = tmp_path / "small"
    small.mkdir()
    shutil.copy(root / "right.xlsx", small / "alice.xlsx")
    shutil.copy(root / "notes.txt", small / "bob.txt")
    assert main(["check", "--key", str(key), "--json", "--jobs", "1", str(small)]) == 1
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(o["submission"], o["status"]) for o in lines] == [("alice.xlsx", "graded"), ("bob.txt", "unreadable")]
    assert lines[0]["scores"]["score"] == 1.0 and lines[0]["findings"] == []
    assert "text file" in lines[1]["message"]
    (small / "bob.txt").unlink()
    shutil.copy(root / "right.xlsx", small / "carl.xlsx")
    assert main(["check", "--key", str(key), "--jobs", "2", str(small)]) == 0  # every submission clean
    capsys.readouterr()
    shutil.copy(root / "deleted.xlsx", small / "dora.xlsx")
    assert main(["check", "--key", str(key), "--jobs", "2", str(small)]) == 1  # dora is short of full marks
    assert main(["check", "--key", str(key), "--min-score", "50", "--jobs", "2", str(small)]) == 0
    assert main(["check", "--key", str(key), str(small), str(tmp_path / "nobody")]) == 2  # a usage error


@needs_soffice
@pytest.mark.slow
def test_a_single_copy_untouched_exits_1_and_values_can_be_accepted(klass, capsys):
    key, root = klass
    assert main(["check", "--json", str(root / "blank.xlsx")]) == 1
    assert json.loads(capsys.readouterr().out)["scores"]["right"] == 0
    assert main(["check", "--json", "--key", str(key), "--accept-values", str(root / "pasted.xlsx")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["scores"]["right"] == report["scores"]["cells"] == TOTAL


@needs_soffice
@pytest.mark.slow
def test_a_record_that_disagrees_with_the_key_is_a_finding(klass, tmp_path, capsys):
    key, root = klass
    book = openpyxl.load_workbook(root / "right.xlsx")
    book["_sheetprop"]["B3"] = STEPS - 2  # the student shortened the exercise in its record
    book.save(tmp_path / "edited.xlsx")
    assert main(["check", "--json", "--key", str(key), str(tmp_path / "edited.xlsx")]) == 1
    report = json.loads(capsys.readouterr().out)
    assert [f["kind"] for f in report["findings"]] == ["record differs"]
    assert report["scores"]["cells"] == TOTAL  # the rows come from the key, not the edited record


def test_json_on_an_unreadable_file_is_an_object(tmp_path, capsys):
    bad = tmp_path / "essay.xlsx"
    bad.write_text("not a workbook at all\n")
    assert main(["check", "--json", str(bad)]) == 2
    report = json.loads(capsys.readouterr().out)
    assert report["status"] == "unreadable" and report["submission"] == "essay.xlsx" and report["message"]


def test_a_key_must_be_a_key(tmp_path, capsys):
    plain = tmp_path / "plain.xlsx"
    openpyxl.Workbook().save(plain)
    assert main(["check", "--key", str(plain), str(plain)]) == 2
    assert "not an answer key" in capsys.readouterr().err


# --- pieces that need no LibreOffice --------------------------------------------------------------


def test_a_hostile_zip_is_unpacked_safely(tmp_path):
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("../escape.txt", "climbs out")
        out.writestr("/etc/absolute.txt", "absolute")
        out.writestr("alice/answer.xlsx", b"PK not really")
        out.writestr("bomb.xlsx", b"\0" * (60 * 2**20))
        link = zipfile.ZipInfo("link.xlsx")
        link.external_attr = (0o120777 << 16)
        out.writestr(link, "/etc/passwd")
    target = tmp_path / "unpacked"
    target.mkdir()
    refused = {r.name: r.reason for r in safe_zip.extract(archive, target)}
    assert set(refused) == {"../escape.txt", "/etc/absolute.txt", "bomb.xlsx", "link.xlsx"}
    assert not (tmp_path / "escape.txt").exists()
    assert [p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()] == ["alice/answer.xlsx"]
    submissions = {s.id: s for s in find_submissions([archive], tmp_path / "work")}
    assert submissions["bomb.xlsx"].status == "error" and "zip bomb" in submissions["bomb.xlsx"].problem
    assert submissions["alice"].candidates and submissions["alice"].problem is None


def test_a_class_with_nothing_gradable_still_gives_every_row(tmp_path, capsys):
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "a.csv").write_text("t1,t2\n0.5,0.5\n")
    (folder / "b").mkdir()
    (folder / "b" / "readme.md").write_text("no workbook here")
    (folder / ".DS_Store").write_text("ignored")
    with zipfile.ZipFile(folder / "c.xlsx", "w", zipfile.ZIP_DEFLATED) as bomb:  # a workbook that is a bomb
        bomb.writestr("[Content_Types].xml", "<Types/>")
        bomb.writestr("xl/workbook.xml", "<workbook/>")
        bomb.writestr("xl/worksheets/sheet1.xml", b"\0" * (30 * 2**20))
    grades = tmp_path / "grades.csv"
    assert main(["check", str(folder), "--csv", str(grades), "--jobs", "2"]) == 1
    with open(grades, newline="", encoding="utf-8") as handle:
        rows = {row["submission"]: row for row in csv.DictReader(handle)}
    assert {name: row["status"] for name, row in rows.items()} == {"a.csv": "unreadable", "b": "unreadable",
                                                                 "c.xlsx": "error"}
    assert "CSV" in rows["a.csv"]["message"] and "no workbook" in rows["b"]["message"]
    assert "inflates" in rows["c.xlsx"]["message"]


def _task(kind):
    if kind == "sleep":
        time.sleep(60)
    if kind == "die":
        os._exit(3)
    if kind == "raise":
        raise ValueError("a bug")
    return f"graded {kind}"


@pytest.mark.slow
def test_the_pool_survives_a_hang_a_crash_and_a_bug():
    tasks = ["a", "sleep", "b", "die", "raise", "c"]
    started = time.monotonic()
    results = dict(pool.run(tasks, _task, lambda task, reason: f"error {task}: {reason}", jobs=2, time_limit=2))
    assert time.monotonic() - started < 40
    assert results[0] == "graded a" and results[2] == "graded b" and results[5] == "graded c"
    assert results[1].startswith("error sleep") and "time limit of 2 s" in results[1]
    assert results[3].startswith("error die") and "exit code 3" in results[3]
    assert results[4].startswith("error raise") and "ValueError: a bug" in results[4]


WILD = Path(__file__).resolve().parents[1].parent / "shared" / "wild"


@pytest.mark.slow
def test_the_real_workbooks_graded_as_a_class(tmp_path):
    # ../shared/wild (never committed): each file's row agrees with what a teacher finds reading it
    # (test_wild's table: clean files score 100 %, each slip copied down a column is one finding, a
    # table of givens only has none), and none of them stops or breaks the class.
    from test_wild import BY_HAND

    files = sorted(WILD.glob("*.xlsx")) if WILD.is_dir() else []
    if not files:
        pytest.skip("../shared/wild not present")
    folder = tmp_path / "wild"
    folder.mkdir()
    for path in files:
        shutil.copy(path, folder / path.name)
    grades = tmp_path / "grades.csv"
    assert main(["check", str(folder), "--csv", str(grades), "--jobs", "2"]) == 1
    with open(grades, newline="", encoding="utf-8") as handle:
        rows = {row["submission"][:2]: row for row in csv.DictReader(handle)}
    assert len(rows) == len(files)
    # One of them openpyxl cannot open today: a row that says so, never a failure of the grader.
    assert all(row["status"] in ("graded", "no-table", "unreadable") and row["message"] for row in rows.values())
    for prefix, (code, groups) in BY_HAND.items():
        if prefix not in rows:
            continue
        row = rows[prefix]
        assert row["status"] == "graded" and int(row["findings"]) == len(groups), (prefix, row)
        assert (float(row["percent"]) == 100.0) == (code == 0), (prefix, row)
    if "08" in rows:
        assert rows["08"]["status"] == "no-table" and "unfinished" in rows["08"]["message"]
