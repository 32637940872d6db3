"""Every op the engine can hold is printed by every printer and compiled by numeric: a new op
that one of them forgets fails here, not in a student's workbook."""

import math

import pytest

from sheetprop import engine
from sheetprop.numeric import compile_function
from sheetprop.printers import ExcelPrinter, MathPrinter, PythonPrinter

x, y, z = engine.var("x"), engine.var("y"), engine.var("z")
ENV = {"x": 0.3, "y": -0.7, "z": 0.4}
# One expression per op, each with that op at its root.
EXAMPLES = {
    "add": lambda: x + y,
    "mul": lambda: x * y,
    "sub": lambda: x - y,
    "div": lambda: x / y,
    "neg": lambda: engine.neg(x),
    "pow": lambda: engine.power(x, 3),
    "raise_to": lambda: engine.raise_to(z, x),
    "exp": lambda: engine.exp(x),
    "log": lambda: engine.log(z),
    "sigmoid": lambda: engine.sigmoid(x),
    "tanh": lambda: engine.tanh(x),
    "relu": lambda: engine.relu(y),
    "step": lambda: engine.step(x),
    "softmax": lambda: engine.softmax([x, y, z], 1),
    "softmax_cross_entropy": lambda: engine.softmax_cross_entropy(
        [engine.softmax([x, y], 0), engine.softmax([x, y], 1)], [z, 1 - z]),
    "sigmoid_binary_cross_entropy": lambda: engine.sigmoid_binary_cross_entropy(engine.sigmoid(x), z),
}


def test_the_examples_cover_every_engine_op():
    assert set(EXAMPLES) == set(engine.OPS)
    for op, make in EXAMPLES.items():
        assert make().op == op


@pytest.mark.parametrize("op", sorted(EXAMPLES))
def test_every_printer_and_the_compiler_cover(op):
    expr = EXAMPLES[op]()
    refs = {x: "A1", y: "B1", z: "C1"}
    assert ExcelPrinter().doprint(expr, refs).startswith("=")
    assert MathPrinter().doprint(expr, {})
    assert PythonPrinter().doprint(expr, {x: "x", y: "y", z: "z"})
    compiled = compile_function([expr], [x, y, z])(ENV["x"], ENV["y"], ENV["z"])[0]
    want = engine.evaluate([expr], ENV)[0]
    assert math.isfinite(want)
    assert compiled == pytest.approx(want, rel=1e-12)
    # Each op's derivative is itself printable and compilable (the gradient columns need it).
    for derivative in engine.grad(expr, [x, z]):
        ExcelPrinter().doprint(derivative, refs)
        compile_function([derivative], [x, y, z])(ENV["x"], ENV["y"], ENV["z"])
