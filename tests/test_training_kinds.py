"""The training route on kinds of training it had not seen (issue #27): optimizers with a state,
a sheet per iteration linked to the one before, the sheet's own labelled loss, and networks laid
out in rows, in groups of columns, with thresholds subtracted. Each right workbook is right
(exit 0, every cell judged right); each planted slip is named exactly where it enters, the cells
below worked out from the layout in ``training_kinds``, not from check's output."""

from __future__ import annotations

import json

import pytest

import training_kinds as kinds
from sheetprop.cli import main


def run(path, capsys) -> tuple[int, dict]:
    code = main(["check", "--json", str(path)])
    return code, json.loads(capsys.readouterr().out)


def cells(report) -> set[str]:
    return {f["cell"] for f in report["findings"]}


def sheet_cells(report) -> set[tuple[str, str]]:
    return {(f["sheet"], f["cell"]) for f in report["findings"]}


def assert_right(path, capsys) -> dict:
    code, report = run(path, capsys)
    assert (code, report["findings"]) == (0, []), [(f["cell"], f["message"]) for f in report["findings"]]
    assert report["scores"]["cells"] > 0 and report["scores"]["right"] == report["scores"]["cells"]
    return report


def column(letter: str, rows) -> set[str]:
    return {f"{letter}{r}" for r in rows}


STEPS = kinds.step_rows()                                     # rows 3–8: a step each
UPDATES = range(kinds.FIRST_ROW + 1, kinds.LAST_ROW + 1)      # rows 4–9: the weights after each step


# --- optimizers -------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(kinds.OPTIMIZERS))
def test_a_right_optimizer_is_right(kind, tmp_path, capsys):
    path = tmp_path / f"{kind}.xlsx"
    kinds.optimizer(path, kind)
    report = assert_right(path, capsys)
    # every update (w and b, each step) is judged, and each state cell too: v or s of w and b
    # each step, Adam's m and s of both
    states = {"sgd": 0, "momentum": 2, "momentum_eta": 2, "momentum_plus": 2, "rmsprop": 2, "adam": 4}[kind]
    assert report["scores"]["cells"] == kinds.STEPS * (2 + states)


def test_adams_first_step_written_without_the_zeros_before_it_is_right(tmp_path, capsys):
    path = tmp_path / "adam.xlsx"
    kinds.optimizer(path, "adam", first=kinds.ADAM_FIRST_STEP)
    assert_right(path, capsys)


@pytest.mark.parametrize("kind", ["momentum", "rmsprop", "adam"])
def test_a_gradient_without_its_input_is_named_in_the_gradient_column(kind, tmp_path, capsys):
    # dE/dw = (y − t) where (y − t)·x belongs: the states read it, the slip is in G.
    path = tmp_path / f"{kind}.xlsx"
    kinds.optimizer(path, kind, {"G": "=F{r}-C{r}"})
    code, report = run(path, capsys)
    assert code == 1 and cells(report) == column("G", STEPS), [(f["cell"], f["message"]) for f in report["findings"]]


@pytest.mark.parametrize("kind", ["momentum", "rmsprop", "adam"])
def test_a_gradient_of_the_wrong_sign_is_named_in_the_gradient_column(kind, tmp_path, capsys):
    # dE/dw = (t − y)·x: every cell reading it that can tell a sign (not s's g², which cannot)
    # would need it the other way: the slip is in G, not in its readers.
    path = tmp_path / f"{kind}.xlsx"
    kinds.optimizer(path, kind, {"G": "=(C{r}-F{r})*B{r}"})
    code, report = run(path, capsys)
    assert code == 1 and cells(report) == column("G", STEPS), [(f["cell"], f["message"]) for f in report["findings"]]


def test_adams_update_without_the_square_root(tmp_path, capsys):
    # s is a second moment by its own formula (it adds g²), though no root reads it now.
    path = tmp_path / "adam.xlsx"
    kinds.optimizer(path, "adam", {"D": "=D{p}-$V$1*M{p}/(O{p}+$V$5)"})
    code, report = run(path, capsys)
    assert code == 1 and cells(report) == column("D", UPDATES), [(f["cell"], f["message"]) for f in report["findings"]]


def test_adams_first_moment_with_beta_where_one_minus_beta_belongs(tmp_path, capsys):
    path = tmp_path / "adam.xlsx"
    kinds.optimizer(path, "adam", {"I": "=$V$3*I{p}+$V$3*G{r}"})
    code, report = run(path, capsys)
    assert code == 1 and cells(report) == column("I", STEPS), [(f["cell"], f["message"]) for f in report["findings"]]


@pytest.mark.parametrize("kind, letter, beta", [("rmsprop", "I", "$V$2"), ("adam", "K", "$V$4")])
def test_a_second_moment_of_g_where_g_squared_belongs(kind, letter, beta, tmp_path, capsys):
    # s = β·s + (1 − β)·g: the first step's g is negative at the sheet's values, so √s is an
    # error from there on; the first s is judged, the others are its formula copied down.
    path = tmp_path / f"{kind}.xlsx"
    kinds.optimizer(path, kind, {letter: f"={beta}*{letter}{{p}}+(1-{beta})*G{{r}}"})
    code, report = run(path, capsys)
    assert code == 1 and cells(report) == column(letter, STEPS), [(f["cell"], f["message"]) for f in report["findings"]]
    assert "²" in report["findings"][0]["message"]


def test_adams_second_moment_with_beta_where_one_minus_beta_belongs(tmp_path, capsys):
    path = tmp_path / "adam.xlsx"
    kinds.optimizer(path, "adam", {"L": "=$V$4*L{p}+$V$4*H{r}^2"})
    code, report = run(path, capsys)
    assert code == 1 and cells(report) == column("L", STEPS), [(f["cell"], f["message"]) for f in report["findings"]]


def test_a_bias_correction_without_the_step_number(tmp_path, capsys):
    # m̂ = m/(1 − β1) where m/(1 − β1^t) belongs: wrong from step 2 (row 4) on; at step 1 the
    # value is right, the formula the same slip copied.
    path = tmp_path / "adam.xlsx"
    kinds.optimizer(path, "adam", {"M": "=I{r}/(1-$V$3)"})
    code, report = run(path, capsys)
    assert code == 1 and cells(report) == column("M", STEPS), [(f["cell"], f["message"]) for f in report["findings"]]
    (first,) = [f for f in report["findings"] if f["cell"] == "M3"]
    assert "copied" in first["message"]


def test_adams_first_step_alone_slipped(tmp_path, capsys):
    path = tmp_path / "adam.xlsx"
    kinds.optimizer(path, "adam", first={**kinds.ADAM_FIRST_STEP, "I": "=$V$3*G{r}"})
    code, report = run(path, capsys)
    assert code == 1 and cells(report) == {"I3"}, [(f["cell"], f["message"]) for f in report["findings"]]


def test_momentum_stepping_uphill_is_named_at_the_update(tmp_path, capsys):
    path = tmp_path / "momentum.xlsx"
    kinds.optimizer(path, "momentum", {"D": "=D{p}+$V$1*I{p}"})
    code, report = run(path, capsys)
    assert code == 1 and cells(report) == column("D", UPDATES), [(f["cell"], f["message"]) for f in report["findings"]]


# --- a sheet per iteration --------------------------------------------------------------------

def test_mazurs_example_a_sheet_an_iteration_is_right(tmp_path, capsys):
    path = tmp_path / "mazur.xlsx"
    kinds.mazur_sheets(path)
    assert_right(path, capsys)


def test_mazurs_slip_is_named_on_every_sheet(tmp_path, capsys):
    # δ of h2 with σ′ of h1 (B18 where B20 belongs), on each iteration's sheet.
    path = tmp_path / "mazur.xlsx"
    kinds.mazur_sheets(path, {33: "=(B26*B10+B27*B12)*B18*(1-B18)"})
    code, report = run(path, capsys)
    assert code == 1 and sheet_cells(report) == {(sheet, "B33") for sheet in kinds.MAZUR_SHEETS}


def _training_route(path):
    from sheetprop.check.judge.gradients import judge_training
    from sheetprop.check.read.calculate import calculate
    from sheetprop.check.read.workbook_input import open_workbook

    formulas, values = open_workbook(path)
    return judge_training((formulas, calculate(formulas, values).values))


def test_the_training_route_follows_the_weights_from_sheet_to_sheet(tmp_path):
    # The same workbook through the training route alone (check reads it as a 2-2-2 network
    # first): each sheet's weights read the sheet before's updates (='Iter 1'!B38), so its
    # updates are the next step's (t = 1, 2, 3), and the labelled E_total is the loss.
    path = tmp_path / "mazur.xlsx"
    kinds.mazur_sheets(path)
    ((training, findings, score),) = _training_route(path)
    assert {training.steps[(sheet, f"B{38 + k}")] for sheet in kinds.MAZUR_SHEETS[2:] for k in range(8)} == {3}
    assert set(training.losses.values()) == {(sheet, "B25") for sheet in kinds.MAZUR_SHEETS}
    assert findings == [] and score.right == score.cells == 8 * len(kinds.MAZUR_SHEETS)


@pytest.mark.slow  # the blame search of a 2-2-2 network's δ: a second or two
def test_the_training_route_names_mazurs_slip_on_every_sheet(tmp_path):
    path = tmp_path / "mazur.xlsx"
    kinds.mazur_sheets(path, {33: "=(B26*B10+B27*B12)*B18*(1-B18)"})
    ((training, findings, _),) = _training_route(path)
    assert {(f.sheet, f.cell) for f in findings} == {(sheet, "B33") for sheet in kinds.MAZUR_SHEETS}


# --- the sheet's own loss ---------------------------------------------------------------------

CROSS_ENTROPY = ("loss", "=-(C{r}*LN(H{r})+(1-C{r})*LN(1-H{r}))")
NEURON_ROWS = range(2, 2 + len(kinds.AND))   # rows 2–7: an example each


def test_a_cross_entropy_labelled_as_the_loss_is_the_one_differentiated(tmp_path, capsys):
    # Under cross-entropy, ∂L/∂net = y − t: the δ column holds no σ′.
    path = tmp_path / "bce.xlsx"
    kinds.sigmoid_neuron(path, {"I": "=H{r}-C{r}"}, loss=CROSS_ENTROPY)
    assert_right(path, capsys)


def test_a_labelled_total_over_the_examples_stands_for_each_examples_term(tmp_path, capsys):
    # Online training: only the sum of the (unheaded) cross-entropy column is labelled, "total
    # loss"; each row's update is held to its own row's term.
    path = tmp_path / "bce.xlsx"
    kinds.sigmoid_neuron(path, {"I": "=H{r}-C{r}"}, loss=("", CROSS_ENTROPY[1]), total="total loss")
    assert_right(path, capsys)


def test_the_squared_errors_gradient_under_a_labelled_cross_entropy_is_a_slip(tmp_path, capsys):
    path = tmp_path / "bce.xlsx"
    kinds.sigmoid_neuron(path, loss=CROSS_ENTROPY)   # δ = (y − t)·y·(1 − y)
    code, report = run(path, capsys)
    assert code == 1 and cells(report) == column("I", NEURON_ROWS), [(f["cell"], f["message"]) for f in report["findings"]]


def test_without_a_labelled_loss_it_is_half_the_sum_of_squares(tmp_path, capsys):
    path = tmp_path / "neuron.xlsx"
    kinds.sigmoid_neuron(path, {"I": "=H{r}-C{r}"})
    code, report = run(path, capsys)
    assert code == 1 and cells(report) == column("I", NEURON_ROWS)


def test_an_error_column_holding_t_minus_y_is_no_loss(tmp_path, capsys):
    path = tmp_path / "neuron.xlsx"
    kinds.sigmoid_neuron(path, loss=("error", "=C{r}-H{r}"))
    assert_right(path, capsys)


def test_a_mean_of_squares_over_three_outputs(tmp_path, capsys):
    # L = ((t1 − y1)² + (t2 − y2)² + (t3 − y3)²)/3: ∂L/∂y_k = 2/3·(y_k − t_k), as the sheet has it.
    path = tmp_path / "mean.xlsx"
    kinds.mean_squares(path)
    assert_right(path, capsys)


def test_half_the_sum_of_squares_gradient_under_a_labelled_mean_is_a_slip(tmp_path, capsys):
    # g = y − t where 2/3·(y − t) belongs: 3/2 of it, no convention's factor.
    path = tmp_path / "mean.xlsx"
    kinds.mean_squares(path, {f"{g}": f"={y}{{r}}-{t}{{r}}" for g, y, t in zip("OPQ", "KLM", "BCD")})
    code, report = run(path, capsys)
    rows = range(2, 2 + len(kinds.MEAN_XS))
    assert code == 1 and cells(report) == column("O", rows) | column("P", rows) | column("Q", rows)


@pytest.mark.parametrize("gradient", ["=2*({y}{{r}}-{t}{{r}})", "={y}{{r}}-{t}{{r}}"])
def test_a_sum_of_squares_without_a_half(gradient, tmp_path, capsys):
    # L = Σ(t − y)²: its own gradient 2·(y − t), or (y − t), a convention's factor ½ of it.
    path = tmp_path / "sum.xlsx"
    slips = {"N": "=(B{r}-K{r})^2+(C{r}-L{r})^2+(D{r}-M{r})^2",
             **{g: gradient.format(y=y, t=t) for g, y, t in zip("OPQ", "KLM", "BCD")}}
    kinds.mean_squares(path, slips, label="E")
    assert_right(path, capsys)


# --- other layouts ----------------------------------------------------------------------------

def test_a_sigmoid_neuron_trained_online_is_right(tmp_path, capsys):
    path = tmp_path / "neuron.xlsx"
    kinds.sigmoid_neuron(path)
    assert_right(path, capsys)


def test_a_chain_in_groups_of_columns_is_right(tmp_path, capsys):
    path = tmp_path / "chain.xlsx"
    kinds.column_groups(path)
    assert_right(path, capsys)


def test_a_slip_in_a_chain_of_column_groups_is_named_in_every_group(tmp_path, capsys):
    # δh = δy·w1·h·(1 − h) where w2 belongs, in each group (offset 7): H3, P3, X3 are read by
    # the next group's update; AF3, the last group's, by none (the same formula, copied along).
    path = tmp_path / "chain.xlsx"
    kinds.column_groups(path, {7: "={dy}*{w1}*{h}*(1-{h})"})
    code, report = run(path, capsys)
    expected = {kinds.chain_cell(step, 7) for step in range(len(kinds.CHAIN_STEPS))}
    assert expected == {"H3", "P3", "X3", "AF3"}
    assert code == 1 and cells(report) == expected, [(f["cell"], f["message"]) for f in report["findings"]]


@pytest.mark.parametrize("inline", [False, True])
def test_adaline_is_right(inline, tmp_path, capsys):
    path = tmp_path / "adaline.xlsx"
    kinds.adaline(path, inline=inline)
    assert_right(path, capsys)


@pytest.mark.parametrize("inline", [False, True])
def test_adaline_with_x1_where_x2_belongs(inline, tmp_path, capsys):
    path = tmp_path / "adaline.xlsx"
    y = "(D{p}+E{p}*A{p}+F{p}*B{p})" if inline else "G{p}"
    kinds.adaline(path, {"F": f"=F{{p}}+$J$1*(C{{p}}-{y})*A{{p}}"}, inline=inline)
    code, report = run(path, capsys)
    assert code == 1 and cells(report) == column("F", range(3, 3 + len(kinds.ADALINE_DATA)))


@pytest.mark.parametrize("signs", ["negnevitsky", "descent"])
def test_subtracted_thresholds_are_right(signs, tmp_path, capsys):
    # θ + α·(−1)·δ with δ = (t − y)·y·(1 − y), or θ − α·δ·(−1) with δ = (y − t)·y·(1 − y)
    path = tmp_path / "xor.xlsx"
    kinds.thresholds(path, kinds.THRESHOLDS_DESCENT if signs == "descent" else None)
    assert_right(path, capsys)


def test_a_threshold_updated_like_a_weight_is_named(tmp_path, capsys):
    # θ3 + α·δ3 where θ3 + α·(−1)·δ3 belongs (the threshold's input is −1).
    path = tmp_path / "xor.xlsx"
    kinds.thresholds(path, {"F": "=F{p}+$U$1*R{p}"})
    code, report = run(path, capsys)
    assert code == 1 and cells(report) == column("F", range(3, 3 + len(kinds.XOR)))
    assert all("wrong sign" in f["message"] for f in report["findings"])
