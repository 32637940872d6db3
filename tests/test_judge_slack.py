"""The judge's rounding slack, pinned without torch or LibreOffice (issue #27).

A sheet of pasted values keeps each number as its cell showed it. Such a number is right when it
is the chain rule's value cut to its own last digit, computed from inputs that were cut alike (the
typed starting values of the first row are exact); a number beyond that is a slip. The workbooks
here are Matt Mazur's 2-2-2 sigmoid network with biases, every number typed: the values come from
a forward and backward pass written out below in plain floats (checked against the numbers his
post prints), shown to a chosen number of significant digits. Which cells are wrong is known from
what was planted, never from the code under test.
"""

from __future__ import annotations

import math

import pytest
import xlsxwriter

from check_workbooks import BIASES, DEFAULT_LABELS, INPUTS, LEARNING_RATE, TARGETS, WEIGHTS, Layout
from sheetprop.check import check_workbook
from sheetprop.spreadsheet.agree import agree

LAYOUT = Layout(biases=True)
TYPED = {**INPUTS, **TARGETS, **BIASES}  # typed again in every row, exact


def sigma(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def forward(w: dict[str, float], slip: tuple[str, float] = ("", 1.0)) -> dict[str, float]:
    """Every quantity of a row with weights ``w``, full precision, by check_workbooks' names (dw1
    for ∂E/∂w1): the forward pass, then the gradients by hand. ``slip``: (name, factor), that
    quantity multiplied by the factor, and the cells after it worked out from the slipped value."""
    i1, i2, t1, t2, b1, b2 = (TYPED[k] for k in ("i1", "i2", "t1", "t2", "b1", "b2"))
    v = {**TYPED, **w}

    def put(name: str, value: float) -> None:
        v[name] = value * (slip[1] if name == slip[0] else 1)

    put("h1", w["w1"] * i1 + w["w2"] * i2 + b1)
    put("h2", w["w3"] * i1 + w["w4"] * i2 + b1)
    put("a_h1", sigma(v["h1"]))
    put("a_h2", sigma(v["h2"]))
    put("o1", w["w5"] * v["a_h1"] + w["w6"] * v["a_h2"] + b2)
    put("o2", w["w7"] * v["a_h1"] + w["w8"] * v["a_h2"] + b2)
    put("a_o1", sigma(v["o1"]))
    put("a_o2", sigma(v["o2"]))
    put("E1", 0.5 * (t1 - v["a_o1"]) ** 2)
    put("E2", 0.5 * (t2 - v["a_o2"]) ** 2)
    put("E_total", v["E1"] + v["E2"])
    delta_o1 = (v["a_o1"] - t1) * v["a_o1"] * (1 - v["a_o1"])
    delta_o2 = (v["a_o2"] - t2) * v["a_o2"] * (1 - v["a_o2"])
    delta_h1 = (delta_o1 * w["w5"] + delta_o2 * w["w7"]) * v["a_h1"] * (1 - v["a_h1"])
    delta_h2 = (delta_o1 * w["w6"] + delta_o2 * w["w8"]) * v["a_h2"] * (1 - v["a_h2"])
    for name, value in (("dw1", delta_h1 * i1), ("dw2", delta_h1 * i2), ("dw3", delta_h2 * i1), ("dw4", delta_h2 * i2),
                        ("dw5", delta_o1 * v["a_h1"]), ("dw6", delta_o1 * v["a_h2"]),
                        ("dw7", delta_o2 * v["a_h1"]), ("dw8", delta_o2 * v["a_h2"])):
        put(name, value)
    return v


def step(row: dict[str, float]) -> dict[str, float]:
    """The next row's weights: w − η·∂E/∂w."""
    return {name: row[name] - LEARNING_RATE * row[f"d{name}"] for name in WEIGHTS}


def mazur(steps: int, **start: float) -> list[dict[str, float]]:
    rows = [forward({**WEIGHTS, **start})]
    while len(rows) < steps:
        rows.append(forward(step(rows[-1])))
    return rows


def shown(value: float, digits: int) -> float:
    """``value`` as a cell showing ``digits`` significant digits keeps it when pasted."""
    return float(f"{value:.{digits}g}")


def pasted(path, rows, digits: int = 6, narrow: dict[str, int] | None = None, planted: dict | None = None):
    """A sheet of typed numbers: the typed starting values as they are, every other number shown to
    ``digits`` significant digits (``narrow``: fewer for some columns), ``planted`` {(row, name):
    number} typed as given. η is typed beside the table, as the exercise gives it."""
    narrow, planted = narrow or {}, planted or {}
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("pasted")
    eta_row, eta_col = LAYOUT.eta_cell
    sheet.write_string(eta_row, eta_col - 1, LAYOUT.eta_label)
    sheet.write_number(eta_row, eta_col, LEARNING_RATE)
    columns = LAYOUT.columns()
    for name, col in columns.items():
        sheet.write_string(LAYOUT.header_row, col, DEFAULT_LABELS[name])
    for step, values in enumerate(rows):
        for name, col in columns.items():
            exact = name in TYPED or (step == 0 and name in WEIGHTS)
            number = values[name] if exact else shown(values[name], narrow.get(name, digits))
            sheet.write_number(LAYOUT.header_row + 1 + step, col, planted.get((step, name), number))
    book.close()
    return path


def found(path, **options) -> set[tuple[str, str]]:
    return {(f.cell, f.kind) for f in check_workbook(path, **options).findings}


def cell(step: int, name: str) -> str:
    return LAYOUT.cell(step, name)


def test_the_pass_written_here_is_mazurs():
    # The numbers his post prints for the first row and the first update.
    first, second = mazur(2)
    assert math.isclose(first["E_total"], 0.298371109, rel_tol=1e-8)
    assert math.isclose(first["dw5"], 0.082167041, rel_tol=1e-7)
    assert math.isclose(first["dw1"], 0.000438568, rel_tol=1e-5)
    assert math.isclose(second["w5"], 0.35891648, rel_tol=1e-7)
    assert math.isclose(second["w1"], 0.149780716, rel_tol=1e-8)


def test_a_sheet_of_values_pasted_to_six_digits_is_right(tmp_path):
    path = pasted(tmp_path / "six.xlsx", mazur(5), digits=6)
    report = check_workbook(path)
    assert report.findings == []
    assert any("pasted values" in note for note in report.notes)


def test_narrow_columns_pass_their_rounding_on_to_the_cells_that_read_them(tmp_path):
    # Weights and hidden activations shown to 4 digits, everything else to 8: o1 = w5·a_h1 + …
    # then sits up to ~1e-4 from the chain rule applied to the shown numbers, far beyond its own
    # last digit (1e-8); only the inputs' rounding, carried through the formula, explains it.
    # w5 starts at 1.03644 so that it falls below 1 between the second and third rows: the second
    # row's 1.0004467 shows as 1.000, a unit of 1e-3, the third's 0.96378 as 0.9638, a unit of 1e-4,
    # so only the row above's rounding (4.5e-4) explains the third row's w5.
    rows = mazur(5, w5=1.03644)
    assert shown(rows[1]["w5"], 4) == 1 and abs(rows[1]["w5"] - 1) > 4e-4 and rows[2]["w5"] < 1
    narrow = {**{name: 4 for name in WEIGHTS}, "a_h1": 4, "a_h2": 4}
    path = pasted(tmp_path / "narrow.xlsx", rows, digits=8, narrow=narrow)
    assert found(path) == set()


def test_a_slip_beyond_six_digits_is_found_in_its_cell(tmp_path):
    # Each slip is read by no later cell, or the cells reading it were worked out from it.
    rows = mazur(4)
    flipped = rows[2]["w6"] + LEARNING_RATE * rows[2]["dw6"]  # the step's sign flipped
    rows[3] = forward({**step(rows[2]), "w6": flipped})
    slips = {(1, "E_total"): shown(rows[1]["E1"] + rows[1]["E2"] * 1.01, 6),  # E2 mis-added
             (3, "dw5"): shown(rows[3]["dw5"] * 1.001, 6)}                    # one part in a thousand
    path = pasted(tmp_path / "slips.xlsx", rows, planted=slips)
    assert found(path) == {(cell(1, "E_total"), "wrong value"), (cell(3, "dw5"), "wrong value"),
                           (cell(3, "w6"), "wrong update")}


def test_the_first_update_is_judged_from_exact_starting_weights(tmp_path):
    # The first row's weights are typed starting values (0.4, two digits, exact): the second
    # row's w5 with the step's sign flipped, 0.4 + η·∂E/∂w5 = 0.4411, is a slip of 0.08, not
    # rounding of a 0.4 that might have been anything in [0.35, 0.45].
    first = forward(WEIGHTS)
    rows = [first, forward({**step(first), "w5": WEIGHTS["w5"] + LEARNING_RATE * first["dw5"]})]
    rows.append(forward(step(rows[1])))
    assert found(pasted(tmp_path / "first.xlsx", rows)) == {(cell(1, "w5"), "wrong update")}


def test_a_slip_in_the_first_row_is_not_hidden_by_its_short_starting_weights(tmp_path):
    # h1 = w1·i1 + w2·i2 + b1 = 0.3775 from exact typed numbers; 0.3825 is a slip (a digit
    # typed wrong), though w2 = 0.2 read as rounded to one digit could explain anything within 0.005.
    path = pasted(tmp_path / "h1.xlsx", mazur(3), planted={(0, "h1"): 0.3825})
    assert (cell(0, "h1"), "wrong value") in found(path)


@pytest.mark.parametrize("last_digit, right", [(6, True), (7, True), (8, False), (5, False)])
def test_a_number_cut_either_way_is_right_and_one_digit_beyond_is_not(tmp_path, last_digit, right):
    # From exact inputs (the first row) h1 = 0.153734·0.05 + 0.2·0.1 + 0.35 = 0.3776867: shown to
    # six digits it is 0.377687 rounded or 0.377686 cut off, both right; 0.377688 and 0.377685
    # are no rounding of it under any rule, a digit slipped.
    rows = mazur(3, w1=0.153734)
    assert math.isclose(rows[0]["h1"], 0.3776867, rel_tol=1e-15)
    path = pasted(tmp_path / "digit.xlsx", rows, planted={(0, "h1"): float(f"0.37768{last_digit}")})
    assert found(path) == (set() if right else {(cell(0, "h1"), "wrong value")})


def test_an_input_changed_between_rows_is_found(tmp_path):
    # i1 is typed 0.05 in every row of the exercise; 0.051 in the last row is no rounding of it.
    path = pasted(tmp_path / "input.xlsx", mazur(4), planted={(3, "i1"): 0.051})
    findings = check_workbook(path).findings
    assert [(f.cell, f.label, f.kind) for f in findings if f.label == "i1"] == [(cell(3, "i1"), "i1", "wrong update")]


def test_a_sheet_of_full_doubles_is_judged_at_the_tolerance_however_short_its_numbers(tmp_path):
    # Typed at full precision, nothing is rounded: a_h1 off by 1e-6 of its value is a slip at the
    # default tolerance (1e-9), though the h1 it reads happens to be short (0.3775, which in a
    # rounded sheet could stand for anything within 5e-5), and within a tolerance of 1e-5 asked for.
    rows = mazur(3)
    rows[0] = forward(WEIGHTS, slip=("a_h1", 1 + 1e-6))
    rows[1:] = mazur(3, **step(rows[0]))[:2]
    assert rows[0]["h1"] == 0.3775
    path = pasted(tmp_path / "full.xlsx", rows, digits=17)
    assert found(path) == {(cell(0, "a_h1"), "wrong value")}
    assert found(path, tolerance=1e-5) == set()


def test_a_rounded_sheet_with_the_odd_full_double_is_still_rounded(tmp_path):
    # E1 and E2 worked out in the sheet from its pasted a_o1 and a_o2, 0.5·(t − a_o)², keep 11 to
    # 16 digits (0.02356012659200001), as a rounded file's own arithmetic does. A few full doubles
    # among 6-digit numbers leave the sheet rounded: every number is right to its digits.
    rows = mazur(5)
    in_sheet = {}
    for k, row in enumerate(rows):
        e1, e2 = (0.5 * (TYPED[t] - shown(row[a], 6)) ** 2 for t, a in (("t1", "a_o1"), ("t2", "a_o2")))
        in_sheet.update({(k, "E1"): e1, (k, "E2"): e2, (k, "E_total"): shown(e1 + e2, 6)})
    assert sum(len(f"{x:.16g}".strip("0.")) >= 15 for x in in_sheet.values()) >= 3  # full doubles
    assert found(pasted(tmp_path / "noise.xlsx", rows, planted=in_sheet)) == set()


def test_slack_widens_agreement_by_its_amount():
    assert agree(1.0, 1.0 + 1e-6, slack=2e-6)
    assert not agree(1.0, 1.0 + 1e-6, slack=5e-7)
