"""The symbolic chain-rule engine: an expression graph whose derivatives are graph nodes too
(``graph``), printers that turn it into Excel formulas, textbook math and Python (``printers``),
and a compiler to fast Python functions (``numeric``). It knows nothing of spreadsheets."""

from sheetprop.engine.graph import (ONE, OPS, ZERO, Expr, add, const, contains, div, evaluate, exp, grad, linear, log, mul,
                                    neg, power, raise_to, relu, sigmoid, sigmoid_binary_cross_entropy, softmax,
                                    softmax_cross_entropy, step, sub, substitute, tanh, topological_order, var)

__all__ = ["ONE", "OPS", "ZERO", "Expr", "add", "const", "contains", "div", "evaluate", "exp", "grad", "linear", "log", "mul",
           "neg", "power", "raise_to", "relu", "sigmoid", "sigmoid_binary_cross_entropy", "softmax",
           "softmax_cross_entropy", "step", "sub", "substitute", "tanh", "topological_order", "var"]
