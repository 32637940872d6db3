"""The Python API: the manual's notebook example (docs/api.md) runs as written; results equal the workbook's
cells; bad input raises SheetpropError with the command line's message."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import openpyxl
import pytest

import sheetprop
from sheetprop.cli import main

API_DOCS = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def api_example() -> str:
    text = API_DOCS.read_text(encoding="utf-8")
    marker = text.index("<!-- api-example")
    return re.search(r"```python\n(.*?)```", text[marker:], re.S).group(1)


@pytest.mark.slow
def test_the_api_page_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    from sheetprop.handin import screens

    monkeypatch.setattr(screens, "missing_tools", lambda: ["LibreOffice (soffice)"])  # fast: no pictures
    shown = io.StringIO()
    with contextlib.redirect_stdout(shown):
        exec(compile(api_example(), "docs/api.md", "exec"), {})
    lines = shown.getvalue().splitlines()
    assert lines[0] == "['summary', 'lr=0.1', 'lr=0.5', 'lr=2']"
    assert lines[2] == "1.0 0"
    assert lines[-1] == "learning rate '0' must be greater than 0"
    assert (tmp_path / "output" / "handin" / "README.md").is_file()


def _cells(path, sheet):
    ws = openpyxl.load_workbook(path, data_only=True)[sheet]
    rows = list(ws.iter_rows(values_only=True))
    top = next(k for k, r in enumerate(rows) if r[0] == "step")
    k = rows[top].index("E_total")
    return [r[k] for r in rows[top + 1:] if r[0] is not None]


@pytest.mark.slow
def test_build_returns_the_workbooks_losses_by_number(tmp_path):
    result = sheetprop.build(template="xor", lrs=[0.05, 1, 1e-3], steps=12, out=tmp_path / "b.xlsx")
    assert result.path == tmp_path / "b.xlsx"
    assert result.sheet_names == ["summary", "lr=0.05", "lr=1", "lr=0.001"]
    assert sorted(result.losses) == [0.001, 0.05, 1.0]
    for rate, sheet in ((0.05, "lr=0.05"), (1.0, "lr=1"), (0.001, "lr=0.001")):
        assert result.losses[rate] == _cells(result.path, sheet)
        assert len(result.losses[rate]) == 12


def test_text_learning_rates_name_the_sheets_as_typed(tmp_path):
    result = sheetprop.build(lrs="0.50,2", steps=3, out=tmp_path / "t.xlsx")
    assert result.sheet_names[1:] == ["lr=0.50", "lr=2"] and sorted(result.losses) == [0.5, 2.0]


@pytest.mark.parametrize("options, argv", [
    ({"lrs": [-1]}, ["--lrs", "-1"]),
    ({"lrs": [0.5, 0.5]}, ["--lrs", "0.5,0.5"]),
    ({"steps": 0}, ["--steps", "0"]),
    ({"template": "nope"}, ["--template", "nope"]),
    ({"optimizer": "adamw"}, None),
    ({"lrs": [True]}, None),
])
def test_bad_input_raises_the_command_lines_message(tmp_path, capsys, options, argv):
    with pytest.raises(sheetprop.SheetpropError) as raised:
        sheetprop.build(out=tmp_path / "x.xlsx", **options)
    assert "\n" not in str(raised.value) and not (tmp_path / "x.xlsx").exists()
    if argv is not None:
        assert main(["build", "--out", str(tmp_path / "y.xlsx"), *argv]) == 2
        assert capsys.readouterr().err.strip() == f"sheetprop build: error: {raised.value}"


@pytest.mark.slow  # the openpyxl-saved copy has no saved values: LibreOffice recalculates it
def test_check_reports_findings_score_text_and_json(tmp_path):
    built = sheetprop.build(lrs=[0.5], steps=5, out=tmp_path / "c.xlsx")
    report = sheetprop.check(built.path)
    assert report.findings == [] and report.score == 1.0
    assert "5 rows" in report.text()
    assert '"findings": []' in report.to_json()
    # A hand-made copy without sheetprop's record: no exercise, no score; a wrong cell is a finding.
    book = openpyxl.load_workbook(built.path)
    del book["_sheetprop"]
    ws = book["lr=0.5"]
    header = next(r for r in ws.iter_rows() if r[0].value == "step")
    cell = next(c for c in header if c.value == "E_total")
    ws.cell(row=cell.row + 2, column=cell.column).value = "=1+1"
    book.save(tmp_path / "hand.xlsx")
    hand = sheetprop.check(tmp_path / "hand.xlsx")
    assert hand.score is None
    assert any(f.label == "E_total" for f in hand.findings)


def test_deep_with_adam_is_not_titled_rmsprop(tmp_path):
    result = sheetprop.build(template="deep", optimizer="adam", lrs=[0.01], steps=2, out=tmp_path / "d.xlsx")
    title = openpyxl.load_workbook(result.path)["summary"]["A1"].value
    assert "RMSprop" not in title and "Adam" in title


def test_importing_sheetprop_loads_no_writer_or_checker():
    import subprocess
    import sys

    code = ("import sys, sheetprop; heavy = [m for m in ('sheetprop.writer', 'sheetprop.check', 'openpyxl', "
            "'xlsxwriter') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1]).stdout
    assert out.strip() == "[]"


def test_train_checks_options_as_the_command_line_does(tmp_path, capsys):
    with pytest.raises(sheetprop.SheetpropError) as raised:
        sheetprop.train(out=tmp_path / "m.xlsx", epochs=0)
    assert "--epochs" in str(raised.value) and "\n" not in str(raised.value)
    with pytest.raises(sheetprop.SheetpropError, match="unrecognized arguments: --colour"):
        sheetprop.train(out=tmp_path / "m.xlsx", colour="red")
    for options, words in (({"batch_size": 1}, "argument --batch-size: 1 is outside 2..8192"),
                           ({"lr": float("nan")}, "argument --lr"), ({"dataset": "cifar"}, "argument --dataset"),
                           ({"epochs": True}, "argument --epochs"), ({"device": "tpu"}, "argument --device")):
        with pytest.raises(sheetprop.SheetpropError, match=re.escape(words)):
            sheetprop.train(out=tmp_path / "m.xlsx", **options)
    with pytest.raises(SystemExit):  # the command line's own check says the same
        main(["mnist", "--out", str(tmp_path / "m.xlsx"), "--batch-size", "1"])
    assert capsys.readouterr().err.splitlines() == [
        "sheetprop mnist: error: argument --batch-size: 1 is outside 2..8192 (see 'sheetprop mnist --help')"]
    assert not (tmp_path / "m.xlsx").exists()


@pytest.mark.slow
def test_train_returns_the_epochs_and_the_outputs(tmp_path, capsys):
    pytest.importorskip("torch")
    from mnist_fixtures import write_mnist_folder

    data = write_mnist_folder(tmp_path / "data", range(0, 300), range(300, 400), layout="flat")
    out = tmp_path / "out" / "mnist.xlsx"
    run = sheetprop.train(out=out, data=data, epochs=1, batch_size=50, no_download=True)
    shown = capsys.readouterr()
    assert "epoch   1/1" in shown.out and "img" in shown.err, "progress: a line per epoch and a bar"
    assert [row["epoch"] for row in run.metrics] == [1]
    assert 0 <= run.metrics[0]["test_accuracy"] <= 100
    written = {path.name for path in out.parent.iterdir()}
    expected = {"mnist.xlsx", "mnist_metrics.csv", "mnist_curves.png", "mnist_misclassified.png",
                "mnist_samples.png", "mnist_README.md", "mnist_model.xlsx", "mnist.ckpt.pt"}
    assert written == expected
    assert {path.name for path in run.paths.all()} == expected, "paths names every file written"
    assert run.model_workbook == out.with_name("mnist_model.xlsx")
    assert f"| 1 | {run.metrics[0]['train_loss']:.4f} |" in run.paths.readme.read_text(encoding="utf-8")
    assert run.record["epochs"] == 1 and run.record["test images"] == 100
    shown_html = run._repr_html_()
    assert "<table" in shown_html and f"{run.metrics[0]['test_accuracy']:.2f}" in shown_html
    assert "data:image/png;base64,iVBOR" in shown_html and len(shown_html) < 200_000

    again = sheetprop.train(out=out, data=data, epochs=1, batch_size=50, no_download=True, quiet=True)
    assert capsys.readouterr() == ("", ""), "quiet=True prints nothing"
    assert again.metrics[0]["epoch"] == 1


def test_check_with_a_key_grades_against_it_or_says_it_cannot(tmp_path):
    built = sheetprop.build(lrs=[0.5], steps=4, out=tmp_path / "k.xlsx")
    assert sheetprop.check(built.path, key=built.path).findings == []
    with pytest.raises(sheetprop.SheetpropError, match="key"):
        sheetprop.check(built.path, key=tmp_path / "no-such-key.xlsx")


@pytest.mark.slow
def test_results_show_short_in_a_notebook_and_as_html(tmp_path):
    result = sheetprop.build(lrs=[0.1, 2], steps=300, out=tmp_path / "n.xlsx")
    assert len(repr(result)) < 200 and "0.1" in repr(result) and "steps=300" in repr(result)
    page = result._repr_html_()
    assert "<table>" in page and "<td>2</td>" in page and 'src="data:image/png;base64,' in page
    assert "<td>0.0141814</td>" in page  # E_total at step 0, as the sheet displays it
    report = sheetprop.check(result.path)
    assert repr(report).startswith("CheckReport('n.xlsx', score=100.0 %") and len(repr(report)) < 200
    assert "No wrong cell found" in report._repr_html_()


def test_build_returns_what_it_computed_without_reading_the_workbook_back(tmp_path, monkeypatch):
    monkeypatch.setattr(openpyxl, "load_workbook", lambda *a, **k: pytest.fail("the workbook was read back"))
    result = sheetprop.build(lrs=[0.5], steps=4, out=tmp_path / "r.xlsx")
    assert len(result.losses[0.5]) == 4 and result.sheet_names == ["summary", "lr=0.5"]


def test_one_learning_rate_gets_one_sheet_name_whatever_the_entry_point(tmp_path):
    toml = tmp_path / "t.toml"
    toml.write_text((Path(__file__).resolve().parents[1] / "templates" / "era.toml").read_text(encoding="utf-8")
                    + "\nlearning_rates = [2.0, 0.5]\n", encoding="utf-8")
    from_template = sheetprop.build(template=str(toml), steps=2, out=tmp_path / "a.xlsx")
    from_python = sheetprop.build(lrs=[2.0, 0.5], steps=2, out=tmp_path / "b.xlsx")
    assert from_template.sheet_names == from_python.sheet_names == ["summary", "lr=2", "lr=0.5"]
    assert main(["build", "--quiet", "--template", str(toml), "--steps", "2", "--out", str(tmp_path / "c.xlsx")]) == 0
    assert openpyxl.load_workbook(tmp_path / "c.xlsx").sheetnames[:3] == ["summary", "lr=2", "lr=0.5"]


def test_build_refuses_to_write_over_its_own_inputs(tmp_path, capsys):
    toml = tmp_path / "t.toml"
    toml.write_text((Path(__file__).resolve().parents[1] / "templates" / "era.toml").read_text(encoding="utf-8"))
    before = toml.read_bytes()
    assert main(["build", "--template", str(toml), "--out", str(toml)]) == 2
    assert "is the --template file" in capsys.readouterr().err and toml.read_bytes() == before
    csv = tmp_path / "m.csv"
    csv.write_text("epoch,train_loss,train_accuracy,test_loss,test_accuracy,lr,seconds\n1,0.5,90,0.4,95,0.05,3\n")
    with pytest.raises(sheetprop.SheetpropError, match="is the --mnist-metrics file"):
        sheetprop.build(out=csv, mnist_metrics=csv)
    assert csv.read_text().startswith("epoch,")


def test_errors_are_shown_as_sheetprop_errors(tmp_path):
    with pytest.raises(sheetprop.SheetpropError) as raised:
        sheetprop.build(lrs=[-1], out=tmp_path / "x.xlsx")
    assert type(raised.value).__name__ == "SheetpropError"
    from sheetprop.errors import UserError

    assert UserError is sheetprop.SheetpropError


def _class_folder(tmp_path):
    import shutil

    kit = sheetprop.build(lrs=[0.5], steps=4, exercise=True, out=tmp_path / "key.xlsx")
    folder = tmp_path / "class"
    (folder / "alice").mkdir(parents=True)
    (folder / "bob").mkdir()
    shutil.copyfile(kit.path, folder / "alice" / "BackPropagation.xlsx")            # every formula right
    shutil.copyfile(kit.exercise_path, folder / "bob" / "BackPropagation.xlsx")     # handed in blank
    return kit, folder


def test_check_grades_a_class_folder_one_row_per_submission(tmp_path):
    kit, folder = _class_folder(tmp_path)
    graded = sheetprop.check(folder, key=kit.path)
    rows = {row["submission"]: row for row in graded.rows}
    assert sorted(rows) == ["alice", "bob"]
    assert rows["alice"]["score"] == 100.0 and rows["bob"]["score"] < 50
    assert repr(graded) == "ClassReport(2 submissions, 2 graded)"
    page = graded._repr_html_()
    assert "<td>alice</td>" in page and "<td>100.0</td>" in page


@pytest.mark.parametrize("call, words", [
    (lambda out: sheetprop.build(out=None), "out must be a path"),
    (lambda out: sheetprop.build(lrs=True, out=out), "learning rates True"),
    (lambda out: sheetprop.build(lrs=[0.5, "x"], out=out), "learning rate 'x'"),
    (lambda out: sheetprop.build(mnist_metrics=3, out=out), "mnist_metrics must be a path"),
    (lambda out: sheetprop.readme(out=None), "out must be a path"),
    (lambda out: sheetprop.readme(from_workbook=5, out=out), "from_workbook must be a path"),
    (lambda out: sheetprop.check(out, time_limit=1e300), "time_limit"),
    (lambda out: sheetprop.check(out, tolerance=float("nan")), "tolerance"),
])
def test_wrong_types_are_one_line_errors_not_tracebacks(tmp_path, call, words):
    with pytest.raises(sheetprop.SheetpropError, match=re.escape(words)) as raised:
        call(tmp_path / "out.xlsx")
    assert "\n" not in str(raised.value)


def test_one_learning_rate_given_alone_is_a_list_of_one(tmp_path):
    result = sheetprop.build(lrs=0.5, steps=3, out=tmp_path / "one.xlsx")
    assert result.sheet_names[1:] == ["lr=0.5"]
