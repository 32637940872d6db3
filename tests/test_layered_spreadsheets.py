"""The layered templates recalculated by LibreOffice and by Gnumeric: each 200-step run (whose
numbers the quick tests hold to torch at 1e-9) gives the same numbers there, cell by cell; the
gradient check's Δ columns stay below 1e-6 of the largest ∂ as those programs compute them; and the
step view follows its step cell."""

import shutil

import openpyxl
import pytest

from sheetprop.cli import main
from sheetprop.libreoffice import find_soffice, recalculate_all
from test_libreoffice import compare_every_cell
from test_new_networks_in_spreadsheets import gnumeric_recalculated, number_in_legend

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:Workbook contains no default style")]
TEMPLATES = ("rnn", "conv", "attention")
needs_soffice = pytest.mark.skipif(find_soffice() is None, reason="LibreOffice (soffice) not installed")
needs_gnumeric = pytest.mark.skipif(shutil.which("ssconvert") is None, reason="Gnumeric (ssconvert) not installed")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Each template's 200 steps (the starting row and 200 more) at its first default rate."""
    folder = tmp_path_factory.mktemp("runs")
    paths = []
    for name in TEMPLATES:
        paths.append(folder / f"{name}.xlsx")
        assert main(["build", "--quiet", "--template", name, "--steps", "201", "--out", str(paths[-1]),
                     "--lrs", {"rnn": "0.1", "conv": "0.5", "attention": "0.2"}[name]]) == 0
    return paths


@needs_soffice
def test_libreoffice_recalculates_every_cell_of_200_steps(runs, tmp_path):
    for source, fresh in zip(runs, recalculate_all(runs, tmp_path / "fresh")):
        compared, errors = compare_every_cell(source, fresh)
        assert compared > 20_000 and errors == 0, source.name


@needs_gnumeric
def test_gnumeric_recalculates_every_cell_of_200_steps(runs, tmp_path):
    for source in runs:
        compared, errors = compare_every_cell(source, gnumeric_recalculated(source, tmp_path / source.name),
                                              legend_texts=number_in_legend)
        assert compared > 20_000 and errors == 0, source.name


def gradcheck_ratios(path):
    """Per lr sheet: the largest |Δ| over the largest |∂E/∂p| anywhere on it."""
    book = openpyxl.load_workbook(path, data_only=True, read_only=True)
    ratios = []
    for name in [n for n in book.sheetnames if n.startswith("lr=")]:
        rows = book[name].iter_rows(min_row=17, values_only=True)
        header = next(rows)
        deltas = [k for k, label in enumerate(header) if isinstance(label, str) and label.startswith("Δ ∂E/∂")]
        gradients = [header.index(header[k][2:]) for k in deltas]
        values = [row for row in rows if row[0] is not None]
        assert len(deltas) > 10 and len(values) > 10
        largest = max(abs(row[k]) for row in values for k in gradients)
        ratios.append(max(abs(row[k]) for row in values for k in deltas) / largest)
    return ratios


@needs_soffice
@needs_gnumeric
def test_gradcheck_differences_stay_below_a_millionth_in_libreoffice_and_gnumeric(tmp_path):
    sources = []
    for name in TEMPLATES:
        sources.append(tmp_path / f"{name}.xlsx")
        assert main(["build", "--quiet", "--template", name, "--gradcheck", "--steps", "30",
                     "--out", str(sources[-1])]) == 0
    fresh = recalculate_all(sources, tmp_path / "libreoffice")
    fresh += [gnumeric_recalculated(s, tmp_path / f"gnumeric-{s.name}") for s in sources]
    for path in fresh:
        ratios = gradcheck_ratios(path)
        assert len(ratios) == 3 and max(ratios) < 1e-6, (path.name, ratios)


@needs_soffice
def test_the_step_view_follows_its_step_and_sheet_cells(tmp_path):
    source = tmp_path / "conv.xlsx"
    assert main(["build", "--quiet", "--template", "conv", "--steps", "20", "--lrs", "0.5,2",
                 "--out", str(source)]) == 0
    book = openpyxl.load_workbook(source)
    book["step view"]["B3"] = 7          # step 7: row 25 of the lr sheets
    book["step view"]["B4"] = "lr=2"
    book.save(tmp_path / "picked.xlsx")
    fresh = openpyxl.load_workbook(recalculate_all([tmp_path / "picked.xlsx"], tmp_path / "fresh")[0], data_only=True)
    view, lr = fresh["step view"], fresh["lr=2"]
    header = {cell.value: cell.column_letter for cell in lr[17]}
    formulas = book["step view"]
    checked = 0
    for row in formulas.iter_rows(min_row=7):
        for cell in row:
            if isinstance(cell.value, str) and cell.value.startswith("=CHOOSE("):
                letters = cell.value.split("'lr=2'!$")[1].split("$")[0]
                assert letters in header.values()
                assert view[cell.coordinate].value == lr[f"{letters}25"].value
                checked += 1
    assert checked > 40
