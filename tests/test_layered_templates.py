"""The layered templates (rnn, conv, attention): every gradient and a 200-step run against torch
(autograd and torch.optim, float64, written independently in torch_layers), the gradient check,
the loss falling at the templates' own rates, the template format's refusals, what the workbook
holds (step view, functions no newer than Excel 2010), and `check` grading a filled-in exercise."""

import dataclasses
import json
import re
import zipfile

import openpyxl
import pytest

from sheetprop import engine
from sheetprop.cli import main
from sheetprop.errors import UserError
from sheetprop.network import Network, labels
from sheetprop.network.template import load_template, parse_template, template_record

torch = pytest.importorskip("torch")
from torch_layers import TorchStack  # noqa: E402

TEMPLATES = ("rnn", "conv", "attention")


def variant(name, **changes):
    """A built-in template's data with some keys changed (a teacher's variant)."""
    data = template_record(load_template(name))
    for key, value in changes.items():
        if re.fullmatch(r"layer\d", key):
            data["layer"][int(key[5:])].update(value)
        else:
            data[key] = value
    return parse_template(data, source=f"{name} variant")


VARIANTS = {
    **{name: (lambda name=name: load_template(name)) for name in TEMPLATES},
    # windowed pooling, sigmoid maps, a 2×2 kernel on 3×3 maps; binary cross-entropy on sigmoid outputs
    "conv 2×2 kernels, 2×2 pool, bce": lambda: variant(
        "conv", loss="binary_cross_entropy", targets=[[1, 0], [1, 0], [0, 1]],
        layer0={"kernels": [[[0.2, -0.1], [0.3, 0.1]], [[-0.1, 0.2], [0.1, 0.25]]], "activation": "sigmoid"},
        layer1={"size": 3}, layer2={"activation": "sigmoid", "weights": [[0.3, -0.2], [-0.1, 0.4]]}),
    "rnn relu, 2 features, 4 steps": lambda: variant(
        "rnn", inputs=[[[0.5, -0.1], [0.2, 0.3], [-0.4, 0.6], [0.1, 0.1]],
                       [[-0.3, 0.2], [0.6, -0.5], [0.2, 0.2], [0.7, -0.2]]], targets=[[0.3], [-0.5]],
        layer0={"activation": "relu", "input_weights": [[0.4, -0.3], [0.2, 0.5]], "initial_state": [0.1, -0.2]}),
    "attention, values of 2, softmax readout": lambda: variant(
        "attention", loss="cross_entropy", targets=[[1, 0], [0, 1]],
        layer0={"value": [[0.5, -0.2], [0.1, 0.6]]},
        layer2={"units": 2, "activation": "softmax", "weights": [[0.7, -0.5], [-0.2, 0.3]], "biases": [0.0, 0.1]}),
}


def first_row(network):
    return dict(zip((q.label for q in network.quantities), next(network.rows(0.1, 1))))


@pytest.mark.parametrize("name", VARIANTS)
def test_every_gradient_matches_torch_autograd(name):
    template = VARIANTS[name]()
    network = Network(template)
    row = first_row(network)
    model = TorchStack(template)
    loss = model.loss()
    assert row[labels.LOSS] == pytest.approx(loss.item(), rel=1e-12)
    loss.backward()
    expected = torch.cat([p.grad.reshape(-1) for p in model.parameters])
    got = torch.tensor([row[labels.gradient(q.label)] for q in network.trained], dtype=torch.float64)
    assert len(got) == len(expected) == len(network.trained)
    assert torch.allclose(got, expected, rtol=1e-9, atol=1e-14), (got - expected).abs().max()
    # and central differences of the engine's plain evaluation
    env = {**network.starting_values(), **network.starting_state()}
    for q, want in zip(network.trained, got.tolist()):
        up = engine.evaluate([network.loss], {**env, q.label: env[q.label] + 1e-6})[0]
        down = engine.evaluate([network.loss], {**env, q.label: env[q.label] - 1e-6})[0]
        assert (up - down) / 2e-6 == pytest.approx(want, rel=1e-5, abs=1e-8), q.label


def run_200_steps(template, optimizer, lr, settings):
    template = dataclasses.replace(template, optimizer=optimizer, hyperparameters=tuple(settings.items()))
    network = Network(template)
    *_, last = network.rows(lr, 201)  # the starting row, then 200 steps
    row = dict(zip((q.label for q in network.quantities), last))
    model = TorchStack(template)
    opt = model.optimizer(optimizer, lr, settings)
    for _ in range(200):
        opt.zero_grad()
        model.loss().backward()
        opt.step()
    weights = torch.tensor([row[q.label] for q in network.trained], dtype=torch.float64)
    assert row[labels.LOSS] == pytest.approx(model.loss().item(), rel=1e-9)
    assert torch.allclose(weights, model.flat(), rtol=1e-9, atol=1e-12), (weights - model.flat()).abs().max()
    start = torch.tensor([network.starting_values()[q.label] for q in network.trained], dtype=torch.float64)
    assert (weights - start).abs().max() > 1e-2  # the run really moved


@pytest.mark.parametrize("name", TEMPLATES)
def test_200_steps_at_the_first_default_rate_follow_torch_sgd(name):
    template = load_template(name)
    run_200_steps(template, "sgd", float(template.learning_rates[0]), {})


@pytest.mark.slow
@pytest.mark.parametrize("name, optimizer, lr, settings", [
    (name, "sgd", None, {}) for name in TEMPLATES] + [
    (name, "momentum", 0.05, {"momentum": 0.8}) for name in TEMPLATES] + [
    (name, "adam", 0.02, {}) for name in TEMPLATES] + [
    # RMSprop's steps are about η each whatever the gradient: near a minimum a larger η makes the
    # run chaotic, and any two implementations' last bits of rounding part (as in test_networks).
    ("rnn", "rmsprop", 0.001, {}), ("attention", "rmsprop", 0.003, {}), ("conv", "rmsprop", 0.01, {}),
])
def test_200_steps_follow_torch_optim(name, optimizer, lr, settings):
    """Every default rate with SGD, and each optimizer at one rate."""
    template = load_template(name)
    for rate in ([float(r) for r in template.learning_rates] if lr is None else [lr]):
        run_200_steps(template, optimizer, rate, settings)


@pytest.mark.parametrize("name", TEMPLATES)
def test_the_loss_falls_at_every_default_rate(name):
    template = load_template(name)
    network = Network(template)
    loss = [q.label for q in network.quantities].index(labels.LOSS)
    for rate in template.learning_rates:
        first, *_, last = network.rows(float(rate), 100)
        assert last[loss] < 0.5 * first[loss], (rate, first[loss], last[loss])


def gradcheck_ratio(network, values) -> float:
    """The largest |Δ| of a row over the largest |∂E/∂p| of the same row."""
    row = dict(zip((q.label for q in network.quantities), values))
    gradients = [abs(row[labels.gradient(q.label)]) for q in network.trained]
    errors = [abs(row[labels.gradcheck_error(q.label)]) for q in network.trained]
    return max(errors) / max(gradients)


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_gradcheck_difference_is_below_a_millionth_of_the_largest_gradient(name):
    template = load_template(name)
    network = Network(template, gradcheck=True)
    assert all(labels.parse(q.label) == q.label for q in network.quantities)
    rows = list(network.rows(float(template.learning_rates[0]), 40))
    assert max(gradcheck_ratio(network, values) for values in rows) < 1e-6
    # The check can fail: one gradient off by 1 % is seen at once.
    wrong = dict(zip((q.label for q in network.quantities), rows[0]))
    p = network.trained[3].label
    wrong[labels.gradcheck_error(p)] += 0.01 * wrong[labels.gradient(p)]
    assert gradcheck_ratio(network, [wrong[q.label] for q in network.quantities]) > 1e-6


@pytest.mark.parametrize("data, message", [
    ({"layer": [{"type": "dense", "units": 1, "weights": [[1.0]], "biases": [0.0]}]}, "the layers must be"),
    ({"layer0": {"kernels": [[[0.1, 0.2, 0.3], [0.1, 0.2, 0.3]]]}}, "'kernels' must list square kernels"),
    ({"layer0": {"biases": [0.1]}}, "'biases' must be 2 numbers"),
    ({"layer1": {"size": 3}}, "must tile the feature maps"),
    ({"layer2": {"weights": [[0.3, -0.2, 0.1], [-0.1, 0.4, 0.2]]}}, "'weights' must be 2×2 numbers"),
    ({"layers": [2, 2]}, "belongs to a dense template"),
    ({"layer0": {"stride": 2}}, "unknown key(s) stride"),
    ({"layer2": {"activation": "tanh"}}, "loss 'cross_entropy' needs a softmax output layer"),
])
def test_a_bad_layered_template_is_one_line(data, message):
    record = template_record(load_template("conv"))
    if "layer" in data:
        record["layer"] = data["layer"]
    for key, value in data.items():
        if re.fullmatch(r"layer\d", key):
            record["layer"][int(key[5:])].update(value)
        elif key != "layer":
            record[key] = value
    with pytest.raises(UserError) as raised:
        parse_template(record, source="variant")
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_a_template_past_excels_columns_is_refused_before_anything_is_written(tmp_path, capsys):
    big = tmp_path / "big.toml"
    image = [[0.5] * 8 for _ in range(8)]
    kernel = [[[0.1]] for _ in range(8)]  # 8 kernels of 1×1: 8 maps of 8×8 per image
    big.write_text(f"loss = 'mse'\ninputs = {[image] * 32}\ntargets = {[[0.5]] * 32}\n"
                   f"[[layer]]\ntype = 'conv'\nkernels = {kernel}\nbiases = {[0.0] * 8}\n"
                   f"[[layer]]\ntype = 'dense'\nunits = 1\nweights = {[[0.01] * 512]}\nbiases = [0.0]\n")
    out = tmp_path / "out.xlsx"
    assert main(["build", "--quiet", "--template", str(big), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "columns per sheet; Excel allows 16,384" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    folder = tmp_path_factory.mktemp("layered")
    paths = {}
    for name in TEMPLATES:
        paths[name] = folder / f"{name}.xlsx"
        assert main(["build", "--quiet", "--template", name, "--steps", "12", "--lrs", "0.2,0.5",
                     "--gradcheck", "--out", str(paths[name])]) == 0
    return paths


# Every function a layered workbook may call: the engine's and the step view's (all Excel 2007).
CLASSIC = {"EXP", "TANH", "MAX", "IF", "LN", "INDEX", "CHOOSE", "MATCH", "ABS"}


@pytest.mark.slow
@pytest.mark.parametrize("name", TEMPLATES)
def test_no_function_newer_than_excel_2010(built, name):
    with zipfile.ZipFile(built[name]) as book:
        xml = "".join(book.read(n).decode() for n in book.namelist() if n.startswith("xl/worksheets/"))
    formulas = re.findall(r"<f>(.*?)</f>", xml) + re.findall(r"<formula>(.*?)</formula>", xml)
    assert len(formulas) > 1000
    assert "_xlfn." not in xml and "_xlws." not in xml
    used = {f for formula in formulas for f in re.findall(r"([A-Z][A-Z0-9.]*)\(", formula)}
    assert used <= CLASSIC, used - CLASSIC


@pytest.mark.slow
@pytest.mark.parametrize("name", TEMPLATES)
def test_the_step_view_reads_the_chosen_row_through_index(built, name):
    book = openpyxl.load_workbook(built[name])
    values = openpyxl.load_workbook(built[name], data_only=True)
    assert book.sheetnames[:4] == ["summary", "lr=0.2", "lr=0.5", "step view"]
    view, lr = book["step view"], values["lr=0.2"]
    assert view["B3"].value == 11 and view["B4"].value == "lr=0.2"
    assert {str(v.sqref) for v in view.data_validations.dataValidation} == {"B3", "B4"}
    assert any(rule.type == "colorScale" for rules in view.conditional_formatting for rule in rules.rules)
    header = {cell.value: cell.column_letter for cell in lr[17]}
    read = 0
    for row in view.iter_rows(min_row=7):
        for cell in row:
            if isinstance(cell.value, str) and cell.value.startswith("=CHOOSE("):
                # =CHOOSE($D$4,INDEX('lr=0.2'!$X$18:$X$29,$B$3+1),INDEX('lr=0.5'!…))
                letters = re.match(r"=CHOOSE\(\$D\$4,INDEX\('lr=0\.2'!\$([A-Z]+)\$18:\$\1\$29,\$B\$3\+1\),"
                                   r"INDEX\('lr=0\.5'!\$\1\$18:\$\1\$29,\$B\$3\+1\)\)$", cell.value)
                assert letters, cell.value
                assert values["step view"][cell.coordinate].value == lr[f"{letters[1]}29"].value
                assert letters[1] in header.values()
                read += 1
    assert read >= 20


@pytest.mark.slow
def test_exercise_of_each_layered_template_grades_100_percent_through_its_record(tmp_path, capsys):
    for name, optimizer in zip(TEMPLATES, ("adam", "momentum", "rmsprop")):
        key = tmp_path / f"{name}.xlsx"
        assert main(["build", "--quiet", "--exercise", "--template", name, "--optimizer", optimizer,
                     "--steps", "4", "--lrs", "0.1", "--out", str(key)]) == 0
        exercise = key.with_name(f"{name}_exercise.xlsx")
        key_book, book = openpyxl.load_workbook(key), openpyxl.load_workbook(exercise)
        filled = 0
        for row in book["lr=0.1"].iter_rows(min_row=18):
            for cell in row:
                formula = key_book["lr=0.1"][cell.coordinate].value
                if cell.value is None and isinstance(formula, str) and formula.startswith("="):
                    cell.value, filled = formula, filled + 1
        book.save(tmp_path / f"{name}_filled.xlsx")
        capsys.readouterr()
        assert main(["check", "--json", str(tmp_path / f"{name}_filled.xlsx")]) == 0
        report = json.loads(capsys.readouterr().out)
        assert filled > 300
        sheet = report["scores"]["sheets"][0]
        assert report["findings"] == [] and report["scores"]["score"] == 1.0, (name, report["scores"])
        assert sheet["right"] == sheet["cells"] >= filled
    # The grading can fail: one ∂E/∂z cell of the last build off by a factor is marked wrong.
    header = {c.value: c.column_letter for c in book["lr=0.1"][17]}
    cell = book["lr=0.1"][f"{header['∂E/∂k1_1⁽¹⁾']}19"]
    cell.value = cell.value + "*1.5"
    book.save(tmp_path / "slipped.xlsx")
    main(["check", "--json", str(tmp_path / "slipped.xlsx")])
    assert json.loads(capsys.readouterr().out)["scores"]["score"] < 1.0
