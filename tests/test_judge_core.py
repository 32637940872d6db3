"""The judge's core rule, pinned without torch: a formula is right only where it agrees with the
chain rule at every point, to a tolerance far below a real slip, by derivatives that are right
themselves. Each test here fails when one of those three is loosened."""

from __future__ import annotations

import math

from check_workbooks import _DELTA_O1, _DELTA_O2, Layout, write_workbook
from sheetprop import engine
from sheetprop.check import check_workbook
from sheetprop.check.judge.formula import agree, same_function


def test_functions_agree_only_where_every_point_agrees():
    assert same_function([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    assert not same_function([1.0, 2.0, 3.0], [1.0, 2.0, 3.5])   # one point off is another function
    assert not same_function([0.0, 2.0, 3.0], [1.0, 2.0, 3.0])


def test_two_values_agree_to_a_relative_tolerance_and_an_absolute_floor():
    nan = math.nan
    assert agree(nan, nan)                                 # both no number: the same
    assert not agree(nan, 1.0) and not agree(1.0, nan)
    assert agree(100.0, 100.0 + 1e-8, 1e-9)                # 1e-10 relative: within 1e-9
    assert not agree(100.0, 100.0 + 1e-5, 1e-9)
    assert agree(0.0, 1e-15)                               # rounding noise around 0: the floor
    assert not agree(0.0, 1e-13)
    assert agree(0.0, 1e-15, 0.0)                          # the floor itself still agrees
    assert same_function([1.0], [1.0 + 1e-7], tolerance=1e-6)  # a looser tolerance asked for is used
    assert not same_function([1.0], [1.0 + 1e-7])


_RELU = {"a_h1": "=MAX(0,{h1})", "a_h2": "=MAX(0,{h2})"}
_RELU_GRADIENTS = {
    f"dw{k}": f"=({_DELTA_O1}*{{{w_o1}}}+{_DELTA_O2}*{{{w_o2}}})*IF({{{h}}}>0,1,0)*{{{i}}}"
    for k, (w_o1, w_o2, h, i) in enumerate([("w5", "w7", "h1", "i1"), ("w5", "w7", "h1", "i2"),
                                            ("w6", "w8", "h2", "i1"), ("w6", "w8", "h2", "i2")], start=1)}


def test_a_missing_relu_factor_is_found_though_the_sheet_keeps_every_unit_active(tmp_path):
    # Mazur's inputs and weights are positive: at the sheet's own values the relu factor is 1
    # everywhere, and only the random points with negative weights tell the formulas apart.
    steps = 3
    slips = {(step, name): formula for step in range(steps) for name, formula in {**_RELU, **_RELU_GRADIENTS}.items()}
    for step in range(steps):
        slips[(step, "dw1")] = f"=({_DELTA_O1}*{{w5}}+{_DELTA_O2}*{{w7}})*{{i1}}"  # the relu factor left out
    path = tmp_path / "relu.xlsx"
    write_workbook(path, [("relu", Layout(), slips)], steps)
    report = check_workbook(path)
    assert {f.label for f in report.findings} == {"∂E/∂w1"}, report.findings


def test_a_slip_of_a_millionth_in_a_weight_update_is_found(tmp_path):
    # The ∂E/∂w3 column is not labelled (so its formula is not judged on its own) and takes σ′
    # of h1 where h2's belongs: the updates of w3 are then off by about 5e-7 of their value, a
    # slip the default tolerance must see (84 of the wild workbooks has exactly this).
    steps = 3
    slip = f"=({_DELTA_O1}*{{w6}}+{_DELTA_O2}*{{w8}})*{{a_h1}}*(1-{{a_h1}})*{{i1}}"
    path = tmp_path / "millionth.xlsx"
    layout = Layout(labels={"dw3": "gradient three"})
    write_workbook(path, [("steps", layout, {(step, "dw3"): slip for step in range(steps)})], steps)
    report = check_workbook(path)
    updates = [f for f in report.findings if f.label == "w3"]
    assert [f.kind for f in updates] == ["wrong update"] * (steps - 1)
    # The size of the slip, worked out here by hand: σ′(h1) and σ′(h2) at Mazur's first row.
    sigma = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    a_h1, a_h2 = sigma(0.15 * 0.05 + 0.2 * 0.1), sigma(0.25 * 0.05 + 0.3 * 0.1)
    assert 1e-7 < abs(a_h1 * (1 - a_h1) / (a_h2 * (1 - a_h2)) - 1) < 1e-2
    assert all(f.relative_error < 1e-5 for f in updates)


def _finite_difference(f, x: list[float], j: int, h: float = 1e-6) -> float:
    up, down = list(x), list(x)
    up[j] += h
    down[j] -= h
    return (f(up) - f(down)) / (2 * h)


def test_softmax_derivatives_match_finite_differences():
    logits = [engine.var(f"o{j}") for j in range(3)]
    point = [0.3, -1.2, 0.8]
    env = lambda x: {f"o{j}": v for j, v in enumerate(x)}  # noqa: E731
    for k in range(3):
        output = engine.softmax(logits, k)
        derivatives = engine.grad(output, logits)
        for j in range(3):
            exact = engine.evaluate([derivatives[j]], env(point))[0]
            numeric = _finite_difference(lambda x: engine.evaluate([output], env(x))[0], point, j)
            assert math.isclose(exact, numeric, rel_tol=1e-6, abs_tol=1e-9), (k, j, exact, numeric)
