"""The symbolic chain-rule engine: an expression graph whose derivatives are graph nodes too
(``graph``), the one table of its ops, each with its derivative, float and spreadsheet rules and
its spellings (``ops``), the chain rule and the float64 reference evaluation by those rules
(``calculus``), printers that turn it into Excel formulas, textbook math and Python
(``printers``), and a compiler to fast Python functions (``numeric``). It knows no workbook."""

from sheetprop.engine.graph import (ONE, ZERO, Expr, add, choose, compare, const, contains, div, exp, linear, log, mul,
                                    neg, power, raise_to, relu, sigmoid, sigmoid_binary_cross_entropy, softmax,
                                    softmax_cross_entropy, step, sub, substitute, tanh, topological_order, var)
from sheetprop.engine.calculus import evaluate, grad
from sheetprop.engine.ops import OPS

__all__ = ["ONE", "OPS", "ZERO", "Expr", "add", "choose", "compare", "const", "contains", "div", "evaluate", "exp", "grad", "linear", "log", "mul",
           "neg", "power", "raise_to", "relu", "sigmoid", "sigmoid_binary_cross_entropy", "softmax",
           "softmax_cross_entropy", "step", "sub", "substitute", "tanh", "topological_order", "var"]
