"""Every op the engine can hold is printed by every printer and compiled by numeric: a new op
that one of them forgets fails here, not in a student's workbook."""

import math
import re
from pathlib import Path

import pytest
from xlsxwriter.worksheet import Worksheet

from sheetprop import engine

from sheetprop.writer import workbook
from sheetprop import fast_worksheet
from sheetprop.engine.numeric import compile_function
from sheetprop.engine.printers import ExcelPrinter, MathPrinter, PythonPrinter

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
    "compare": lambda: engine.compare(x, ">=", y),
    "if": lambda: engine.choose(engine.compare(x, "<", y), x * y, z),
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


FUNCTION = re.compile(r"\b([A-Z][A-Z0-9.]*)\(")


def excel_formulas(op):
    """An op's printed formula and its derivatives' (what a gradient column holds)."""
    expr = EXAMPLES[op]()
    refs = {x: "A1", y: "B1", z: "C1"}
    return [ExcelPrinter().doprint(e, refs) for e in (expr, *engine.grad(expr, [x, y, z]))]


@pytest.mark.parametrize("op", sorted(EXAMPLES))
def test_excel_functions_are_declared_and_skip_the_future_function_scan(op, monkeypatch):
    formulas = excel_formulas(op)
    scanned = [Worksheet()._prepare_formula(f) for f in formulas]  # xlsxwriter's own answer
    for formula in formulas:
        assert set(FUNCTION.findall(formula)) <= ExcelPrinter.functions, formula

    def scan(self, formula, expand_future_functions=False):
        raise AssertionError(f"{formula} took xlsxwriter's slow scan")

    monkeypatch.setattr(Worksheet, "_prepare_formula", scan)
    sheet = workbook.StepsWorksheet()
    assert [sheet._prepare_formula(f) for f in formulas] == scanned


def test_the_declared_functions_are_the_ones_the_table_emits():
    emitted = {name for op in EXAMPLES for f in excel_formulas(op) for name in FUNCTION.findall(f)}
    assert emitted == ExcelPrinter.functions


def test_the_model_sheets_functions_are_declared():
    source = Path(fast_worksheet.__file__).parent.joinpath("mnist", "workbook", "model_workbook.py").read_text()
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("#"))
    # Past the module docstring; two letters or more, as every function (a label's P(k) is not one).
    written = set(re.findall(r"\b([A-Z][A-Z0-9.]+)\(", code.split('"""', 2)[2]))
    assert written and written <= fast_worksheet.MODEL_SHEET_FUNCTIONS, written - fast_worksheet.MODEL_SHEET_FUNCTIONS


@pytest.mark.parametrize("op", sorted(EXAMPLES))
@pytest.mark.parametrize("printer", [ExcelPrinter(), MathPrinter(), PythonPrinter()], ids=type)
def test_printed_length_counts_what_doprint_prints(op, printer):
    expr = EXAMPLES[op]()
    for refs in ({}, {x: "A1", y: "BB22", z: "C1"}, {x: "A1", expr: "ROOT1"}):
        for e in (expr, *engine.grad(expr, [x, y, z])):
            for expand_root in (True, False):
                assert printer.printed_length(e, refs, expand_root) == len(printer.doprint(e, refs, expand_root))
