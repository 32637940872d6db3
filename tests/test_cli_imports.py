"""`build` does not pay for `check`: the command line imports only the module of the command it
runs (check's openpyxl and formula judge would double build's memory and start-up)."""

import subprocess
import sys

import pytest

HEAVY = ("openpyxl", "sheetprop.check", "sheetprop.check.judge.formula", "torch")


def modules_after(code: str) -> set[str]:
    script = code + "\nimport sys\nprint(' '.join(sorted(sys.modules)))\n"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


def test_importing_the_cli_imports_no_command():
    loaded = modules_after("import sheetprop.cli")
    assert not loaded & set(HEAVY)
    assert "sheetprop.writer.cli" not in loaded and "xlsxwriter" not in loaded


@pytest.mark.parametrize("options", [[], ["--gradcheck"], ["--exercise"]], ids=str)
def test_build_imports_neither_check_nor_openpyxl(tmp_path, options):
    out = str(tmp_path / "o.xlsx")
    loaded = modules_after("from sheetprop.cli import main\n"
                           f"assert main(['build', '--quiet', '--steps', '3', '--out', {out!r}, *{options!r}]) == 0")
    assert not loaded & set(HEAVY), loaded & set(HEAVY)
    assert "sheetprop.writer.cli" in loaded


@pytest.mark.parametrize("command, option", [("build", "--gradcheck"), ("check", "--tolerance"),
                                             ("mnist", "--epochs"), ("mnist-sheet", "--digit")])
def test_every_command_has_its_help(command, option, capsys):
    from sheetprop.cli import main

    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: sheetprop {command} ") and option in text


def test_top_level_help_and_errors_list_every_command(capsys):
    from sheetprop.cli import COMMANDS, main

    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for line in ("build", "write BackPropagation.xlsx", "check", "audit a hand-made", "mnist-sheet"):
        assert line in text
    with pytest.raises(SystemExit) as exit_:
        main(["nosuch"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert all(repr(name) in err for name in COMMANDS)


def test_check_reads_a_built_workbook_without_openpyxl(tmp_path, build):
    # openpyxl costs ~30 MiB and a tenth of a second a process: check's streaming path has its
    # own tokenizer, date formats and defined names; openpyxl stays for files that path cannot read.
    import formula_graph_workbooks

    key = build("--exercise", "--steps", "5", name="key.xlsx")
    laid_out = tmp_path / "per_row.xlsx"
    formula_graph_workbooks.write(laid_out, {"Sheet1": formula_graph_workbooks.per_row_2_2_1()})
    paths = [str(key), str(key.with_name("key_exercise.xlsx")), str(laid_out)]
    loaded = modules_after("import contextlib, io\nfrom sheetprop.cli import main\n"
                           f"for path in {paths!r}:\n"
                           "    with contextlib.redirect_stdout(io.StringIO()):  # the reports are not module names\n"
                           "        main(['check', path])")
    assert {"sheetprop.check.judge.table", "sheetprop.check.find.formula_graph", "sheetprop.check.read.xlsx_reader"} <= loaded
    assert "openpyxl" not in loaded, sorted(m for m in loaded if m.startswith("openpyxl"))
    # Nor the writer's, the plots' or the CNN's libraries: each worker of a class would pay for them.
    assert not loaded & {"xlsxwriter", "matplotlib", "torch", "numpy"}, loaded & {"xlsxwriter", "matplotlib", "torch"}


def test_a_class_worker_imports_nothing_it_does_not_grade_with(tmp_path, build):
    # A worker grades and gathers each file's evidence (grade_with_evidence): what it imports to
    # do so is its start-up, paid by every worker of every class.
    key = build("--exercise", "--steps", "5", name="key.xlsx")
    loaded = modules_after("from pathlib import Path\n"
                           "from sheetprop.check.classroom.evidence import grade_with_evidence\n"
                           "from sheetprop.check.classroom.grading import Settings\n"
                           "from sheetprop.check.classroom.submissions import Submission\n"
                           f"path = Path({str(key)!r})\n"
                           "outcome = grade_with_evidence((Submission(path.name, [path]), Settings()))\n"
                           "assert outcome.status == 'graded', outcome.message")
    assert "sheetprop.check.judge.table" in loaded
    assert not loaded & {"openpyxl", "xlsxwriter", "matplotlib", "torch", "numpy", "tqdm", "sheetprop.writer"}, \
        loaded & {"openpyxl", "xlsxwriter", "matplotlib", "torch", "numpy", "tqdm", "sheetprop.writer"}
