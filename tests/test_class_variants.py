"""A class that cannot copy (#31): variants from a roster, graded each against its own, from a
Canvas download with a screenshot beside each workbook; a copied file flagged with the other's id;
the similarity file's top pairs; feedback that names the wrong cells and never the answer; the
class report, the rubric and a regrade.

The class of six is made here: each student fills in their own variant from the key's formulas
(right), except 1002, who hands in 1001's filled file; 1003 and 1004 share one unusual slip
(a_o1 off by 1.01), and 1003, 1004 and 1005 share the course's common one (∂E/∂w5 halved)."""

import csv
import shutil
from pathlib import Path

import openpyxl
import pytest

from sheetprop.cli import main
from sheetprop.network.template import load_template
from sheetprop.network.variants import read_roster, variant_template
from sheetprop.errors import UserError
from exercise_fill import fill, header

STEPS = 4
SHEETS = ("lr=0.5", "lr=1")
IDS = ["1001", "1002", "1003", "1004", "1005", "1006"]
NAMES = ["Ada Byron", "Bo Chen", "Cy Dahl", "Di Evans", "Ed Frost", "Flo Gray"]


def canvas_name(k: int, file: str, late: bool = False) -> str:
    login = "".join(reversed(NAMES[k].lower().split()))
    return f"{login}_{'late_' if late else ''}{IDS[k]}_{7000 + k}_{file}"


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    folder = tmp_path_factory.mktemp("variants")
    roster = folder / "roster.csv"
    roster.write_text("id,name\n" + "".join(f"{i},{n}\n" for i, n in zip(IDS, NAMES)), encoding="utf-8")
    key = folder / "KEY.xlsx"
    assert main(["build", "--quiet", "--exercise", "--roster", str(roster), "--steps", str(STEPS),
                 "--lrs", "0.5,1", "--out", str(key)]) == 0
    return key, roster, folder / "KEY_exercises"


def slip(label_wanted, factor):
    def edit(sheet, label, row, formula):
        if label == label_wanted and isinstance(formula, str) and formula.startswith("="):
            return f"={factor}*({formula[1:]})"
        return formula
    return edit


def both(*edits):
    def edit(sheet, label, row, formula):
        for one in edits:
            formula = one(sheet, label, row, formula)
        return formula
    return edit


@pytest.fixture(scope="module")
def klass(kit, tmp_path_factory):
    key, _, exercises = kit
    root = tmp_path_factory.mktemp("canvas") / "submissions"
    root.mkdir()
    made = tmp_path_factory.mktemp("made")
    rare, common = slip("a_o1", 1.01), slip("∂E/∂w5", 0.5)
    edits = {2: both(rare, common), 3: both(rare, common), 4: common}
    for k, student in enumerate(IDS):
        out = made / f"{student}.xlsx"
        fill(key, exercises / f"{student}.xlsx", out, edit=edits.get(k))
        book = openpyxl.load_workbook(out)
        book.properties.creator = NAMES[k]   # each student's own program, as Excel writes it
        book.save(out)
    for k, student in enumerate(IDS):
        handed = made / f"{IDS[0] if k == 1 else student}.xlsx"   # 1002 hands in 1001's file
        shutil.copyfile(handed, root / canvas_name(k, "backprop.xlsx", late=k == 5))
        (root / canvas_name(k, "screenshot.png", late=k == 5)).write_bytes(b"\x89PNG\r\n\x1a\n not a workbook")
    return root


@pytest.fixture(scope="module")
def graded(kit, klass, tmp_path_factory):
    key, roster, _ = kit
    out = tmp_path_factory.mktemp("out")
    code = main(["check", "--key", str(key), "--roster", str(roster), str(klass), "--jobs", "2",
                 "--csv", str(out / "grades.csv"), "--similarity", str(out / "pairs.csv"),
                 "--feedback", str(out / "feedback"), "--annotate", "--feedback-level", "location",
                 "--class-report", str(out / "class.xlsx")])
    rows = {r["student_id"]: r for r in csv.DictReader((out / "grades.csv").open(encoding="utf-8"))}
    return code, rows, out


def test_six_students_get_six_different_variants_that_repeat_exactly(kit):
    era = load_template("era")
    variants = [variant_template(era, s) for s in IDS]
    assert len({v.weights for v in variants}) == 6
    assert variant_template(era, "1001") == variants[0]
    for v in variants:   # era's weights run 0.15 … 0.55 with two decimals; inputs 0.05 … 0.1
        assert all(0.15 <= w <= 0.55 and round(w, 2) == w for w in v.weights)
        assert all(0.05 <= i <= 0.1 for i in v.inputs)
        assert all(0 < t < 1 for t in v.targets)
    _, _, exercises = kit
    assert sorted(p.name for p in exercises.iterdir()) == [f"{s}.xlsx" for s in IDS]
    book = openpyxl.load_workbook(exercises / "1003.xlsx")
    assert [book["_sheetprop"]["A5"].value, book["_sheetprop"]["B5"].value] == ["student", "1003"]
    first, columns = header(book["lr=0.5"])
    step0 = book["lr=0.5"][f"{columns['w1']}{first + 1}"].value, book["lr=0.5"][f"{columns['t2']}{first + 1}"].value
    assert step0 == (variants[2].weights[0], variants[2].targets[1])


def test_whole_number_inputs_and_one_hot_targets_stay_as_the_template_gives_them():
    xor, softmax = load_template("xor"), load_template("softmax")
    assert variant_template(xor, "a").inputs == xor.inputs and variant_template(xor, "a").targets == xor.targets
    assert variant_template(xor, "a").weights != xor.weights
    assert variant_template(softmax, "a").targets == softmax.targets


@pytest.mark.parametrize("text, message", [
    ("name\nAda\n", "no 'id' column"),
    ("id\n1\n1\n", "also in row 2"),
    ("id\n../x\n", "must be 1 to 100"),
    ("id\n..\n", "must be 1 to 100"),
    ("id,name\n", "lists no students"),
])
def test_a_roster_that_is_not_one_is_one_line(tmp_path, text, message):
    path = tmp_path / "roster.csv"
    path.write_text(text)
    with pytest.raises(UserError, match=message):
        read_roster(path)


@pytest.mark.slow
def test_each_student_is_graded_against_their_own_variant(graded):
    code, rows, _ = graded
    assert code == 1
    assert sorted(rows) == IDS                           # six submissions, the screenshots no seventh
    for student in ("1001", "1006"):
        assert (rows[student]["status"], rows[student]["percent"], rows[student]["variant"]) == ("graded", "100.0", "own")
    assert rows["1006"]["late"] == "yes" and rows["1001"]["late"] == "no"
    for student in ("1003", "1004", "1005"):
        assert rows[student]["variant"] == "own" and float(rows[student]["percent"]) < 100


def test_a_student_who_hands_in_anothers_file_is_flagged_with_the_others_id(graded):
    _, rows, out = graded
    assert rows["1002"]["variant"] == "copied from 1001"
    assert rows["1002"]["score"] == "0" and rows["1002"]["percent"] == "0.0"
    assert "variant of 1001" in (out / "feedback" / "1002.txt").read_text(encoding="utf-8")


def test_every_row_carries_the_version_and_the_keys_sha256(kit, graded):
    import hashlib

    from sheetprop.version import __version__

    key = kit[0]
    _, rows, _ = graded
    assert {r["sheetprop_version"] for r in rows.values()} == {__version__}
    assert {r["key_sha256"] for r in rows.values()} == {hashlib.sha256(key.read_bytes()).hexdigest()}


def test_the_copied_pair_and_the_rare_slip_are_the_top_two_pairs(graded):
    _, _, out = graded
    pairs = list(csv.DictReader((out / "pairs.csv").open(encoding="utf-8")))
    top = [{p["submission_a"], p["submission_b"]} for p in pairs[:2]]
    assert top == [{"1001", "1002"}, {"1003", "1004"}]
    assert "identical files" in pairs[0]["why"] and "a_o1" in pairs[1]["why"]
    common = [p for p in pairs if {p["submission_a"], p["submission_b"]} == {"1004", "1005"}]
    assert common and float(common[0]["score"]) < float(pairs[1]["score"])


def test_location_feedback_names_the_wrong_cells_and_never_the_answer(graded):
    _, rows, out = graded
    text = (out / "feedback" / "1003.txt").read_text(encoding="utf-8")
    assert "a_o1" in text and "∂E/∂w5" in text
    for answer in ("should be", "expected", "hint", "chain rule", "σ("):
        assert answer not in text
    notes = [c.comment.text for row in openpyxl.load_workbook(out / "feedback" / "1003.xlsx")["lr=0.5"].iter_rows()
             for c in row if c.comment]
    assert notes and not any("should be" in n or "expected" in n or "hint" in n for n in notes)


def test_full_feedback_gives_the_answer(kit, klass, tmp_path):
    key, roster, _ = kit
    assert main(["check", "--key", str(key), "--roster", str(roster), str(klass), "--jobs", "1",
                 "--feedback", str(tmp_path / "fb")]) == 1
    assert "should be" in (tmp_path / "fb" / "1003.txt").read_text(encoding="utf-8")


def test_the_class_report_counts_who_got_each_column_wrong(graded):
    _, _, out = graded
    book = openpyxl.load_workbook(out / "class.xlsx")
    rows = {r[1]: r for r in book["columns"].iter_rows(min_row=2, values_only=True)}
    assert rows["a_o1"][:3] == ("forward", "a_o1", 2)            # 1003, 1004
    assert rows["∂E/∂w5"][:3] == ("backward", "∂E/∂w5", 3)       # 1003, 1004, 1005
    assert rows["w1"][2:4] == (0, 1)             # no one wrong; the copy scores nothing
    scores = dict(book["scores"].iter_rows(min_row=2, max_row=11, values_only=True))
    assert scores["90-100 %"] >= 2 and scores["0-10 %"] == 1 and sum(scores.values()) == 6
    import zipfile
    assert sum(n.startswith("xl/charts/chart") for n in zipfile.ZipFile(out / "class.xlsx").namelist()) == 2


def test_a_rubric_weighs_the_column_groups(kit, klass, tmp_path):
    key, roster, _ = kit
    rubric = tmp_path / "rubric.toml"
    rubric.write_text("[weights]\nforward = 0\nloss = 1\nbackward = 0\nupdate = 1\n")
    main(["check", "--key", str(key), "--roster", str(roster), str(klass), "--jobs", "1", "--rubric", str(rubric),
          "--csv", str(tmp_path / "again.csv")])
    again = {r["student_id"]: r for r in csv.DictReader((tmp_path / "again.csv").open(encoding="utf-8"))}
    # 1005 slipped in ∂E/∂w5 alone (backward): each update is right from the student's own gradient
    assert float(again["1005"]["percent"]) < 100 and again["1005"]["rubric_percent"] == "100.0"
    assert again["1002"]["rubric_percent"] == "0.0"


def test_a_regrade_of_the_same_class_changes_nothing_and_a_changed_file_is_named(kit, klass, graded, capsys):
    from sheetprop.check.report.regrade import changes

    key, roster, _ = kit
    _, rows, out = graded
    capsys.readouterr()
    main(["check", "--key", str(key), "--roster", str(roster), str(klass), "--jobs", "1",
          "--regrade", str(out / "grades.csv")])
    assert "no score changed" in capsys.readouterr().out
    before = dict(rows["1003"], percent="50.0", file_sha256="0" * 64, sheetprop_version="0.0.1")
    lines = changes([before], [rows["1003"]])
    assert lines == [f"1003: 50.0% -> {rows['1003']['percent']}%: sheetprop 0.0.1 -> "
                     f"{rows['1003']['sheetprop_version']}; another file handed in"]


def test_lms_names_are_read():
    from sheetprop.check.classroom.lms import parse

    canvas = parse("byronada_late_1001_7000_backprop.xlsx")
    assert (canvas.student, canvas.late, canvas.platform) == ("1001", True, "canvas")
    moodle = parse("Ada Byron_4242_assignsubmission_file_")
    assert (moodle.student, moodle.name, moodle.platform) == ("4242", "Ada Byron", "moodle")
    board = parse("Backprop HW_abyron_attempt_2024-03-01-10-11-12_LATE_bp.xlsx")
    assert (board.student, board.late, board.platform) == ("abyron", True, "blackboard")
    assert parse("Backprop HW_abyron_attempt_2024-03-01-10-11-12.txt").student == "abyron"
    assert parse("alice.xlsx") is None and parse("alice") is None


def test_a_slip_two_students_share_weighs_more_than_the_courses_common_one():
    from types import SimpleNamespace

    from sheetprop.check.classroom.similarity import rank_pairs
    from sheetprop.check.report.findings import Finding, Report

    def outcome(name, *slips):
        findings = [Finding("lr=0.5", f"{column}14", label, "wrong formula", formula, 0.1, 0.2, 0.5, "is wrong")
                    for column, label, formula in slips]
        return SimpleNamespace(submission=name, report=Report(Path(name), [], findings), evidence=None)

    rare = ("J", "a_o1", "=1.01*J13")
    common = ("S", "∂E/∂w5", "=0.5*S13")
    ranked = rank_pairs([outcome("a", rare), outcome("b", rare), outcome("c", common), outcome("d", common),
                         outcome("e", common), outcome("f", common), outcome("g"), outcome("h")])
    scores = {frozenset(r[:2]): r[2] for r in ranked}
    assert ranked[0][:2] == ("a", "b") and "a_o1" in ranked[0][3]
    assert scores[frozenset("cd")] <= scores[frozenset("ab")] / 2   # shared by half the class: half the weight
    assert "common: 4 files" in dict(((r[0], r[1]), r[3]) for r in ranked)[("c", "d")]


@pytest.fixture(scope="module")
def plain_kit(tmp_path_factory):
    folder = tmp_path_factory.mktemp("plain")
    key = folder / "K.xlsx"
    assert main(["build", "--quiet", "--exercise", "--steps", "3", "--lrs", "0.5,1", "--out", str(key)]) == 0
    return key, folder / "K_exercise.xlsx"


def test_a_deleted_sheet_is_one_note_and_the_summary_says_it_is_missing(plain_kit, tmp_path, capsys):
    key, exercise = plain_kit
    out = fill(key, exercise, tmp_path / "s.xlsx") and tmp_path / "s.xlsx"
    book = openpyxl.load_workbook(out)
    del book["lr=1"]
    book.save(out)
    capsys.readouterr()
    assert main(["check", "--key", str(key), str(out)]) == 1
    text = capsys.readouterr().out
    assert text.count("lr=1' is") + text.count("'lr=1' is named") == 1   # one note, not two
    assert text.rstrip().endswith("0 findings; sheet 'lr=1' missing, 73 cells not done")


def test_a_typed_target_says_what_was_typed_and_where_the_target_belongs(plain_kit, tmp_path, capsys):
    key, exercise = plain_kit

    def typed_target(sheet, label, row, formula):   # era's t1 is 0.5, in column B
        return formula.replace(f"B{row}", "0.5") if label == "∂E/∂w5" else formula

    out = tmp_path / "t.xlsx"
    fill(key, exercise, out, edit=typed_target)
    capsys.readouterr()
    main(["check", "--key", str(key), str(out)])
    assert "types 0.5 where t1 belongs (its cell B18)" in capsys.readouterr().out


def test_format_on_a_folder_is_refused_in_one_line(kit, klass, capsys):
    key = kit[0]
    assert main(["check", "--key", str(key), "--format", "gradescope", str(klass)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""   # no result of score 0 saying "it is a folder"
    assert captured.err.count("\n") == 1 and "is a folder or archive of submissions" in captured.err


def test_location_level_reaches_the_platforms_result(plain_kit, tmp_path, capsys):
    key, exercise = plain_kit
    out = fill(key, exercise, tmp_path / "s.xlsx", edit=slip("a_o1", 1.01))
    capsys.readouterr()
    main(["check", "--key", str(key), "--format", "gradescope", "--feedback-level", "location", str(out)])
    result = capsys.readouterr().out
    assert "a_o1" in result and "should be" not in result and "expected" not in result
    main(["check", "--key", str(key), "--format", "gradescope", str(out)])
    assert "should be" in capsys.readouterr().out


def test_one_workbooks_json_carries_the_version_and_the_keys_sha256(plain_kit, tmp_path, capsys):
    import hashlib

    from sheetprop.version import __version__

    key, exercise = plain_kit
    out = fill(key, exercise, tmp_path / "s.xlsx")
    capsys.readouterr()
    assert main(["check", "--key", str(key), "--json", str(out)]) == 0
    import json
    report = json.loads(capsys.readouterr().out)
    assert (report["sheetprop_version"], report["key_sha256"]) == (__version__, hashlib.sha256(key.read_bytes()).hexdigest())


def test_moodle_folders_and_blackboard_files_are_one_submission_per_student(tmp_path):
    from sheetprop.check.classroom.lms import group
    from sheetprop.check.classroom.submissions import find_submissions

    root = tmp_path / "download"
    moodle = root / "Ada Byron_4242_assignsubmission_file_"
    moodle.mkdir(parents=True)
    (moodle / "backprop.xlsx").write_bytes(b"PK not really")
    (moodle / "photo.png").write_bytes(b"png")
    stem = "Backprop HW_bchen_attempt_2024-03-01-10-11-12"
    (root / f"{stem}_LATE_bp.xlsx").write_bytes(b"PK")
    (root / f"{stem}_LATE_screenshot.png").write_bytes(b"png")
    (root / f"{stem}.txt").write_text("receipt")
    (root / "plain.xlsx").write_bytes(b"PK")
    submissions, seen = group(find_submissions([root], tmp_path / "work"))
    ids = sorted(s.id for s in submissions)
    assert ids == ["4242", "bchen", "plain.xlsx"]
    board = next(s for s in submissions if s.id == "bchen")
    assert [p.name for p in board.candidates] == [f"{stem}_LATE_bp.xlsx"] and seen["bchen"].late
    assert seen["4242"].name == "Ada Byron" and not seen["4242"].late
