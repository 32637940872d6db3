"""`sheetprop autograder gradescope`: the zip is what Gradescope's specification asks for, and it
runs offline end to end in a folder laid out like Gradescope's /autograder (SHEETPROP_AUTOGRADER_ROOT
stands in for it): setup.sh installs the bundled wheel with no index into a venv, run_autograder
grades the submission into results/results.json. The venv sees this interpreter's packages
through a .pth file, as the image would have them from PyPI; sheetprop itself comes from the
wheel, which the grader's own log line proves."""

import json
import os
import re
import shutil
import site
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

import pytest
import xlsxwriter

import exercise_fill
from platform_schemas import GRADESCOPE_RESULTS, PRAIRIELEARN_RESULTS, validate
from sheetprop.check.classroom.gradescope_run import submitted_workbooks
from sheetprop.cli import main
from sheetprop.libreoffice import find_soffice, recalculate

STEPS = 3
SHEETS = ("lr=0.5", "lr=1")
# What the student works out per sheet: 19 computed columns in every row, 8 new weights in every
# later row (the 2-2-2 network without biases).
PER_SHEET = 19 * STEPS + 8 * (STEPS - 1)


def name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[\s]", requirement, maxsplit=1)[0].lower()


def write_sheets(path: Path, names) -> Path:
    book = xlsxwriter.Workbook(str(path))
    for name in names:
        book.add_worksheet(name).write(0, 0, "x")
    book.close()
    return path


def test_the_submission_picked_is_the_workbook_holding_the_key_sheets(tmp_path):
    folder = tmp_path / "submission"
    (folder / "__MACOSX").mkdir(parents=True)
    write_sheets(folder / "a_draft.xlsx", ["Sheet1"])
    write_sheets(folder / "z_final.xlsx", list(SHEETS))
    write_sheets(folder / "~$z_final.xlsx", list(SHEETS))        # Excel's lock file
    write_sheets(folder / "__MACOSX" / "._z.xlsx", list(SHEETS))  # a Mac zip's resource fork
    (folder / "notes.txt").write_text("done")
    assert [p.name for p in submitted_workbooks(folder, list(SHEETS))] == ["z_final.xlsx", "a_draft.xlsx"]
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "answer").write_bytes(b"PK")  # one file, whatever its name: check says what it is
    assert [p.name for p in submitted_workbooks(alone, [])] == ["answer"]
    assert submitted_workbooks(tmp_path / "submission" / "__MACOSX", list(SHEETS)) == []


def test_a_key_without_sheetprops_record_is_refused(tmp_path, capsys):
    not_a_key = write_sheets(tmp_path / "mine.xlsx", ["lr=0.5"])
    assert main(["autograder", "gradescope", "--key", str(not_a_key), "--out", str(tmp_path / "a.zip"),
                 "--wheel", str(not_a_key)]) == 2
    assert "error:" in capsys.readouterr().err and not (tmp_path / "a.zip").exists()


def fake_wheel(folder: Path) -> Path:
    """A wheel whose metadata names core dependencies, an extra's and a marker's."""
    wheel = folder / "sheetprop-9.9.9-py3-none-any.whl"
    metadata = ("Metadata-Version: 2.1\nName: sheetprop\nVersion: 9.9.9\n"
                "Requires-Dist: openpyxl>=3.1\nRequires-Dist: tomli>=2.0; python_version < \"3.11\"\n"
                "Requires-Dist: torch>=2.2; extra == \"mnist\"\n\nreadme\n")
    with zipfile.ZipFile(wheel, "w") as zipped:
        zipped.writestr("sheetprop-9.9.9.dist-info/METADATA", metadata)
    return wheel


def test_the_zip_bundles_the_wheel_its_requirements_the_key_and_a_wheelhouse(tmp_path):
    key = tmp_path / "BackPropagation.xlsx"
    assert main(["build", "--quiet", "--exercise", "--steps", "2", "--lrs", "0.5,1", "--out", str(key)]) == 0
    wheelhouse = tmp_path / "wheels"
    wheelhouse.mkdir()
    (wheelhouse / "openpyxl-3.1.5-py2.py3-none-any.whl").write_bytes(b"stand-in")
    archive = tmp_path / "out" / "autograder.zip"
    assert main(["autograder", "gradescope", "--key", str(key), "--out", str(archive), "--wheel",
                 str(fake_wheel(tmp_path)), "--wheelhouse", str(wheelhouse), "--points", "20",
                 "--visibility", "after_due_date"]) == 0
    with zipfile.ZipFile(archive) as zipped:
        names = set(zipped.namelist())
        config = json.loads(zipped.read("sheetprop-autograder.json"))
        setup = zipped.read("setup.sh").decode()
        requirements = zipped.read("requirements.txt").decode().splitlines()
        assert zipped.read("key.xlsx") == key.read_bytes()
    assert {"setup.sh", "run_autograder", "key.xlsx", "sheetprop-9.9.9-py3-none-any.whl",
            "wheels/openpyxl-3.1.5-py2.py3-none-any.whl"} <= names
    assert requirements == ["openpyxl>=3.1", 'tomli>=2.0; python_version < "3.11"']
    assert (config["points"], config["visibility"], config["key_sheets"]) == (20, "after_due_date", list(SHEETS))
    assert "--no-index --no-deps --force-reinstall \"$SOURCE\"/sheetprop-9.9.9-py3-none-any.whl" in setup
    assert "libreoffice" not in setup


def fill(key: Path, exercise: Path, out: Path, slip_column: str | None = None) -> Path:
    """The student version with the key's formulas copied into its blanks; in sheet lr=0.5 the
    ``slip_column``'s formulas are off by a factor 1.01 (a wrong cell each)."""
    def slip(sheet, label, row, formula):
        wrong = sheet == "lr=0.5" and label == slip_column and isinstance(formula, str) and formula.startswith("=")
        return f"=1.01*({formula[1:]})" if wrong else formula

    return exercise_fill.fill(key, exercise, out, SHEETS, STEPS, slip)


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    """An answer key and a filled-in copy with one column wrong, saved with values by LibreOffice
    like a file a student hands in."""
    if find_soffice() is None:
        pytest.skip("LibreOffice (soffice) not installed")
    folder = tmp_path_factory.mktemp("kit")
    key = folder / "BackPropagation.xlsx"
    assert main(["build", "--quiet", "--exercise", "--steps", str(STEPS), "--lrs", "0.5,1", "--out", str(key)]) == 0
    filled = fill(key, folder / "BackPropagation_exercise.xlsx", folder / "student.xlsx", slip_column="∂E/∂w3")
    return key, recalculate(filled, folder / "saved")


def expected_percent() -> float:
    """The ∂E/∂w3 column of lr=0.5 is wrong in every row; every other cell is right."""
    return 100 * (2 * PER_SHEET - STEPS) / (2 * PER_SHEET)


@pytest.mark.slow
def test_prairielearn_result_of_a_real_submission(kit, tmp_path):
    _, student = kit
    out = tmp_path / "results.json"
    assert main(["check", "--format", "prairielearn", "--out", str(out), str(student)]) == 1
    result = json.loads(out.read_text(encoding="utf-8"))
    validate(result, PRAIRIELEARN_RESULTS)
    assert result["score"] == pytest.approx(expected_percent() / 100, abs=1e-6)
    slipped = {t["name"]: t for t in result["tests"]}["lr=0.5: ∂E/∂w3"]
    assert (slipped["points"], slipped["max_points"]) == (0, STEPS)


def gradescope_root(tmp_path: Path, archive: Path) -> Path:
    """/autograder as Gradescope builds it: the zip extracted into source/, run_autograder copied
    beside it, submission/ and results/ made by the harness."""
    root = tmp_path / "autograder"
    for name in ("source", "submission", "results"):
        (root / name).mkdir(parents=True)
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(root / "source")
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    (root / "run_autograder").chmod(0o755)
    return root


def offline_env(root: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {**env, "SHEETPROP_AUTOGRADER_ROOT": str(root), "PIP_NO_INDEX": "1"}


def make_venv_seeing_these_packages(root: Path) -> None:
    """The venv setup.sh would make, made first (setup.sh keeps one it finds) so that a .pth file
    can show it this interpreter's numpy, openpyxl, … where the image would have them from PyPI."""
    venv = root / "sheetprop-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    purelib = subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    Path(purelib, "zz-host-packages.pth").write_text("\n".join(site.getsitepackages()) + "\n")


@pytest.mark.slow
def test_the_gradescope_autograder_runs_offline_end_to_end(kit, tmp_path):
    key, student = kit
    archive = tmp_path / "autograder.zip"
    assert main(["autograder", "gradescope", "--key", str(key), "--out", str(archive), "--points", "10"]) == 0

    with zipfile.ZipFile(archive) as zipped:
        names = zipped.namelist()
        modes = {i.filename: i.external_attr >> 16 for i in zipped.infolist()}
        requirements = zipped.read("requirements.txt").decode()
    assert {"setup.sh", "run_autograder"} <= set(names)          # at the root, as the spec asks
    assert all(modes[n] & stat.S_IXUSR for n in ("setup.sh", "run_autograder"))
    (wheel,) = [n for n in names if re.fullmatch(r"sheetprop-[\w.]+-py3-none-any\.whl", n)]
    core = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]["dependencies"]
    assert {name(r) for r in requirements.splitlines()} == {name(r) for r in core}   # extras stay out

    root = gradescope_root(tmp_path, archive)
    make_venv_seeing_these_packages(root)
    setup = subprocess.run(["bash", str(root / "source" / "setup.sh")], cwd=root, env=offline_env(root),
                           capture_output=True, text=True, timeout=600)
    assert setup.returncode == 0, setup.stdout[-2000:] + setup.stderr[-2000:]

    shutil.copy(student, root / "submission" / "student.xlsx")
    write_sheets(root / "submission" / "~$student.xlsx", list(SHEETS))  # clutter that is not graded
    graded = subprocess.run([str(root / "run_autograder")], cwd=root, env=offline_env(root),
                            capture_output=True, text=True, timeout=600)
    assert graded.returncode == 0, graded.stderr[-3000:]
    # The grader that ran is the wheel installed in the venv, not this source tree.
    assert f"from {root / 'sheetprop-venv'}" in graded.stdout and "graded student.xlsx" in graded.stdout
    result = json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))
    validate(result, GRADESCOPE_RESULTS)
    assert result["score"] == pytest.approx(expected_percent() / 10, abs=1e-3)
    tests = {t["name"]: t for t in result["tests"]}
    assert tests["lr=0.5: ∂E/∂w3"]["status"] == "failed" and tests["lr=0.5: ∂E/∂w3"]["score"] == 0
    assert tests["lr=0.5: ∂E/∂w3"]["max_score"] == pytest.approx(10 * STEPS / (2 * PER_SHEET), abs=1e-4)
    assert tests["lr=1: ∂E/∂w3"]["status"] == "passed"
    assert len(tests) == len(result["tests"]) and sum(t["max_score"] for t in tests.values()) == pytest.approx(10, abs=1e-2)

    # A submission that is no workbook still gets a result that says so.
    (root / "submission" / "student.xlsx").write_text("my answers are on paper")
    (root / "submission" / "~$student.xlsx").unlink()
    subprocess.run([str(root / "run_autograder")], cwd=root, env=offline_env(root), check=True, timeout=600)
    result = json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))
    validate(result, GRADESCOPE_RESULTS)
    assert result["score"] == 0 and "student.xlsx is a text file" in result["output"]
