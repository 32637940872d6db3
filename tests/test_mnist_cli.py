"""`sheetprop mnist` end to end: accuracy on real digits, the workbook, resume, Ctrl-C, no torch."""

import csv
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sheetprop.cli import main
from sheetprop.metrics_sheet import METRIC_COLUMNS
from mnist_fixtures import write_mnist_folder

REPO = Path(__file__).resolve().parents[1]


def run_mnist(data: Path, out: Path, *extra: str) -> int:
    return main(["mnist", "--data", str(data), "--out", str(out), "--no-download", "--quiet", *extra])


def read_metrics(out: Path) -> list[dict]:
    with open(out.with_name(f"{out.stem}_metrics.csv"), newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One real run: train on 1,600 real digits of the shipped sample, test on its other 400, 4 epochs."""
    pytest.importorskip("torch")
    root = tmp_path_factory.mktemp("mnist")
    data = write_mnist_folder(root / "data", range(0, 1600), range(1600, 2000))
    out = root / "output" / "mnist.xlsx"
    code = run_mnist(data, out, "--epochs", "4", "--batch-size", "32", "--seed", "1")
    return code, out


def test_training_beats_a_real_bar(trained):
    code, out = trained
    assert code == 0
    rows = read_metrics(out)
    assert [int(row["epoch"]) for row in rows] == [1, 2, 3, 4]
    assert float(rows[-1]["test_accuracy"]) >= 90.0  # chance is 10%
    assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])


def test_workbook_contents(trained):
    openpyxl = pytest.importorskip("openpyxl")
    code, out = trained
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["epochs", "model", "confusion", "run"]

    epochs = book["epochs"]
    assert [cell.value for cell in epochs[1]] == list(METRIC_COLUMNS)
    assert epochs.max_row == 1 + 4
    assert len(epochs._charts) == 2 and len(epochs._images) == 1

    model = book["model"]
    assert [cell.value for cell in model[1]][:6] == ["layer", "type", "output_shape", "parameters", "receptive_field", "jump"]
    total = [row for row in model.iter_rows(values_only=True) if row[0] == "total params"]
    layer_params = sum(row[3] for row in model.iter_rows(min_row=2, values_only=True) if row[0] != "total params")
    assert len(total) == 1 and total[0][3] == layer_params and layer_params <= 8000  # under "parameters"

    confusion = book["confusion"]
    counts = [[confusion.cell(row=2 + t, column=2 + p).value for p in range(10)] for t in range(10)]
    assert sum(map(sum, counts)) == 400
    correct = sum(counts[d][d] for d in range(10))
    assert correct / 4 == pytest.approx(float(read_metrics(out)[-1]["test_accuracy"]), abs=0.01)
    assert confusion.conditional_formatting, "colour scale on the matrix"
    assert len(confusion._images) == 1

    for suffix in ("_curves.png", "_misclassified.png", "_samples.png"):
        assert out.with_name(out.stem + suffix).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# The run sheet's contract with the hand-in: exactly these keys, in this order.
RUN_KEYS = ["model", "parameters", "dataset", "train data", "test data", "train images", "test images", "epochs",
            "best test accuracy", "best epoch", "final test accuracy", "course target", "seed", "sheetprop version"]


def test_the_run_sheet_records_the_data_and_the_result(trained):
    openpyxl = pytest.importorskip("openpyxl")
    code, out = trained
    sheet = openpyxl.load_workbook(out)["run"]
    rows = [[cell for cell in row] for row in sheet.iter_rows()]
    assert [cell.value for cell in rows[0]] == ["key", "value"]
    assert [row[0].value for row in rows[1:]] == RUN_KEYS
    run = {row[0].value: row[1] for row in rows[1:]}
    assert all(cell.data_type == "s" for cell in run.values() if isinstance(cell.value, str))
    value = {key: cell.value for key, cell in run.items()}
    accuracies = [float(row["test_accuracy"]) for row in read_metrics(out)]
    # The fixture trained on 1,600 of the shipped digits and tested on the other 400, 4 epochs, seed 1.
    assert (value["train images"], value["test images"], value["epochs"], value["seed"]) == (1600, 400, 4, 1)
    assert value["dataset"] == "MNIST" and value["model"] == "default" and value["parameters"] == 7574
    assert "1,600 images" in value["train data"] and "400 images" in value["test data"]
    assert value["best test accuracy"] == pytest.approx(max(accuracies), abs=1e-4)
    assert value["best epoch"] == 1 + accuracies.index(max(accuracies))
    assert value["final test accuracy"] == pytest.approx(accuracies[-1], abs=1e-4)
    assert value["course target"].startswith("not applicable (tested on 400 images")
    import sheetprop

    assert value["sheetprop version"] == sheetprop.__version__
    readme = out.with_name("mnist_README.md").read_text(encoding="utf-8")
    assert value["train data"] in readme and value["test data"] in readme
    assert f"{accuracies[-1]:.2f} %" in readme and f"best {max(accuracies):.2f} %" in readme
    assert value["course target"] in readme and "](mnist_samples.png)" in readme


@pytest.fixture
def tiny_data(tmp_path):
    pytest.importorskip("torch")
    return write_mnist_folder(tmp_path / "data", range(0, 500), range(500, 700), layout="flat")


def test_interrupt_writes_workbook_and_resume_continues_exactly(tiny_data, tmp_path, monkeypatch):
    from sheetprop.mnist.train import loop as train

    settings = ["--epochs", "2", "--batch-size", "50", "--seed", "3"]
    straight = tmp_path / "straight" / "m.xlsx"
    assert run_mnist(tiny_data, straight, *settings) == 0

    real_train_epoch, calls = train.train_epoch, []

    def ctrl_c_in_epoch_2(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_train_epoch(*args, **kwargs)

    monkeypatch.setattr(train, "train_epoch", ctrl_c_in_epoch_2)
    out = tmp_path / "stopped" / "m.xlsx"
    assert run_mnist(tiny_data, out, *settings) == 130
    assert [row["epoch"] for row in read_metrics(out)] == ["1"]
    openpyxl = pytest.importorskip("openpyxl")
    assert openpyxl.load_workbook(out)["epochs"].max_row == 2
    monkeypatch.setattr(train, "train_epoch", real_train_epoch)

    assert run_mnist(tiny_data, out, *settings, "--resume") == 0
    resumed, uninterrupted = read_metrics(out), read_metrics(straight)
    assert [row["epoch"] for row in resumed] == ["1", "2"]
    drop_time = lambda rows: [{k: v for k, v in row.items() if k != "seconds"} for row in rows]  # noqa: E731
    assert drop_time(resumed) == drop_time(uninterrupted), "resume continues the very same run"


def test_resume_to_more_epochs(tiny_data, tmp_path):
    out = tmp_path / "m.xlsx"
    assert run_mnist(tiny_data, out, "--epochs", "1", "--batch-size", "50") == 0
    assert run_mnist(tiny_data, out, "--epochs", "2", "--batch-size", "50", "--resume") == 0
    assert [row["epoch"] for row in read_metrics(out)] == ["1", "2"]
    assert run_mnist(tiny_data, out, "--epochs", "2", "--batch-size", "64", "--resume") == 2, "changed settings"


def test_resume_refuses_another_dataset(tiny_data, tmp_path, capsys):
    out = tmp_path / "m.xlsx"
    assert run_mnist(tiny_data, out, "--epochs", "1", "--batch-size", "50") == 0
    capsys.readouterr()
    assert run_mnist(tiny_data, out, "--epochs", "2", "--batch-size", "50", "--resume", "--dataset", "fashion-mnist") == 2
    assert "dataset mnist -> fashion-mnist" in capsys.readouterr().err


def test_user_errors(tiny_data, tmp_path, capsys):
    out = tmp_path / "m.xlsx"
    assert run_mnist(tmp_path / "empty", out) == 2
    assert "f68b3c2dcbeaaa9fbdd348bbdeb94873" in capsys.readouterr().err
    assert run_mnist(tiny_data, out, "--resume") == 2
    assert "no checkpoint" in capsys.readouterr().err
    import torch

    if not torch.cuda.is_available():
        assert run_mnist(tiny_data, out, "--device", "cuda") == 2
        assert "no CUDA device" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["mnist", "--epochs", "0"])


BLOCK_TORCH = textwrap.dedent(
    """
    import sys
    sys.modules["torch"] = None  # any `import torch` now raises ImportError
    from sheetprop.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


def run_without_torch(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCK_TORCH, *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})


def test_help_works_without_torch(tmp_path):
    done = run_without_torch("mnist", "--help", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "--epochs" in done.stdout and "--resume" in done.stdout and "./data" in done.stdout


def test_mnist_sheet_help_and_error_without_torch(tmp_path):
    done = run_without_torch("mnist-sheet", "--help", cwd=tmp_path)
    assert done.returncode == 0 and "CHECKPOINT" in done.stdout and "--digit" in done.stdout
    done = run_without_torch("mnist-sheet", "model.ckpt.pt", "--out", str(tmp_path / "m.xlsx"), cwd=tmp_path)
    assert done.returncode == 2 and "pip install torch" in done.stderr and "Traceback" not in done.stderr


def test_missing_torch_says_how_to_install(tmp_path):
    done = run_without_torch("mnist", "--no-download", cwd=tmp_path)
    assert done.returncode == 2
    assert "pip install torch" in done.stderr and "pip install 'sheetprop[mnist]'" not in done.stderr
    assert "Traceback" not in done.stderr
