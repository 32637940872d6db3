"""Bad input gives one line and exit code 2; nothing is written or damaged."""

import pytest

import sheetprop.writer.workbook
from sheetprop.cli import main


def run_failing(capsys, *argv):
    code = main(list(argv))
    err = capsys.readouterr().err
    return code, err


@pytest.mark.parametrize("lrs, message", [
    ("", "--lrs is empty"),
    ("abc", "not a plain number"),
    ("0,,1", "empty entry"),
    ("0", "greater than 0"),
    ("-0.5", "must be greater than 0"),
    ("-1", "must be greater than 0"),
    ("nan", "not a plain number"),
    ("inf", "not a plain number"),
    ("1e999", "too large"),
    ("0.5,0.5", "given twice"),
    ("1_0", "not a plain number"),
])
def test_bad_learning_rates(tmp_path, capsys, lrs, message):
    out = tmp_path / "out.xlsx"
    code, err = run_failing(capsys, "build", "--lrs", lrs, "--out", str(out))
    assert code == 2
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize("steps, message", [
    ("0", "between 1 and"), ("-3", "between 1 and"), ("2.5", "not a whole number"),
    ("ten", "not a whole number"), ("10000000", "between 1 and 50,000"),
])
def test_bad_steps(tmp_path, capsys, steps, message):
    code, err = run_failing(capsys, "build", "--steps", steps, "--out", str(tmp_path / "o.xlsx"))
    assert code == 2 and message in err and err.count("\n") == 1


GOOD = ('layers = [2, 2, 2]\ninputs = [0.05, 0.1]\ntargets = [0.5, 0.5]\n'
        'weights = [0.15, 0.2, 0.25, 0.3, 0.4, 0.45, 0.5, 0.55]\n')


@pytest.mark.parametrize("text, message", [
    (GOOD.replace(", 0.55]", "]"), "'weights' has 7 values"),
    (GOOD.replace("weights", "# weights"), "missing 'weights'"),
    (GOOD + 'activations = ["sigmoid", "softplus"]\n', "unknown activation 'softplus'"),
    (GOOD.replace("[2, 2, 2]", "[2]"), "'layers' must list 2 to 5 sizes"),
    (GOOD.replace("[2, 2, 2]", "[2, 17, 2]"), "'layers' must list 2 to 5 sizes from 1 to 16"),
    (GOOD + "layers2 = 1\n", "unknown key"),
    (GOOD.replace("0.05", '"a"'), "must be a list of numbers"),
    (GOOD + "biases = [0.1]\n", "'biases' has 1 values"),
    ("layers = [2, 2, 2\n", "not valid TOML"),
    (GOOD.replace("[2, 2, 2]", "[2, 2, 2, 2, 2, 2]"), "'layers' must list 2 to 5 sizes"),
    (GOOD + 'activations = ["softmax", "sigmoid"]\n', "softmax can only be the output layer's activation"),
    (GOOD + 'loss = "cross_entropy"\n', "loss 'cross_entropy' needs softmax outputs"),
    (GOOD.replace("[0.5, 0.5]", "[0.5, 0.6]") + 'activations = ["sigmoid", "softmax"]\nloss = "cross_entropy"\n',
     "must be 0 or more and sum to 1 (they sum to 1.1)"),
    (GOOD.replace("[0.5, 0.5]", "[1.5, 0.5]") + 'loss = "binary_cross_entropy"\n',
     "binary cross-entropy targets must lie between 0 and 1"),
    (GOOD + "train_biases = true\n", "'train_biases' needs 'biases'"),
    (GOOD + 'biases = [0.35, 0.6]\ntrain_biases = "yes"\n', "'train_biases' must be true or false"),
    (GOOD + 'optimizer = "adagrad"\n', "unknown optimizer 'adagrad'"),
    (GOOD + 'optimizer = "adam"\nbeta1 = 1\n', "'beta1' must be at least 0 and less than 1"),
    (GOOD + 'optimizer = "adam"\neps = 0\n', "'eps' must be greater than 0"),
    (GOOD + "biases = [[0.35, 0.35], [0.6]]\n", "'biases[2]' has 1 values"),
    (GOOD.replace("[0.05, 0.1]", "[[0.05, 0.1], [0.2, 0.3]]").replace("[0.5, 0.5]", "[[0.5, 0.5]]"),
     "'inputs' and 'targets' must list the same examples (2 and 1 given)"),
    (GOOD.replace("[0.05, 0.1]", "[[0.05, 0.1], [0.2, 0.3]]"),
     "'inputs' and 'targets' must list the same examples (2 and 1 given)"),
    (GOOD.replace("[0.05, 0.1]", "[" + ", ".join(["[0.05, 0.1]"] * 33) + "]")
     .replace("[0.5, 0.5]", "[" + ", ".join(["[0.5, 0.5]"] * 33) + "]"),
     "'inputs' lists 33 examples; at most 32"),
])
def test_malformed_templates(tmp_path, capsys, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    code, err = run_failing(capsys, "build", "--template", str(path), "--out", str(tmp_path / "o.xlsx"))
    assert code == 2 and message in err and err.count("\n") == 1, err


def test_unknown_and_unreadable_templates(tmp_path, capsys):
    code, err = run_failing(capsys, "build", "--template", "nosuch", "--out", str(tmp_path / "o.xlsx"))
    assert code == 2 and "unknown template 'nosuch'" in err and "era" in err
    code, err = run_failing(capsys, "build", "--template", str(tmp_path / "missing.toml"))
    assert code == 2 and "not found" in err
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    code, err = run_failing(capsys, "build", "--template", str(folder))
    assert code == 2 and "cannot read template" in err


def test_output_folder_is_created(tmp_path):
    out = tmp_path / "new" / "deeper" / "bp.xlsx"
    assert main(["build", "--quiet", "--steps", "2", "--out", str(out)]) == 0
    assert out.exists()


def test_output_path_that_is_a_directory_or_cannot_be_created(tmp_path, capsys):
    code, err = run_failing(capsys, "build", "--out", str(tmp_path))
    assert code == 2 and "is a directory" in err
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, err = run_failing(capsys, "build", "--out", str(blocker / "sub" / "o.xlsx"))
    assert code == 2 and "cannot create output folder" in err


def test_failed_run_leaves_existing_workbook_untouched_and_no_temp_files(tmp_path, monkeypatch):
    out = tmp_path / "BackPropagation.xlsx"
    out.write_bytes(b"the student's previous workbook")

    def explode(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(sheetprop.writer.workbook, "add_summary_results", explode)
    with pytest.raises(RuntimeError, match="disk full"):
        main(["build", "--quiet", "--out", str(out)])
    assert out.read_bytes() == b"the student's previous workbook"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["BackPropagation.xlsx"]


def test_help_lists_every_command_and_option(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert all(command in text for command in ("build", "mnist", "check"))
    with pytest.raises(SystemExit):
        main(["build", "--help"])
    text = capsys.readouterr().out
    for option in ("--lrs", "--steps", "--template", "--out", "--mnist-metrics"):
        assert option in text


def test_build_reports_each_learning_rate(tmp_path, capsys):
    assert main(["build", "--lrs", "0.5,1e8", "--steps", "3", "--out", str(tmp_path / "o.xlsx")]) == 0
    out = capsys.readouterr().out
    assert "summary + 2 learning-rate sheets" in out
    assert "lr=0.5" in out and "E_total 0.0141814 -> 0.01" in out  # six significant digits
    assert "overflows at step 1" in out
