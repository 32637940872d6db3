import pytest

from sheetprop.engine import Expr, exp, relu, sigmoid, tanh, var, step
from sheetprop.engine.printers import ExcelPrinter, MathPrinter

x, y, z = var("x"), var("y"), var("z")
refs = {x: "A2", y: "B2", z: "$C$1"}


@pytest.mark.parametrize("expr, formula", [
    (x + y * z, "=A2+B2*$C$1"),
    ((x + y) * z, "=(A2+B2)*$C$1"),
    (x - (y - z), "=A2-(B2-$C$1)"),
    ((x - y) - z, "=A2-B2-$C$1"),
    (x / (y * z), "=A2/(B2*$C$1)"),
    (x ** 2, "=A2^2"),
    (-(x ** 2), "=-(A2^2)"),          # Excel reads -A2^2 as (-A2)^2
    ((-x) ** 2, "=(-A2)^2"),
    ((x + y) ** 2, "=(A2+B2)^2"),
    (0.5 * (x - y) ** 2, "=0.5*(A2-B2)^2"),
    (sigmoid(x), "=1/(1+EXP(-A2))"),
    (sigmoid(x + y), "=1/(1+EXP(-(A2+B2)))"),
    (2 * sigmoid(x), "=2*1/(1+EXP(-A2))"),      # left to right: (2*1)/(1+…)
    (x / sigmoid(y), "=A2/(1/(1+EXP(-B2)))"),
    (tanh(x * y), "=TANH(A2*B2)"),
    (relu(x - y), "=MAX(0,A2-B2)"),
    (step(x), "=IF(A2>0,1,0)"),
    (exp(-x), "=EXP(-A2)"),
    (x ** -1.5, "=A2^(-1.5)"),
])
def test_excel_formulas_respect_excel_precedence(expr, formula):
    assert ExcelPrinter().doprint(expr, refs) == formula


def test_a_cell_formula_points_at_cells_holding_its_subexpressions():
    h = x * y + z
    a = sigmoid(h)
    assert ExcelPrinter().doprint(a, {h: "D4"}) == "=1/(1+EXP(-D4))"
    # The root is printed in full even when it has a cell of its own.
    assert ExcelPrinter().doprint(h, {h: "D4", x: "A4", y: "B4", z: "C4"}) == "=A4*B4+C4"


def test_math_printer_reads_like_a_textbook():
    names = {x: "a_o1", y: "t1"}
    assert MathPrinter().doprint(x * (1 - x) * (x - y), names) == "a_o1·(1 − a_o1)·(a_o1 − t1)"
    assert MathPrinter().doprint(0.5 * (y - x) ** 2, names) == "0.5·(t1 − a_o1)²"
    assert MathPrinter().doprint(sigmoid(z), {}) == "σ(z)"


def test_unsupported_op_fails_loudly():
    with pytest.raises(ValueError, match="cannot print op 'cosh'"):
        ExcelPrinter().doprint(Expr("cosh", (x,)), refs)


@pytest.mark.parametrize("factor, excel, math_", [
    (1 / 6, "(B1-C1)/6", "(x − y)/6"),      # the mean over six examples
    (1 / 3, "(B1-C1)/3", "(x − y)/3"),
    (0.5, "0.5*(B1-C1)", "0.5·(x − y)"),    # short decimals stay as they are
    (0.25, "0.25*(B1-C1)", "0.25·(x − y)"),
])
def test_a_reciprocal_without_a_short_decimal_prints_as_a_division(factor, excel, math_):
    from sheetprop.engine import const, mul, var
    from sheetprop.engine.printers import ExcelPrinter, MathPrinter, PythonPrinter

    x, y = var("x"), var("y")
    expr = mul(const(factor), x - y)
    refs = {x: "B1", y: "C1"}
    assert ExcelPrinter().doprint(expr, refs) == "=" + excel
    assert MathPrinter().doprint(expr) == math_
    assert ExcelPrinter().printed_length(expr, refs) == len(ExcelPrinter().doprint(expr, refs))
    assert repr(factor) in PythonPrinter().doprint(expr, {x: "a", y: "b"})  # compiled code keeps the product
