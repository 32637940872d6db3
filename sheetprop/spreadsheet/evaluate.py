"""A formula's value as a spreadsheet shows it, from what the cells it reads hold.

A formula is read once (``read``: ``formulas.parse`` in its exact reading, where IF chooses a
branch and nothing is simplified away) into an expression over its references, each one input
``cell<k>``; ``value`` then gives its value from its inputs' contents: by a compiled function
(``engine.numeric``) while no error is in sight, else node by node with each op's spreadsheet
rule from the engine's op table (``evaluate``).

A spreadsheet's rules, as Excel and LibreOffice have them: an empty cell reads 0 and TRUE 1; text
in arithmetic is #VALUE! (η copied down without $ reads "↑ change η"), unless it is a number
("0.5"); x/0 is #DIV/0!; an overflow (EXP(1000), 1E308*10) and LN, SQRT or a power outside their
domain are #NUM!; an error spreads to every cell computed from it, through a multiplication by 0
too, but not out of IF's branch not taken; comparisons are exact; a formula that is one reference
shows what that cell holds (text stays text). Errors are the texts the .xlsx reader gives a cell
saved with t="e" ("#VALUE!").

What it cannot compute is ``UNKNOWN``: a formula the reader does not know (text joined with &, a
function such as VLOOKUP), and the few places where a spreadsheet skips what arithmetic would not
(text or TRUE in SUM's range or IF, an empty cell in MAX).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from sheetprop import engine
from sheetprop.engine import ops
from sheetprop.engine.numeric import compile_function
from sheetprop.spreadsheet import formulas
from sheetprop.spreadsheet.error_values import DIV0, NUM, VALUE, is_error_value
from sheetprop.spreadsheet.references import column_number

COMPILE_FROM_USES = 3  # a formula used in fewer cells is evaluated node by node, not compiled

UNKNOWN = object()  # a value this module cannot compute
_NUMBER_TEXT = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*")
_SKIPS_TEXT = re.compile(r"\b(?:SUM|MAX|MIN|IF)\(|:", re.IGNORECASE)  # where text by reference is skipped
_SKIPS_EMPTY = re.compile(r"\b(?:MAX|MIN)\(", re.IGNORECASE)          # where an empty cell is skipped


@dataclass
class Reading:
    """A formula read into an expression over its references, each one input ``cell<k>``."""
    expr: engine.Expr
    refs: tuple           # per input: (sheet or None, column number, row, relative) — row an offset if relative
    bare: bool            # the formula is one reference: it shows what that cell holds
    unused: bool          # a reference the expression lost: an error there would not spread
    skips_text: bool
    skips_empty: bool
    uses: int = 0
    function: object = None

    def inputs(self, sheet: str, row: int) -> list[tuple[str, int, int]]:
        """(sheet, row, column) of each input, for the formula in ``row`` of ``sheet``."""
        return [(ref_sheet or sheet, row + at if relative else at, column)
                for ref_sheet, column, at, relative in self.refs]


def read(text: str, row: int, resolve_name=None) -> Reading | None:
    """The formula ``text`` (in ``row``) read for evaluation; None where the reader cannot read it.
    ``resolve_name`` gives a defined name's cell (``formulas.parse``)."""
    refs = []

    def resolve(ref):
        ref_sheet, letters, ref_row = ref
        refs.append((ref_sheet, column_number(letters), ref_row, False))
        return engine.var(f"cell{len(refs) - 1}")

    try:
        expr = formulas.parse(text, resolve, resolve_name, row, exact=True)
    except (formulas.FormulaError, RecursionError, KeyError):
        return None
    used = {node.payload for node in engine.topological_order([expr]) if node.op == "var"}
    return Reading(expr, tuple(refs), bare=expr.op == "var", unused=len(used) < len(refs),
                   skips_text=bool(_SKIPS_TEXT.search(text)), skips_empty=bool(_SKIPS_EMPTY.search(text)))


def value(reading: Reading | None, raw: list, serial=None):
    """The value of a formula cell from what its inputs hold (``raw``, in reference order), or
    ``UNKNOWN``; ``serial`` turns a date or time into its serial number."""
    if reading is None or UNKNOWN in raw:
        return UNKNOWN
    if reading.bare:
        return 0 if raw[0] is None else raw[0]  # =A1 shows A1's text, TRUE or error as it is
    if reading.skips_empty and None in raw:
        return UNKNOWN
    operands = [operand(content, serial) for content in raw]
    if reading.skips_text and any(isinstance(content, (str, bool)) and not is_error_value(content) for content in raw):
        return UNKNOWN
    errors = [item for item in operands if type(item) is str]
    if errors and reading.unused:
        return UNKNOWN
    if not errors:
        function = _compiled(reading)
        if function is not None:
            number = function(*operands)[0]
            if number == number:  # NaN: an error value somewhere; the exact rules say which
                return number
    return evaluate(reading.expr, operands)


def _compiled(reading: Reading):
    """The reading's compiled function, once it is used often enough to pay for compiling."""
    reading.uses += 1
    if reading.function is None and reading.uses >= COMPILE_FROM_USES and reading.expr.op != "const":
        # compile_function keeps what it compiled: one formula copied down many columns, sheets
        # or submissions of a class compiles once in a process.
        reading.function = compile_function([reading.expr], [engine.var(f"cell{k}") for k in range(len(reading.refs))])
    return reading.function


def operand(content, serial=None):
    """A cell's content as arithmetic reads it: a float, or an error value's text."""
    kind = type(content)
    if kind is float or kind is int or kind is bool:
        try:
            number = float(content)
        except OverflowError:  # an integer of 400 digits
            return NUM
        return number if math.isfinite(number) else NUM
    if content is None:
        return 0.0
    if isinstance(content, str):
        if is_error_value(content):
            return content
        return operand(float(content)) if _NUMBER_TEXT.fullmatch(content) else VALUE
    try:  # a date or a time: its serial number, as the spreadsheet holds it
        return operand(serial(content))
    except (TypeError, ValueError, AttributeError):
        return VALUE


def evaluate(expr: engine.Expr, operands: list):
    """``expr`` evaluated with a spreadsheet's error values: a strict op's value is the first
    error among its arguments, else what its spreadsheet rule gives (``engine.ops``), #DIV/0! or
    #NUM! where the rule has no number."""
    values = {}
    table = ops.TABLE
    for node in engine.topological_order([expr]):
        name = node.op
        if name == "const":
            result = node.payload if math.isfinite(node.payload) else NUM
        elif name == "var":
            result = operands[int(node.payload[4:])]
        else:
            op = table.get(name)
            args = [values[arg] for arg in node.args]
            result = next((arg for arg in args if type(arg) is str), None) if op is None or op.strict else None
            if result is None:
                result = _apply(op, node, args)
        values[node] = result
    return values[expr]


def _apply(op, node, args):
    if op is None:
        return NUM
    try:
        result = op.sheet(node.payload, *args) if op.payload else op.sheet(*args)
    except ZeroDivisionError:
        return DIV0
    except (ArithmeticError, ValueError):
        return NUM
    return NUM if type(result) is float and not math.isfinite(result) else result
