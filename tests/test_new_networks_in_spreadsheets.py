"""The new built-ins, recalculated by LibreOffice and by Gnumeric: every cell as the engine wrote it.

xor+adam, softmax+momentum and deep+rmsprop cover the variable power (β1ᵗ), LN, softmax, the
fused cross-entropies, optimizer state columns and hyper-parameter cells. Few steps and two
learning rates each keep the programs' runs to seconds.
"""

import shutil
import subprocess

import openpyxl
import pytest
import xlsxwriter

from sheetprop.libreoffice import find_soffice, recalculate_all
from sheetprop.check.read.workbook_input import _with_note_authors
from test_libreoffice import compare_every_cell

pytestmark = pytest.mark.filterwarnings("ignore:Workbook contains no default style")

BUILDS = {
    "xor+adam": ["--template", "xor", "--optimizer", "adam", "--lrs", "0.1,0.8", "--steps", "12"],
    "softmax+momentum": ["--template", "softmax", "--optimizer", "momentum", "--lrs", "0.2,1", "--steps", "8"],
    "deep+rmsprop": ["--template", "deep", "--optimizer", "rmsprop", "--lrs", "0.01,0.1", "--steps", "8",
                     "--gradcheck"],
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from sheetprop.cli import main

    folder = tmp_path_factory.mktemp("built")
    paths = {}
    for name, options in BUILDS.items():
        paths[name] = folder / f"{name.replace('+', '_')}.xlsx"
        assert main(["build", "--quiet", "--out", str(paths[name]), *options]) == 0
    return paths


def column_a(path, sheet_name):
    """The top of column A of one lr sheet: each parameter's label, then its value."""
    sheet = openpyxl.load_workbook(path, read_only=True)[sheet_name]
    return [row[0] for row in sheet.iter_rows(min_row=1, max_row=12, max_col=1, values_only=True)]


def test_each_hyperparameter_has_its_labelled_cell_below_eta(built):
    assert column_a(built["xor+adam"], "lr=0.8")[:8] == [
        "learning rate η", 0.8, "β1 (decay of m)", 0.9, "β2 (decay of s)", 0.999, "ε", 1e-8]
    assert column_a(built["softmax+momentum"], "lr=0.2")[:4] == ["learning rate η", 0.2, "momentum μ", 0.9]
    assert column_a(built["deep+rmsprop"], "lr=0.01")[:8] == [
        "learning rate η", 0.01, "α (decay of s)", 0.99, "ε", 1e-8, "gradcheck h", 1e-4]


@pytest.mark.skipif(find_soffice() is None, reason="LibreOffice (soffice) not installed")
def test_libreoffice_recalculates_every_cell(built, tmp_path):
    sources = list(built.values())
    for source, recalculated in zip(sources, recalculate_all(sources, tmp_path / "recalculated")):
        compared, errors = compare_every_cell(source, recalculated)
        assert compared >= 500 and errors == 0, source.name


@pytest.mark.skipif(shutil.which("ssconvert") is None, reason="Gnumeric (ssconvert) not installed")
def test_gnumeric_recalculates_every_cell(built, tmp_path):
    for name, source in built.items():
        recalculated = gnumeric_recalculated(source, tmp_path / source.name)
        compared, errors = compare_every_cell(source, recalculated, legend_texts=number_in_legend)
        assert compared >= 500 and errors == 0, name


def number_in_legend(cached, fresh):
    """Gnumeric turns 0.01 into the text "0.0099999999999999999998" where ="η = "&A2 joins it to
    text (a quirk of its own, in the charts' legends); the number is the same."""
    prefix = "η = "
    return (isinstance(cached, str) and isinstance(fresh, str) and cached.startswith(prefix)
            and fresh.startswith(prefix) and float(cached[4:]) == pytest.approx(float(fresh[4:]), rel=1e-15))


@pytest.mark.skipif(shutil.which("ssconvert") is None, reason="Gnumeric (ssconvert) not installed")
def test_gnumeric_really_recalculates(tmp_path):
    source = tmp_path / "wrong.xlsx"
    book = xlsxwriter.Workbook(source)
    sheet = book.add_worksheet("lr=0.5")
    sheet.write_number(0, 0, 2.0)
    sheet.write_formula(0, 1, "=A1^A1+LN(A1)", None, 999.0)  # deliberately wrong cache
    book.close()
    fresh = openpyxl.load_workbook(gnumeric_recalculated(source, tmp_path / "out.xlsx"), data_only=True)
    assert fresh["lr=0.5"]["B1"].value == pytest.approx(4.693147180559945, rel=1e-15)


def gnumeric_recalculated(source, target):
    subprocess.run(["ssconvert", "--recalc", str(source), str(target)], check=True, capture_output=True,
                   timeout=120)
    # Gnumeric writes notes without authors, which openpyxl cannot read; the values are untouched.
    target.write_bytes(_with_note_authors(target.read_bytes()))
    return target
