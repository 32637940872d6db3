"""Read an Excel formula back into an engine expression: the printers' inverse.

Covers what students type in a backprop table: + − * / ^, unary minus, %, parentheses, numbers,
TRUE/FALSE, cell references (absolute, relative, on other sheets), ranges inside SUM and
SUMPRODUCT, defined names, and EXP, LN, TANH, SQRT, ABS, POWER, SUM, SUMPRODUCT, MAX, MIN and IF
with a comparison. Every
reference is handed to a resolver that says what the cell stands for (a label's variable, a
constant, another cell's formula read in turn), so this module knows formulas, not tables.
Anything else fails loudly with ``FormulaError``; a caller then judges the cell by its value.

Two readings: by default, the calculus's (IF of a comparison is a step function of a − b, a
product with 0 is 0), which the judges compare with the chain rule; with ``exact``, the
spreadsheet's own (IF is the op that chooses a branch, comparisons are exact, nothing is
simplified away), which ``spreadsheet.evaluate`` computes values with.
"""

from __future__ import annotations

import functools
import re
from typing import Callable

from sheetprop import engine
from sheetprop.engine import Expr, ops
from sheetprop.spreadsheet.references import CELL, MAX_COLUMN, MAX_ROW, column_letters, column_number, unquoted_sheet
from sheetprop.spreadsheet.tokens import Token, TokenError, tokens as formula_tokens

MAX_RANGE_CELLS = 1024  # a 28×28 image's 784 pixels in one SUMPRODUCT
# Excel's own limits. A longer formula cannot come from a spreadsheet program: refusing past
# Excel's length bounds the work a formula costs (the tokenizer is linear, the parser and the
# expressions it builds are not free either).
MAX_FORMULA_CHARACTERS = 8_192
MAX_NESTING = 64          # parentheses and functions inside one another (Excel allows 64)
# A run of + and − (or * and /) longer than this becomes a balanced tree, so a flat SUM of a
# thousand terms is ~10 deep, not a thousand (every walk over an expression would recurse that deep).
_BALANCE_FROM = 32


class FormulaError(ValueError):
    """A formula this reader does not understand (a function, text, an error literal…)."""


# (sheet or None, column letters, row), as a reference names a cell.
CellRef = tuple[str | None, str, int]
Resolver = Callable[[CellRef], Expr]
NameResolver = Callable[[str], CellRef | None]

_NAME = re.compile(r"[A-Za-z_\\][\w.]*")


class _Comparison:
    """a op b: only IF's condition may be one; it becomes a step function of a − b (exactly
    the comparison, in the exact reading)."""

    def __init__(self, op: str, left: Expr, right: Expr):
        self.op, self.left, self.right = op, left, right

    def indicator(self, exact: bool = False) -> Expr:
        if exact:
            return engine.compare(self.left, self.op, self.right)
        # a > b and a >= b differ only where a = b exactly, a set of measure zero.
        if self.op in (">", ">="):
            return engine.step(self.left - self.right)
        if self.op in ("<", "<="):
            return engine.step(self.right - self.left)
        # a = b and a <> b: constant but where a = b exactly (a label compared with a class
        # number, =IF(C14=3, 0.99, 0.01)); the exact comparison, whose derivative is 0.
        return engine.compare(self.left, self.op, self.right)


def parse(formula: str, resolve: Resolver, resolve_name: NameResolver | None = None,
          row: int | None = None, exact: bool = False) -> Expr:
    """The expression ``formula`` computes, each reference replaced by ``resolve(ref)``. With the
    ``row`` the formula sits in, its tokens are kept for the formulas copied down its column;
    ``exact``: the spreadsheet's own reading (see the module's notes)."""
    text = formula if formula.startswith("=") else "=" + formula
    if len(text) > MAX_FORMULA_CHARACTERS + 1:
        raise FormulaError(f"the formula has {len(text) - 1:,} characters; Excel allows {MAX_FORMULA_CHARACTERS:,}")
    tokens = _tokens(text) if row is None else _tokens_in_row(text, row)
    parser = _Parser(tokens, resolve, resolve_name or (lambda name: None), exact)
    result = parser.expression()
    if parser.position != len(tokens):
        raise FormulaError(f"unexpected {tokens[parser.position].value!r}")
    if isinstance(result, _Comparison):
        raise FormulaError("a comparison outside IF")
    return result


def _tokens(text: str) -> list:
    try:
        return [t for t in formula_tokens(text) if t.type != "WHITE-SPACE"]
    except TokenError as exc:
        raise FormulaError(f"cannot read the formula: {exc}") from None


# Token lists by a formula's relative form (``relative_to_row``), each reference's value with its
# rows as offsets: tokenising is a third of reading a formula, and a column repeats one formula.
_TOKENS: dict[str, list[tuple[str, str, str]] | None] = {}
MAX_CACHED_TOKENS = 20_000
_OFFSET = re.compile(r"\[(-?\d+)\]")


def _tokens_in_row(text: str, row: int) -> list:
    if "[" in text:  # brackets of its own (a structured reference) would read as offsets
        return _tokens(text)
    relative = relative_to_row(text, row)
    template = _TOKENS.get(relative, False)
    if template is False:
        tokens = _tokens(text)
        template = [(relative_to_row(t.value, row) if t.type == "OPERAND" and t.subtype == "RANGE" else t.value,
                     t.type, t.subtype) for t in tokens]
        # Kept only where every relative row of the formula lies in a reference token (none in a
        # text or a name), so formulas of one relative form differ only there.
        moved = sum(len(_OFFSET.findall(value)) for value, type_, subtype in template
                    if type_ == "OPERAND" and subtype == "RANGE")
        if moved != len(_OFFSET.findall(relative)):
            template = None
        if len(_TOKENS) >= MAX_CACHED_TOKENS:
            _TOKENS.clear()
        _TOKENS[relative] = template
        return tokens
    if template is None:
        return _tokens(text)
    return [Token(_OFFSET.sub(lambda m: str(row + int(m[1])), value) if "[" in value and type_ == "OPERAND"
                   and subtype == "RANGE" else value, type_, subtype) for value, type_, subtype in template]


_INFIX_PRECEDENCE = {"=": 1, "<>": 1, "<": 1, ">": 1, "<=": 1, ">=": 1, "&": 2,
                     "+": 3, "-": 3, "*": 4, "/": 4, "^": 5}
_ARITHMETIC = {"+": engine.add, "-": engine.sub, "*": engine.mul, "/": engine.div}
# The exact reading's: the nodes as written, nothing folded nor dropped ((1/0)*0 is #DIV/0!).
_AS_WRITTEN = {symbol: (lambda a, b, op=op: Expr(op, (a, b)))
               for symbol, op in (("+", "add"), ("-", "sub"), ("*", "mul"), ("/", "div"), ("^", "raise_to"))}
# The functions of one argument that are ops of their own (EXP, LN, TANH), from the op table.
_OP_FUNCTIONS = {function: (lambda x, op=op: Expr(op, (x,))) for function, op in ops.FUNCTIONS.items()}


class _Parser:
    """Precedence climbing over the formula's tokens (``formula_tokens``), with Excel's rules: unary minus binds
    tighter than ^ (−x^2 is (−x)²), and ^ groups from the left (2^3^2 is 64)."""

    def __init__(self, tokens, resolve: Resolver, resolve_name: NameResolver, exact: bool = False):
        self.tokens, self.position = tokens, 0
        self.resolve, self.resolve_name = resolve, resolve_name
        self.depth = 0
        self.exact = exact
        self.arithmetic = _AS_WRITTEN if exact else _ARITHMETIC

    def peek(self):
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self):
        token = self.peek()
        if token is None:
            raise FormulaError("the formula ends too early")
        self.position += 1
        return token

    def expression(self, min_precedence: int = 1):
        self.depth += 1
        if self.depth > 4 * MAX_NESTING:
            raise FormulaError(f"the formula nests deeper than Excel's {MAX_NESTING} levels")
        left = self.unary()
        run = []  # a run of + and − (or * and /) on one level: (operator, operand)
        powers = 0
        while (token := self.peek()) is not None and token.type == "OPERATOR-INFIX":
            precedence = _INFIX_PRECEDENCE.get(token.value)
            if precedence is None:
                raise FormulaError(f"the operator {token.value!r} is not supported")
            if precedence < min_precedence:
                break
            self.take()
            powers += token.value == "^"
            if powers > MAX_NESTING:  # x^y^z… groups from the left: each ^ is one level deeper
                raise FormulaError(f"more than {MAX_NESTING} powers of powers")
            right = self.expression(precedence + 1)
            if token.value in _ARITHMETIC and not (run and _INFIX_PRECEDENCE[run[0][0]] != precedence):
                run.append((token.value, right))
                continue
            left = self._fold(left, run)
            run = []
            if token.value in _ARITHMETIC:
                run.append((token.value, right))
            else:
                left = self.combine(token.value, left, right)
        self.depth -= 1
        return self._fold(left, run)

    def _fold(self, left, run: list):
        """``left`` combined with a run of same-precedence operations, from the left as Excel
        does; a long run as a balanced tree (a − b − c + d as a + d − (b + c)), the same number."""
        if len(run) < _BALANCE_FROM:
            for op, right in run:
                left = self.combine(op, left, right)
            return left
        inverse = "-" if run[0][0] in "+-" else "/"
        kept = [_number(left)] + [_number(right) for op, right in run if op != inverse]
        taken = [_number(right) for op, right in run if op == inverse]
        whole = _balanced(kept, self.arithmetic["+" if inverse == "-" else "*"])
        return self.combine(inverse, whole, _balanced(taken, self.arithmetic["+" if inverse == "-" else "*"])
                            ) if taken else whole

    def combine(self, op: str, left, right):
        if isinstance(left, _Comparison) or isinstance(right, _Comparison):
            raise FormulaError("a comparison inside arithmetic")
        if op in _ARITHMETIC:
            return self.arithmetic[op](left, right)
        if op == "^":
            return self.arithmetic[op](left, right) if self.exact else _raise_to(left, right)
        if op == "&":
            raise FormulaError("text joined with & is not a number")
        return _Comparison(op, left, right)

    def unary(self):
        signs = 0
        while (token := self.peek()) is not None and token.type == "OPERATOR-PREFIX":
            self.take()  # a run of signs (− − −x) is read in a loop, not one call a sign
            signs += token.value == "-"
        operand = self.postfix(self.primary())
        return engine.neg(_number(operand)) if signs % 2 else operand

    def postfix(self, value):
        while (token := self.peek()) is not None and token.type == "OPERATOR-POSTFIX":
            self.take()
            value = self.arithmetic["*"](engine.const(0.01), _number(value))  # 5% is 0.05
        return value

    def primary(self):
        token = self.take()
        if token.type == "PAREN" and token.subtype == "OPEN":
            inner = self.expression()
            closing = self.take()
            if closing.type != "PAREN" or closing.subtype != "CLOSE":
                raise FormulaError("a parenthesis is not closed")
            return inner
        if token.type == "FUNC" and token.subtype == "OPEN":
            return self.call(token.value[:-1].upper())
        if token.type == "OPERAND":
            if token.subtype == "NUMBER":
                try:
                    return engine.const(float(token.value))
                except (OverflowError, ValueError):
                    raise FormulaError(f"the number {token.value[:20]}… is not a number Excel holds") from None
            if token.subtype == "LOGICAL":
                return engine.const(1.0 if token.value.upper() == "TRUE" else 0.0)
            if token.subtype == "RANGE":
                cells = self.cells(token.value)
                if len(cells) != 1:
                    raise FormulaError(f"the range {token.value} outside SUM")
                return cells[0]
            raise FormulaError(f"{token.value} is not a number")
        raise FormulaError(f"unexpected {token.value!r}")

    def arguments(self) -> list:
        args = []
        if (token := self.peek()) is not None and token.type == "FUNC" and token.subtype == "CLOSE":
            self.take()
            return args
        while True:
            args.append(self.argument())
            token = self.take()
            if token.type == "FUNC" and token.subtype == "CLOSE":
                return args
            if not (token.type == "SEP" and token.subtype == "ARG"):
                raise FormulaError(f"unexpected {token.value!r} in a function's arguments")

    def argument(self):
        """One argument; a lone range stays a list of cells, for SUM."""
        token = self.peek()
        following = self.tokens[self.position + 1] if self.position + 1 < len(self.tokens) else None
        if (token is not None and token.type == "OPERAND" and token.subtype == "RANGE"
                and ":" in token.value and following is not None
                and (following.type == "SEP" or (following.type == "FUNC" and following.subtype == "CLOSE"))):
            self.take()
            return self.cells(token.value)
        return self.expression()

    def call(self, name: str):
        args = self.arguments()
        if name == "IF":
            if len(args) not in (2, 3) or not isinstance(args[0], _Comparison):
                raise FormulaError("IF needs a comparison and one or two values")
            chosen, otherwise = _number(args[1]), _number(args[2]) if len(args) == 3 else engine.ZERO
            indicator = args[0].indicator(self.exact)
            if self.exact:
                return engine.choose(indicator, chosen, otherwise)
            return indicator * chosen + (1 - indicator) * otherwise
        if name == "SUM":
            terms = [term for arg in args for term in (arg if isinstance(arg, list) else [_number(arg)])]
            if not terms:
                raise FormulaError("SUM of nothing")
            if len(terms) >= _BALANCE_FROM:
                return _balanced(terms, self.arithmetic["+"])
            total = terms[0]
            for term in terms[1:]:
                total = self.arithmetic["+"](total, term)
            return total
        if name == "SUMPRODUCT":
            return self._sum_of_products(args)
        values = [_number(a) for a in args]
        if name in ("MAX", "MIN") and len(values) >= _BALANCE_FROM:
            return _balanced(values, _maximum if name == "MAX" else _minimum)
        if name in ("MAX", "MIN") and len(values) >= 2:
            result = values[0]
            for value in values[1:]:
                result = _maximum(result, value) if name == "MAX" else _minimum(result, value)
            return result
        unary = {**_OP_FUNCTIONS,
                 "SQRT": lambda x: self.combine("^", x, engine.const(0.5)),
                 # |x| as relu(x) + relu(−x), exact where √(x²) overflows or underflows.
                 "ABS": lambda x: engine.relu(x) + engine.relu(engine.neg(x))}
        if name in unary and len(values) == 1:
            return unary[name](values[0])
        if name == "POWER" and len(values) == 2:
            return self.combine("^", values[0], values[1])
        raise FormulaError(f"the function {name} (with {len(values)} arguments) is not supported")

    def _sum_of_products(self, args: list) -> Expr:
        """SUMPRODUCT(range, range, …): the sum over the ranges' cells, in step, of their products."""
        ranges = [arg if isinstance(arg, list) else [_number(arg)] for arg in args]
        if not ranges or len({len(cells) for cells in ranges}) != 1:
            raise FormulaError("SUMPRODUCT needs ranges of one size")
        terms = []
        for factors in zip(*ranges):
            product = factors[0]
            for factor in factors[1:]:
                product = self.arithmetic["*"](product, factor)
            terms.append(product)
        if len(terms) >= _BALANCE_FROM:
            return _balanced(terms, self.arithmetic["+"])
        total = terms[0]
        for term in terms[1:]:
            total = self.arithmetic["+"](total, term)
        return total

    def cells(self, text: str) -> list[Expr]:
        """The resolved cells of a reference: one cell, a range (in row-major order) or a name."""
        sheet, _, address = text.rpartition("!")
        sheet = unquoted_sheet(sheet[1:-1], None) if sheet.startswith("'") else (sheet or None)
        if ":" in address:
            first, last = address.split(":", 1)
            if not (CELL.fullmatch(first) and CELL.fullmatch(last)):
                raise FormulaError(f"the range {text} is not a block of cells")
            (r0, c0), (r1, c1) = _row_col(first), _row_col(last)
            rows, cols = range(min(r0, r1), max(r0, r1) + 1), range(min(c0, c1), max(c0, c1) + 1)
            if len(rows) * len(cols) > MAX_RANGE_CELLS:
                raise FormulaError(f"the range {text} has more than {MAX_RANGE_CELLS} cells")
            return [self.resolve((sheet, column_letters(c + 1), r + 1)) for r in rows for c in cols]
        if CELL.fullmatch(address):
            row, col = _row_col(address)
            return [self.resolve((sheet, column_letters(col + 1), row + 1))]
        if sheet is None and _NAME.fullmatch(address):
            target = self.resolve_name(address)
            if target is None:
                raise FormulaError(f"the name {address} refers to no single cell")
            return [self.resolve(target)]
        raise FormulaError(f"the reference {text} is not supported")


_RELATIVE_ROW = re.compile(r"(?<![A-Za-z_$])(\$?[A-Z]{1,3})(\d+)(?![\w(])")


def relative_to_row(formula: str, row: int) -> str:
    """``formula`` with each relative row number written as an offset from ``row`` (A5 in row 5 is
    A[0]): the same text for a formula copied down a column."""
    # split, not sub with a function: this runs for every formula cell of a table.
    parts = _RELATIVE_ROW.split(formula)  # text, column, row, text, column, row, …, text
    parts[2::3] = [f"[{int(number) - row}]" for number in parts[2::3]]
    return "".join(parts)


def relative_with_template(formula: str, row: int) -> tuple[str, tuple]:
    """(``relative_to_row(formula, row)``, a template that ``formula_at_row`` prints the same
    formula from at another row): a column's next cell is recognised by one string format and
    comparison, not by splitting its text again."""
    parts = _RELATIVE_ROW.split(formula)
    offsets = tuple(int(number) - row for number in parts[2::3])
    if not offsets:
        return formula, (formula, (), 0)
    # One field per distinct offset, numbered: a formula that reads its own row only (or the
    # row above only), as most of a table's do, is printed from one number.
    distinct = tuple(dict.fromkeys(offsets))
    pieces = [part.replace("{", "{{").replace("}", "}}") for part in parts]
    pieces[2::3] = [f"{{{distinct.index(offset)}}}" for offset in offsets]
    parts[2::3] = [f"[{offset}]" for offset in offsets]
    return "".join(parts), ("".join(pieces).format, distinct, min(offsets))


def formula_at_row(template: tuple, row: int) -> str | None:
    """The formula ``template`` stands for, written at ``row``; None where a row would fall
    below 0. Where it equals a cell's formula, that formula's relative form is the template's:
    the same text pieces around whole runs of digits split the same way."""
    fill, offsets, lowest = template  # the formula's text, where it has no relative row
    if row + lowest < 0:
        return None
    if len(offsets) == 1:
        return fill(row + offsets[0])
    return fill(*[row + offset for offset in offsets]) if offsets else fill


# A cell reference in a formula's text: $ before the column?, its letters, $ before the row?, the row.
REFERENCE = re.compile(r"(?<![A-Za-z_\d$.])(\$?)([A-Z]{1,3})(\$?)(\d+)(?![\w(])")


def copied_to(formula: str, rows: int, columns: int) -> str:
    """``formula`` as a spreadsheet writes it in the cell ``rows`` below and ``columns`` right
    of its own: relative references move with it, absolute ones stay."""
    def moved(match) -> str:
        column_mark, letters, row_mark, digits = match.groups()
        number = column_number(letters) + (0 if column_mark else columns)
        row = int(digits) + (0 if row_mark else rows)
        if not (0 < number <= MAX_COLUMN and 0 < row <= MAX_ROW):
            raise FormulaError(f"{match.group(0)} would move off the sheet")
        return f"{column_mark}{column_letters(number)}{row_mark}{row}"
    return REFERENCE.sub(moved, formula)


def relative_form(formula: str, row: int, column: int) -> str:
    """``formula`` with each relative row and column written as its offset from the cell at
    (``row``, ``column``), both from 1 (C5 in D7 is C[-1]R[-2]; $C$5 stays): the same text
    wherever the formula was copied, down a column or along a row."""
    def offset(match) -> str:
        column_mark, letters, row_mark, digits = match.groups()
        where = f"${letters}" if column_mark else f"C[{column_number(letters) - column}]"
        return where + (f"${digits}" if row_mark else f"R[{int(digits) - row}]")
    return REFERENCE.sub(offset, formula)


@functools.lru_cache(maxsize=65_536)  # a column of formulas names the same few cells over and over
def _row_col(address: str) -> tuple[int, int]:
    """(row, column), from 0, of a cell address inside the sheet; row 0 or past the last is no cell."""
    match = CELL.fullmatch(address)
    digits = match[2].lstrip("0")  # 5,000 digits would pass Python's limit for int()
    row = int(digits) - 1 if 0 < len(digits) <= 7 else -1
    col = column_number(match[1].upper()) - 1
    if not (0 <= row < MAX_ROW and 0 <= col < MAX_COLUMN):
        raise FormulaError(f"{address} is outside a sheet's {MAX_ROW:,} rows and {MAX_COLUMN:,} columns")
    return row, col


def _balanced(terms: list, combine) -> Expr:
    while len(terms) > 1:
        terms = [combine(*terms[k:k + 2]) if k + 1 < len(terms) else terms[k] for k in range(0, len(terms), 2)]
    return terms[0]


def _number(value) -> Expr:
    if isinstance(value, list):
        if len(value) != 1:
            raise FormulaError("a range where one number belongs")
        return value[0]
    if isinstance(value, _Comparison):
        raise FormulaError("a comparison where a number belongs")
    return value


def _raise_to(base: Expr, exponent: Expr) -> Expr:
    """base^exponent. The engine folds a power of constants, and a fold that is #NUM! or #DIV/0!
    in a spreadsheet ((−8)^(1/3) is complex, 0^−1, 10^400) is no number here either."""
    try:
        return engine.raise_to(base, exponent)
    except (ArithmeticError, TypeError):
        raise FormulaError("a power of constants that is an error value (#NUM! or #DIV/0!)") from None


def _maximum(a: Expr, b: Expr) -> Expr:
    # MAX(0, x) is the textbook relu; any other max is b + relu(a − b).
    if b is engine.ZERO:
        return engine.relu(a)
    if a is engine.ZERO:
        return engine.relu(b)
    return b + engine.relu(a - b)


def _minimum(a: Expr, b: Expr) -> Expr:
    return a - engine.relu(a - b)
