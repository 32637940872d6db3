import math

import openpyxl
import pytest

from reference import forward
from sheetprop.engine import evaluate
from sheetprop.network import Network
from sheetprop.network.template import load_template

ERA_HEADER = ["step", "t1", "t2", "i1", "i2", "w1", "w2", "w3", "w4", "h1", "a_h1", "h2", "a_h2",
              "w5", "w6", "w7", "w8", "o1", "a_o1", "o2", "a_o2", "E1", "E2", "E_total",
              "∂E/∂w1", "∂E/∂w2", "∂E/∂w3", "∂E/∂w4", "∂E/∂w5", "∂E/∂w6", "∂E/∂w7", "∂E/∂w8"]
HEADER_ROW, FIRST_ROW = 17, 18  # rows 2-15 hold the chart, row 16 the band over the header


def open_both(path):
    return openpyxl.load_workbook(path), openpyxl.load_workbook(path, data_only=True)


def table(ws, first=FIRST_ROW):
    header = [c.value for c in ws[HEADER_ROW]]
    return header, [dict(zip(header, (c.value for c in row))) for row in ws.iter_rows(min_row=first)]


def test_sheets_header_and_learning_rate_cell(build):
    formulas, _ = open_both(build("--lrs", "0.1,2,0.50", "--steps", "7"))
    assert formulas.sheetnames == ["summary", "lr=0.1", "lr=2", "lr=0.50", "_sheetprop"]  # the record: very hidden, last
    for name, rate in (("lr=0.1", 0.1), ("lr=2", 2), ("lr=0.50", 0.5)):
        ws = formulas[name]
        assert [c.value for c in ws[HEADER_ROW]] == ERA_HEADER
        assert ws["A1"].value == "learning rate η" and ws["A2"].value == rate
        assert ws.max_row == HEADER_ROW + 7
        assert ws.freeze_panes == "B18"
        assert len(ws._charts) == 1
    assert len(formulas["summary"]._charts) == 2  # linear and logarithmic loss axes


def test_first_row_follows_the_summary_and_every_other_cell_is_a_formula(build):
    formulas, values = open_both(build("--lrs", "0.5", "--steps", "4"))
    ws = formulas["lr=0.5"]
    given = {"t1": 0.5, "t2": 0.5, "i1": 0.05, "i2": 0.1, "w1": 0.15, "w2": 0.2, "w3": 0.25,
             "w4": 0.3, "w5": 0.4, "w6": 0.45, "w7": 0.5, "w8": 0.55}
    summary = {row[0].value: (row[1].coordinate, row[1].value) for row in formulas["summary"].iter_rows(max_col=2)}
    header, rows = table(ws)
    _, cached = table(values["lr=0.5"])
    for label in header[1:]:
        first = rows[0][label]
        if label in given:
            cell, number = summary[label]
            assert first == f"=summary!${cell[0]}${cell[1:]}" and number == given[label], label
            assert cached[0][label] == given[label], label
        else:
            assert isinstance(first, str) and first.startswith("="), label
        for row in rows[1:]:
            assert isinstance(row[label], str) and row[label].startswith("="), label
    # Hand-checked cells: h1 = w1·i1 + w2·i2; later weights are w − η·∂E/∂w of the row above.
    assert ws["J18"].value == "=F18*D18+G18*E18"
    assert ws["K18"].value == "=1/(1+EXP(-J18))"
    assert ws["X18"].value == "=V18+W18"
    assert ws["F19"].value == "=F18-$A$2*Y18"
    assert ws["Q20"].value == "=Q19-$A$2*AF19"
    assert ws["B19"].value == "=B18"
    assert ws["AC18"].value == "=(S18-B18)*S18*(1-S18)*K18"


def test_cached_values_match_an_independent_forward_pass_and_the_update_rule(build):
    _, values = open_both(build("--lrs", "0.8", "--steps", "20"))
    template = load_template("era")
    network = Network(template)
    _, rows = table(values["lr=0.8"])
    assert len(rows) == 20
    for previous, row in zip([None] + rows, rows):
        weights = [row[f"w{k}"] for k in range(1, 9)]
        expected = forward(template.layers, template.activations, [row["i1"], row["i2"]],
                           [row["t1"], row["t2"]], weights)
        for label, value in expected.items():
            assert row[label] == pytest.approx(value, rel=1e-12, abs=1e-16), label
        engine = evaluate([q.node for q in network.computed],
                          {q.label: row[q.label] for q in network.given})
        for q, value in zip(network.computed, engine):
            assert row[q.label] == value, q.label
        if previous is not None:
            for k in range(1, 9):
                assert row[f"w{k}"] == pytest.approx(previous[f"w{k}"] - 0.8 * previous[f"∂E/∂w{k}"],
                                                     rel=1e-15)
    assert rows[-1]["E_total"] < rows[0]["E_total"]


def test_mazur_template_reproduces_the_published_figures(build):
    _, values = open_both(build("--template", "mazur", "--steps", "2"))
    assert values.sheetnames == ["summary", "lr=0.5", "_sheetprop"]
    _, (first, second) = table(values["lr=0.5"])
    assert first["b1"] == 0.35 and first["b2"] == 0.6
    assert abs(first["E_total"] - 0.298371109) <= 1e-9
    published = [0.149780716, 0.19956143, 0.24975114, 0.29950229,
                 0.35891648, 0.408666186, 0.511301270, 0.561370121]
    for k, value in enumerate(published, start=1):
        assert abs(second[f"w{k}"] - value) <= 1e-8, f"w{k}"  # published to 8-9 digits


def test_headers_carry_the_chain_rule_as_notes_and_summary_shows_the_derivation(build):
    formulas, _ = open_both(build("--lrs", "1", "--steps", "2"))
    ws = formulas["lr=1"]
    notes = {c.value: c.comment.text for c in ws[HEADER_ROW] if c.comment}
    assert "∂E_total/∂w5 = (a_o1 − t1)·a_o1·(1 − a_o1)·a_h1" in notes["∂E/∂w5"]
    assert "a_h1·(1 − a_h1)·i2" in notes["∂E/∂w2"]
    summary_text = [c.value for row in formulas["summary"].iter_rows() for c in row if c.value]
    assert "∂E_total/∂w5 = (a_o1 − t1)·a_o1·(1 − a_o1)·a_h1" in summary_text


def test_summary_links_to_each_sheets_loss(build):
    formulas, values = open_both(build("--lrs", "0.2,1", "--steps", "10"))
    linked = [(c.value, values["summary"][c.coordinate].value)
              for row in formulas["summary"].iter_rows() for c in row
              if isinstance(c.value, str) and c.value.startswith("='lr=")]
    assert [f for f, _ in linked] == ["='lr=0.2'!$A$2", "='lr=0.2'!X18", "='lr=0.2'!X27",
                                      "='lr=1'!$A$2", "='lr=1'!X18", "='lr=1'!X27"]
    assert [v for _, v in linked[::3]] == [0.2, 1]  # each run's η, read from its sheet
    assert linked[2][1] == values["lr=0.2"]["X27"].value
    assert linked[5][1] < linked[4][1]


def test_other_layer_sizes_and_activations(build, tmp_path):
    template = tmp_path / "net.toml"
    template.write_text(
        'layers = [3, 4, 2]\nactivations = ["tanh", "relu"]\ninputs = [0.1, -0.2, 0.3]\n'
        'targets = [0.2, 0.7]\nbiases = [0.1, 0.2]\n'
        f'weights = [{", ".join(str(round(0.05 * k - 0.4, 2)) for k in range(20))}]\n')
    formulas, values = open_both(build("--template", str(template), "--lrs", "0.3", "--steps", "3"))
    header, rows = table(values["lr=0.3"])
    assert header[:10] == ["step", "t1", "t2", "i1", "i2", "i3", "w1", "w2", "w3", "w4"]
    assert "h4" in header and "a_h4" in header and "∂E/∂w20" in header and "b2" in header
    a_h1 = formulas["lr=0.3"].cell(FIRST_ROW, header.index("a_h1") + 1).value
    assert a_h1.startswith("=TANH(")
    weights = [rows[0][f"w{k}"] for k in range(1, 21)]
    expected = forward((3, 4, 2), ("tanh", "relu"), [0.1, -0.2, 0.3], [0.2, 0.7], weights, (0.1, 0.2))
    assert rows[0]["E_total"] == pytest.approx(expected["E_total"], rel=1e-12)


def test_overflowing_learning_rate_shows_excel_errors_instead_of_crashing(build):
    formulas, values = open_both(build("--lrs", "1e8", "--steps", "3"))
    _, rows = table(values["lr=1e8"])
    assert isinstance(rows[0]["E_total"], float) and math.isfinite(rows[0]["E_total"])
    assert "#NUM!" in rows[2].values()


def test_mnist_metrics_become_a_sheet_without_losing_any_chart(build, tmp_path):
    csv = tmp_path / "metrics.csv"
    csv.write_text("epoch,train_loss,train_accuracy,test_loss,test_accuracy,lr,seconds\n"
                   "1,0.41,88.5,0.09,97.2,0.05,12.5\n2,0.08,97.6,0.05,98.4,0.02,12.1\n")
    formulas, values = open_both(build("--lrs", "0.5,1", "--steps", "3", "--mnist-metrics", str(csv)))
    assert formulas.sheetnames == ["summary", "lr=0.5", "lr=1", "mnist", "_sheetprop"]
    rows = [[c.value for c in row] for row in values["mnist"].iter_rows(max_col=7)]
    header_at = next(k for k, row in enumerate(rows) if row[0] == "epoch")
    assert rows[header_at + 1][:5] == [1, 0.41, 88.5, 0.09, 97.2]
    assert rows[header_at + 2][4] == 98.4
    assert len(formulas["mnist"]._charts) >= 1
    assert [len(formulas[name]._charts) for name in ("summary", "lr=0.5", "lr=1")] == [2, 1, 1]


def test_bad_mnist_metrics_file_is_a_clear_error(tmp_path, capsys):
    from sheetprop.cli import main

    csv = tmp_path / "metrics.csv"
    csv.write_text("not,a,metrics,file\n1,2,3,4\n")
    out = tmp_path / "o.xlsx"
    assert main(["build", "--out", str(out), "--mnist-metrics", str(csv)]) == 2
    assert "metrics" in capsys.readouterr().err and not out.exists()


def test_fast_formula_path_only_skips_functions_every_excel_knows(tmp_path):
    import xlsxwriter
    from sheetprop.fast_worksheet import StepsWorksheet

    book = xlsxwriter.Workbook(tmp_path / "f.xlsx")
    sheet = book.add_worksheet("s", worksheet_class=StepsWorksheet)
    assert sheet._prepare_formula("=1/(1+EXP(-J4))*MAX(0,TANH(A1))") == "1/(1+EXP(-J4))*MAX(0,TANH(A1))"
    assert "_xlfn.XLOOKUP(" in sheet._prepare_formula("=XLOOKUP(A1,B1:B3,C1:C3)")
    book.close()


def test_values_pass_once_in_their_type(tmp_path, monkeypatch):
    """Learning rates are parsed once; with --gradcheck --exercise the network is built twice
    (plain, and with the gradient check) and each compiles its row functions once."""
    import sheetprop.network.network as network_module
    import sheetprop.writer.build as writer_build
    from sheetprop.cli import main

    built, compiled = [], []
    real_network, real_compile = writer_build.Network, network_module.compile_function

    class CountingNetwork(real_network):
        def __post_init__(self):
            built.append(self.gradcheck)
            super().__post_init__()

    monkeypatch.setattr(writer_build, "Network", CountingNetwork)
    monkeypatch.setattr(network_module, "compile_function", lambda *a, **k: compiled.append(1) or real_compile(*a, **k))
    out = tmp_path / "bp.xlsx"
    assert main(["build", "--quiet", "--gradcheck", "--exercise", "--lrs", "0.1,0.5,1", "--steps", "3",
                 "--out", str(out)]) == 0
    assert sorted(built) == [False, True]
    assert len(compiled) == 2 * 2  # forward and step, for each of the two networks, however many sheets
    rates = writer_build.parse_learning_rates([0.5, "1e-3", 2])
    assert [(r.text, r.value) for r in rates] == [("0.5", 0.5), ("1e-3", 0.001), ("2", 2.0)]
