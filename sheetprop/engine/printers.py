"""Printers turn an expression into text: an Excel formula, textbook math, or Python source.

As in sympy's code printers, printing lives apart from the expressions and a concrete printer is
mostly a table: op -> (template, precedence of the result, precedence each argument needs), its
language's column of the one op table (``ops``).
An argument that binds more loosely than its slot needs is wrapped in parentheses. Nodes named
in ``refs`` print as their reference (a cell, a symbol), which is how a formula points at the
cells that already hold its subexpressions. An op missing from the table fails loudly.

An op with any number of arguments (softmax, the fused cross-entropies) has a function instead
of a template: it gets the printed operands and the node's payload, and one precedence serves
for every argument.
"""

from __future__ import annotations

from sheetprop.engine import graph as engine
from sheetprop.engine import ops
from sheetprop.engine.graph import Expr
from sheetprop.engine.ops import ADD, ATOM, LOWEST, MUL, NEG, POW  # noqa: F401 (printers' precedences)


class UnsupportedOperation(ValueError):
    pass


class _Text:
    """A piece of formula as its text."""
    atom = staticmethod(lambda text: text)
    parenthesised = staticmethod(lambda text: f"({text})")
    call = staticmethod(lambda template, operands, payload: template(operands, payload))
    format = staticmethod(lambda template, operands, exponent: template.format(*operands, *exponent))


class _Length:
    """A piece of formula as its length in characters."""
    atom = staticmethod(len)
    parenthesised = staticmethod(lambda length: length + 2)

    @staticmethod
    def call(template, lengths, payload):
        # Each operand as one private-use character: the text's length is what is left plus each
        # operand's length times the times it appears.
        marks = [chr(0xE000 + k) for k in range(len(lengths))]
        text = template(marks, payload)
        return len(text) + sum(text.count(m) * (n - 1) for m, n in zip(marks, lengths))

    @staticmethod
    def format(template, lengths, exponent):
        return len(template.format(*[""] * len(lengths), *exponent)) + sum(lengths)


_TEXT, _LENGTH = _Text(), _Length()


class Printer:
    table: dict[str, tuple[str, int, tuple[int, ...]]] = {}
    # Print c·x as x/n where c = 1/n has no short decimal (the mean over 6 examples: x/6, not
    # 0.16666666666666666·x). For people; a compiler keeps the multiplication.
    reciprocals = False

    def doprint(self, expr: Expr, refs: dict[Expr, str] | None = None, expand_root=True) -> str:
        """Print ``expr``; with ``expand_root`` the root itself is printed even if it has a ref
        (a cell's own formula must not point at the cell)."""
        return self._render(expr, refs or {}, expand_root, _TEXT)

    def printed_length(self, expr: Expr, refs: dict[Expr, str] | None = None, expand_root=True) -> int:
        """``len(self.doprint(expr, refs, expand_root))``, without building the text: each node's
        length is counted once, so a formula that repeats a subexpression thousands of times (a
        finite difference recomputing the whole loss) is measured in the time of its graph."""
        return self._render(expr, refs or {}, expand_root, _LENGTH)

    def _render(self, expr: Expr, refs: dict[Expr, str], expand_root: bool, out):
        """The one walk over the graph that both printing and measuring take; ``out`` says what
        a piece of the formula is (its text, or its length). Each node is rendered once."""
        memo: dict[Expr, tuple] = {}

        def visit(node: Expr, expand=False):
            # A variable has no formula of its own, so even as the root it prints as its reference.
            if node in refs and (not expand or node.op == "var"):
                return out.atom(refs[node]), ATOM
            if not expand and node in memo:
                return memo[node]
            if node.op == "const":
                text, precedence = self.number(node.payload)
                result = out.atom(text), precedence
            elif node.op == "var":
                result = out.atom(self.variable(node.payload)), ATOM
            else:
                readable = self._readable(node)
                try:
                    template, precedence, needs = self.table[readable.op]
                except KeyError:
                    raise UnsupportedOperation(f"{type(self).__name__} cannot print op {node.op!r}") from None
                if callable(template):
                    result = out.call(template, [wrapped(arg, needs) for arg in readable.args], readable.payload), precedence
                else:
                    operands = [wrapped(arg, need) for arg, need in zip(readable.args, needs)]
                    exponent = [self.exponent(readable.payload)] if readable.op == "pow" else []
                    result = out.format(template, operands, exponent), precedence
            if not expand:
                memo[node] = result
            return result

        def wrapped(node: Expr, need: int):
            value, precedence = visit(node)
            return out.parenthesised(value) if precedence < need else value

        return visit(expr, expand=expand_root)[0]

    def _readable(self, node: Expr) -> Expr:
        if not (self.reciprocals and node.op == "mul" and node.args[0].op == "const"):
            return node
        c = node.args[0].payload
        n = round(1 / c) if c != 0 else 0
        if 3 <= n <= 10**6 and 1 / n == c and len(repr(c)) > 8:
            return Expr("div", (node.args[1], engine.const(n)))
        return node

    def number(self, value: float) -> tuple[str, int]:
        text = str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
        return text, (NEG if value < 0 else ATOM)

    def exponent(self, value: float) -> str:
        return self.number(value)[0]

    def variable(self, name: str) -> str:
        return name


class ExcelPrinter(Printer):
    """Formulas that Excel and LibreOffice both read. Excel's unary minus binds tighter than ^
    (-x^2 is (-x)^2), so a negated or exponentiated operand must be an atom."""

    reciprocals = True

    # Every spreadsheet function the table can emit: all of them ones every Excel knows, so a
    # workbook writer may skip xlsxwriter's scan for newer functions (tests/test_op_coverage.py
    # holds each op's printed formulas to this list).
    functions = frozenset(f for name in ops.TABLE for f in ops.excel_functions(name))

    table = ops.spellings("excel")

    def doprint(self, expr, refs=None, expand_root=True) -> str:
        return "=" + super().doprint(expr, refs, expand_root)

    def printed_length(self, expr, refs=None, expand_root=True) -> int:
        return 1 + super().printed_length(expr, refs, expand_root)

    def exponent(self, value: float) -> str:
        text, precedence = self.number(value)
        return text if precedence == ATOM else f"({text})"


class MathPrinter(Printer):
    """Readable math for people: (a_o1 − t1)·a_o1·(1 − a_o1)·a_h1."""

    reciprocals = True

    table = ops.spellings("math")
    _superscripts = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")

    def number(self, value):
        text, precedence = super().number(value)
        return text.replace("-", "−"), precedence

    def exponent(self, value):
        if value.is_integer():
            return str(int(value)).translate(self._superscripts)
        return "^" + self.number(value)[0]


class PythonPrinter(Printer):
    """Python source for fast numeric evaluation; the helpers it calls are the engine's
    float64 rules (overflow becomes NaN, as a spreadsheet's error value)."""

    table = ops.spellings("python")
    # The functions its text calls, by name: the engine's own float64 rules.
    helpers = ops.PYTHON_HELPERS

    def number(self, value):
        return repr(float(value)), (NEG if value < 0 else ATOM)


class LatexPrinter(Printer):
    """LaTeX math, as GitHub renders between $$ … $$: \\sigma(h_{1}) \\cdot w_{5}. Labels print
    through ``latex_symbol`` (w5 → w_{5}, ∂E/∂w5 → \\frac{\\partial E}{\\partial w_{5}})."""

    reciprocals = True

    table = ops.spellings("latex")

    def variable(self, name: str) -> str:
        return latex_symbol(name)

    def exponent(self, value: float) -> str:
        return self.number(value)[0]


# The characters labels use beyond ASCII, in LaTeX.
_LATEX_CHARACTERS = {"η": "\\eta ", "μ": "\\mu ", "α": "\\alpha ", "β": "\\beta ", "ε": "\\epsilon ",
                     "Σ": "\\Sigma ", "σ": "\\sigma ", "−": "-", "·": " \\cdot ", "√": "\\sqrt "}
_SUPERSCRIPT_DIGITS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")


def latex_symbol(label: str) -> str:
    """A sheet's label as a LaTeX symbol: w5 → w_{5}, a_h1 → a_{h1}, E_total → E_{total},
    i1⁽²⁾ → i_{1}^{(2)}, ∂E/∂w5 → \\frac{\\partial E}{\\partial w_{5}}."""
    import re

    if label.startswith("∂") and "/∂" in label:
        top, bottom = label[1:].split("/∂", 1)
        return f"\\frac{{\\partial {latex_symbol(top)}}}{{\\partial {latex_symbol(bottom)}}}"
    example = ""
    match = re.fullmatch(r"(.*?)⁽([⁰¹²³⁴⁵⁶⁷⁸⁹]+)⁾", label)
    if match:
        label, example = match.group(1), f"^{{({match.group(2).translate(_SUPERSCRIPT_DIGITS)})}}"
    text = "".join(_LATEX_CHARACTERS.get(ch, ch) for ch in label)
    head, sep, tail = text.partition("_")
    if sep:
        body = f"{head}_{{\\mathrm{{{tail.replace('_', ',')}}}}}"
    else:
        match = re.fullmatch(r"([A-Za-z]+)(\d+)", text)
        body = f"{match.group(1)}_{{{match.group(2)}}}" if match else text
    return body + example
