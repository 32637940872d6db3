"""The trained CNN as live formulas: set the digit cell, and LibreOffice and Gnumeric give PyTorch's
probabilities (float64, eval mode) for it."""

import copy
import re
import shutil
import subprocess
import zipfile

import numpy as np
import pytest

from mnist_fixtures import sample_digits, write_mnist_folder  # first: it sets the OpenMP wait policy
from sheetprop.cli import main
from sheetprop.libreoffice import find_soffice, recalculate_all

torch = pytest.importorskip("torch")
openpyxl = pytest.importorskip("openpyxl")

from sheetprop.mnist.train.datasets import MNIST  # noqa: E402
from sheetprop.mnist.train.model import MnistNet  # noqa: E402

ALLOWED_FUNCTIONS = {"SUMPRODUCT", "MAX", "EXP", "SUM", "AVERAGE", "INDEX", "MATCH", "IFERROR", "IF", "ISNA"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny real run (one epoch on 500 real digits) and the files it leaves."""
    root = tmp_path_factory.mktemp("cnn")
    data = write_mnist_folder(root / "data", range(0, 500), range(500, 800), layout="flat")
    out = root / "output" / "mnist.xlsx"
    assert main(["mnist", "--data", str(data), "--out", str(out), "--no-download", "--quiet", "--epochs", "1",
                 "--batch-size", "50"]) == 0
    return data, out, out.with_name("mnist_model.xlsx"), out.with_name("mnist.ckpt.pt")


def torch_model(checkpoint) -> MnistNet:
    model = MnistNet()
    model.load_state_dict(torch.load(checkpoint, weights_only=True)["model"])
    return copy.deepcopy(model).double().eval()


def torch_probabilities(checkpoint, pixels: np.ndarray, model: MnistNet | None = None) -> np.ndarray:
    model = torch_model(checkpoint) if model is None else model
    x = torch.tensor((pixels / 255.0 - MNIST.mean) / MNIST.std, dtype=torch.float64)[None, None]
    with torch.no_grad():
        return torch.exp(model(x))[0].numpy()


def typed_over(source, target, sheet: int, cells: dict[str, float]):
    """A copy of the workbook in which someone typed numbers over cells (formulas or not) of the
    ``sheet``-th sheet (1 = predict), as a student does in a spreadsheet program."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for item in old.infolist():
            data = old.read(item.filename)
            if item.filename == f"xl/worksheets/sheet{sheet}.xml":
                for cell, number in cells.items():
                    data, count = re.subn(rb'<c r="%s"( s="\d+")?[^>]*>.*?</c>' % cell.encode(),
                                          rb'<c r="%s"\g<1>><v>%r</v></c>' % (cell.encode(), number), data)
                    assert count == 1, cell
            new.writestr(item, data)
    return target


def with_digit(source, target, digit: int):
    """A copy of the workbook in which someone typed another index into the digit cell (B1)."""
    return typed_over(source, target, 1, {"B1": digit})


def shown(workbook) -> tuple[np.ndarray, int]:
    predict = openpyxl.load_workbook(workbook, data_only=True)["predict"]
    return np.array([predict.cell(5 + k, 2).value for k in range(10)]), predict["B3"].value


def test_the_model_workbook_holds_every_layer_in_portable_formulas(trained):
    _, _, workbook, checkpoint = trained
    book = openpyxl.load_workbook(workbook)
    assert book.sheetnames == ["predict", "input", "block1", "block2", "pool", "squeeze", "block3", "block4",
                               "block5", "head", "digits", "model"]
    predict = book["predict"]
    assert predict["A1"].value == "digit" and isinstance(predict["B1"].value, int)
    assert [predict.cell(5 + k, 1).value for k in range(10)] == [f"P({k})" for k in range(10)]
    assert predict["A3"].value == "prediction" and predict["C3"].value == "true label"
    assert len(predict._charts) == 1
    images, labels = sample_digits()
    digits = book["digits"]
    offered = [row[0] for row in digits.iter_rows(min_row=2, max_col=1, values_only=True)]
    assert offered[:100] == list(range(100)) and len(offered) > 100
    model = torch_model(checkpoint)
    for index in offered[100:]:  # the extra images are ones the model gets wrong
        assert torch_probabilities(checkpoint, images[500 + index], model).argmax() != labels[500 + index], index
    # The digit cell offers exactly those indices, as a drop-down (anything else would give #N/A).
    [validation] = predict.data_validations.dataValidation
    assert str(validation.sqref) == "B1" and validation.type == "list"
    assert book.defined_names[validation.formula1].attr_text == f"digits!$A$2:$A${len(offered) + 1}"
    assert [v for v in next(digits.iter_rows(min_row=2, max_row=2, values_only=True))][2:] == \
        images[500].reshape(-1).tolist()  # the test split starts at sample digit 500
    functions, longest, formulas = set(), 0, 0
    for sheet in book.worksheets:
        for row in sheet.iter_rows(values_only=True):
            for value in row:
                if isinstance(value, str) and value.startswith("="):
                    formulas += 1
                    longest = max(longest, len(value))
                    functions.update(re.findall(r"([A-Z]+)\(", value))
    assert formulas > 20_000 and longest <= 8192
    assert functions <= ALLOWED_FUNCTIONS, functions - ALLOWED_FUNCTIONS


@pytest.mark.skipif(find_soffice() is None, reason="LibreOffice (soffice) not installed")
def test_libreoffice_gives_pytorchs_probabilities_for_typed_digits(trained, tmp_path):
    data, _, workbook, checkpoint = trained
    images, labels = sample_digits()
    test_images = images[500:800]
    digits = [3, 41, 97]  # test-split indices, typed into the digit cell
    variants = [with_digit(workbook, tmp_path / f"digit{d}.xlsx", d) for d in digits]
    # A student's edits, in the same LibreOffice run: a stroke drawn over the pixels of the digit
    # shown (test image 0) and one weight of block1's first kernel changed.
    book = openpyxl.load_workbook(workbook)
    kernel = re.search(r"\$([A-Z]+)\$(\d+):", book["block1"]["B3"].value)  # channel 0's first kernel cell
    kernel_cell, weight = kernel.group(1) + kernel.group(2), book["block1"][kernel.group(1) + kernel.group(2)].value
    stroke = {(14, j): 255 for j in range(6, 22)}
    drawn = typed_over(workbook, tmp_path / "drawn.xlsx", 1,
                       {f"{openpyxl.utils.get_column_letter(5 + j)}{4 + i}": v for (i, j), v in stroke.items()})
    edited = typed_over(drawn, tmp_path / "edited.xlsx", 3, {kernel_cell: weight + 2.0})
    # An index past the drop-down (pasted): the first offered image, and one cell saying so.
    unoffered = with_digit(workbook, tmp_path / "unoffered.xlsx", 1_000_000)
    recalculated = recalculate_all(variants + [unoffered, drawn, edited], tmp_path / "recalculated")
    probabilities, prediction = shown(recalculated[len(digits)])
    assert np.abs(probabilities - torch_probabilities(checkpoint, test_images[0])).max() <= 1e-6
    predict = openpyxl.load_workbook(recalculated[len(digits)], data_only=True)["predict"]
    assert "1000000 is not an offered index" in predict["C2"].value
    assert predict["E3"].value == f"predicted: {prediction}   true: {labels[500]}"
    assert openpyxl.load_workbook(recalculated[0], data_only=True)["predict"]["C2"].value in (None, "")
    for digit, path in zip(digits, recalculated):
        probabilities, prediction = shown(path)
        expected = torch_probabilities(checkpoint, test_images[digit])
        assert np.abs(probabilities - expected).max() <= 1e-6, digit
        assert prediction == int(expected.argmax())

    pixels = test_images[0].copy()
    for (i, j), value in stroke.items():
        pixels[i, j] = value
    model = torch_model(checkpoint)
    with torch.no_grad():
        assert model.features.block1.conv.weight[0, 0, 0, 0].item() == pytest.approx(weight, abs=1e-12)
        model.features.block1.conv.weight[0, 0, 0, 0] += 2.0
    for path, expected in ((recalculated[-2], torch_probabilities(checkpoint, pixels)),
                           (recalculated[-1], torch_probabilities(checkpoint, pixels, model))):
        probabilities, prediction = shown(path)
        assert np.abs(probabilities - expected).max() <= 1e-6, path.name
        assert prediction == int(expected.argmax())
    # Each edit moved the answer (so the comparisons above could have failed).
    assert np.abs(shown(recalculated[-2])[0] - torch_probabilities(checkpoint, test_images[0])).max() > 1e-3
    assert np.abs(shown(recalculated[-1])[0] - shown(recalculated[-2])[0]).max() > 1e-3


@pytest.mark.skipif(shutil.which("ssconvert") is None, reason="Gnumeric (ssconvert) not installed")
def test_gnumeric_agrees(trained, tmp_path):
    _, _, workbook, checkpoint = trained
    images, _ = sample_digits()
    variant = with_digit(workbook, tmp_path / "digit12.xlsx", 12)
    result = tmp_path / "gnumeric.xlsx"
    subprocess.run(["ssconvert", "--recalc", str(variant), str(result)], check=True, capture_output=True, timeout=300)
    probabilities, prediction = shown(result)
    expected = torch_probabilities(checkpoint, images[512])
    assert np.abs(probabilities - expected).max() <= 1e-6
    assert prediction == int(expected.argmax())


def test_mnist_sheet_command(trained, tmp_path, capsys):
    data, _, _, checkpoint = trained
    out = tmp_path / "model.xlsx"
    assert main(["mnist-sheet", str(checkpoint), "--out", str(out), "--data", str(data), "--no-download",
                 "--digit", "250"]) == 0
    assert "250" in capsys.readouterr().out
    predict = openpyxl.load_workbook(out, data_only=True)["predict"]
    images, labels = sample_digits()
    assert predict["B1"].value == 250 and predict["D3"].value == labels[750]
    grid = np.array([[predict.cell(4 + i, 5 + j).value for j in range(28)] for i in range(28)])
    assert np.array_equal(grid, images[750])
    probabilities, _ = shown(out)
    assert np.abs(probabilities - torch_probabilities(checkpoint, images[750])).max() <= 1e-9

    assert main(["mnist-sheet", str(tmp_path / "none.ckpt.pt"), "--out", str(out)]) == 2
    assert "no checkpoint" in capsys.readouterr().err
    assert main(["mnist-sheet", str(checkpoint), "--out", str(out), "--data", str(data), "--digit", "5000"]) == 2
    assert "not a test image index" in capsys.readouterr().err
