"""Excel's limits (columns, rows, formula length) are refused in one line before anything is
written; a --gradcheck whose finite differences are too long is refused early, and says why."""

import pytest
from xlsxwriter.utility import xl_rowcol_to_cell

import sheetprop.network
import sheetprop.writer.workbook
from sheetprop.writer import build
from sheetprop.writer import workbook as wb
from sheetprop.cli import main
from sheetprop.network import Network
from sheetprop.engine.printers import ExcelPrinter
from sheetprop.network.template import builtin_templates, load_template


def run_failing(capsys, tmp_path, *argv):
    out = tmp_path / "out" / "o.xlsx"
    code = main(["build", "--quiet", *argv, "--out", str(out)])
    err = capsys.readouterr().err
    return code, err, out


def assert_refused(code, err, out, *messages):
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for message in messages:
        assert message in err, err
    assert not out.exists() and not out.parent.exists()  # not even the folder


def test_softmax_gradcheck_is_refused_and_told_to_drop_it(tmp_path, capsys):
    code, err, out = run_failing(capsys, tmp_path, "--template", "softmax", "--gradcheck")
    assert_refused(code, err, out, "--gradcheck column fd ∂E/∂w1", "Excel allows 8,192",
                   "recomputes the whole loss", "drop --gradcheck")
    # Without it the same network builds.
    assert main(["build", "--quiet", "--template", "softmax", "--steps", "3",
                 "--out", str(tmp_path / "ok.xlsx")]) == 0


def test_a_computed_formula_too_long_is_refused_without_blaming_gradcheck(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sheetprop.writer.workbook, "MAX_FORMULA_CHARACTERS", 40)
    code, err, out = run_failing(capsys, tmp_path, "--steps", "3")
    assert_refused(code, err, out, "the formula of column", "Excel allows 40", "fewer examples")
    assert "gradcheck" not in err


@pytest.mark.parametrize("limit, refused", [(31, True), (32, False)])
def test_column_limit(tmp_path, capsys, monkeypatch, limit, refused):
    # era: 31 quantities, plus column A for the step number.
    monkeypatch.setattr(sheetprop.writer.workbook, "MAX_COLUMNS", limit)
    code, err, out = run_failing(capsys, tmp_path, "--steps", "3")
    if refused:
        assert_refused(code, err, out, "needs 32 columns per sheet; Excel allows 31")
    else:
        assert code == 0 and out.exists(), err


@pytest.mark.parametrize("limit, refused", [(wb.HEADER_ROW + 5, True), (wb.HEADER_ROW + 6, False)])
def test_row_limit(tmp_path, capsys, monkeypatch, limit, refused):
    # 5 steps: the header row, then rows HEADER_ROW+1 .. HEADER_ROW+5 (0-based).
    monkeypatch.setattr(sheetprop.writer.workbook, "MAX_ROWS", limit)
    code, err, out = run_failing(capsys, tmp_path, "--steps", "5")
    if refused:
        assert_refused(code, err, out, f"5 steps need {wb.HEADER_ROW + 6} rows; Excel allows {limit}")
    else:
        assert code == 0 and out.exists(), err


def big_template(tmp_path):
    path = tmp_path / "big.toml"
    values = ", ".join(f"0.{k % 9 + 1}" for k in range(16))
    weights = ", ".join(["0.01"] * (16 * 16 * 4))
    path.write_text(f"layers = [16, 16, 16, 16, 16]\ninputs = [{values}]\ntargets = [{values}]\n"
                    f"weights = [{weights}]\n")
    return path


@pytest.mark.slow
def test_gradcheck_of_a_big_network_is_refused_before_every_finite_difference_is_built(
        tmp_path, capsys, monkeypatch):
    built = []
    finite_difference = Network.finite_difference

    def counted(self, parameter):
        built.append(parameter)
        if len(built) > 1:  # fail now, not after minutes of building the other 1,023
            # No traceback: its frames' arguments include the network, whose repr is huge.
            pytest.fail("a second finite difference was built before the refusal", pytrace=False)
        return finite_difference(self, parameter)

    monkeypatch.setattr(sheetprop.network.Network, "finite_difference", counted)
    code, err, out = run_failing(capsys, tmp_path, "--template", str(big_template(tmp_path)), "--gradcheck")
    assert_refused(code, err, out, "--gradcheck column fd ∂E/∂w1", "drop --gradcheck")
    assert len(built) == 1  # one measured, not 1,024 built


@pytest.mark.parametrize("name", sorted(builtin_templates()))
@pytest.mark.parametrize("gradcheck", [False, True])
def test_measured_length_is_the_printed_formula_length(name, gradcheck):
    """The limit is checked on lengths counted without printing: they must be the real ones."""
    network = Network(load_template(name), gradcheck=gradcheck)
    columns = build.sheet_columns(network)
    steps = 100
    templates = wb.FormulaTemplates(columns, network.parameters)
    last_row = wb.HEADER_ROW + steps
    cells = [xl_rowcol_to_cell(last_row, 1 + k) for k in range(len(columns))]
    params = [xl_rowcol_to_cell(wb.LEARNING_RATE_CELL[0] + 2 * k, 0, True, True)
              for k in range(len(network.parameters))]
    refs = wb.last_row_refs(columns, network.parameters, steps)
    for column, formula in zip(columns, templates.fill(templates.later, cells + cells + params)):
        expr = column.next_row if column.given else column.node
        assert ExcelPrinter().printed_length(expr, refs) == len(formula), column.label
