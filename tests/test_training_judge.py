"""The training route: a network laid out in no table check knows, found from its updates and
judged by differentiating the student's own forward formulas (a 2-1-1 net trained online, one
example per block of rows, like wild workbook 63)."""

from __future__ import annotations

import xlsxwriter

from sheetprop.check import check_workbook

# One block per example: a, b, weights, h, W h-q, q, target, δq, Δ(W h-q), δh, Δ(W a-h), Δ(W b-h);
# the next block's weights are the updates (=C3+L3), in the row between blocks.
RIGHT = {"E": "=1/(1+EXP(-(A{r}*C{r}+B{r}*D{r})))", "G": "=1/(1+EXP(-(E{r}*F{r})))",
         "I": "=(H{r}-G{r})*G{r}*(1-G{r})", "J": "=0.3*(E{r}*I{r})", "K": "=(F{r}*I{r})*E{r}*(1-E{r})",
         "L": "=0.5*A{r}*K{r}", "M": "=0.5*B{r}*K{r}"}
EXAMPLES = [(1, 0, 1), (0, 1, 0), (1, 1, 1), (0, 0, 0)]


def _write(path, slips: dict | None = None) -> None:
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("net")
    sheet.write_row(0, 0, ["a", "b", "W a-h", "W b-h", "h", "W h-q", "q", "target", "d q", "D W h-q", "d h"])
    for k, (a, b, t) in enumerate(EXAMPLES):
        r = 2 + 2 * k  # 1-based row of the example
        sheet.write_row(r - 1, 0, [a, b])
        sheet.write(r - 1, 7, t)
        if k == 0:
            sheet.write_row(r - 1, 2, [0.1, -0.2])
            sheet.write(r - 1, 5, 0.3)
        else:
            for column in "CDF":
                sheet.write_formula(f"{column}{r}", f"={column}{r - 1}")
        for column, formula in RIGHT.items():
            sheet.write_formula(f"{column}{r}", (slips or {}).get(column, formula).format(r=r))
        if k < len(EXAMPLES) - 1:
            for column, step in (("C", "L"), ("D", "M"), ("F", "J")):
                sheet.write_formula(f"{column}{r + 1}", f"={column}{r}+{step}{r}")
    book.close()


def test_a_right_online_network_in_blocks_of_rows_is_right(tmp_path):
    path = tmp_path / "online.xlsx"
    _write(path)
    report = check_workbook(path)
    assert report.findings == []
    assert report.scores and report.scores[0].right == report.scores[0].cells > 0


def test_the_weight_change_read_where_delta_belongs_is_found_where_it_enters(tmp_path):
    path = tmp_path / "slip.xlsx"
    _write(path, {"K": "=(F{r}*J{r})*E{r}*(1-E{r})"})  # Δ(W h-q) where δq belongs
    report = check_workbook(path)
    cells = {f.cell for f in report.findings}
    assert cells == {"K2", "K4", "K6", "K8"}, [(f.cell, f.message) for f in report.findings]
    assert all(f.kind == "wrong reference" and "J" in f.message for f in report.findings[:3])


def test_tanh_derivative_taken_of_the_activation_is_found(tmp_path):
    path = tmp_path / "tanh.xlsx"
    tanh = {"E": "=TANH(A{r}*C{r}+B{r}*D{r})", "G": "=TANH(E{r}*F{r})",
            "I": "=(H{r}-G{r})*(1-TANH(G{r})^2)", "K": "=(F{r}*I{r})*(1-E{r}^2)"}
    report = check_workbook(path) if _write(path, tanh) is None else None
    assert {f.cell for f in report.findings} == {"I2", "I4", "I6", "I8"}, [(f.cell, f.message) for f in report.findings]
