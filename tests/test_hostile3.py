"""Hostile files and faults, round 3 (issue #28, check side): links to the key, student-chosen
names reaching the teacher, outputs written over inputs, zip bombs past the limits, --annotate,
options --format dropped, numbers that end in a traceback. Each fixture is made here."""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import os
import shlex
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest

import exercise_fill
from sheetprop.check.classroom import class_report, pool, safe_zip
from sheetprop.check.classroom.autograder import CONFIG_NAME, write_gradescope_zip
from sheetprop.check.classroom.gradescope_run import main as gradescope_main, submitted_workbooks
from sheetprop.check.classroom.grading import Settings, grade
from sheetprop.check.classroom.submissions import Submission, find_submissions, sweep_stale
from sheetprop.check.report.annotate import annotate_workbook
from sheetprop.check.report.findings import Finding
from sheetprop.cli import main

SHEET = "lr=0.5"


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    """A key, a right fill saved with the key's values, and one whose cells pass numbers on."""
    folder = tmp_path_factory.mktemp("kit")
    key = folder / "key.xlsx"
    assert main(["build", "--quiet", "--exercise", "--steps", "2", "--lrs", "0.5", "--out", str(key)]) == 0
    exercise = folder / "key_exercise.xlsx"
    right = exercise_fill.fill(key, exercise, folder / "right.xlsx", [SHEET], saved_values=True)
    numbers = exercise_fill.key_values(key)
    _, columns = exercise_fill.header(openpyxl.load_workbook(exercise)[SHEET])

    def rounded(sheet, label, row, source):
        if not (isinstance(source, str) and source.startswith("=")):
            return source
        return f"=ROUND({numbers[(sheet, f'{columns[label]}{row}')]!r},15)+0*$A$2"

    gamed = exercise_fill.fill(key, exercise, folder / "gamed.xlsx", [SHEET], edit=rounded, saved_values=True)
    return key, right, gamed


def stalls(monkeypatch):
    """Grading that never ends by itself (a file that needs hours), for the time limit to stop."""
    import time

    from sheetprop.check.classroom import grading

    monkeypatch.setattr(grading, "grade", lambda task: time.sleep(60))


def run(*argv) -> int:
    """The command's exit code, argparse's refusals included (they exit)."""
    try:
        return main(list(argv))
    except SystemExit as exc:
        return exc.code


def one_line_error(capsys, code) -> str:
    err = capsys.readouterr().err
    # One line saying what is wrong (after argparse's usage, for a value argparse refuses).
    lines = err.strip().splitlines()
    assert code == 2 and "Traceback" not in err and lines[-1].startswith("sheetprop"), err
    assert len(lines) == 1 or lines[0].startswith("usage:"), err
    return err


# --- 2. links, and the key handed in ------------------------------------------------------------

def test_the_autograder_follows_no_link(tmp_path, kit):
    key = kit[0]
    (tmp_path / "source").mkdir()
    shutil.copy(key, tmp_path / "source" / "key.xlsx")
    submission = tmp_path / "submission"
    (submission / "folder").mkdir(parents=True)
    (submission / "answer.xlsx").symlink_to("../source/key.xlsx")
    (submission / "linked").symlink_to(tmp_path / "source", target_is_directory=True)
    (submission / "folder" / "mine.xlsx").symlink_to(key)
    assert submitted_workbooks(submission, [SHEET]) == []


def test_the_autograder_gives_a_link_to_the_key_nothing(tmp_path, kit):
    key = kit[0]
    (tmp_path / "source").mkdir()
    shutil.copy(key, tmp_path / "source" / "key.xlsx")
    (tmp_path / "source" / CONFIG_NAME).write_text(json.dumps({"key": "key.xlsx", "points": 100,
                                                               "key_sheets": [SHEET]}))
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "answer.xlsx").symlink_to("../source/key.xlsx")
    assert gradescope_main([str(tmp_path)]) == 0
    assert json.loads((tmp_path / "results" / "results.json").read_text())["score"] == 0


def test_the_autograder_gives_numbers_passed_on_nothing(tmp_path, kit):
    key, right, gamed = kit
    (tmp_path / "source").mkdir()
    shutil.copy(key, tmp_path / "source" / "key.xlsx")
    (tmp_path / "source" / CONFIG_NAME).write_text(json.dumps({"key": "key.xlsx", "points": 100}))
    (tmp_path / "submission").mkdir()
    scores = []
    for workbook in (right, gamed):
        shutil.copy(workbook, tmp_path / "submission" / "answer.xlsx")
        assert gradescope_main([str(tmp_path)]) == 0
        scores.append(json.loads((tmp_path / "results" / "results.json").read_text())["score"])
    assert scores == [100, 0]


def test_the_key_handed_in_under_another_name_is_said_so(tmp_path, kit):
    key = kit[0]
    copy = tmp_path / "alice.xlsx"
    shutil.copy(key, copy)
    settings = Settings(None, key_sha256=__import__("hashlib").sha256(key.read_bytes()).hexdigest())
    outcome = grade((Submission("alice.xlsx", [copy], {copy: "alice.xlsx"}), settings))
    assert "answer key itself" in outcome.message and "answer key itself" in outcome.report.notes[0]
    assert "answer key itself" in class_report.csv_row(outcome)["message"]
    other = grade((Submission("bob.xlsx", [kit[1]], {kit[1]: "bob.xlsx"}), settings))
    assert other.message == ""


# --- 3. names a student chooses ---------------------------------------------------------------

HOSTILE_NAMES = ["=HYPERLINK(\"x\",\"y\").txt", "+1+2.txt", "-3+4.txt", "@SUM(1,2).txt"]


def test_ids_and_messages_are_never_formulas_in_the_csv(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    for name in HOSTILE_NAMES:
        (folder / name).write_text("not a workbook")
    grades = tmp_path / "grades.csv"
    assert main(["check", "--jobs", "1", "--csv", str(grades), str(folder)]) == 1
    rows = list(csv.DictReader(io.StringIO(grades.read_text(encoding="utf-8"))))
    assert sorted(r["submission"] for r in rows) == sorted("'" + n for n in HOSTILE_NAMES)
    for row in rows:
        assert not any(v.startswith(("=", "+", "-", "@", "\t", "\r")) for v in row.values())


def test_control_characters_in_a_name_reach_the_terminal_escaped(tmp_path, capsys):
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "a\x1b[32mgreen\nbob.xlsx  graded  100.0% (9 of 9)  0 findings.txt").write_text("x")
    (folder / "b.txt").write_text("x")
    main(["check", "--jobs", "1", str(folder)])
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert "\x1b" not in out and len(lines) == 3  # two submissions and the summary: no line forged
    assert lines[0].startswith("a\\x1b[32mgreen\\nbob.xlsx") and lines[1].startswith("b.txt")


def test_two_submissions_never_share_an_id(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    for folder in (one, two):
        folder.mkdir()
        (folder / "alice.xlsx").write_text("x")
    (one / "alice.xlsx~2").write_text("x")
    ids = [s.id for s in find_submissions([one, two], tmp_path / "work")]
    assert len(ids) == 3 and len(set(ids)) == 3


def test_a_dangling_or_looping_link_in_a_class_folder_is_a_row(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "alice.xlsx").symlink_to(tmp_path / "gone.xlsx")
    (folder / "loop.xlsx").symlink_to(folder / "loop.xlsx")
    found = {s.id: s for s in find_submissions([folder], tmp_path / "work")}
    assert set(found) == {"alice.xlsx", "loop.xlsx"}
    assert all(s.problem and not s.candidates for s in found.values())


# --- 4. outputs written over inputs -----------------------------------------------------------

def test_outputs_that_are_inputs_are_refused_before_any_work(tmp_path, kit, capsys):
    key = tmp_path / "kit" / "key.xlsx"
    key.parent.mkdir()
    shutil.copy(kit[0], key)
    folder = tmp_path / "class"
    folder.mkdir()
    shutil.copy(kit[1], folder / "key.xlsx")  # a student's file of the key's name
    shutil.copy(kit[1], folder / "bob.xlsx")
    before = {p: p.read_bytes() for p in (key, folder / "key.xlsx", folder / "bob.xlsx")}
    cases = [
        ["--feedback", str(key.parent), "--annotate"],    # the key's folder: a student's key.xlsx would replace it
        ["--feedback", str(folder), "--annotate"],        # the class folder
        ["--feedback", str(folder / "notes")],            # inside the class folder
        ["--csv", str(folder / "bob.xlsx")],              # a submission
        ["--csv", str(key)],                              # the key
        ["--csv", str(folder / "grades.csv")],            # inside a graded folder
        ["--csv", str(tmp_path)],                         # a folder
        ["--csv", str(tmp_path / "file" / "grades.csv")],  # under a file: cannot be made
    ]
    (tmp_path / "file").write_text("a file")
    for options in cases:
        code = main(["check", "--jobs", "1", "--key", str(key), *options, str(folder)])
        one_line_error(capsys, code)
        assert capsys.readouterr().out == ""  # nothing graded
    for options in (["--out", str(folder / "bob.xlsx")], ["--out", str(key)]):
        one_line_error(capsys, main(["check", "--format", "gradescope", "--key", str(key), *options,
                                     str(folder / "bob.xlsx")]))
    assert {p: p.read_bytes() for p in before} == before
    assert not (folder / "notes").exists() and not (folder / "grades.csv").exists()


def test_a_feedback_folder_that_is_a_file_is_refused_before_grading(tmp_path, kit, capsys):
    (tmp_path / "feedback").write_text("a file")
    one_line_error(capsys, main(["check", "--feedback", str(tmp_path / "feedback"), str(kit[1])]))


# --- 5. zip bombs -----------------------------------------------------------------------------

def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def test_many_small_bombs_are_held_to_the_ratio_of_totals(tmp_path, monkeypatch):
    """Members of 1 MiB of zeros (each under the per-member ratio's 1 MiB): the totals' ratio
    stops them (lowered here to 20×, so the test writes megabytes, not hundreds)."""
    monkeypatch.setattr(safe_zip, "MAX_RATIO", 20)
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as book:
        for k in range(40):
            book.writestr(f"student{k}/answer.xlsx", b"\0" * 2**20)
    packed = sum(i.compress_size for i in zipfile.ZipFile(archive).infolist())
    found = find_submissions([archive], tmp_path / "work")
    assert folder_bytes(tmp_path / "work") <= max(safe_zip.RATIO_FLOOR, 20 * packed) + 2**20
    assert any(s.status == "error" and "packed size" in (s.problem or "") for s in found)


def test_student_zips_inside_a_class_zip_share_one_budget(tmp_path, monkeypatch):
    monkeypatch.setattr(safe_zip, "MAX_ARCHIVE_BYTES", 3 * 2**20)
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as outer:
        for k in range(4):
            inner = io.BytesIO()
            with zipfile.ZipFile(inner, "w", zipfile.ZIP_STORED) as book:
                book.writestr("answer.xlsx", os.urandom(900 * 2**10))  # incompressible: no ratio stops it
            outer.writestr(f"student{k}.zip", inner.getvalue())
    find_submissions([archive], tmp_path / "work")
    # The four inner zips (the outer's members, 3.6 MiB) already pass the class's 3 MiB: what
    # is written in all stays within it.
    assert folder_bytes(tmp_path / "work") <= 3 * 2**20


def test_class_folders_of_killed_runs_are_swept(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f"sheetprop-class-{dead.pid}-abc"
    live = tmp_path / f"sheetprop-class-{os.getpid()}-def"
    other = tmp_path / "someone-elses-folder"
    for folder in (stale, live, other):
        (folder / "0").mkdir(parents=True)
    assert sweep_stale(str(tmp_path)) == [stale]
    assert not stale.exists() and live.exists() and other.exists()


def test_a_worker_whose_parent_is_gone_ends_without_a_traceback(capfd):
    parent, child = multiprocessing.Pipe()
    parent.send((0, "task", 5))
    parent.close()
    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGALRM)
    try:
        pool._worker(child, str.upper, None, ())  # returns: the answer has nowhere to go
    finally:
        signal.signal(signal.SIGINT, handlers[0])
        signal.signal(signal.SIGALRM, handlers[1])
    assert "Traceback" not in capfd.readouterr().err


# --- 6. --annotate ----------------------------------------------------------------------------

def rowless(path: Path) -> Path:
    """A workbook whose rows and cells leave their numbers implied (no r attributes)."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "s"
    for r in range(1, 5):
        for c in range(1, 4):
            sheet.cell(r, c, r * 10 + c)
    book.save(path)
    with zipfile.ZipFile(path) as source:
        parts = {i.filename: source.read(i) for i in source.infolist()}
    xml = parts["xl/worksheets/sheet1.xml"].decode()
    xml = __import__("re").sub(r'(<(?:row|c)\b[^>]*?)\sr="[A-Z]*\d+"', r"\1", xml)
    parts["xl/worksheets/sheet1.xml"] = xml.encode()
    with zipfile.ZipFile(path, "w") as target:
        for name, data in parts.items():
            target.writestr(name, data)
    return path


def test_annotating_rows_without_numbers_keeps_every_cell_in_place(tmp_path):
    source = rowless(tmp_path / "rowless.xlsx")
    findings = [Finding("s", ref, "h1", "wrong formula", None, 1.0, 2.0, 0.5, "wrong") for ref in ("B2", "D3", "A6")]
    annotate_workbook(source, findings, tmp_path / "marked.xlsx")
    sheet = openpyxl.load_workbook(tmp_path / "marked.xlsx")["s"]
    assert [[sheet.cell(r, c).value for c in range(1, 4)] for r in range(1, 5)] == \
        [[r * 10 + c for c in range(1, 4)] for r in range(1, 5)]
    coloured = {c.coordinate for row in sheet.iter_rows() for c in row if c.fill.fgColor.rgb == "FFFFC7CE"}
    assert coloured == {"B2", "D3", "A6"}


def test_the_worker_marks_the_workbook_up_within_its_grading(tmp_path, kit):
    folder = tmp_path / "annotated"
    folder.mkdir()
    outcome = grade((Submission("g", [kit[2]], {kit[2]: "g.xlsx"}), Settings(annotate_into=folder)))
    assert outcome.annotated is not None and outcome.annotated.parent == folder and outcome.report.findings
    marked = openpyxl.load_workbook(outcome.annotated)[SHEET]
    cell = outcome.report.findings[0].cell
    assert marked[cell].fill.fgColor.rgb == "FFFFC7CE"


# --- 8. --format: the same grading, its options honoured or refused ----------------------------

@pytest.mark.parametrize("option", [["--csv", "g.csv"], ["--feedback", "fb"], ["--jobs", "2"]], ids=str)
def test_format_refuses_the_options_it_does_not_use(tmp_path, kit, capsys, option):
    option = [option[0], str(tmp_path / option[1])] if option[0] != "--jobs" else option
    one_line_error(capsys, main(["check", "--format", "gradescope", *option, str(kit[1])]))


@pytest.mark.slow
def test_format_honours_min_score_accept_values_and_the_time_limit(tmp_path, kit, capsys, monkeypatch):
    key, right, gamed = kit
    out = tmp_path / "results.json"
    assert main(["check", "--format", "gradescope", "--key", str(key), "--out", str(out), str(gamed)]) == 1
    assert json.loads(out.read_text())["score"] == 0
    assert main(["check", "--format", "gradescope", "--key", str(key), "--accept-values", "--out", str(out),
                 str(gamed)]) == 0
    assert json.loads(out.read_text())["score"] == 100
    assert main(["check", "--format", "prairielearn", "--key", str(key), "--min-score", "0", "--out", str(out),
                 str(gamed)]) == 0
    stalls(monkeypatch)
    code = main(["check", "--format", "prairielearn", "--time-limit", "0.5", "--key", str(key), "--out", str(out),
                 str(right)])
    result = json.loads(out.read_text())
    assert code == 2 and result["gradable"] is False and "s of work" in result["format_errors"][0]


def test_the_autograder_grades_under_its_time_limit(tmp_path, kit, monkeypatch):
    (tmp_path / "source").mkdir()
    shutil.copy(kit[0], tmp_path / "source" / "key.xlsx")
    (tmp_path / "source" / CONFIG_NAME).write_text(json.dumps({"key": "key.xlsx", "points": 10, "time_limit": 0.5}))
    (tmp_path / "submission").mkdir()
    shutil.copy(kit[1], tmp_path / "submission" / "answer.xlsx")
    stalls(monkeypatch)
    assert gradescope_main([str(tmp_path)]) == 0
    result = json.loads((tmp_path / "results" / "results.json").read_text())
    assert result["score"] == 0 and "s of work" in result["output"]


# --- 11. numbers that ended in a traceback -----------------------------------------------------

@pytest.mark.parametrize("seconds", ["1e300", "1e-9", "nan", "-1", "86401"])
def test_a_time_limit_out_of_range_is_one_line(tmp_path, kit, capsys, seconds):
    one_line_error(capsys, run("check", "--time-limit", seconds, str(kit[1])))


@pytest.mark.parametrize("arguments", [(None,), (123,), ("K", 5), ("K", None, float("nan")),
                                       ("K", None, float("inf")), ("K", None, 0), ("K", None, 5),
                                       ("K", None, -1), ("K", None, "1e-9")], ids=str)
def test_the_api_check_refuses_bad_arguments_in_one_line(kit, arguments):
    from sheetprop import api
    from sheetprop.errors import SheetpropError

    arguments = tuple(str(kit[1]) if a == "K" else a for a in arguments)
    with pytest.raises(SheetpropError) as raised:
        api.check(*arguments)
    assert "\n" not in str(raised.value)


# --- 12. --jobs, setup.sh ----------------------------------------------------------------------

def test_jobs_are_capped_at_a_small_multiple_of_the_cores(tmp_path, kit, monkeypatch):
    from sheetprop.check import cli

    seen = []

    def run(tasks, work, failed, jobs, *rest, **kwargs):
        seen.append(jobs)
        return iter([(k, failed(task, "not run")) for k, task in enumerate(tasks)])

    monkeypatch.setattr(pool, "run", run)
    folder = tmp_path / "class"
    folder.mkdir()
    shutil.copy(kit[1], folder / "a.xlsx")
    main(["check", "--jobs", "1000", str(folder)])
    assert seen == [cli.JOBS_PER_CORE * cli.default_jobs()]


def test_setup_sh_quotes_the_wheels_name(tmp_path, kit):
    name = "sheetprop-9.9.9-py3-none-any (1)$(touch PWNED).whl"
    wheel = tmp_path / name
    with zipfile.ZipFile(wheel, "w") as book:
        book.writestr("sheetprop-9.9.9.dist-info/METADATA", "Metadata-Version: 2.1\nName: sheetprop\n\n")
    archive = write_gradescope_zip(tmp_path / "autograder.zip", kit[0], wheel)
    setup = zipfile.ZipFile(archive).read("setup.sh").decode()
    (line,) = [line for line in setup.splitlines() if "--force-reinstall" in line]
    assert shlex.split(line)[-1] == "$SOURCE/" + name
    # Run as bash would, with pip replaced by echo: the name is one argument, nothing is run.
    script = f'cd "{tmp_path}"; SOURCE=src; PIP=(echo); ' + line
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True)
    assert done.stdout.strip().endswith("src/" + name) and not (tmp_path / "PWNED").exists()
