"""formulas.parse: the ExcelPrinter's inverse, Excel's own reading rules, references, failures."""

import math
import random

import pytest

from sheetprop import engine

from sheetprop.spreadsheet import formulas
from sheetprop.engine import exp, log, raise_to, relu, sigmoid, step, tanh, var
from sheetprop.engine.printers import ExcelPrinter

# --- 1. print with ExcelPrinter, parse back, same value --------------------------------------

x, y, z, w = var("x"), var("y"), var("z"), var("w")
REFS = {x: "B3", y: "C3", z: "$D$7", w: "'lr=0.5'!$A$2"}
CELLS = {(None, "B", 3): x, (None, "C", 3): y, (None, "D", 7): z, ("lr=0.5", "A", 2): w}

HAND_WRITTEN = [
    x + y, x - y, x * y, x / y, -x, x + y * z, (x + y) * z,
    x - (y - z), (x - y) - z, x / (y * z), (x / y) / z, x / (y / z), x * (y / z),
    -(x ** 2), (-x) ** 2, -(x - y) ** 2, (x + y) ** 2, x ** 3, x ** -2, x ** 0.5, x ** -1.5,
    0.5 * (x - y) ** 2, -3 * x, y - (-3 * x), x + (-2.5) * y, x * 1e20, x + 1e-7, x / 3 + 1 / 3,
    exp(x), exp(-x), log(x), log(x * y), tanh(x - y), sigmoid(x), sigmoid(x + y), 2 * sigmoid(x),
    x / sigmoid(y), relu(x - y), relu(y - x), step(x - y), step(y - x), -relu(x - y) * z,
    raise_to(x, y), raise_to(x, raise_to(y, z)), raise_to(raise_to(x, y), z),  # 2^3^2 both ways
    raise_to(2, x), raise_to(x + y, z - w), -raise_to(x, y), raise_to(x, -y),
    sigmoid(tanh(x * y - z) + relu(w - x) * step(z - y)) / (1 + exp(-(x - y) ** 2)),
    log(1 + exp(x - w)) - (y - (z - (x - (w - y)))) ** 2,
]


def _nested(rng: random.Random, depth: int) -> engine.Expr:
    """A random expression that stays finite and in every op's domain for values in [0.3, 2]."""
    if depth == 0:
        return rng.choice([x, y, z, w, engine.const(rng.choice([0.5, 2.0, 3.0, 0.1]))])
    a, b = _nested(rng, depth - 1), _nested(rng, depth - 1)
    return rng.choice([
        lambda: a + b, lambda: a - b, lambda: a * b, lambda: -a, lambda: a / (1 + b ** 2),
        lambda: tanh(a) ** 3, lambda: (1 + sigmoid(a)) ** 0.5, lambda: exp(tanh(a)),
        lambda: log(1 + a ** 2), lambda: sigmoid(a - b), lambda: relu(a - b), lambda: step(a - b) * b,
        lambda: raise_to(1 + sigmoid(a), tanh(b)), lambda: tanh(a) - (tanh(b) - sigmoid(a)),
    ])()


NESTED = [_nested(random.Random(seed), 6) for seed in range(30)]


@pytest.mark.parametrize("expr", HAND_WRITTEN + NESTED, ids=lambda e: repr(e)[:60])
def test_a_printed_formula_parses_back_to_the_same_function(expr):
    formula = ExcelPrinter().doprint(expr, REFS)
    parsed = formulas.parse(formula, lambda ref: CELLS[ref])
    rng = random.Random(formula)
    for _ in range(5):
        env = {v.payload: rng.uniform(0.3, 2.0) for v in (x, y, z, w)}
        [expected], [found] = engine.evaluate([expr], env), engine.evaluate([parsed], env)
        assert math.isfinite(expected), (formula, env)
        assert math.isclose(found, expected, rel_tol=1e-12), (formula, env)


# --- 2. Excel's own rules, expected values computed by hand ---------------------------------

def _value(formula, **cells):
    expr = formulas.parse(formula, lambda ref: var(f"{ref[1]}{ref[2]}"))
    return engine.evaluate([expr], cells)[0]


@pytest.mark.parametrize("formula, cells, expected", [
    ("=-2^2", {}, 4),                      # unary minus binds tighter than ^
    ("=-A1^2", {"A1": 3}, 9),
    ("=2^3^2", {}, 64),                    # ^ groups from the left: (2^3)^2
    ("=A1^A2^B1", {"A1": 2, "A2": 3, "B1": 2}, 64),
    ("=2^-1", {}, 0.5),
    ("=10%", {}, 0.1),
    ("=50%*A1", {"A1": 8}, 4),
    ("=2*-3", {}, -6),
    ("=1+2*3^2", {}, 19),
    ("=-(1-3)", {}, 2),
    ("=A1-A2-B1", {"A1": 10, "A2": 3, "B1": 2}, 5),
    ("=A1/A2/B1", {"A1": 12, "A2": 3, "B1": 2}, 2),
    ("=+A1", {"A1": 4}, 4),
    ("=TRUE*3", {}, 3),
    ("=FALSE+1", {}, 1),
    ("=1.5E3", {}, 1500),
    ("=  1 +  2 * A1 ", {"A1": 3}, 7),
    ("= SUM( A1 , 2 )", {"A1": 3}, 5),
    ("=exp(0)+ln(1)+Sqrt(A1)", {"A1": 9}, 4),
    ("=SUM(A1:B2)", {"A1": 1, "B1": 2, "A2": 3, "B2": 4}, 10),
    ("=SUM(B2:A1)", {"A1": 1, "B1": 2, "A2": 3, "B2": 4}, 10),
    ("=SUM(A1,2,A2)", {"A1": 1, "A2": 3}, 6),
    ("=SUM(A1)", {"A1": -2}, -2),
    ("=MAX(0,A1)", {"A1": -1}, 0),
    ("=MAX(0,A1)", {"A1": 2}, 2),
    ("=MAX(A1,0)", {"A1": -1}, 0),
    ("=MAX(A1,A2,3)", {"A1": 5, "A2": 1}, 5),
    ("=MAX(A1,A2,3)", {"A1": 1, "A2": 2}, 3),
    ("=MAX(A1,A2,3)", {"A1": 1, "A2": 4}, 4),
    ("=MIN(A1,A2)", {"A1": 4, "A2": -2}, -2),
    ("=MIN(A1,A2)", {"A1": -4, "A2": -2}, -4),
    ("=IF(A1>0,1,0)", {"A1": 0.5}, 1),
    ("=IF(A1>0,1,0)", {"A1": -0.5}, 0),
    ("=IF(A1<A2,5,7)", {"A1": 1, "A2": 2}, 5),
    ("=IF(A1<A2,5,7)", {"A1": 3, "A2": 2}, 7),
    ("=IF(A1>=A2,A1,A2)", {"A1": -1, "A2": 6}, 6),
    ("=IF(A1>0,A2)", {"A1": -1, "A2": 6}, 0),  # FALSE, which is 0
    ("=POWER(A1,3)", {"A1": -2}, -8),
    ("=SQRT(A1)", {"A1": 2.25}, 1.5),
    ("=ABS(A1)", {"A1": -3.5}, 3.5),
    ("=ABS(A1)", {"A1": 2}, 2),
    ("=ABS(A1)", {"A1": -1e200}, 1e200),   # no overflow of A1²
    ("=ABS(A1)", {"A1": -1e-200}, 1e-200),  # nor underflow
    ("=EXP(LN(A1))", {"A1": 7}, 7),
    ("=TANH(0)", {}, 0),
    ("=1/(1+EXP(-A1))", {"A1": 0}, 0.5),
    ("=1/(1+EXP(-A1))", {"A1": math.log(3)}, 0.75),  # 1/(1 + 1/3)
])
def test_excel_rules(formula, cells, expected):
    assert math.isclose(_value(formula, **cells), expected, rel_tol=1e-12)


# --- 3. references --------------------------------------------------------------------------

@pytest.mark.parametrize("formula, refs", [
    ("=B2", [(None, "B", 2)]),
    ("=$B$2", [(None, "B", 2)]),
    ("=B$2", [(None, "B", 2)]),
    ("=$B2", [(None, "B", 2)]),
    ("=b2", [(None, "B", 2)]),
    ("=XFD1048576", [(None, "XFD", 1048576)]),
    ("=Sheet2!A1", [("Sheet2", "A", 1)]),
    ("='lr=0.5'!$A$2", [("lr=0.5", "A", 2)]),
    ("='Bob''s'!A1", [("Bob's", "A", 1)]),
    ("='my sheet'!AB10*C4", [("my sheet", "AB", 10), (None, "C", 4)]),
    ("=SUM(Sheet2!A1:B2)", [("Sheet2", c, r) for r in (1, 2) for c in "AB"]),  # row-major
    ("=SUM('lr=2'!$C$5:$C$7)", [("lr=2", "C", r) for r in (5, 6, 7)]),
])
def test_each_reference_reaches_the_resolver_as_sheet_column_row(formula, refs):
    seen = []

    def resolve(ref):
        seen.append(ref)
        return engine.const(3.0)

    value = engine.evaluate([formulas.parse(formula, resolve)], {})[0]
    assert seen == refs
    assert value == {1: 3, 2: 9, 3: 9, 4: 12}[len(refs)]  # 3, 3*3, 3+3+3, 3+3+3+3


def test_a_defined_name_is_resolved_to_its_cell():
    names = {"learning_rate": ("lr=0.5", "B", 1)}
    seen = []
    expr = formulas.parse("=learning_rate*2", lambda ref: seen.append(ref) or var("eta"), names.get)
    assert seen == [("lr=0.5", "B", 1)]
    assert engine.evaluate([expr], {"eta": 0.25}) == [0.5]


# --- 4. failures are FormulaError, never another exception ----------------------------------

@pytest.mark.parametrize("formula", [
    '="a"', '=EXP("1")', '=A1&B1', '=1&2',
    "=FOO(A1)", "=MAX(A1)", "=SUM()",
    "=IF(A1,1,0)", "=IF(A1>0)", "=IF(A1>0,A1>1,0)",
    "=A1>0", "=A1=B1", "=(A1>0)", "=1+(A1>0)", "=-(A1>0)", "=(A1>0)%",
    "=A1:B2*2", "=A1:B2", "=EXP(A1:B2)", "=MAX(0,A1:B2)",
    "=A:A", "=SUM(A:A)", "=SUM(1:1)",
    "=(1", "=1)", "=(A1+B1", "=SUM(A1,", "=EXP(A1))",
    "=#REF!", "=A1+#N/A", "=#DIV/0!",
    "=", "=-", "=1+",
    "=SUM(A1:Z100)",
    "=unknown_name", "=Sheet2!unknown_name",
    "=SQRT(-4)", "=(-8)^(1/3)", "=POWER(0,-1)", "=10^400",  # #NUM! or #DIV/0! in Excel
])
def test_what_the_reader_does_not_understand_is_a_formula_error(formula):
    with pytest.raises(formulas.FormulaError):
        formulas.parse(formula, lambda ref: var(f"{ref[1]}{ref[2]}"), lambda name: None)


def test_an_unknown_name_without_a_name_resolver_is_a_formula_error():
    with pytest.raises(formulas.FormulaError):
        formulas.parse("=rate", lambda ref: var("x"))


def test_a_range_may_hold_up_to_the_size_limit():
    n = formulas.MAX_RANGE_CELLS
    seen = []
    formulas.parse(f"=SUM(A1:A{n})", lambda ref: seen.append(ref) or engine.ONE)
    assert len(seen) == n
    with pytest.raises(formulas.FormulaError):
        formulas.parse(f"=SUM(A1:A{n + 1})", lambda ref: engine.ONE)


def test_a_formula_copied_down_is_recognised_from_the_row_above():
    from sheetprop.spreadsheet.formulas import formula_at_row, relative_with_template

    relative, template = relative_with_template("=F18-$A$2*Y18+SUM(B11:B18)&\"{x}\"", 18)
    assert relative == "=F[0]-$A$2*Y[0]+SUM(B[-7]:B[0])&\"{x}\""
    # The same formula written one row down, as a spreadsheet copies it: A2 stays, the rest moves.
    assert formula_at_row(template, 19) == "=F19-$A$2*Y19+SUM(B12:B19)&\"{x}\""
    assert formula_at_row(template, 3) is None  # B-4 would be no row
    assert formula_at_row(relative_with_template("={1,2}*2", 5)[1], 9) == "={1,2}*2"


def test_references_read_down_a_column_are_each_formulas_own():
    from sheetprop.check.read.cells import CopiedDownReferences, references

    column = ["=F18-$A$2*Y18", "=F19-$A$2*Y19", "=F20-A3*Y20+'lr 1'!B$20", "=F21-A4*Y21+'lr 1'!B$20",
              "=F22-A5*Y22+'lr 1'!B$20*2", "=A1-B0", "=A2-B1", "=Sheet2!C7"]
    copied = CopiedDownReferences()
    for row, formula in enumerate(column, start=18):
        # The formula's own row is its position here; each answer is what references() reads
        # from that formula's text alone, with the row that a copy moved it to.
        assert copied.at("w1", formula, row) == references(formula), formula
    assert copied.at("w1", "=A1-B0", 1) == [(None, "A", 1)]  # B0 is no cell
    assert copied.at("w1", "=A2-B1", 2) == [(None, "A", 2), (None, "B", 1)]  # and B1, a row down, is one


def test_a_formula_copied_along_a_row_or_down_a_column_has_one_relative_form():
    from sheetprop.spreadsheet.formulas import relative_form

    # =I12+$D$4*DI$799*$D12 in DI12, copied one column right and one row down (as Excel copies it)
    here = relative_form("=I12+$D$4*DI$799*$D12", 12, 113)
    assert here == relative_form("=J13+$D$4*DJ$799*$D13", 13, 114)
    assert here != relative_form("=J13+$D$4*DJ$799*$D12", 13, 114)  # $D12 left behind: another formula
    assert relative_form("=学習!$C14*2", 14, 9) == "=学習!$CR[0]*2"
    assert relative_form("=LOG10(A1)", 1, 1) == "=LOG10(C[0]R[0])"


def test_sumproduct_is_the_sum_over_its_ranges_in_step():
    seen = {}

    def resolve(ref):
        seen[ref] = var(f"{ref[1]}{ref[2]}")
        return seen[ref]
    expr = formulas.parse("=SUMPRODUCT($A1:$A3,B1:B3)", resolve)
    env = {"A1": 1.0, "A2": 2.0, "A3": 3.0, "B1": 10.0, "B2": 100.0, "B3": 1000.0}
    assert engine.evaluate([expr], env)[0] == 1 * 10 + 2 * 100 + 3 * 1000
    with pytest.raises(formulas.FormulaError):
        formulas.parse("=SUMPRODUCT(A1:A3,B1:B2)", resolve)


def test_an_if_of_equality_is_the_exact_comparison_with_no_slope():
    # a one-hot target, =IF(label=3, 0.99, 0.01): 0.99 for the class, 0.01 for the rest
    label = var("label")
    expr = formulas.parse("=IF(A1=3,0.99,0.01)", lambda ref: label)
    assert engine.evaluate([expr], {"label": 3.0})[0] == pytest.approx(0.99)
    assert engine.evaluate([expr], {"label": 4.0})[0] == pytest.approx(0.01)
    assert engine.evaluate(engine.grad(expr, [label]), {"label": 3.5})[0] == 0.0
    other = formulas.parse("=IF(A1<>3,1,0)", lambda ref: label)
    assert engine.evaluate([other], {"label": 3.0})[0] == 0.0
