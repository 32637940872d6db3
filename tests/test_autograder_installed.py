"""`sheetprop autograder gradescope` after a plain `pip install .` (no source tree beside the
package): the zip is written, its wheel packed from the installed files. Slow: it makes a venv and
installs sheetprop into it, offline (--no-deps --no-build-isolation, with this interpreter's
setuptools and dependencies reached through a .pth file)."""

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from sheetprop.check.classroom.autograder import _tree_parts
from sheetprop.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_autograder_zip_is_written_after_a_plain_pip_install(tmp_path):
    pytest.importorskip("setuptools")
    source = tmp_path / "source"   # a copy, so the build leaves nothing in the checkout
    source.mkdir()
    for name in _tree_parts(ROOT):
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif (ROOT / name).is_file():
            shutil.copy2(ROOT / name, source / name)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    # This interpreter's packages (pip, setuptools, openpyxl, …) after the venv's own: no index needed.
    Path(site, "outer.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--disable-pip-version-check", str(source)], check=True)
    key = tmp_path / "KEY.xlsx"
    assert main(["build", "--quiet", "--exercise", "--steps", "3", "--out", str(key)]) == 0
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run([str(python), "-m", "sheetprop", "autograder", "gradescope", "--key", str(key),
                           "--out", str(work / "autograder.zip")], cwd=work, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    where = subprocess.run([str(python), "-c", "import sheetprop; print(sheetprop.__file__)"], cwd=work, env=env,
                           check=True, capture_output=True, text=True).stdout
    assert where.startswith(site)   # the installed package ran, not the checkout
    with zipfile.ZipFile(work / "autograder.zip") as archive:
        (wheel_name,) = [n for n in archive.namelist() if n.startswith("sheetprop-") and n.endswith(".whl")]
        (work / wheel_name).write_bytes(archive.read(wheel_name))
    with zipfile.ZipFile(work / wheel_name) as wheel:
        names = set(wheel.namelist())
        assert {"sheetprop/check/cli.py", "sheetprop/templates/era.toml"} <= names
        record = [n for n in names if n.endswith(".dist-info/RECORD")]
        assert record and "Requires-Dist: openpyxl" in wheel.read(record[0].replace("RECORD", "METADATA")).decode()
    # The wheel installs, offline.
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                    "--disable-pip-version-check", "--target", str(tmp_path / "target"), str(work / wheel_name)],
                   check=True)
    assert (tmp_path / "target" / "sheetprop" / "check" / "classroom" / "autograder.py").is_file()
