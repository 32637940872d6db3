"""Split an Excel formula into tokens: the same tokens, with the same quirks, as openpyxl's
``openpyxl.formula.tokenizer.Tokenizer`` (itself Eric Bachtal's tokenizer), so that ``check``
reads formulas without importing openpyxl (~30 MiB and a tenth of a second a process).

Each token is (value, type, subtype) with openpyxl's names: OPERAND (TEXT, NUMBER, LOGICAL,
ERROR, RANGE), FUNC / PAREN / ARRAY (OPEN, CLOSE), SEP (ARG, ROW), OPERATOR-PREFIX, -INFIX,
-POSTFIX, WHITE-SPACE, and LITERAL for a text that does not start with "=". Where openpyxl's
raises (an unclosed string, bracket or quoted name, an unknown #error, a closing parenthesis
without its opening one), this raises ``TokenError``; the error values it reads are the one list
(``error_values``), #SPILL! and #CALC! too, which openpyxl's list predates. Unlike openpyxl's, whose every step copies
the rest of the formula, the time grows with the length, not its square.
``tests/test_formula_tokens.py`` compares the two token for token.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from sheetprop.spreadsheet.error_values import ERROR_VALUES


class TokenError(ValueError):
    """Text no spreadsheet formula is: openpyxl's tokenizer refuses it too."""


class Token(NamedTuple):
    value: str
    type: str
    subtype: str = ""


OPERAND, FUNC, ARRAY, PAREN, SEP = "OPERAND", "FUNC", "ARRAY", "PAREN", "SEP"
PREFIX, INFIX, POSTFIX, WHITE_SPACE, LITERAL = (
    "OPERATOR-PREFIX", "OPERATOR-INFIX", "OPERATOR-POSTFIX", "WHITE-SPACE", "LITERAL")
OPEN, CLOSE = "OPEN", "CLOSE"

# Inside a string every character is itself but the quote, which is doubled; an unmatched
# quote ends it (openpyxl's expressions).
_STRING = {'"': re.compile('"(?:[^"]*"")*[^"]*"(?!")'), "'": re.compile("'(?:[^']*'')*[^']*'(?!')")}
_SCIENTIFIC = re.compile(r"[1-9](\.[0-9]+)?[Ee]")  # an operand so far that a + or − continues: 1.5E-3
_WHITE_SPACE = re.compile(r"[ \n]+")
# Characters with a meaning of their own; any other joins the operand being read.
_SPECIAL = "\"'[# \n+-*/^&=><%{()};,"
_PLAIN = re.compile("[^" + re.escape(_SPECIAL) + "]+")
# Each of these ends the operand being read (openpyxl's TOKEN_ENDERS): not " ' [ # ( { nor a
# line break, so a line break inside a name leaves the name whole, after the break's token.
_ENDERS = frozenset(",;}) +-*/^&=><%")


def operand(value: str) -> Token:
    """An operand token: a string, an error, TRUE/FALSE, what Python's float() reads, or a reference."""
    if value.startswith('"'):
        subtype = "TEXT"
    elif value.startswith("#"):
        subtype = "ERROR"
    elif value in ("TRUE", "FALSE"):
        subtype = "LOGICAL"
    else:
        try:
            float(value)
            subtype = "NUMBER"
        except ValueError:
            subtype = "RANGE"
    return Token(value, OPERAND, subtype)


def tokens(formula: str) -> list[Token]:
    """The tokens of ``formula`` (with its "="), as openpyxl's ``Tokenizer(formula).items``."""
    if not formula:
        return []
    if formula[0] != "=":
        return [Token(formula, LITERAL)]
    items: list[Token] = []
    opened: list[Token] = []  # the open functions, parentheses and arrays
    pending: list[str] = []   # the pieces of the operand being read
    # Whether the last piece is one plain character, and which: a quoted name may follow a ':'
    # (Sheet1:'Sheet 2'!A1) and an error an '!' (Sheet1!#REF!), nothing else an operand.
    last_char = ""
    end, position = len(formula), 1

    def save():
        nonlocal last_char
        if pending:
            items.append(operand("".join(pending)))
            pending.clear()
            last_char = ""

    def refuse_operand(can_follow: str = ""):
        if pending and (not can_follow or last_char != can_follow):
            raise TokenError(f"unexpected character at position {position} in {formula[:80]!r}")

    while position < end:
        char = formula[position]
        if char in "+-" and pending and _SCIENTIFIC.fullmatch("".join(pending)):
            pending.append(char)  # the exponent's sign: part of the number
            last_char = char
            position += 1
            continue
        if char in _ENDERS:
            save()
        if char in "\"'":
            refuse_operand(":")
            match = _STRING[char].match(formula, position)
            if match is None:
                raise TokenError("the formula ends inside a " + ("string" if char == '"' else "quoted name"))
            if char == '"':
                items.append(operand(match[0]))  # before an operand still being read (A1:"x")
            else:
                pending.append(match[0])
                last_char = ""
            position = match.end()
        elif char == "[":
            # Brackets nest ([Book1]Sheet1, Table[[#This Row],[x]]): to the one closing the first.
            # Each find runs once per bracket, from the last one found: linear however they nest.
            depth, opening, closing = 0, position, formula.find("]", position)
            while True:
                if closing < 0:
                    raise TokenError("a '[' is not closed")
                if 0 <= opening < closing:
                    depth += 1
                    opening = formula.find("[", opening + 1)
                    continue
                depth -= 1
                if depth == 0:
                    break
                closing = formula.find("]", closing + 1)
            scan = closing + 1
            pending.append(formula[position:scan])
            last_char = ""
            position = scan
        elif char == "#":
            refuse_operand("!")
            error = next((e for e in ERROR_VALUES if formula.startswith(e, position)), None)
            if error is None:
                raise TokenError(f"an unknown error value at position {position}")
            items.append(operand("".join(pending) + error))
            pending.clear()
            last_char = ""
            position += len(error)
        elif char in " \n":
            items.append(Token(char, WHITE_SPACE))
            position = _WHITE_SPACE.match(formula, position).end()
        elif char in "+-*/^&=><%":
            pair = formula[position:position + 2]
            if pair in (">=", "<=", "<>"):
                items.append(Token(pair, INFIX))
                position += 2
                continue
            if char == "%":
                items.append(Token("%", POSTFIX))
            elif char not in "+-":
                items.append(Token(char, INFIX))
            else:
                before = next((t for t in reversed(items) if t.type != WHITE_SPACE), None)
                infix = before is not None and (before.subtype == CLOSE or before.type in (POSTFIX, OPERAND))
                items.append(Token(char, INFIX if infix else PREFIX))
            position += 1
        elif char in "{(":
            if char == "{":
                refuse_operand()
                token = Token("{", ARRAY, OPEN)
            elif pending:
                token = Token("".join(pending) + "(", FUNC, OPEN)
                pending.clear()
                last_char = ""
            else:
                token = Token("(", PAREN, OPEN)
            items.append(token)
            opened.append(token)
            position += 1
        elif char in ")}":
            if not opened:
                raise TokenError(f"a {char!r} closes nothing")
            kind = opened.pop().type
            if char != ("}" if kind == ARRAY else ")"):
                raise TokenError("mismatched ( and { pair")
            items.append(Token(char, kind, CLOSE))
            position += 1
        elif char in ";,":
            if char == ";":
                items.append(Token(";", SEP, "ROW"))
            elif not opened or opened[-1].type == PAREN:
                items.append(Token(",", INFIX))  # the union of two ranges
            else:
                items.append(Token(",", SEP, "ARG"))
            position += 1
        else:
            run = _PLAIN.match(formula, position)
            pending.append(run[0])
            last_char = run[0][-1]
            position = run.end()
    save()
    return items
