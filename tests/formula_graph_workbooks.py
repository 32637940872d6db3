"""Workbooks without a labelled table, laid out as students do, written independently of sheetprop:
a neuron or a weight a row (labels in Korean), a feed row and back rows (labels in Portuguese),
and Mazur's example with biases one sheet per iteration. Each formula's value is worked out here
in plain Python (references, also to other sheets, replaced by numbers) and saved as a spreadsheet
program would, so check reads the files without LibreOffice.
"""

from __future__ import annotations

import math
import re

import xlsxwriter
from xlsxwriter.utility import xl_cell_to_rowcol

_REF = re.compile(r"(?:'([^']+)'!)?\$?([A-Z]{1,3})\$?([0-9]+)(?![\w(])")


def write(path, sheets: dict[str, dict]) -> None:
    """``sheets``: sheet name -> {cell: number, text or formula}."""
    values: dict = {}

    def value(sheet: str, ref: str):
        if (sheet, ref) in values:
            return values[sheet, ref]
        content = sheets[sheet].get(ref)
        if not (isinstance(content, str) and content.startswith("=")):
            return content if isinstance(content, (int, float)) else 0.0
        text = _REF.sub(lambda m: repr(float(value(m[1] or sheet, m[2] + m[3]))), content[1:])
        text = text.replace("^", "**").replace("EXP(", "math.exp(")
        values[sheet, ref] = float(eval(text, {"math": math, "POWER": pow}))  # noqa: S307 - the fixture's own formulas
        return values[sheet, ref]

    book = xlsxwriter.Workbook(str(path))
    for name, cells in sheets.items():
        sheet = book.add_worksheet(name)
        for ref, content in cells.items():
            row, col = xl_cell_to_rowcol(ref)
            if isinstance(content, str) and content.startswith("="):
                sheet.write_formula(row, col, content, None, value(name, ref))
            elif isinstance(content, str):
                sheet.write_string(row, col, content)
            else:
                sheet.write_number(row, col, content)
    book.close()


SIGMOID = "1/(1+EXP(-{}))"


def per_row_2_2_1(swapped_slopes: bool = False, eta_from_a_weight: bool = False) -> dict:
    """A 2-2-1 network, one weight a row: hidden weights x1→h1, x2→h1, x1→h2, x2→h2 in B4:B7,
    their biases in B8:B9, the output's in E4, E5 and E8; each gradient is σ′·∂E/∂a·x in its
    weight's row, with E = (t − o)², so ∂E/∂o = −2(t − o). ``swapped_slopes``: σ′(h2) written in
    the row of x2→h1 and σ′(h1) in the row of x1→h2. ``eta_from_a_weight``: the biases' updates
    read $O4 (an updated weight) where η ($O$2) belongs."""
    eta = "$O4" if eta_from_a_weight else "$O$2"
    cells = {
        "A3": "입력", "B3": "히든레이어 가중치", "C3": "출력(z)", "D3": "출력(o)", "E3": "출력레이어 가중치",
        "F3": "출력(z)", "G3": "출력(o)", "H3": "목표값", "O1": "학습률", "O2": 0.5,
        "A4": 1, "A5": 0, "A6": "=A4", "A7": "=A5", "A8": "b", "A9": "b",
        "B4": 0.3, "B5": -0.4, "B6": 0.6, "B7": 0.2, "B8": 0.1, "B9": -0.2,
        "C4": "=A4*B4+A5*B5+B8", "C6": "=A6*B6+A7*B7+B9",
        "D4": "=" + SIGMOID.format("C4"), "D5": "=" + SIGMOID.format("C6"),
        "E4": 0.7, "E5": -0.5, "E8": 0.05,
        "F4": "=D4*E4+D5*E5+E8", "G4": "=" + SIGMOID.format("F4"), "H4": 1,
        "J4": "=POWER(H4-G4,2)", "K4": "=-2*(H4-G4)", "L4": "=G4*(1-G4)",
        "M4": "=D4", "M5": "=D5", "N4": "=K4*L4*M4", "N5": "=K4*L4*M5", "N8": "=K4*L4*1",
        "O4": "=E4-($O$2*N4)", "O5": "=E5-($O$2*N5)", "O8": "=E8-($O$2*N8)",
        "Q4": "=-2*(H4-G4)*L4*E4", "Q5": "=-2*(H4-G4)*L4*E5",
        "R4": "=D4*(1-D4)", "R5": "=D5*(1-D5)" if swapped_slopes else "=D4*(1-D4)",
        "R6": "=D4*(1-D4)" if swapped_slopes else "=D5*(1-D5)", "R7": "=D5*(1-D5)",
        "S4": "=Q4", "S6": "=Q5", "T4": "=A4", "T5": "=A5", "T6": "=A4", "T7": "=A5",
        "U4": "=R4*S4*T4", "U5": "=R5*S4*T5", "U6": "=R6*S6*T6", "U7": "=R7*S6*T7",
        "U8": "=R4*S4*1", "U9": "=R6*S6*1",
    }
    for row in (4, 5, 6, 7):
        cells[f"V{row}"] = f"=B{row}-($O$2*U{row})"
    cells["V8"], cells["V9"] = f"=B8-({eta}*U8)", f"=B9-({eta}*U9)"
    return cells


def feed_and_back_rows_2_4_1(sums_of_pre_activations: bool = False, wrong_weight: bool = False) -> dict:
    """A 2-4-1 network, one step: labels in row 2, the forward pass in row 4 (w1…w4 from IN A to
    N1…N4, w5…w8 from IN B, w9…w12 to the output), the new output weights in row 7 and the new
    input weights in row 8, each from a row that types the inputs and weights again; η = 0.1
    typed in every update, error = t − o. ``sums_of_pre_activations``: the output's sum reads the
    hidden sums where their sigmoids belong. ``wrong_weight``: N4 reads w7 where w4 belongs."""
    weights = [0.2, 0.5, 0.4, 0.8, 0.6, 0.7, 0.9, 0.3, 0.6, 0.7, 0.3, 0.4]
    letters = "DEFGHIJKLMNO"
    cells = {"A2": "Modo", "B2": "IN A", "C2": "IN B", "A4": "feed", "B4": 0.6, "C4": 0.9,
             "A7": "back (L1)", "A8": "back (L2)", "AE2": "desired Output", "AE4": 1}
    for k, (letter, w) in enumerate(zip(letters, weights), start=1):
        cells[f"{letter}2"] = f"w{k}"
        cells[f"{letter}4"] = w
    nets, sigs, slopes = ["P", "S", "V", "Y"], ["Q", "T", "W", "Z"], ["R", "U", "X", "AA"]
    for j in range(4):
        a_weight = "J" if (wrong_weight and j == 3) else letters[j]
        cells[f"{nets[j]}2"], cells[f"{sigs[j]}2"] = f"N{j + 1}", f"sig(N{j + 1})"
        cells[f"{nets[j]}4"] = f"=(B4*{a_weight}4)+(C4*{letters[j + 4]}4)"
        cells[f"{sigs[j]}4"] = "=" + SIGMOID.format(f"{nets[j]}4")
        cells[f"{slopes[j]}4"] = f"={sigs[j]}4*(1-{sigs[j]}4)"
    read = nets if sums_of_pre_activations else sigs
    cells["AB4"] = "=" + "+".join(f"({read[j]}4*{letters[8 + j]}4)" for j in range(4))
    cells["AC4"] = "=" + SIGMOID.format("AB4")
    cells["AD4"], cells["AF4"], cells["AG4"] = "=AC4*(1-AC4)", "=AE4-AC4", "=AD4*AF4"
    back, delta = ["AH", "AI", "AJ", "AK"], ["AL", "AM", "AN", "AO"]
    for j in range(4):
        cells[f"{back[j]}4"] = f"={letters[8 + j]}4*AG4"
        cells[f"{delta[j]}4"] = f"={slopes[j]}4*{back[j]}4"
    for row in (7, 8):
        cells[f"B{row}"], cells[f"C{row}"] = 0.6, 0.9
    for k, (letter, w) in enumerate(zip(letters, weights)):
        if k < 8:
            cells[f"{letter}7"] = w
            cells[f"{letter}8"] = f"={letter}7+{'B' if k < 4 else 'C'}8*{delta[k % 4]}4*0.1"
        else:
            cells[f"{letter}7"] = f"={letter}4+{sigs[k - 8]}4*AG4*0.1"
            cells[f"{letter}8"] = f"={letter}7"
    return cells


def mazur_sheet_per_iteration(iterations: int = 3, slip_on: str | None = None) -> dict[str, dict]:
    """Mazur's 2-2-2 example with its biases b1 (both hidden neurons) and b2 (both outputs),
    trained, a sheet per iteration laid out label | value down the rows; each sheet's weights
    are the previous sheet's new weights. ``slip_on``: on that sheet σ′ of h2 is written with
    out_h1."""
    start = {"B8": 0.15, "B9": 0.20, "B10": 0.25, "B11": 0.30, "B12": 0.40, "B13": 0.45,
             "B14": 0.50, "B15": 0.55, "B16": 0.35, "B17": 0.60}
    sheets = {}
    for k in range(1, iterations + 1):
        name, before = f"Iteration {k}", f"'Iteration {k - 1}'!"
        cells = {"A1": "learning rate", "A3": "input 1", "A4": "input 2", "A5": "target 1", "A6": "target 2"}
        if k == 1:
            cells.update({"B1": 0.5, "B3": 0.05, "B4": 0.10, "B5": 0.01, "B6": 0.99}, **start)
        else:
            cells.update({ref: f"={before}{ref}" for ref in ("B1", "B3", "B4", "B5", "B6")})
            cells.update({ref: f"={before}L{ref[1:]}" for ref in start})
        for n, ref in enumerate(start, start=1):
            cells[f"A{ref[1:]}"] = f"weight {n}" if n <= 8 else f"bias {n - 8}"
        slip = slip_on == name
        cells.update({
            "D3": "net h1", "E3": "=B8*B3+B9*B4+B16*1", "D4": "out h1", "E4": "=" + SIGMOID.format("E3"),
            "D5": "net h2", "E5": "=B10*B3+B11*B4+B16*1", "D6": "out h2", "E6": "=" + SIGMOID.format("E5"),
            "D7": "net o1", "E7": "=B12*E4+B13*E6+B17*1", "D8": "out o1", "E8": "=" + SIGMOID.format("E7"),
            "D9": "net o2", "E9": "=B14*E4+B15*E6+B17*1", "D10": "out o2", "E10": "=" + SIGMOID.format("E9"),
            "D11": "error", "E11": "=0.5*(B5-E8)^2+0.5*(B6-E10)^2",
            "G3": "delta o1", "H3": "=(E8-B5)*E8*(1-E8)", "G4": "delta o2", "H4": "=(E10-B6)*E10*(1-E10)",
            "G5": "slope h1", "H5": "=E4*(1-E4)", "G6": "slope h2", "H6": "=E4*(1-E4)" if slip else "=E6*(1-E6)",
            "G7": "delta h1", "H7": "=(H3*B12+H4*B14)*H5", "G8": "delta h2", "H8": "=(H3*B13+H4*B15)*H6",
        })
        grads = ["H7*B3", "H7*B4", "H8*B3", "H8*B4", "H3*E4", "H3*E6", "H4*E4", "H4*E6", "H7+H8", "H3+H4"]
        for ref, grad in zip(start, grads):
            row = ref[1:]
            cells[f"J{row}"] = f"={grad}"
            cells[f"L{row}"] = f"={ref}-$B$1*J{row}"
        sheets[name] = cells
    return sheets
