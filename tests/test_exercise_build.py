"""`build --exercise`: the answer key, the student version beside it, and the network's record."""

import dataclasses
import json
import random
import re

import openpyxl
import pytest
import xlsxwriter

import sheetprop.writer.exercise
from sheetprop.cli import main
from sheetprop.errors import UserError
from sheetprop.record import read_exercise_record, write_exercise_record
from sheetprop.libreoffice import find_soffice, recalculate
from sheetprop.network.template import builtin_templates, load_template, parse_template, template_record

BAND_ROW, HEADER_ROW, FIRST_ROW = 16, 17, 18
PER_NEURON_TRAINED_BIASES = """\
name = "per-neuron trained biases"
layers = [2, 2, 1]
activations = ["tanh", "sigmoid"]
inputs = [0.3, -0.6]
targets = [0.8]
weights = [0.1, -0.2, 0.35, 0.4, -0.45, 0.5]
biases = [[0.05, -0.15], [0.25]]
train_biases = true
"""


def build_exercise(tmp_path, *options, name="BP.xlsx"):
    key = tmp_path / name
    assert main(["build", "--quiet", "--exercise", "--out", str(key), *options]) == 0
    return key, key.with_name(key.stem + "_exercise.xlsx")


def header(ws, row=HEADER_ROW):
    return [(c.coordinate, c.value) for c in ws[row] if c.value is not None]


def table_cells(ws):
    return [c for row in ws.iter_rows(min_row=FIRST_ROW, max_col=ws.max_column) for c in row]


def is_formula(value):
    return isinstance(value, str) and value.startswith("=")


def label_of(ws, cell):
    return ws.cell(HEADER_ROW, cell.column).value


def test_both_files_are_written_and_the_summary_names_both(tmp_path, capsys):
    key = tmp_path / "out" / "BackPropagation.xlsx"
    assert main(["build", "--exercise", "--steps", "3", "--lrs", "0.5,1", "--out", str(key)]) == 0
    student = tmp_path / "out" / "BackPropagation_exercise.xlsx"
    assert key.is_file() and student.is_file()
    assert sorted(p.name for p in key.parent.iterdir()) == [key.name, student.name]  # no temp left
    out = capsys.readouterr().out
    assert f"wrote {key} (the answer key)" in out
    assert f"wrote {student} (the student version)" in out and "sheetprop check" in out


def test_without_the_flag_no_student_version(tmp_path):
    key = tmp_path / "BP.xlsx"
    assert main(["build", "--quiet", "--steps", "2", "--out", str(key)]) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["BP.xlsx"]


@pytest.mark.parametrize("template, options", [
    ("era", ()), ("mazur", ()), ("xor", ("--optimizer", "sgd")), ("deep", ("--optimizer", "sgd")),
])
def test_student_sheets_keep_the_layout_and_only_the_given_numbers(tmp_path, template, options):
    key, student = build_exercise(tmp_path, "--template", template, "--lrs", "0.5,2", "--steps", "4",
                                  *options)
    key_formulas = openpyxl.load_workbook(key)
    key_values = openpyxl.load_workbook(key, data_only=True)
    book = openpyxl.load_workbook(student)
    assert book.sheetnames == ["exercise", "lr=0.5", "lr=2", "_sheetprop"]
    assert key_formulas.sheetnames == ["summary", "lr=0.5", "lr=2", "_sheetprop"]
    for name in ("lr=0.5", "lr=2"):
        ws, formulas, values = book[name], key_formulas[name], key_values[name]
        assert header(ws) == header(formulas) and header(ws, BAND_ROW) == header(formulas, BAND_ROW)
        assert [ws[c].value for c in ("A1", "A2")] == [formulas[c].value for c in ("A1", "A2")]
        assert len(ws._charts) == 1
        assert ws.max_row == formulas.max_row == HEADER_ROW + 4
        # The key's first row follows the summary for every given cell; later, a constant is a
        # plain reference to the row above (=B18), a trained parameter its update formula.
        given = {c.column for c in formulas[FIRST_ROW] if str(c.value).startswith("=summary!")}
        constant = {c.column for c in formulas[FIRST_ROW + 1] if re.fullmatch(r"=[A-Z]+\d+", str(c.value))}
        assert given and constant < given
        filled = 0
        for cell in table_cells(ws):
            label, cached = label_of(ws, cell), values[cell.coordinate].value
            if cell.column == 1:
                assert cell.value == cell.row - FIRST_ROW, cell.coordinate  # the step number
            elif cell.column in (given if cell.row == FIRST_ROW else constant):
                assert type(cell.value) in (int, float) and cell.value == cached, (cell.coordinate, label)
                filled += 1
            else:
                assert cell.value is None, (cell.coordinate, label, cell.value)
        assert filled == len(given) + 3 * len(constant)
        labels = {ws.cell(HEADER_ROW, col).value for col in constant}
        assert all(re.match(r"[tib]", label) for label in labels)  # targets, inputs, fixed biases
        assert not any(label.startswith("w") for label in labels)
        # No solution anywhere: the one formula on the sheet is the chart legend's "η = 0.5"
        # behind the chart, and only given columns keep their header note.
        formulas_here = [(c.coordinate, c.value) for row in ws.iter_rows() for c in row
                         if is_formula(c.value)]
        assert len(formulas_here) == 1 and formulas_here[0][1] == '="η = "&$A$2'
        assert int(formulas_here[0][0][1:]) < BAND_ROW
        noted = {c.column for c in ws[HEADER_ROW] if c.comment}
        assert noted <= given
    text = "\n".join(str(row[0]) for row in book["exercise"].iter_rows(values_only=True) if row[0])
    assert "sheetprop check FILE" in text and "w ← w − η·∂E/∂w" in text and "E_total" in text


def test_mazur_keeps_its_fixed_biases_in_every_row_and_blanks_the_weights(tmp_path):
    key, student = build_exercise(tmp_path, "--template", "mazur", "--steps", "3")
    ws = openpyxl.load_workbook(student)["lr=0.5"]
    row = {label_of(ws, c): c.value for c in ws[FIRST_ROW + 2] if c.column > 1}
    assert {k: v for k, v in row.items() if v is not None} == {
        "t1": 0.01, "t2": 0.99, "i1": 0.05, "i2": 0.1, "b1": 0.35, "b2": 0.6}
    assert row["w1"] is None and row["E_total"] is None and row["∂E/∂w8"] is None


@pytest.mark.parametrize("template, options", [
    ("era", ()), ("xor", ("--optimizer", "sgd")), ("deep", ("--optimizer", "sgd")), ("trained.toml", ()),
])
def test_the_record_rebuilds_the_network(tmp_path, template, options):
    if template.endswith(".toml"):
        template = str(tmp_path / template)
        (tmp_path / "trained.toml").write_text(PER_NEURON_TRAINED_BIASES)
    key, student = build_exercise(tmp_path, "--template", template, "--lrs", "0.1,0.50", "--steps", "3",
                                  *options)
    built = load_template(template)
    if options:  # the name follows the optimizer, so the sheets' titles say the one used
        renamed = {"xor": "XOR with SGD", "deep": "Two hidden layers with SGD"}[template]
        built = dataclasses.replace(built, optimizer="sgd", name=renamed)
    assert built.examples > 1 or template == "era" or built.biases_per_neuron
    for path in (key, student):
        record = read_exercise_record(openpyxl.load_workbook(path))
        assert record["template"] == dataclasses.replace(built, source=record["template"].source)
        assert record["steps"] == 3 and record["sheets"] == ["lr=0.1", "lr=0.50"]


def test_the_key_records_its_optimizer_and_hyperparameters(build):
    record = read_exercise_record(openpyxl.load_workbook(build("--template", "xor", "--steps", "2")))
    assert record["template"].optimizer == "adam"
    assert record["template"] == dataclasses.replace(load_template("xor"), source=record["template"].source)


@pytest.mark.parametrize("name", sorted(builtin_templates()))
def test_template_record_is_plain_json_that_parse_template_reads_back(name):
    template = load_template(name)
    data = json.loads(json.dumps(template_record(template), allow_nan=False))
    assert parse_template(data, source=template.source) == template


def test_the_record_sheet_is_very_hidden_and_holds_the_documented_rows(tmp_path):
    key, student = build_exercise(tmp_path, "--lrs", "0.5", "--steps", "7")
    for path in (key, student):
        sheet = openpyxl.load_workbook(path)["_sheetprop"]
        assert sheet.sheet_state == "veryHidden"
        rows = list(sheet.iter_rows(values_only=True))
        assert [row[0] for row in rows] == ["format", "template", "steps", "sheets"]
        assert rows[0][1] == "sheetprop-exercise-1" and rows[2][1] == 7
        assert json.loads(rows[1][1])["weights"] == [0.15, 0.2, 0.25, 0.3, 0.4, 0.45, 0.5, 0.55]
        assert json.loads(rows[3][1]) == ["lr=0.5"]


def test_a_record_longer_than_a_cell_runs_on_and_reads_back(tmp_path):
    rng = random.Random(1)
    layers = [16, 16, 16, 16, 16]
    examples = [[rng.uniform(-1, 1) for _ in range(16)] for _ in range(32)]
    template = parse_template({"layers": layers, "inputs": examples, "targets": examples,
                               "activations": ["tanh", "tanh", "tanh", "linear"],
                               "weights": [rng.uniform(-1, 1) for _ in range(4 * 256)]})
    assert len(json.dumps(template_record(template))) > 32_767  # Excel's most per cell
    path = tmp_path / "long.xlsx"
    book = xlsxwriter.Workbook(path)
    write_exercise_record(book, template, 5, ["lr=1"])
    book.close()
    record = read_exercise_record(openpyxl.load_workbook(path))
    assert record["template"] == dataclasses.replace(template, source=record["template"].source)


@pytest.mark.parametrize("cell, value, message", [
    ("B2", "{not json", "B2 (template) is not valid JSON"),
    ("B2", "[1, 2]", "B2 (template) should be a JSON object"),
    ("B2", '{"layers": [2, 2]}', "missing 'inputs'"),
    ("B1", "sheetprop-exercise-9", "names the format 'sheetprop-exercise-9'"),
    ("A3", "rows", "A3 should say 'steps'"),
    ("B3", "many", "B3 (steps) should be a whole number"),
    ("B4", "lr=0.5", "B4 (sheets) is not valid JSON"),
])
def test_a_damaged_record_is_one_line(tmp_path, cell, value, message):
    key, _ = build_exercise(tmp_path, "--steps", "2")
    book = openpyxl.load_workbook(key)
    book["_sheetprop"][cell] = value
    with pytest.raises(UserError) as error:
        read_exercise_record(book)
    assert message in str(error.value) and "\n" not in str(error.value)
    assert "_sheetprop record is damaged" in str(error.value)


def test_a_workbook_without_a_record_has_none():
    assert read_exercise_record(openpyxl.Workbook()) is None


@pytest.mark.parametrize("options", [("--optimizer", "adam"), ("--template", "xor"),
                                     ("--template", "deep", "--optimizer", "momentum")])
def test_an_optimizer_exercise_leaves_its_state_to_the_student(tmp_path, options):
    # check grades momentum, RMSprop and Adam too: their state columns are the student's work,
    # given in the first row (the zero start) and blank below it.
    key = tmp_path / "BP.xlsx"
    assert main(["build", "--quiet", "--exercise", "--steps", "3", "--lrs", "0.5", "--out", str(key), *options]) == 0
    sheet = openpyxl.load_workbook(tmp_path / "BP_exercise.xlsx")["lr=0.5"]
    header = next(row for row in sheet.iter_rows(max_row=40) if row[0].value == "step")
    state = [c.column for c in header if isinstance(c.value, str) and re.match(r"(v|m|s)_|t$", c.value)]
    assert state
    first = header[0].row + 1
    assert all(sheet.cell(first, col).value == 0 for col in state)
    assert all(sheet.cell(first + k, col).value is None for k in (1, 2) for col in state)


def test_a_failed_student_version_leaves_neither_file(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise UserError("broken on purpose")

    monkeypatch.setattr(sheetprop.writer.exercise, "add_instructions_sheet", broken)
    key = tmp_path / "BP.xlsx"
    key.write_bytes(b"the old key")
    assert main(["build", "--quiet", "--exercise", "--steps", "2", "--out", str(key)]) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["BP.xlsx"] and key.read_bytes() == b"the old key"


def test_gradcheck_and_mnist_metrics_go_into_the_key_alone(tmp_path):
    csv = tmp_path / "metrics.csv"
    csv.write_text("epoch,train_loss,train_accuracy,test_loss,test_accuracy,lr,seconds\n"
                   "1,0.41,88.5,0.09,97.2,0.05,12.5\n")
    key, student = build_exercise(tmp_path, "--gradcheck", "--mnist-metrics", str(csv), "--lrs", "1",
                                  "--steps", "2")
    key_book, book = openpyxl.load_workbook(key), openpyxl.load_workbook(student)
    assert key_book.sheetnames == ["summary", "lr=1", "mnist", "_sheetprop"]
    assert book.sheetnames == ["exercise", "lr=1", "_sheetprop"]
    key_labels = [label for _, label in header(key_book["lr=1"])]
    labels = [label for _, label in header(book["lr=1"])]
    assert "fd ∂E/∂w1" in key_labels and "Δ ∂E/∂w1" in key_labels
    assert labels == [label for label in key_labels if not label.startswith(("fd ", "Δ "))]
    assert key_book["lr=1"]["A3"].value == "gradcheck h"
    assert book["lr=1"]["A3"].value == "↑ change η"  # η alone: no h for the gradient check


@pytest.mark.skipif(find_soffice() is None, reason="LibreOffice (soffice) not installed")
def test_the_student_version_opens_in_libreoffice(tmp_path):
    key, student = build_exercise(tmp_path, "--template", "mazur", "--steps", "3")
    reopened = recalculate(student, tmp_path / "lo")
    original, book = openpyxl.load_workbook(student), openpyxl.load_workbook(reopened)
    assert [n for n in book.sheetnames if n != "_sheetprop"] == ["exercise", "lr=0.5"]
    ws, before = book["lr=0.5"], original["lr=0.5"]
    assert header(ws) == header(before)
    for cell in table_cells(before):
        assert ws[cell.coordinate].value == cell.value, cell.coordinate  # numbers kept, blanks blank
    assert ws["A2"].value == 0.5
    record = read_exercise_record(book)
    assert record is not None and record["template"].name == "Mazur step-by-step example"
