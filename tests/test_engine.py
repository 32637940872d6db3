import math
import random

import numpy as np
import pytest

from reference import finite_difference_gradient, forward
from sheetprop import engine
from sheetprop.engine import const, grad, sigmoid, tanh, relu, var, evaluate
from sheetprop.network import Network, gradient_label
from sheetprop.engine.numeric import compile_function
from sheetprop.engine.printers import MathPrinter
from sheetprop.network.template import load_template, parse_template


def random_template(seed, layers=(3, 4, 2), activations=("tanh", "sigmoid"), biases=True):
    rng = random.Random(seed)
    n_in, n_hidden, n_out = layers
    data = {
        "layers": list(layers),
        "activations": list(activations),
        "inputs": [rng.uniform(-1, 1) for _ in range(n_in)],
        "targets": [rng.uniform(0.05, 0.95) for _ in range(n_out)],
        "weights": [rng.uniform(-1, 1) for _ in range(n_in * n_hidden + n_hidden * n_out)],
    }
    if biases:
        data["biases"] = [rng.uniform(-0.5, 0.5), rng.uniform(-0.5, 0.5)]
    return parse_template(data)


NETWORKS = {
    "era": lambda: load_template("era"),
    "mazur": lambda: load_template("mazur"),
    "random 3-4-2 tanh": lambda: random_template(1),
    "random 2-3-1 relu/linear": lambda: random_template(2, (2, 3, 1), ("relu", "linear")),
    "random 4-2-3 sigmoid/tanh": lambda: random_template(3, (4, 2, 3), ("sigmoid", "tanh"), False),
}


def engine_values(network, start=None):
    start = start or network.starting_values()
    return dict(zip([q.label for q in network.computed],
                    evaluate([q.node for q in network.computed], start)))


@pytest.mark.parametrize("name", NETWORKS)
def test_forward_pass_matches_independent_numpy_implementation(name):
    template = NETWORKS[name]()
    values = engine_values(Network(template))
    expected = forward(template.layers, template.activations, template.inputs, template.targets,
                       template.weights, template.biases)
    for label, value in expected.items():
        assert values[label] == pytest.approx(value, rel=1e-12, abs=1e-15), label


@pytest.mark.parametrize("name", NETWORKS)
def test_every_derivative_matches_central_finite_differences(name):
    template = NETWORKS[name]()
    network = Network(template)
    values = engine_values(network)
    expected = finite_difference_gradient(template.layers, template.activations, template.inputs,
                                          template.targets, template.weights, template.biases)
    got = np.array([values[gradient_label(f"w{k + 1}")] for k in range(len(template.weights))])
    # Central differences at h=1e-6 are accurate to ~1e-10 here; a chain-rule slip is far larger.
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", NETWORKS)
def test_every_derivative_matches_torch_autograd(name):
    torch = pytest.importorskip("torch")
    template = NETWORKS[name]()
    network = Network(template)
    values = engine_values(network)
    n_in, n_hidden, n_out = template.layers
    weights = torch.tensor(template.weights, dtype=torch.float64, requires_grad=True)
    w_hidden = weights[:n_in * n_hidden].reshape(n_hidden, n_in)
    w_out = weights[n_in * n_hidden:].reshape(n_out, n_hidden)
    b_hidden, b_out = template.biases or (0.0, 0.0)
    act = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu, "linear": lambda x: x}
    a_h = act[template.activations[0]](w_hidden @ torch.tensor(template.inputs, dtype=torch.float64) + b_hidden)
    a_o = act[template.activations[1]](w_out @ a_h + b_out)
    loss = (0.5 * (torch.tensor(template.targets, dtype=torch.float64) - a_o) ** 2).sum()
    loss.backward()
    got = [values[gradient_label(f"w{k + 1}")] for k in range(len(template.weights))]
    np.testing.assert_allclose(got, weights.grad.numpy(), rtol=1e-12, atol=1e-16)


def test_mazur_published_figures():
    network = Network(load_template("mazur"))
    labels = [q.label for q in network.quantities]
    first, second = (dict(zip(labels, row)) for row in network.rows(0.5, 2))
    assert first["E_total"] == pytest.approx(0.298371109, abs=1e-9)
    published = [0.149780716, 0.19956143, 0.24975114, 0.29950229,
                 0.35891648, 0.408666186, 0.511301270, 0.561370121]
    for k, value in enumerate(published, start=1):
        assert second[f"w{k}"] == pytest.approx(value, abs=1e-8), f"w{k}"


def test_derivatives_read_like_the_textbook():
    network = Network(load_template("era"))
    assert network.derivation(network.by_label("∂E/∂w5")) == \
        "∂E_total/∂w5 = (a_o1 − t1)·a_o1·(1 − a_o1)·a_h1"
    assert network.derivation(network.by_label("∂E/∂w1")) == (
        "∂E_total/∂w1 = ((a_o1 − t1)·a_o1·(1 − a_o1)·w5 + (a_o2 − t2)·a_o2·(1 − a_o2)·w7)"
        "·a_h1·(1 − a_h1)·i1")
    assert network.derivation(network.by_label("a_h2")) == "a_h2 = σ(h2)"
    for q in network.computed:
        text = network.derivation(q)
        assert "·1·" not in text and "+ 0" not in text and "−−" not in text and "--" not in text


def test_simplification_rules():
    x, y = var("x"), var("y")
    assert x * 1 is x and 1 * x is x and x + 0 is x and 0 + x is x and x - 0 is x
    assert (x * 0) is const(0) and -(-x) is x
    assert -(x - y) is (y - x)
    assert x + (-y) is (x - y) and x - (-y) is (x + y)
    assert 2 * (3 * x) is 6 * x
    assert x ** 1 is x


def test_equal_subexpressions_are_one_node_and_derivatives_share_them():
    network = Network(load_template("era"))
    d_w1 = network.by_label("∂E/∂w1").node
    d_w2 = network.by_label("∂E/∂w2").node
    # ∂E/∂w1 = δ_h1·i1 and ∂E/∂w2 = δ_h1·i2 must share the same δ_h1 node, not two copies.
    assert d_w1.op == d_w2.op == "mul"
    assert d_w1.args[0] is d_w2.args[0]
    assert var("i1") * var("w1") is var("i1") * var("w1")


@pytest.mark.parametrize("activation, rule", [
    (sigmoid, lambda x: (1 / (1 + math.exp(-x))) * (1 - 1 / (1 + math.exp(-x)))),
    (tanh, lambda x: 1 - math.tanh(x) ** 2),
    (relu, lambda x: 1.0 if x > 0 else 0.0),
    (engine.exp, math.exp),
    (lambda a: a ** 3, lambda x: 3 * x * x),
    (lambda a: 1 / a, lambda x: -1 / x ** 2),
])
def test_each_primitive_derivative(activation, rule):
    x = var("x")
    (derivative,) = grad(activation(x), [x])
    for point in (-1.3, 0.2, 2.5):
        assert evaluate([derivative], {"x": point})[0] == pytest.approx(rule(point), rel=1e-12)


def test_compiled_function_agrees_with_reference_evaluation():
    network = Network(random_template(7))
    nodes = [q.node for q in network.computed]
    inputs = [q.node for q in network.given]
    start = network.starting_values()
    compiled = compile_function(nodes, inputs)(*(start[q.label] for q in network.given))
    assert list(compiled) == evaluate(nodes, start)


def test_overflow_becomes_nan_like_a_spreadsheet_error():
    x = var("x")
    # Excel computes σ as 1/(1+EXP(-x)); EXP(1000) is #NUM!, and so is everything after it.
    node = sigmoid(x) * 2 + 1
    assert math.isnan(evaluate([node], {"x": -1000.0})[0])
    assert math.isnan(compile_function([node], [x])(-1000.0)[0])
    assert evaluate([node], {"x": 1000.0})[0] == 3.0


def test_gradient_of_unrelated_variable_is_zero():
    x, y = var("x"), var("y")
    assert grad(x * x, [y]) == [const(0)]


def test_math_printer_fails_loudly_on_unknown_ops():
    from sheetprop.engine import Expr
    from sheetprop.engine.printers import ExcelPrinter, UnsupportedOperation

    strange = Expr("sinh", (var("x"),))
    for printer in (ExcelPrinter(), MathPrinter()):
        with pytest.raises(UnsupportedOperation, match="sinh"):
            printer.doprint(strange)
