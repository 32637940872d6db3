"""The student's own CNN: a layer list in a model file, its summary and budget, the network trained
from it, its live-formula workbook, and runs compared (``--model``, ``--summary``, ``--max-params``,
``mnist-compare``)."""

import os
import re
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest

from mnist_fixtures import sample_digits, write_mnist_folder  # first: it sets the OpenMP wait policy
from sheetprop.cli import main
from sheetprop.libreoffice import find_soffice, recalculate_all
from sheetprop.mnist.train.architecture import load_architecture, parameter_count, receptive_field

# A small list with every kind of entry. Worked by hand (28x28 input, padding = 1):
#   conv 4   28x28  RF 3  jump 1   params 1·4·9 + 2·4 = 44
#   M        14x14  RF 4  jump 2
#   T3       14x14  RF 4  jump 2   params 4·3 = 12
#   conv 5   14x14  RF 8  jump 2   params 3·5·9 + 2·5 = 145
#   A        7x7    RF 10 jump 4
#   conv 6   7x7    RF 18 jump 4   params 5·6·9 + 2·6 = 282
#   GAP, head 6 -> 10              params 60                       total 543
SMALL = textwrap.dedent("""\
    name = "small"
    description = "every kind of entry"
    layers = [4, "M", "T3", 5, "A", 6, "GAP"]
    padding = 1
    dropout = 0.1
""")
SMALL_TOTAL = 44 + 12 + 145 + 282 + 60
SMALL_RF = {"features.block1.conv": 3, "features.pool": 4, "features.squeeze": 4, "features.block2.conv": 8,
            "features.pool2": 10, "features.block3.conv": 18}
SMALL_SHAPES = {"features.block1.conv": "4x28x28", "features.pool": "4x14x14", "features.squeeze": "3x14x14",
                "features.block2.conv": "5x14x14", "features.pool2": "5x7x7", "features.block3.conv": "6x7x7",
                "gap": "6x1x1", "head": "10x1x1"}
# Today's network, as the checkpoints written before layer lists name its weights.
TODAYS_KEYS = [f"features.block{b}.{part}" for b in (1, 2) for part in
               ("conv.weight", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked")]
TODAYS_KEYS += ["features.squeeze.weight"]
TODAYS_KEYS += [f"features.block{b}.{part}" for b in (3, 4, 5) for part in
                ("conv.weight", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked")]
TODAYS_KEYS += ["head.weight"]


def model_file(tmp_path: Path, text: str, name: str = "m.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_summary_of_a_layer_list_without_torch_or_data(tmp_path):
    """--summary answers from the layer list alone: torch blocked, no data folder."""
    code = ("import sys; sys.modules['torch'] = None\nfrom sheetprop.cli import main\n"
            "sys.exit(main(sys.argv[1:]))")
    done = subprocess.run([sys.executable, "-c", code, "mnist", "--model", str(model_file(tmp_path, SMALL)),
                           "--summary", "--data", str(tmp_path / "nowhere")],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    rows = {line.split()[0]: line.split() for line in lines if line.startswith(("features.", "gap", "head"))}
    for layer, rf in SMALL_RF.items():
        assert rows[layer][4] == str(rf), layer
        assert rows[layer][2] == SMALL_SHAPES[layer], layer
    assert rows["features.squeeze"][3] == "12" and rows["head"][3] == "60"
    assert f"total trainable parameters {SMALL_TOTAL}" in done.stdout
    assert not (tmp_path / "nowhere").exists()


def test_the_default_is_todays_network():
    default = load_architecture("default")
    assert default.entries == (10, 16, "M", "T10", 14, 16, 16, "GAP") and default.padding == 0
    assert default.dropout == 0.05
    assert parameter_count(default) == 7574 and receptive_field(default) == 18
    for name, ceiling in (("course-20k", 20_000), ("tiny-4k", 4_000)):
        assert parameter_count(load_architecture(name)) < ceiling, name


@pytest.mark.parametrize("text, message", [
    ('layers = [10, "X", "GAP"]', "unknown entry 'X'"),
    ('layers = [10, "T", "GAP"]', "unknown entry 'T'"),
    ("layers = [10, 16, 16, 16]", 'no "GAP"'),
    ('layers = [10, "GAP", 16]', '"GAP" must be the last entry'),
    ('layers = [8, "M", 8, "M", 8, "M", 8, "GAP"]', "below 1x1"),
    ('layers = [512, 512, "GAP"]', "at most 200,000"),
    ('layers = [8, "GAP"]\npadding = 2', "'padding'"),
    ('layers = [8, "GAP"]\nkernel = 5', "unknown key 'kernel'"),
])
def test_bad_layer_lists_are_one_line_errors(tmp_path, capsys, text, message):
    assert main(["mnist", "--model", str(model_file(tmp_path, text)), "--summary"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err


def test_max_params_refuses_before_any_data_is_read(tmp_path, capsys):
    small = model_file(tmp_path, SMALL)
    args = ["mnist", "--model", str(small), "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o.xlsx")]
    assert main([*args, "--max-params", str(SMALL_TOTAL - 1)]) == 2
    err = capsys.readouterr().err
    assert f"{SMALL_TOTAL:,} parameters" in err and "--max-params" in err
    assert not (tmp_path / "nowhere").exists() and not (tmp_path / "o.xlsx").exists()
    assert main([*args, "--max-params", str(SMALL_TOTAL), "--summary"]) == 0
    assert main(["mnist", "--model", "no-such-model", "--summary"]) == 2
    assert "not a built-in model (course-20k, default, tiny-4k)" in capsys.readouterr().err


def test_a_network_too_big_for_a_workbook_is_refused_before_writing(tmp_path):
    from sheetprop.mnist.train.architecture import parse_architecture
    from sheetprop.mnist.workbook.cnn_arrays import Cnn
    from sheetprop.mnist.workbook.model_workbook import write_model_workbook
    from sheetprop.mnist.workbook.budget import WorkbookOverBudget

    wide = Cnn.zeros(parse_architecture({"layers": [64, 64, "GAP"], "padding": 1}, "wide"), 0.13, 0.31)
    images, labels = sample_digits()
    out = tmp_path / "wide.xlsx"
    with pytest.raises(WorkbookOverBudget, match=r"would break its budget: .*s to recalculate in LibreOffice "
                                                 r"\(budget 30\)"):
        write_model_workbook(out, wide, images, labels, [0, 1], 0, [str(k) for k in range(10)])
    assert not out.exists()


# --- trained for real (slow) ------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """The small list trained one epoch on 1,600 digits of the shipped sample, tested on 400."""
    pytest.importorskip("torch")
    root = tmp_path_factory.mktemp("models")
    data = write_mnist_folder(root / "data", range(0, 1600), range(1600, 2000))
    out = root / "output" / "small.xlsx"
    assert main(["mnist", "--model", str(model_file(root, SMALL, "small.toml")), "--data", str(data), "--out", str(out),
                 "--no-download", "--quiet", "--epochs", "1", "--batch-size", "32"]) == 0
    return root, data, out


@pytest.mark.slow
def test_the_checkpoint_holds_exactly_the_listed_layers(small_run):
    import torch
    from torch import nn

    from sheetprop.mnist.train.checkpoint import architecture_of, load_checkpoint
    from sheetprop.mnist.train.model import MnistNet

    _, _, out = small_run
    state = load_checkpoint(out.with_name("small.ckpt.pt"), torch.device("cpu"), what="test")
    model = MnistNet(architecture_of(state, out))
    model.load_state_dict(state["model"])
    kinds = [(type(m).__name__, getattr(m, "out_channels", None), getattr(m, "kernel_size", None),
              getattr(m, "padding", None), getattr(m, "p", None))
             for m in model.modules() if not list(m.children())]
    conv = lambda n: [("Conv2d", n, (3, 3), (1, 1), None), ("BatchNorm2d", None, None, None, None),  # noqa: E731
                      ("ReLU", None, None, None, None), ("Dropout", None, None, None, 0.1)]
    assert kinds == [*conv(4), ("MaxPool2d", None, 2, 0, None), ("Conv2d", 3, (1, 1), (0, 0), None), *conv(5),
                     ("AvgPool2d", None, 2, 0, None), *conv(6), ("AdaptiveAvgPool2d", None, None, None, None),
                     ("Conv2d", 10, (1, 1), (0, 0), None)]
    assert all(m.bias is None for m in model.modules() if isinstance(m, nn.Conv2d))


@pytest.mark.slow
def test_the_model_sheet_is_the_summary_table(small_run):
    import openpyxl

    from sheetprop.mnist.train.model import MnistNet

    _, _, out = small_run
    sheet = openpyxl.load_workbook(out, read_only=True)["model"]
    rows = list(sheet.iter_rows(values_only=True))
    header = list(rows[0][:6])
    assert header == ["layer", "type", "output_shape", "parameters", "receptive_field", "jump"]
    table = {row[0]: row for row in rows[1:] if row[0] and row[0].startswith(("features.", "gap", "head"))}
    # The total under the table's parameters column; the facts beside the table, in H and I.
    facts = {row[0]: row[3] for row in rows[1:] if row[0] == "total params"}
    facts.update({row[7]: row[8] for row in rows if len(row) > 8 and row[7]})
    network = MnistNet(load_architecture(str(out.parent.parent / "small.toml")))
    trainable = sum(p.numel() for p in network.parameters() if p.requires_grad)
    assert facts["total params"] == trainable == SMALL_TOTAL
    assert sum(row[3] for row in table.values()) == trainable
    assert {layer: table[layer][4] for layer in SMALL_RF} == SMALL_RF
    assert {layer: table[layer][2] for layer in SMALL_SHAPES} == SMALL_SHAPES
    assert facts["model"] == "small" and facts["receptive field"] == 18


@pytest.mark.slow
@pytest.mark.skipif(find_soffice() is None, reason="LibreOffice (soffice) not installed")
def test_the_model_workbook_of_the_list_equals_pytorch(small_run, tmp_path):
    """mnist-sheet rebuilds the recorded network from the checkpoint and the test files alone; the
    workbook, recalculated by LibreOffice for a digit typed in, gives PyTorch's probabilities."""
    import openpyxl
    import torch

    from sheetprop.mnist.train.checkpoint import architecture_of, load_checkpoint
    from sheetprop.mnist.train.datasets import MNIST
    from sheetprop.mnist.train.model import MnistNet

    root, data, out = small_run
    test_only = root / "test-only"
    test_only.mkdir()
    for stem in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (test_only / stem).write_bytes((data / "MNIST" / "raw" / stem).read_bytes())
    checkpoint = out.with_name("small.ckpt.pt")
    workbook = tmp_path / "small_model.xlsx"
    assert main(["mnist-sheet", str(checkpoint), "--out", str(workbook), "--data", str(test_only),
                 "--no-download"]) == 0
    assert {"block1", "pool", "squeeze", "block2", "pool2", "block3"} <= set(
        openpyxl.load_workbook(workbook, read_only=True).sheetnames)
    digit = 17
    typed = tmp_path / "typed.xlsx"
    with zipfile.ZipFile(workbook) as old, zipfile.ZipFile(typed, "w", zipfile.ZIP_DEFLATED) as new:
        for item in old.infolist():
            content = old.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                content, count = re.subn(rb'(<c r="B1"[^>]*><v>)[^<]*(</v>)', rb"\g<1>%d\g<2>" % digit, content)
                assert count == 1
            new.writestr(item, content)
    [recalculated] = recalculate_all([typed], tmp_path / "recalculated")
    predict = openpyxl.load_workbook(recalculated, data_only=True)["predict"]
    shown = np.array([predict.cell(5 + k, 2).value for k in range(10)], dtype=float)

    state = load_checkpoint(checkpoint, torch.device("cpu"), what="test")
    model = MnistNet(architecture_of(state, checkpoint))
    model.load_state_dict(state["model"])
    model = model.double().eval()
    images, _ = sample_digits()
    x = torch.tensor((images[1600 + digit] / 255.0 - MNIST.mean) / MNIST.std, dtype=torch.float64)[None, None]
    with torch.no_grad():
        expected = torch.exp(model(x))[0].numpy()
    assert np.abs(shown - expected).max() <= 1e-6
    assert predict["B3"].value == int(expected.argmax())


@pytest.mark.slow
def test_mnist_compare_draws_one_line_per_run(small_run, tmp_path, capsys):
    import openpyxl

    root, data, small = small_run
    other = tmp_path / "tiny.xlsx"
    assert main(["mnist", "--model", "tiny-4k", "--data", str(data), "--out", str(other), "--no-download",
                 "--quiet", "--epochs", "2", "--batch-size", "64"]) == 0
    out = tmp_path / "compare.xlsx"
    assert main(["mnist-compare", str(small), str(other), "--out", str(out)]) == 0
    with zipfile.ZipFile(out) as book:
        charts = sorted(name for name in book.namelist() if re.fullmatch(r"xl/charts/chart\d+\.xml", name))
        assert len(charts) == 3
        for name in charts:
            xml = book.read(name).decode()
            assert xml.count("<c:ser>") == 2, name
            assert "<c:lineChart>" in xml
            assert "small" in xml and "tiny" in xml
    summary = openpyxl.load_workbook(out, read_only=True)["compare"]
    rows = [row for row in summary.iter_rows(values_only=True) if row[0] in ("small", "tiny")][:2]
    by_run = {row[0]: row for row in rows}
    assert by_run["small"][1:5] == ("small", SMALL_TOTAL, 18, 1)
    tiny = load_architecture("tiny-4k")
    assert by_run["tiny"][1:5] == ("tiny-4k", parameter_count(tiny), receptive_field(tiny), 2)
    tiny_metrics = openpyxl.load_workbook(other, read_only=True)["epochs"]
    accuracies = [row[4] for row in tiny_metrics.iter_rows(min_row=2, values_only=True) if row[0] is not None]
    assert by_run["tiny"][5] == max(accuracies) and by_run["tiny"][7] == accuracies[-1]
    assert by_run["tiny"][9:12] == (None, *accuracies)  # only two epochs: the third-last is empty
    assert main(["mnist-compare", str(other.with_name("tiny_model.xlsx")), "--out", str(out)]) == 2
    assert "no 'epochs' sheet" in capsys.readouterr().err


@pytest.mark.slow
def test_resume_refuses_another_model(small_run, tmp_path, capsys):
    _, data, small = small_run
    copy = tmp_path / "small.xlsx"
    (tmp_path / "small.ckpt.pt").write_bytes(small.with_name("small.ckpt.pt").read_bytes())
    assert main(["mnist", "--model", "tiny-4k", "--data", str(data), "--out", str(copy), "--no-download",
                 "--quiet", "--epochs", "2", "--batch-size", "32", "--resume"]) == 2
    assert "model small -> tiny-4k" in capsys.readouterr().err


@pytest.mark.slow
def test_a_checkpoint_from_before_layer_lists_loads_as_the_default(tmp_path, capsys):
    """Old checkpoints record no model: their weights carry today's names, and load as the default."""
    torch = pytest.importorskip("torch")

    from sheetprop.mnist.train.checkpoint import FORMAT_VERSION, checksum
    from sheetprop.mnist.train.model import MnistNet

    torch.manual_seed(3)
    weights = MnistNet().state_dict()
    assert list(weights) == TODAYS_KEYS
    state = {"epoch": 1, "settings": {"batch_size": 32, "lr": 0.05, "train_size": 1600, "augment": True,
                                      "dataset": "mnist", "data": "0" * 16},
             "model": weights, "optimizer": {}, "metrics": [], "rng": {"cpu": torch.get_rng_state()}}
    old = tmp_path / "old.ckpt.pt"
    torch.save({"format_version": FORMAT_VERSION, **state, "checksum": checksum(state)}, old)
    data = write_mnist_folder(tmp_path / "data", range(0, 10), range(10, 60), layout="flat")
    for stem in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        (data / stem).unlink()  # mnist-sheet needs only the test files
    out = tmp_path / "old_model.xlsx"
    assert main(["mnist-sheet", str(old), "--out", str(out), "--data", str(data), "--no-download"]) == 0, \
        capsys.readouterr().err
    import openpyxl

    assert {"block1", "block5", "pool", "squeeze"} <= set(openpyxl.load_workbook(out, read_only=True).sheetnames)


def test_split_test_needs_only_the_test_files_and_a_fitting_size(tmp_path, capsys):
    pytest.importorskip("torch")
    data = write_mnist_folder(tmp_path / "data", range(0, 10), range(10, 110), layout="flat")
    for stem in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        (data / stem).unlink()
    out = tmp_path / "o.xlsx"
    assert main(["mnist", "--data", str(data), "--out", str(out), "--no-download", "--split-test", "100"]) == 2
    assert "--split-test 100: the test set has 100 images; train on 1 to 99" in capsys.readouterr().err
    assert main(["mnist", "--data", str(data), "--out", str(out), "--no-download"]) == 2
    assert "train-images-idx3-ubyte" in capsys.readouterr().err  # without --split-test the training files are needed
