"""`sheetprop readme`: PNGs named for η as typed, a combined one, sheet pictures where
LibreOffice is installed, and a README.md whose math a math renderer accepts."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import openpyxl
import pytest

from sheetprop.cli import main
from sheetprop.engine import graph as engine
from sheetprop.engine.printers import LatexPrinter, UnsupportedOperation, latex_symbol

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("label, latex", [
    ("w5", "w_{5}"), ("a_h1", "a_{\\mathrm{h1}}"), ("E_total", "E_{\\mathrm{total}}"),
    ("∂E/∂w5", "\\frac{\\partial E}{\\partial w_{5}}"), ("i1⁽²⁾", "i_{1}^{(2)}"),
    ("a_h2_1", "a_{\\mathrm{h2,1}}"),
])
def test_labels_print_as_latex_symbols(label, latex):
    assert latex_symbol(label) == latex


def test_latex_printer_prints_the_chain_rule_and_refuses_unknown_ops():
    a, t, h = engine.var("a_o1"), engine.var("t1"), engine.var("a_h1")
    text = LatexPrinter().doprint((a - t) * a * (1 - a) * h)
    assert text == "(a_{\\mathrm{o1}} - t_{1}) \\cdot a_{\\mathrm{o1}} \\cdot (1 - a_{\\mathrm{o1}}) \\cdot a_{\\mathrm{h1}}"
    assert LatexPrinter().doprint(engine.sigmoid(a) / 6) == "\\frac{\\sigma(a_{\\mathrm{o1}})}{6}"
    with pytest.raises(UnsupportedOperation, match="LatexPrinter cannot print op 'mystery'"):
        LatexPrinter().doprint(engine.Expr("mystery", (a,)))


def _mathtext_ok(latex: str) -> str | None:
    from matplotlib.mathtext import MathTextParser

    try:
        MathTextParser("path").parse(f"${latex}$")
    except ValueError as error:
        return str(error)
    return None


def _check_markdown(readme: Path) -> list[str]:
    """The README as Markdown: balanced math blocks, tables with as many cells as headers,
    every link and picture a file beside it. Returns the math blocks."""
    text = readme.read_text(encoding="utf-8")
    lines = text.splitlines()
    blocks, inside, current = [], False, []
    for line in lines:
        if line.strip() == "$$":
            if inside:
                blocks.append(" ".join(current))
                current = []
            inside = not inside
        elif inside:
            current.append(line)
    assert not inside, "a $$ block is not closed"
    table = None
    for line in lines:
        if line.startswith("|"):
            cells = line.strip().strip("|").split("|")
            table = len(cells) if table is None else table
            assert len(cells) == table, line
        else:
            table = None
    for target in re.findall(r"\]\(([^)]+)\)", text):
        assert (readme.parent / unquote(target)).is_file(), target
    return blocks


def _content_fraction(png: Path) -> float:
    """How much of the picture its content's bounding box fills: the box around every pixel that
    differs from the corner's (the background)."""
    from PIL import Image, ImageChops

    image = Image.open(png).convert("RGB")
    background = Image.new("RGB", image.size, image.getpixel((0, 0)))
    box = ImageChops.difference(image, background).getbbox()
    assert box is not None, f"{png.name} is blank"
    return (box[2] - box[0]) * (box[3] - box[1]) / (image.size[0] * image.size[1])


def _lr_table(path: Path, sheet: str) -> tuple[list[str], list[tuple]]:
    rows = list(openpyxl.load_workbook(path, data_only=True)[sheet].iter_rows(values_only=True))
    top = next(n for n, r in enumerate(rows) if r[0] == "step")
    return list(rows[top]), [r for r in rows[top + 1:] if r[0] is not None]


def _math_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("\\frac")]


@pytest.fixture(scope="module")
def handin(tmp_path_factory):
    out = tmp_path_factory.mktemp("readme") / "handin"
    assert main(["readme", "--quiet", "--lrs", "0.1,0.5,2", "--steps", "40", "--out", str(out)]) == 0
    return out


@pytest.mark.slow
def test_readme_writes_the_network_the_pictures_and_the_curves(handin):
    for name in ("loss_lr_0.1.png", "loss_lr_0.5.png", "loss_lr_2.png", "loss_all.png", "network.png",
                 "sheet_summary.png", "sheet_lr_0.5_backward.png", "sheet_lr_0.5_forward1.png"):
        assert (handin / name).read_bytes()[:8] == PNG_MAGIC, name
    readme = handin / "README.md"
    blocks = _check_markdown(readme)
    text = readme.read_text(encoding="utf-8")
    for picture in ("network.png", "sheet_summary.png", "sheet_lr_0.5_backward.png"):
        assert f"]({picture})" in text
    errors = [(b, _mathtext_ok(b)) for b in blocks if _mathtext_ok(b)]
    assert not errors, errors[:3]
    # The table's first and last loss are the workbook's own cells.
    header, rows = _lr_table(handin / "BackPropagation.xlsx", "lr=2")
    losses = [r[header.index("E_total")] for r in rows]
    row = next(line for line in text.splitlines() if line.startswith("| 2 |"))
    first, last = (float(cell) for cell in row.split("|")[2:4])
    assert first == pytest.approx(losses[0], rel=1e-5) and last == pytest.approx(losses[-1], rel=1e-5)
    assert len(losses) == 40


def test_every_picture_is_cropped_to_what_it_shows(handin):
    pictures = sorted(handin.glob("*.png"))
    assert len(pictures) > 10
    fractions = {p.name: _content_fraction(p) for p in pictures}
    assert all(f >= 0.70 for f in fractions.values()), fractions
    # Legible on GitHub's page (about 1,000 px wide): no table shrunk to a sliver.
    from PIL import Image

    assert all(Image.open(p).size[0] <= 1400 for p in handin.glob("sheet_lr_*.png"))


def test_the_chain_rule_is_written_in_steps_with_the_first_steps_numbers(handin):
    text = (handin / "README.md").read_text(encoding="utf-8")
    section = text.split("#### ∂E_total/∂w5", 1)[1].split("####", 1)[0]
    math = _math_lines(section)
    # The course's steps for w5, as a person writes them in LaTeX.
    assert math[0].startswith("\\frac{\\partial E_{\\mathrm{total}}}{\\partial a_{\\mathrm{o1}}} = a_{\\mathrm{o1}} - t_{1} = ")
    assert math[1].startswith("\\frac{\\partial a_{\\mathrm{o1}}}{\\partial o_{1}} = a_{\\mathrm{o1}} \\cdot (1 - a_{\\mathrm{o1}}) = ")
    assert math[2].startswith("\\frac{\\partial o_{1}}{\\partial w_{5}} = a_{\\mathrm{h1}} = ")
    assert math[3].startswith("\\frac{\\partial E_{\\mathrm{total}}}{\\partial w_{5}} = \\frac{\\partial E_{\\mathrm{total}}}"
                              "{\\partial a_{\\mathrm{o1}}} \\cdot \\frac{\\partial a_{\\mathrm{o1}}}{\\partial o_{1}} \\cdot "
                              "\\frac{\\partial o_{1}}{\\partial w_{5}} = ")
    # Its numbers are the sheet's first step: a_o1 − t1, a_o1(1 − a_o1), a_h1, and their product ∂E/∂w5.
    header, rows = _lr_table(handin / "BackPropagation.xlsx", "lr=0.1")
    first = dict(zip(header, rows[0]))
    numbers = [float(line.rsplit("= ", 1)[1]) for line in math[:4]]
    a, t = first["a_o1"], first["t1"]
    assert numbers[0] == pytest.approx(a - t, rel=1e-5)
    assert numbers[1] == pytest.approx(a * (1 - a), rel=1e-5)
    assert numbers[2] == pytest.approx(first["a_h1"], rel=1e-5)
    assert numbers[3] == pytest.approx(first["∂E/∂w5"], rel=1e-5)
    # Every weight's steps end in its own ∂E/∂w, equal to the sheet's.
    for k in range(1, 9):
        block = text.split(f"#### ∂E_total/∂w{k}\n", 1)[1].split("\n###", 1)[0]
        last = _math_lines(block)[-1]
        assert last.startswith(f"\\frac{{\\partial E_{{\\mathrm{{total}}}}}}{{\\partial w_{{{k}}}}} = ")
        assert float(last.rsplit("= ", 1)[1]) == pytest.approx(first[f"∂E/∂w{k}"], rel=1e-5), k


@pytest.mark.parametrize("template", ["softmax", "xor", "deep"])
def test_the_steps_end_in_the_sheets_gradient_for_any_template(template):
    from sheetprop.handin.chain_steps import ChainRule
    from sheetprop.network import Network
    from sheetprop.network.template import load_template

    network = Network(load_template(template))
    row = dict(zip([q.label for q in network.quantities], next(network.rows(0.5, 1))))
    blocks = ChainRule(network, row).blocks()
    assert len(blocks) == len(network.trained)
    for block in blocks:
        assert block.lines[-1].lhs == f"∂E_total/∂{block.parameter}"
        assert block.lines[-1].value == pytest.approx(row[f"∂E/∂{block.parameter}"], rel=1e-9, abs=1e-15)


@pytest.mark.slow
def test_readme_from_an_edited_workbook_hands_in_its_recalculated_numbers(tmp_path):
    from sheetprop.network import Network
    from sheetprop.network.template import load_template

    built = tmp_path / "mine.xlsx"
    assert main(["build", "--quiet", "--lrs", "0.1,0.5", "--steps", "30", "--out", str(built)]) == 0
    book = openpyxl.load_workbook(built)
    book["lr=0.5"]["A2"] = 0.9                      # η changed on one sheet
    summary = book["summary"]
    w5 = next(row for row in summary.iter_rows() if row[0].value == "w5")
    w5[1].value = 0.7                               # a starting weight: every sheet follows
    edited = tmp_path / "edited.xlsx"
    book.save(edited)                               # openpyxl saves no values
    out = tmp_path / "handin"
    assert main(["readme", "--quiet", "--from", str(edited), "--out", str(out)]) == 0
    text = (out / "README.md").read_text(encoding="utf-8")
    template = load_template("era")
    weights = list(template.weights)
    weights[4] = 0.7
    import dataclasses

    network = Network(dataclasses.replace(template, weights=tuple(weights)))
    loss = [q.label for q in network.quantities].index("E_total")
    expected = [row[loss] for row in network.rows(0.9, 30)]
    row = next(line for line in text.splitlines() if line.startswith("| 0.5 |"))
    first, last = (float(cell) for cell in row.split("|")[2:4])
    assert first == pytest.approx(expected[0], rel=1e-5) and last == pytest.approx(expected[-1], rel=1e-5)
    assert "\\frac{\\partial o_{1}}{\\partial a_{\\mathrm{h1}}} = w_{5} = 0.700000" in text
    assert "calculated by sheetprop" in text and (out / "edited.xlsx").is_file()


def _fake_run(folder: Path, recorded: bool) -> Path:
    """A small metrics workbook as `sheetprop mnist` writes it (no torch: made here)."""
    import xlsxwriter

    from sheetprop.metrics_sheet import add_metrics_sheet

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "run.xlsx"
    picture = folder / "picture.png"
    from PIL import Image

    Image.new("RGB", (40, 30), (200, 30, 30)).save(picture)
    metrics = [{"epoch": k, "train_loss": 0.5 / k, "train_accuracy": 90 + k, "test_loss": 0.4 / k,
                "test_accuracy": acc, "lr": 0.05, "seconds": 12.0} for k, acc in ((1, 98.7), (2, 99.45), (3, 99.41))]
    book = xlsxwriter.Workbook(str(path))
    epochs = add_metrics_sheet(book, metrics, name="epochs")
    epochs.insert_image(40, 0, str(picture))
    model = book.add_worksheet("model")
    model.write_row(0, 0, ["layer", "type", "output_shape", "parameters", "receptive_field", "jump"])
    model.write_row(1, 0, ["conv1", "Conv2d", "8x26x26", 80, 3, 1])
    model.write_row(2, 0, ["fc", "Linear", "10", 9_000, 28, 1])
    model.write_row(3, 0, ["total params", None, None, 9_080])
    if recorded:
        run = book.add_worksheet("run")
        facts = {"model": "tiny", "parameters": 9_080, "dataset": "mnist", "train data": "MNIST train (60,000)",
                 "test data": "MNIST test (10,000)", "train images": 60_000, "test images": 10_000, "epochs": 3,
                 "best test accuracy": 99.45, "best epoch": 2, "final test accuracy": 99.41, "course target": "met",
                 "seed": 1, "sheetprop version": "0.1.0"}
        run.write_row(0, 0, ["key", "value"])
        for row, (key, value) in enumerate(facts.items(), start=1):
            run.write_row(row, 0, [key, value])
        for kind in ("curves", "misclassified", "samples"):
            Image.new("RGB", (40, 30), (30, 30, 200)).save(folder / f"run_{kind}.png")
    book.close()
    return path


@pytest.mark.slow
def test_readme_with_mnist_writes_both_parts_in_one_readme(tmp_path):
    run = _fake_run(tmp_path / "runs", recorded=True)
    out = tmp_path / "handin"
    assert main(["readme", "--quiet", "--lrs", "0.5", "--steps", "5", "--mnist", str(run), "--out", str(out)]) == 0
    text = (out / "README.md").read_text(encoding="utf-8")
    assert text.count("# Hand-in") == 1 and "## Part 1" in text and "## Part 2" in text
    assert "MNIST test (10,000)" in text and "9,080" in text
    assert "best 99.45 %** at epoch 2" in text and "Final test accuracy 99.41 %" in text
    assert "**met**" in text  # 99.45 % ≥ 99.4 %, 9,080 < 20k parameters, epoch 2 ≤ 20
    for picture in ("mnist_curves.png", "mnist_misclassified.png", "mnist_samples.png"):
        assert f"]({picture})" in text and (out / picture).is_file()
    assert "| 2 | 0.2500 | 92.00 | 0.2000 | 99.45 |" in text
    _check_markdown(out / "README.md")


@pytest.mark.slow
def test_readme_with_an_older_mnist_workbook_falls_back(tmp_path):
    run = _fake_run(tmp_path / "old", recorded=False)
    out = tmp_path / "handin"
    assert main(["readme", "--quiet", "--lrs", "0.5", "--steps", "5", "--mnist", str(run), "--out", str(out)]) == 0
    text = (out / "README.md").read_text(encoding="utf-8")
    assert "best 99.45 %** at epoch 2" in text and "not recorded in this workbook" in text
    assert (out / "mnist_curves.png").read_bytes()[:8] == PNG_MAGIC  # out of the workbook's own media
    _check_markdown(out / "README.md")


def test_handin_does_not_import_the_api():
    import ast

    folder = Path(__file__).resolve().parents[1] / "sheetprop" / "handin"
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n in ("sheetprop.api", "sheetprop.cli") or n.startswith("sheetprop.api.") for n in names), path.name


def test_readme_takes_builds_bad_input_as_build_does(tmp_path, capsys):
    assert main(["readme", "--lrs", "0.5,-1", "--out", str(tmp_path / "h")]) == 2
    err = capsys.readouterr().err
    assert "readme: error: learning rate '-1' must be greater than 0" in err and err.count("\n") == 1
    assert not (tmp_path / "h").exists()
    (tmp_path / "file").write_text("x")
    assert main(["readme", "--out", str(tmp_path / "file")]) == 2
    assert "is a file; readme writes a folder" in capsys.readouterr().err
    assert main(["readme", "--from", str(tmp_path / "nothing.xlsx"), "--out", str(tmp_path / "h2")]) == 2
    assert "no such file" in capsys.readouterr().err


@pytest.mark.slow
def test_a_second_handin_replaces_the_first_whole_and_a_failed_one_changes_nothing(tmp_path, monkeypatch):
    from sheetprop.handin import readme as handin_readme

    folder = tmp_path / "handin"
    assert main(["readme", "--quiet", "--lrs", "0.1,0.5", "--steps", "5", "--out", str(folder)]) == 0
    (folder / "notes.txt").write_text("the student's own")
    assert (folder / "loss_lr_0.1.png").is_file() and (folder / "sheet_lr_0.1_backward.png").is_file()
    assert main(["readme", "--quiet", "--lrs", "2", "--steps", "5", "--out", str(folder)]) == 0
    names = {p.name for p in folder.iterdir()}
    assert not {n for n in names if "0.1" in n or "0.5" in n}, names  # the first hand-in's pictures are gone
    assert {"loss_lr_2.png", "README.md", "notes.txt"} <= names
    readme = (folder / "README.md").read_text()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(handin_readme, "draw_network", broken)
    with pytest.raises(OSError):
        handin_readme.write_handin(_options("0.8"), folder)
    assert (folder / "README.md").read_text() == readme and not (folder / "loss_lr_0.8.png").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["handin"]  # no staging folder left behind


def _options(lrs: str):
    from sheetprop.writer.options import resolve

    return resolve("era", None, lrs, 5)


@pytest.mark.slow
@pytest.mark.skipif(__import__("shutil").which("tesseract") is None, reason="tesseract not installed")
def test_a_sheet_picture_reads_back_by_ocr(handin):
    import subprocess

    done = subprocess.run(["tesseract", str(handin / "sheet_lr_0.5_backward.png"), "-", "--psm", "6"],
                          capture_output=True, text=True, check=True)
    text = done.stdout
    assert "E_total" in text and "lr=0.5" in text.replace("Ir=", "lr="), text
    # ∂E/∂w1 … ∂E/∂w8: OCR reads ∂ as d, o or a.
    assert len(re.findall(r"[∂doa6]E/[∂doa6]w", text)) >= 6, text
    assert "0.0141814" in text  # E_total at step 0, as the sheet displays it


@pytest.mark.slow
@pytest.mark.parametrize("template", ["era", "mazur", "xor", "softmax", "deep"])
def test_every_templates_derivation_is_latex_a_math_renderer_reads(template):
    from sheetprop.handin.markdown import latex_derivation
    from sheetprop.network import Network
    from sheetprop.network.template import load_template

    network = Network(load_template(template))
    blocks = [latex_derivation(network, q) for q in network.computed if q.role != "gradcheck"]
    assert len(blocks) > 10
    assert all("∂" not in b and "·" not in b and "−" not in b for b in blocks), "no unicode math left"
    errors = [(b, _mathtext_ok(b)) for b in blocks if _mathtext_ok(b)]
    assert not errors, errors[:3]


def test_the_handin_pages_math_example_is_what_the_printer_prints():
    from sheetprop.handin.markdown import latex_derivation
    from sheetprop.network import Network
    from sheetprop.network.template import load_template

    network = Network(load_template("era"))
    page = (Path(__file__).resolve().parents[1] / "docs" / "handin.md").read_text(encoding="utf-8")
    assert f"$$\n{latex_derivation(network, network.by_label('∂E/∂w5'))}\n$$" in page
