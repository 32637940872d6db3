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
from sheetprop.handin import screens

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


def test_readme_writes_named_pngs_and_math_that_renders(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(screens, "missing_tools", lambda: ["LibreOffice (soffice)"])
    out = tmp_path / "handin"
    assert main(["readme", "--lrs", "0.1,0.5,2", "--steps", "40", "--out", str(out)]) == 0
    assert "LibreOffice (soffice) not installed" in capsys.readouterr().out
    for name in ("loss_lr_0.1.png", "loss_lr_0.5.png", "loss_lr_2.png", "loss_all.png"):
        assert (out / name).read_bytes()[:8] == PNG_MAGIC, name
    assert not list(out.glob("sheet_*.png"))
    readme = out / "README.md"
    blocks = _check_markdown(readme)
    text = readme.read_text(encoding="utf-8")
    assert "LibreOffice (soffice) not installed" in text
    # One block per computed column of the 2-2-2 network: 4 forward, 2 losses + E_total, 8 gradients.
    assert len(blocks) == 8 + 3 + 8  # h1 a_h1 h2 a_h2 o1 a_o1 o2 a_o2, E1 E2 E_total, ∂E/∂w1..∂E/∂w8
    assert any(b.startswith("\\frac{\\partial E_{\\mathrm{total}}}{\\partial w_{5}} = ") for b in blocks)
    errors = [(b, _mathtext_ok(b)) for b in blocks if _mathtext_ok(b)]
    assert not errors, errors
    # The table's first and last loss are the workbook's own cells.
    sheet = openpyxl.load_workbook(out / "BackPropagation.xlsx", data_only=True)["lr=2"]
    rows = list(sheet.iter_rows(values_only=True))
    top = next(n for n, r in enumerate(rows) if r[0] == "step")
    k = rows[top].index("E_total")
    losses = [r[k] for r in rows[top + 1:] if r[0] is not None]
    row = next(line for line in text.splitlines() if line.startswith("| 2 |"))
    first, last = (float(cell) for cell in row.split("|")[2:4])
    assert first == pytest.approx(losses[0], rel=1e-5) and last == pytest.approx(losses[-1], rel=1e-5)
    assert len(losses) == 40


def test_readme_takes_builds_bad_input_as_build_does(tmp_path, capsys):
    assert main(["readme", "--lrs", "0.5,-1", "--out", str(tmp_path / "h")]) == 2
    err = capsys.readouterr().err
    assert "readme: error: learning rate '-1' must be greater than 0" in err and err.count("\n") == 1
    assert not (tmp_path / "h").exists()
    (tmp_path / "file").write_text("x")
    assert main(["readme", "--out", str(tmp_path / "file")]) == 2
    assert "is a file; readme writes a folder" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(screens.missing_tools() != [], reason="LibreOffice or pdftoppm not installed")
def test_readme_draws_each_sheets_first_screen(tmp_path):
    out = tmp_path / "handin"
    assert main(["readme", "--quiet", "--lrs", "0.1,2", "--steps", "20", "--out", str(out)]) == 0
    for name in ("sheet_summary.png", "sheet_lr_0.1.png", "sheet_lr_2.png"):
        data = (out / name).read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 20_000, name  # a drawn page, not a blank one
    text = (out / "README.md").read_text(encoding="utf-8")
    assert "](sheet_lr_0.1.png)" in text and "](sheet_summary.png)" in text
    _check_markdown(out / "README.md")


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
