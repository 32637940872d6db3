"""Hand-made training workbooks of kinds the training route (issue #27) must read, each written
with xlsxwriter as a student would type it: formulas only, no saved values, no labelled table.

Every builder takes the path and ``slips``, a dict that replaces one column's (or row's) formula
template, and returns nothing; the tests name the cells where each slip enters from the layout
written down here, never from check's output.

- ``optimizer``: a linear model y = w·x + b fitted one example a row with plain SGD, momentum
  (two spellings), RMSprop or Adam; the optimizer's state in columns beside the gradient.
- ``mazur_sheets``: Matt Mazur's 2-2-2 example laid out vertically (a quantity a row: label in
  A, value in B), one sheet per iteration, each sheet's weights read from the sheet before.
- ``labelled_loss``: a sigmoid neuron trained under the loss its labelled cell holds (binary
  cross-entropy, a mean of squares over three outputs, a sum of squares without ½).
- ``sigmoid_neuron``, ``column_groups`` (a 1-1-1 chain, a group of columns a step),
  ``adaline`` (the LMS rule on a linear unit), ``thresholds`` (a 2-2-1 net whose thresholds are
  subtracted, trained with Negnevitsky's signs).
"""

from __future__ import annotations

import xlsxwriter

# --- the optimizers ----------------------------------------------------------------------------

XS = [0.5, -0.3, 0.8, 0.1, -0.7, 0.4]
TARGETS = [2 * x + 1 for x in XS]          # t = 2x + 1
FIRST_ROW, STEPS = 3, len(XS)              # row 2 holds the optimizer's starting state (zeros)
LAST_ROW = FIRST_ROW + STEPS               # the weights after the last step
HYPER = {"eta": ("V1", 0.1), "beta": ("V2", 0.9), "beta1": ("V3", 0.9), "beta2": ("V4", 0.999), "eps": ("V5", 1e-8)}

# Columns A step, B x, C target, D w, E b, F y, G dE/dw, H dE/db; the optimizer's columns from I.
_FORWARD = {"F": "=D{r}*B{r}+E{r}", "G": "=(F{r}-C{r})*B{r}", "H": "=F{r}-C{r}"}
OPTIMIZERS = {
    "sgd": ({}, {}, {"D": "=D{p}-$V$1*G{p}", "E": "=E{p}-$V$1*H{p}"}),
    # v = β·v + g; w − η·v
    "momentum": ({"I": "v_w", "J": "v_b"},
                 {"I": "=$V$2*I{p}+G{r}", "J": "=$V$2*J{p}+H{r}"},
                 {"D": "=D{p}-$V$1*I{p}", "E": "=E{p}-$V$1*J{p}"}),
    # v = β·v + η·g; w − v
    "momentum_eta": ({"I": "v_w", "J": "v_b"},
                     {"I": "=$V$2*I{p}+$V$1*G{r}", "J": "=$V$2*J{p}+$V$1*H{r}"},
                     {"D": "=D{p}-I{p}", "E": "=E{p}-J{p}"}),
    # v = β·v − η·g; w + v
    "momentum_plus": ({"I": "v_w", "J": "v_b"},
                      {"I": "=$V$2*I{p}-$V$1*G{r}", "J": "=$V$2*J{p}-$V$1*H{r}"},
                      {"D": "=D{p}+I{p}", "E": "=E{p}+J{p}"}),
    # s = β·s + (1 − β)·g²; w − η·g/(√s + ε)
    "rmsprop": ({"I": "s_w", "J": "s_b"},
                {"I": "=$V$2*I{p}+(1-$V$2)*G{r}^2", "J": "=$V$2*J{p}+(1-$V$2)*H{r}^2"},
                {"D": "=D{p}-$V$1*G{p}/(SQRT(I{p})+$V$5)", "E": "=E{p}-$V$1*H{p}/(SQRT(J{p})+$V$5)"}),
    # m, s; m̂ = m/(1 − β1^t), ŝ = s/(1 − β2^t); w − η·m̂/(√ŝ + ε)
    "adam": ({"I": "m_w", "J": "m_b", "K": "s_w", "L": "s_b", "M": "mhat_w", "N": "mhat_b", "O": "shat_w",
              "P": "shat_b"},
             {"I": "=$V$3*I{p}+(1-$V$3)*G{r}", "J": "=$V$3*J{p}+(1-$V$3)*H{r}",
              "K": "=$V$4*K{p}+(1-$V$4)*G{r}^2", "L": "=$V$4*L{p}+(1-$V$4)*H{r}^2",
              "M": "=I{r}/(1-$V$3^A{r})", "N": "=J{r}/(1-$V$3^A{r})",
              "O": "=K{r}/(1-$V$4^A{r})", "P": "=L{r}/(1-$V$4^A{r})"},
             {"D": "=D{p}-$V$1*M{p}/(SQRT(O{p})+$V$5)", "E": "=E{p}-$V$1*N{p}/(SQRT(P{p})+$V$5)"}),
}


# Adam's first step written without the zeros before it: m = (1 − β1)·g, s = (1 − β2)·g².
ADAM_FIRST_STEP = {"I": "=(1-$V$3)*G{r}", "J": "=(1-$V$3)*H{r}", "K": "=(1-$V$4)*G{r}^2", "L": "=(1-$V$4)*H{r}^2"}


def optimizer(path, kind: str, slips: dict | None = None, first: dict | None = None) -> None:
    """One step a row (rows 3–8), the weights of row r + 1 updated from row r's; ``slips`` maps a
    column letter to its formula template ({r} this row, {p} the row above), ``first`` to the
    first step's alone (row 3), where row 2 then stays empty."""
    headers, state, updates = OPTIMIZERS[kind]
    formulas = {**_FORWARD, **state, **updates, **(slips or {})}
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet(kind)
    sheet.write_row(0, 0, ["step", "x", "target", "w", "b", "y", "dE/dw", "dE/db"])
    for column, header in headers.items():
        sheet.write(f"{column}1", header)
        if not first:
            sheet.write(f"{column}2", 0)               # the state before the first step
    if not first:
        sheet.write("A2", 0)
    for label, (cell, value) in HYPER.items():
        sheet.write(cell.replace("V", "U"), label)
        sheet.write(cell, value)
    for k in range(STEPS + 1):
        r = FIRST_ROW + k
        if k < STEPS:
            sheet.write_row(f"A{r}", [k + 1, XS[k], TARGETS[k]])
        if k == 0:
            sheet.write_row(f"D{r}", [0.3, -0.1])
        else:
            for column in "DE":
                sheet.write_formula(f"{column}{r}", formulas[column].format(r=r, p=r - 1))
        if k < STEPS:
            for column, template in formulas.items():
                if column not in "DE":
                    template = (first or {}).get(column, template) if k == 0 else template
                    sheet.write_formula(f"{column}{r}", template.format(r=r, p=r - 1))
    book.close()


def step_rows() -> range:
    return range(FIRST_ROW, FIRST_ROW + STEPS)


# --- Mazur's 2-2-2, a quantity a row, a sheet an iteration -------------------------------------

MAZUR = [  # (row, label, value or formula); weights w1…w8 in rows 5–12, their updates in 38–45
    (2, "learning rate", 0.5), (3, "i1", 0.05), (4, "i2", 0.10),
    (5, "w1", 0.15), (6, "w2", 0.20), (7, "w3", 0.25), (8, "w4", 0.30),
    (9, "w5", 0.40), (10, "w6", 0.45), (11, "w7", 0.50), (12, "w8", 0.55),
    (13, "b1", 0.35), (14, "b2", 0.60), (15, "t1", 0.01), (16, "t2", 0.99),
    (17, "net h1", "=B5*B3+B6*B4+B13"), (18, "out h1", "=1/(1+EXP(-B17))"),
    (19, "net h2", "=B7*B3+B8*B4+B13"), (20, "out h2", "=1/(1+EXP(-B19))"),
    (21, "net o1", "=B9*B18+B10*B20+B14"), (22, "out o1", "=1/(1+EXP(-B21))"),
    (23, "net o2", "=B11*B18+B12*B20+B14"), (24, "out o2", "=1/(1+EXP(-B23))"),
    (25, "E_total", "=0.5*(B15-B22)^2+0.5*(B16-B24)^2"),
    (26, "delta o1", "=(B22-B15)*B22*(1-B22)"), (27, "delta o2", "=(B24-B16)*B24*(1-B24)"),
    (28, "dE/dw5", "=B26*B18"), (29, "dE/dw6", "=B26*B20"), (30, "dE/dw7", "=B27*B18"), (31, "dE/dw8", "=B27*B20"),
    (32, "delta h1", "=(B26*B9+B27*B11)*B18*(1-B18)"), (33, "delta h2", "=(B26*B10+B27*B12)*B20*(1-B20)"),
    (34, "dE/dw1", "=B32*B3"), (35, "dE/dw2", "=B32*B4"), (36, "dE/dw3", "=B33*B3"), (37, "dE/dw4", "=B33*B4"),
    *[(38 + k, f"new w{k + 1}", f"=B{5 + k}-$B$2*B{(34, 35, 36, 37, 28, 29, 30, 31)[k]}") for k in range(8)],
]
MAZUR_SHEETS = ["Iter 1", "Iter 2", "Iter 3"]


def mazur_sheets(path, slips: dict | None = None) -> None:
    """``slips`` maps a row number to the formula written there on every sheet."""
    book = xlsxwriter.Workbook(str(path))
    for index, name in enumerate(MAZUR_SHEETS):
        sheet = book.add_worksheet(name)
        sheet.write_row("A1", ["quantity", "value"])
        for row, label, content in MAZUR:
            sheet.write(f"A{row}", label)
            if index and 5 <= row <= 12:  # this iteration's weights: the last sheet's updates
                content = f"='{MAZUR_SHEETS[index - 1]}'!B{row + 33}"
            content = (slips or {}).get(row, content)
            if isinstance(content, str):
                sheet.write_formula(f"B{row}", content)
            else:
                sheet.write_number(f"B{row}", content)
    book.close()


# --- one sigmoid neuron, online: also the neuron of the labelled losses ----------------------

AND = [((0, 0), 0), ((0, 1), 0), ((1, 0), 0), ((1, 1), 1), ((1, 1), 1), ((0, 1), 0)]
# Columns A x1, B x2, C t, D w1, E w2, F b, G net, H y, I δ (∂E/∂net); the loss in J where asked.
NEURON = {"G": "=D{r}*A{r}+E{r}*B{r}+F{r}", "H": "=1/(1+EXP(-G{r}))", "I": "=(H{r}-C{r})*H{r}*(1-H{r})",
          "D": "=D{p}-$M$1*I{p}*A{p}", "E": "=E{p}-$M$1*I{p}*B{p}", "F": "=F{p}-$M$1*I{p}"}


def sigmoid_neuron(path, slips: dict | None = None, loss: tuple[str, str] | None = None,
                   total: str | None = None) -> None:
    """One example a row (rows 2–7), the weights of row r + 1 updated from row r's; ``loss`` is
    (the J column's header, its formula template) where the sheet shows a loss; ``total`` labels
    the sum of the J column (in J10, the label in I10)."""
    formulas = {**NEURON, **(slips or {})}
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("neuron")
    sheet.write_row("A1", ["x1", "x2", "t", "w1", "w2", "b", "net", "y", "delta"])
    sheet.write_row("L1", ["eta", 0.5])
    if loss:
        sheet.write("J1", loss[0])
    for k in range(len(AND) + 1):
        r = 2 + k
        if k == 0:
            sheet.write_row(f"D{r}", [0.2, -0.3, 0.1])
        else:
            for column in "DEF":
                sheet.write_formula(f"{column}{r}", formulas[column].format(r=r, p=r - 1))
        if k < len(AND):
            (x1, x2), t = AND[k]
            sheet.write_row(f"A{r}", [x1, x2, t])
            for column in "GHI":
                sheet.write_formula(f"{column}{r}", formulas[column].format(r=r, p=r - 1))
            if loss:
                sheet.write_formula(f"J{r}", loss[1].format(r=r))
    if total:
        sheet.write("I10", total)
        sheet.write_formula("J10", f"=SUM(J2:J{1 + len(AND)})")
    book.close()


# Three linear outputs of one input, y_k = w_k·x + b_k, under the mean of their squared errors:
# columns A x, B–D t1…t3, E–G w1…w3, H–J b1…b3, K–M y1…y3, N loss, O–Q ∂L/∂y_k.
MEAN_SQUARES = {**{f"{'KLM'[k]}": f"={'EFG'[k]}{{r}}*A{{r}}+{'HIJ'[k]}{{r}}" for k in range(3)},
                "N": "=((B{r}-K{r})^2+(C{r}-L{r})^2+(D{r}-M{r})^2)/3",
                **{f"{'OPQ'[k]}": f"=2/3*({'KLM'[k]}{{r}}-{'BCD'[k]}{{r}})" for k in range(3)},
                **{f"{'EFG'[k]}": f"={'EFG'[k]}{{p}}-$T$1*{'OPQ'[k]}{{p}}*A{{p}}" for k in range(3)},
                **{f"{'HIJ'[k]}": f"={'HIJ'[k]}{{p}}-$T$1*{'OPQ'[k]}{{p}}" for k in range(3)}}
MEAN_XS = [0.4, -0.6, 0.9, 0.2]


def mean_squares(path, slips: dict | None = None, label: str = "MSE loss") -> None:
    formulas = {**MEAN_SQUARES, **(slips or {})}
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("outputs")
    sheet.write_row("A1", ["x", "t1", "t2", "t3", "w1", "w2", "w3", "b1", "b2", "b3", "y1", "y2", "y3", label,
                           "g1", "g2", "g3"])
    sheet.write_row("S1", ["eta", 0.3])
    for k in range(len(MEAN_XS) + 1):
        r = 2 + k
        if k == 0:
            sheet.write_row(f"E{r}", [0.1, -0.2, 0.3, 0.0, 0.1, -0.1])
        else:
            for column in "EFGHIJ":
                sheet.write_formula(f"{column}{r}", formulas[column].format(r=r, p=r - 1))
        if k < len(MEAN_XS):
            x = MEAN_XS[k]
            sheet.write_row(f"A{r}", [x, x + 0.5, 1 - x, 2 * x])
            for column in "KLMNOPQ":
                sheet.write_formula(f"{column}{r}", formulas[column].format(r=r, p=r - 1))
    book.close()


# --- a 1-1-1 chain, a group of eight columns a step --------------------------------------------

GROUP = 8
CHAIN_STEPS = [(0.6, 0.2), (-0.4, 0.7), (0.9, 0.3), (0.1, 0.8)]   # (x, t) of each step
# In each group, offsets 0 x, 1 w1, 2 h, 3 w2, 4 y, 5 t, 6 δy, 7 δh; row 2 names them, row 3 holds them.
CHAIN = {2: "=1/(1+EXP(-{w1}*{x}))", 4: "=1/(1+EXP(-{w2}*{h}))", 6: "=({y}-{t})*{y}*(1-{y})",
         7: "={dy}*{w2}*{h}*(1-{h})",
         1: "={w1_}-$B$6*{dh_}*{x_}", 3: "={w2_}-$B$6*{dy_}*{h_}"}
_CHAIN_NAMES = ["x", "w1", "h", "w2", "y", "t", "dy", "dh"]


def column(k: int) -> str:
    from xlsxwriter.utility import xl_col_to_name
    return xl_col_to_name(k)


def chain_cell(step: int, offset: int) -> str:
    return f"{column(step * GROUP + offset)}3"


def column_groups(path, slips: dict | None = None) -> None:
    """``slips`` maps a group offset to its template ({x}, {w1}… this group's cells, {x_}… the
    group before's)."""
    formulas = {**CHAIN, **(slips or {})}
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("chain")
    sheet.write_row("A5", ["learning rate"])
    sheet.write_row("A6", ["eta", 0.5])
    for step, (x, t) in enumerate(CHAIN_STEPS):
        here = {name: chain_cell(step, k) for k, name in enumerate(_CHAIN_NAMES)}
        before = {f"{name}_": chain_cell(step - 1, k) for k, name in enumerate(_CHAIN_NAMES)} if step else {}
        sheet.write(f"{column(step * GROUP)}1", f"step {step + 1}")
        for k, name in enumerate(_CHAIN_NAMES):
            sheet.write(f"{column(step * GROUP + k)}2", name)
        sheet.write_number(here["x"], x)
        sheet.write_number(here["t"], t)
        for k in (1, 3):
            if step == 0:
                sheet.write_number(here[_CHAIN_NAMES[k]], (0.4, -0.5)[k // 2])
            else:
                sheet.write_formula(here[_CHAIN_NAMES[k]], formulas[k].format(**here, **before))
        for k in (2, 4, 6, 7):
            sheet.write_formula(here[_CHAIN_NAMES[k]], formulas[k].format(**here, **before))
    book.close()


# --- ADALINE: the LMS rule on a linear unit ---------------------------------------------------

ADALINE_DATA = [((0.5, 1.0), 1.0), ((-0.4, 0.3), -1.0), ((0.9, -0.2), 1.0), ((-0.7, -0.8), -1.0), ((0.2, 0.6), 1.0)]
# Columns A x1, B x2, C t, D w0 (bias), E w1, F w2, G y = w0 + w1·x1 + w2·x2; η in J1.
ADALINE = {"G": "=D{r}+E{r}*A{r}+F{r}*B{r}",
           "D": "=D{p}+$J$1*(C{p}-G{p})", "E": "=E{p}+$J$1*(C{p}-G{p})*A{p}", "F": "=F{p}+$J$1*(C{p}-G{p})*B{p}"}
# The same rule with the unit's output written inside each update: w + η·(t − w·x)·x.
ADALINE_INLINE = {"D": "=D{p}+$J$1*(C{p}-(D{p}+E{p}*A{p}+F{p}*B{p}))",
                  "E": "=E{p}+$J$1*(C{p}-(D{p}+E{p}*A{p}+F{p}*B{p}))*A{p}",
                  "F": "=F{p}+$J$1*(C{p}-(D{p}+E{p}*A{p}+F{p}*B{p}))*B{p}"}


def adaline(path, slips: dict | None = None, inline: bool = False) -> None:
    formulas = {**ADALINE, **(ADALINE_INLINE if inline else {}), **(slips or {})}
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("adaline")
    sheet.write_row("A1", ["x1", "x2", "t", "w0", "w1", "w2"] + ([] if inline else ["y"]))
    sheet.write_row("I1", ["eta", 0.1])
    for k in range(len(ADALINE_DATA) + 1):
        r = 2 + k
        if k == 0:
            sheet.write_row(f"D{r}", [0.1, 0.2, -0.1])
        else:
            for column_ in "DEF":
                sheet.write_formula(f"{column_}{r}", formulas[column_].format(r=r, p=r - 1))
        if k < len(ADALINE_DATA):
            (x1, x2), t = ADALINE_DATA[k]
            sheet.write_row(f"A{r}", [x1, x2, t])
            if not inline:
                sheet.write_formula(f"G{r}", formulas["G"].format(r=r))
    book.close()


# --- a 2-2-1 net with thresholds subtracted (Negnevitsky's XOR) --------------------------------

XOR = [((1, 1), 0), ((0, 1), 1), ((1, 0), 1), ((0, 0), 0), ((1, 1), 0)]
# Columns A x1, B x2, C t; D w13, E w23, F θ3, G w14, H w24, I θ4, J w35, K w45, L θ5;
# M y3, N y4, O y5, P δ5, Q δ4, R δ3 (δ = error gradient: e·y·(1 − y), e = t − y); η in U1.
THRESHOLDS = {
    "M": "=1/(1+EXP(-(A{r}*D{r}+B{r}*E{r}-F{r})))", "N": "=1/(1+EXP(-(A{r}*G{r}+B{r}*H{r}-I{r})))",
    "O": "=1/(1+EXP(-(M{r}*J{r}+N{r}*K{r}-L{r})))",
    "P": "=O{r}*(1-O{r})*(C{r}-O{r})", "Q": "=N{r}*(1-N{r})*P{r}*K{r}", "R": "=M{r}*(1-M{r})*P{r}*J{r}",
    "D": "=D{p}+$U$1*A{p}*R{p}", "E": "=E{p}+$U$1*B{p}*R{p}", "F": "=F{p}+$U$1*(-1)*R{p}",
    "G": "=G{p}+$U$1*A{p}*Q{p}", "H": "=H{p}+$U$1*B{p}*Q{p}", "I": "=I{p}+$U$1*(-1)*Q{p}",
    "J": "=J{p}+$U$1*M{p}*P{p}", "K": "=K{p}+$U$1*N{p}*P{p}", "L": "=L{p}+$U$1*(-1)*P{p}"}
# The same net with δ = ∂E/∂net's sign, δ5 = (y − t)·y·(1 − y), and gradient descent written out:
# w − α·x·δ, θ − α·δ·(−1).
THRESHOLDS_DESCENT = {
    "P": "=(O{r}-C{r})*O{r}*(1-O{r})",
    **{c: f"={c}{{p}}-$U$1*{x}{{p}}*{d}{{p}}" for c, x, d in
       (("D", "A", "R"), ("E", "B", "R"), ("G", "A", "Q"), ("H", "B", "Q"), ("J", "M", "P"), ("K", "N", "P"))},
    **{c: f"={c}{{p}}-$U$1*{d}{{p}}*(-1)" for c, d in (("F", "R"), ("I", "Q"), ("L", "P"))}}
THRESHOLD_START = [0.5, 0.4, 0.8, 0.9, 1.0, -0.1, -1.2, 1.1, 0.3]


def thresholds(path, slips: dict | None = None) -> None:
    formulas = {**THRESHOLDS, **(slips or {})}
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("xor")
    sheet.write_row("A1", ["x1", "x2", "yd", "w13", "w23", "theta3", "w14", "w24", "theta4", "w35", "w45",
                           "theta5", "y3", "y4", "y5", "delta5", "delta4", "delta3"])
    sheet.write_row("T1", ["alpha", 0.1])
    for k in range(len(XOR) + 1):
        r = 2 + k
        if k == 0:
            sheet.write_row(f"D{r}", THRESHOLD_START)
        else:
            for column_ in "DEFGHIJKL":
                sheet.write_formula(f"{column_}{r}", formulas[column_].format(r=r, p=r - 1))
        if k < len(XOR):
            (x1, x2), t = XOR[k]
            sheet.write_row(f"A{r}", [x1, x2, t])
            for column_ in "MNOPQR":
                sheet.write_formula(f"{column_}{r}", formulas[column_].format(r=r, p=r - 1))
    book.close()
