"""Hostile inputs to mnist, mnist-sheet and mnist-compare, each from its own fixture: text that looks
like a formula stays text, a checkpoint that unpacks to gigabytes is refused before it is read, deep
nesting and forged RNG state end in one line, outputs are probed before training and never replace
an input, and a run's epochs are read only up to what 'mnist' trains."""

from __future__ import annotations

import re
import zipfile

import numpy as np
import openpyxl
import pytest

from mnist_fixtures import sample_digits  # first: it sets the OpenMP wait policy
from sheetprop.cli import main
from sheetprop.mnist.options import MAX_EPOCHS, OutputPaths
from sheetprop.mnist.train.architecture import parse_architecture
from sheetprop.mnist.workbook.export import write_outputs
from sheetprop.mnist.workbook.run_record import DataUsed, run_record

HYPERLINK = '=HYPERLINK("http://example.invalid/steal","click")'
WEBSERVICE = '=WEBSERVICE("http://example.invalid/leak")'


def one_line_error(code: int, err: str) -> bool:
    return code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def run(capsys, *argv) -> tuple[int, str]:
    code = main([str(arg) for arg in argv])
    return code, capsys.readouterr().err


def metrics(epochs: int) -> list[dict]:
    return [{"epoch": e, "train_loss": 1.0 / e, "train_accuracy": 80.0 + e / 10, "test_loss": 0.9 / e,
             "test_accuracy": 85.0 + e / 10, "lr": 0.01, "seconds": 2.0} for e in range(1, epochs + 1)]


def write_run(out, name: str = HYPERLINK, description: str = WEBSERVICE, epochs: int = 3) -> OutputPaths:
    """A metrics workbook as 'mnist' writes it, of a model whose name and description are formulas."""
    architecture = parse_architecture({"name": name, "description": description,
                                       "layers": [4, "M", "T3", 5, "GAP"]}, "hostile.toml")
    images, labels = sample_digits()
    images, labels = images[:40], labels[:40].astype(np.int64)
    record = run_record(architecture.name, 400, DataUsed.describe("MNIST", 40, 40), metrics(epochs), seed=1)
    return write_outputs(OutputPaths.beside(out), metrics(epochs), architecture, record, images, labels,
                         labels.copy(), images, labels)


def formula_cells(path) -> list[str]:
    """Every cell of every sheet that holds a formula, as sheet!cell = text."""
    book = openpyxl.load_workbook(path)
    return [f"{sheet.title}!{cell.coordinate} = {cell.value}" for sheet in book.worksheets
            for row in sheet.iter_rows() for cell in row if cell.data_type == "f"]


# --- text from inputs stays text ----------------------------------------------------------------

@pytest.mark.slow
def test_a_model_named_like_a_formula_is_written_as_text(tmp_path):
    paths = write_run(tmp_path / "run.xlsx")
    assert formula_cells(paths.workbook) == []
    book = openpyxl.load_workbook(paths.workbook)
    facts = {row[7].value: row[8] for row in book["model"].iter_rows() if len(row) > 8 and row[7].value}
    assert facts["model"].value == HYPERLINK and facts["model"].data_type == "s"
    assert facts["description"].value == WEBSERVICE and facts["description"].data_type == "s"
    run_sheet = {row[0].value: row[1] for row in book["run"].iter_rows(min_row=2)}
    assert run_sheet["model"].value == HYPERLINK and run_sheet["model"].data_type == "s"


@pytest.mark.slow
def test_compare_writes_run_and_model_names_as_text(tmp_path, capsys):
    first = write_run(tmp_path / "=HYPERLINK(1).xlsx").workbook
    second = write_run(tmp_path / "plain.xlsx", name="=1+1").workbook
    out = tmp_path / "compare.xlsx"
    code, err = run(capsys, "mnist-compare", first, second, "--out", out)
    assert code == 0, err
    assert formula_cells(out) == []
    book = openpyxl.load_workbook(out)
    shown = {cell.value for row in book["compare"].iter_rows() for cell in row if isinstance(cell.value, str)}
    assert HYPERLINK in shown and "=1+1" in shown
    # The chart's line names come from cells (a name given as text starting with "=" is a formula).
    with zipfile.ZipFile(out) as archive:
        charts = [archive.read(name).decode() for name in archive.namelist() if name.startswith("xl/charts/chart")]
    names = [name for chart in charts for name in re.findall(r"<c:ser>.*?<c:tx>(.*?)</c:tx>", chart, re.S)]
    assert len(names) == 3 * 2  # three charts, a line per run
    for name in names:  # each a reference to the run's label cell, never the text as a formula
        assert re.fullmatch(r"<c:strRef><c:f>'?[^<]*'?!\$I\$2</c:f>.*</c:strRef>", name, re.S), name


# --- compare reads a run up to what mnist trains --------------------------------------------------

@pytest.mark.slow
def test_compare_refuses_a_run_with_more_epochs_than_mnist_trains(tmp_path, capsys):
    import xlsxwriter

    from sheetprop.metrics_sheet import METRIC_COLUMNS

    path = tmp_path / "long.xlsx"
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = book.add_worksheet("epochs")
    sheet.write_row(0, 0, METRIC_COLUMNS)
    for row in range(1, 100_001):  # 100,000 epochs, far past MAX_EPOCHS
        sheet.write_row(row, 0, [row, 0.1, 90.0, 0.1, 90.0, 0.01, 1.0])
    book.close()
    code, err = run(capsys, "mnist-compare", path, "--out", tmp_path / "c.xlsx")
    assert one_line_error(code, err) and f"more than {MAX_EPOCHS} rows of epochs" in err, err
    assert not (tmp_path / "c.xlsx").exists()


@pytest.mark.slow
def test_compare_reads_a_run_of_exactly_the_most_epochs(tmp_path, capsys):
    paths = write_run(tmp_path / "long.xlsx", name="long", epochs=MAX_EPOCHS)
    code, err = run(capsys, "mnist-compare", paths.workbook, "--out", tmp_path / "c.xlsx")
    assert code == 0, err


# --- an output that is an input -----------------------------------------------------------------

@pytest.mark.slow
def test_compare_refuses_to_write_over_a_run_it_reads(tmp_path, capsys):
    run_path = write_run(tmp_path / "a.xlsx", name="a").workbook
    before = run_path.read_bytes()
    for out in (run_path, tmp_path / "." / "a.xlsx"):
        code, err = run(capsys, "mnist-compare", run_path, "--out", out)
        assert one_line_error(code, err) and "also an input" in err, err
    assert run_path.read_bytes() == before


def test_mnist_sheet_refuses_to_write_over_its_checkpoint(tmp_path, capsys):
    checkpoint = tmp_path / "m.ckpt.pt"
    checkpoint.write_bytes(b"not read: refused before")
    code, err = run(capsys, "mnist-sheet", checkpoint, "--out", checkpoint, "--data", tmp_path / "none")
    assert one_line_error(code, err) and "also an input" in err, err
    assert checkpoint.read_bytes() == b"not read: refused before"


def test_mnist_refuses_an_output_that_is_its_model_file(tmp_path, capsys):
    model = tmp_path / "m.toml"
    model.write_text('layers = [4, "M", 8, "GAP"]\n', encoding="utf-8")
    code, err = run(capsys, "mnist", "--model", model, "--out", model, "--data", tmp_path / "none", "--no-download")
    assert one_line_error(code, err) and "also an input" in err, err
    assert model.read_text(encoding="utf-8") == 'layers = [4, "M", 8, "GAP"]\n'


# --- every output probed before training ----------------------------------------------------------

@pytest.mark.parametrize("suffix", ["_README.md", "_samples.png", "_model.xlsx", ".ckpt.pt"])
def test_an_output_that_is_a_folder_is_refused_before_training(tmp_path, capsys, suffix):
    (tmp_path / f"run{suffix}").mkdir()
    code, err = run(capsys, "mnist", "--out", tmp_path / "run.xlsx", "--data", tmp_path / "none", "--no-download")
    assert one_line_error(code, err) and f"run{suffix}" in err and "directory" in err, err
    assert sorted(path.name for path in tmp_path.iterdir()) == [f"run{suffix}"], "nothing trained or written"


# --- model files and checkpoints that would crash or exhaust memory ------------------------------

def test_a_model_file_nested_thirty_thousand_deep_is_one_line(tmp_path, capsys):
    model = tmp_path / "deep.toml"
    model.write_text("layers = " + "[" * 30_000 + "]" * 30_000 + "\n", encoding="utf-8")
    code, err = run(capsys, "mnist", "--model", model, "--summary")
    assert one_line_error(code, err) and "nested too deeply" in err, err


def _zip_bomb(path, unpacked: int) -> None:
    """A zip archive laid out as torch.save writes one, with one deflated member of ``unpacked``
    zero bytes (zeros deflate about a thousandfold)."""
    chunk = bytes(2**20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("m.ckpt/data.pkl", b"\x80\x02}q\x00.")
        with archive.open("m.ckpt/data/0", "w", force_zip64=True) as member:
            for _ in range(unpacked // len(chunk)):
                member.write(chunk)


def test_a_checkpoint_unpacking_past_the_largest_model_is_refused_before_loading(tmp_path, capsys, monkeypatch):
    torch = pytest.importorskip("torch")
    from sheetprop.mnist.train.checkpoint import MAX_CHECKPOINT_BYTES

    bomb = tmp_path / "bomb.ckpt.pt"
    _zip_bomb(bomb, 64 * 2**20)  # 64 MiB unpacked: a few dozen KB on disk
    assert bomb.stat().st_size < MAX_CHECKPOINT_BYTES < 64 * 2**20

    def never(*args, **kwargs):
        raise AssertionError("torch.load was called on a checkpoint that should have been refused")

    monkeypatch.setattr(torch, "load", never)
    code, err = run(capsys, "mnist-sheet", bomb, "--out", tmp_path / "m.xlsx", "--data", tmp_path / "none")
    assert one_line_error(code, err) and "larger than any sheetprop mnist checkpoint" in err, err
    assert f"unpack to {64 * 2**20 + 6:,} bytes" in err  # the zeros and the 6-byte pickle


@pytest.mark.parametrize("rng", [{"cpu": "not a tensor"}, {"cpu": [1, 2, 3]}, {}])
def test_a_checkpoint_whose_rng_state_is_not_a_tensor_is_one_line(tmp_path, capsys, rng):
    torch = pytest.importorskip("torch")
    from sheetprop.mnist.train.checkpoint import save_checkpoint
    from sheetprop.mnist.train.model import MnistNet

    checkpoint = tmp_path / "m.ckpt.pt"
    save_checkpoint(checkpoint, {"epoch": 1, "settings": {"dataset": "mnist"}, "model": MnistNet().state_dict(),
                                 "optimizer": {}, "metrics": metrics(1), "rng": rng})
    assert torch.load(checkpoint, weights_only=True)["rng"] == rng  # the forged state is on disk
    code, err = run(capsys, "mnist-sheet", checkpoint, "--out", tmp_path / "m.xlsx", "--data", tmp_path / "none")
    assert one_line_error(code, err) and "random-number state" in err, err


def test_the_checkpoint_of_a_model_near_the_largest_still_loads(tmp_path):
    """The bound leaves room for what 'mnist' writes: 186,304 parameters, 200 epochs, momentum."""
    torch = pytest.importorskip("torch")
    from sheetprop.mnist.train.checkpoint import load_checkpoint, save_checkpoint
    from sheetprop.mnist.train.model import MnistNet
    from sheetprop.mnist.train.runtime import rng_state

    model = MnistNet(parse_architecture({"layers": [64, 64, "M", 64, 64, "M", 64, 64, "GAP"], "padding": 1}, "big"))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.zeros(2, 1, 28, 28)).sum().backward()
    optimizer.step()  # the momentum buffers exist from the first step on
    checkpoint = tmp_path / "big.ckpt.pt"
    save_checkpoint(checkpoint, {"epoch": MAX_EPOCHS, "settings": {"dataset": "mnist", "model": model.architecture.record()},
                                 "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                 "metrics": metrics(MAX_EPOCHS), "rng": rng_state(torch.device("cpu"))})
    assert load_checkpoint(checkpoint, torch.device("cpu"), what="test")["epoch"] == MAX_EPOCHS
