"""More hostile inputs and faults (issue 7): what LibreOffice leaves when `check` is interrupted,
and error messages that stay readable whatever the input holds. Every file is built here."""

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from waiting import wait_until

from sheetprop.cli import main

REPO = Path(__file__).resolve().parents[1]


def _running(pattern: str) -> list[str]:
    return subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout.split()


@pytest.mark.skipif(not shutil.which("soffice") or not shutil.which("pgrep"), reason="needs LibreOffice and pgrep")
def test_ctrl_c_during_recalculation_leaves_nothing_in_tmpdir(build, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    valueless = tmp_path / "valueless.xlsx"
    # No saved values, and a table cell beyond check's own calculation (N() it does not know): LibreOffice runs.
    book = openpyxl.load_workbook(build("--lrs", "0.5", "--steps", "3"))
    sheet = book["lr=0.5"]
    header = next(row for row in sheet.iter_rows() if row[0].value == "step")
    cell = sheet.cell(header[0].row + 1, next(c.column for c in header if c.value == "E_total"))
    cell.value = "=N(" + cell.value[1:] + ")"
    book.save(valueless)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    process = subprocess.Popen([sys.executable, "-m", "sheetprop", "check", str(valueless)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(REPO), "TMPDIR": str(scratch)})
    try:
        wait_until(lambda: _running(f"soffice.bin.*{scratch}"), 120, "LibreOffice to start")
        # Interrupt only once LibreOffice has made its own temp files, so their removal is tested.
        wait_until(lambda: any(scratch.rglob("lu*.tmp")), 120, "LibreOffice's own temp files (lu*.tmp)")
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 130 and "Traceback" not in err, err
    wait_until(lambda: not _running(str(scratch)), 30, "LibreOffice to end")
    assert list(scratch.iterdir()) == []  # neither the profile nor LibreOffice's lu*.tmp


def test_unknown_template_keys_are_named_in_a_short_line(tmp_path, capsys):
    template = tmp_path / "keys.toml"
    template.write_text("".join(f"k{n} = 1\n" for n in range(5000)))
    code = main(["build", "--template", str(template), "--out", str(tmp_path / "o.xlsx")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert "k0" in err and "4990 more" in err and len(err) < 500, err[:600]
    assert list(tmp_path.iterdir()) == [template]
