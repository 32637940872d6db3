"""An independent judge of the classic 2-2-2 sigmoid exercise (no biases), for the real student
workbooks in ../shared/wild: each cell recomputed by hand-written Python from its own row's
values (and each weight from the row above's), sharing no code with sheetprop. A cell is wrong
when it is off by more than its own rounding plus how far its inputs' rounding can move it."""

from __future__ import annotations

import math
import re
from decimal import Decimal

import openpyxl
from openpyxl.utils import get_column_letter


def _name(text) -> str | None:
    if not isinstance(text, str):
        return None
    key = text.strip().lower().replace(" ", "").replace("_", "").replace("∂", "d").replace("δ", "d")
    if re.fullmatch(r"[tiw]\d", key) or re.fullmatch(r"[ho]\d", key):
        return key
    if m := re.fullmatch(r"(?:a|out|act)([ho]\d)", key):
        return "a_" + m[1]
    if m := re.fullmatch(r"e(\d)", key):
        return "E" + m[1]
    if key in ("etotal", "etot", "et"):
        return "E"
    if m := re.fullmatch(r"(?:d?e(?:total|tot|t)?/?)?dw(\d)", key):
        return "g" + m[1]
    return None


def _sigmoid(x):
    return 1 / (1 + math.exp(-x))


def _local(v: dict) -> dict:
    """Each computed cell from the cells it reads, the textbook way."""
    out = {"h1": v["w1"] * v["i1"] + v["w2"] * v["i2"], "h2": v["w3"] * v["i1"] + v["w4"] * v["i2"],
           "a_h1": _sigmoid(v["h1"]), "a_h2": _sigmoid(v["h2"]),
           "o1": v["w5"] * v["a_h1"] + v["w6"] * v["a_h2"], "o2": v["w7"] * v["a_h1"] + v["w8"] * v["a_h2"],
           "a_o1": _sigmoid(v["o1"]), "a_o2": _sigmoid(v["o2"]),
           "E1": 0.5 * (v["t1"] - v["a_o1"]) ** 2, "E2": 0.5 * (v["t2"] - v["a_o2"]) ** 2,
           "E": v["E1"] + v["E2"]}
    d1 = (v["a_o1"] - v["t1"]) * v["a_o1"] * (1 - v["a_o1"])
    d2 = (v["a_o2"] - v["t2"]) * v["a_o2"] * (1 - v["a_o2"])
    out.update(g5=d1 * v["a_h1"], g6=d1 * v["a_h2"], g7=d2 * v["a_h1"], g8=d2 * v["a_h2"])
    e1 = (d1 * v["w5"] + d2 * v["w7"]) * v["a_h1"] * (1 - v["a_h1"])
    e2 = (d1 * v["w6"] + d2 * v["w8"]) * v["a_h2"] * (1 - v["a_h2"])
    out.update(g1=e1 * v["i1"], g2=e1 * v["i2"], g3=e2 * v["i1"], g4=e2 * v["i2"])
    return out


def _half_unit(x: float) -> float:
    """Half a unit of the last digit ``x`` keeps (to 14 digits: a full double keeps ~1e-15)."""
    if x == 0:
        return 0.0
    return 0.5 * 10.0 ** Decimal(repr(float(f"{x:.14g}"))).normalize().as_tuple().exponent


def wrong_cells(path, eta_by_sheet: dict[str, float]) -> set[tuple[str, str]]:
    book = openpyxl.load_workbook(path, data_only=True)
    wrong = set()
    for sheet in book.worksheets:
        for row in sheet.iter_rows(max_row=200):
            columns = {}
            for cell in row:
                if _name(cell.value):
                    columns.setdefault(_name(cell.value), cell.column)  # the first of a repeated label
            if {"i1", "w1", "g1"} <= set(columns):
                header = row[0].row
                break
        else:
            continue
        eta, above = eta_by_sheet.get(sheet.title), None
        for r in range(header + 1, sheet.max_row + 1):
            v = {k: sheet.cell(r, c).value for k, c in columns.items()}
            if not all(isinstance(v.get(k), (int, float)) for k in ("t1", "i1", "w1", "w5", "h1")):
                break
            if not all(isinstance(x, (int, float)) for x in v.values()):
                break
            local = _local(v)
            spread = dict.fromkeys(local, 0.0)
            for name in v:  # the first row's givens are typed: exact
                if name[0] in "ti" or (r == header + 1 and name[0] == "w"):
                    continue
                bumped = dict(v, **{name: v[name] + _half_unit(v[name])})
                for k, x in _local(bumped).items():
                    spread[k] += abs(x - local[k])
            for k, want in local.items():
                if abs(v[k] - want) > 1e-9 * abs(want) + 1e-15 + 3 * _half_unit(v[k]) + 3 * spread[k]:
                    wrong.add((sheet.title, f"{get_column_letter(columns[k])}{r}"))
            if above is not None and eta is not None:
                for n in range(1, 9):
                    w, g = above[f"w{n}"], above[f"g{n}"]
                    slack = 3 * (_half_unit(v[f"w{n}"]) + _half_unit(w) + eta * _half_unit(g))
                    if abs(v[f"w{n}"] - (w - eta * g)) > 1e-9 * abs(w) + 1e-15 + slack:
                        wrong.add((sheet.title, f"{get_column_letter(columns[f'w{n}'])}{r}"))
            above = v
    return wrong
