"""What judging a table keeps of its rows: the cells judged, tallied per column for the scores,
and a row's worked-out numbers, made once and only when asked."""

from types import SimpleNamespace

from sheetprop.check.judge.rows import JudgedCells, RowValues
from sheetprop.check.read.cells import Cell


def test_the_judged_cells_are_tallied_per_column_with_the_wrong_ones_left_out():
    judged = JudgedCells()
    for label, cell in [("w1", Cell("B", "=B1-0.5*C1", 0.1, row=2)), ("o1", "D2"), ("w1", Cell("B3", None, 0.2)),
                        ("w1", Cell("B", "=B3-0.5*C3", 0.3, row=4))]:
        judged.append((label, cell))
    assert judged.tally(set()) == {"w1": (3, 3), "o1": (1, 1)}  # in the order first judged
    assert list(judged.tally(set())) == ["w1", "o1"]
    assert judged.tally({"B3", "D2", "Z9"}) == {"w1": (3, 2), "o1": (1, 0)}
    assert judged.tally({"B4"}) == {"w1": (3, 2), "o1": (1, 1)}


def test_a_rows_numbers_are_worked_out_once_and_only_when_asked():
    calls = []

    def evaluate_local(x):
        calls.append(x)
        return (2 * x,)

    check = SimpleNamespace(computed_labels=["y"], evaluate_local=evaluate_local,
                            inputs=[SimpleNamespace(payload="x")], labels=["x", "y"])
    row = RowValues(check, {"x": 3.0})
    assert calls == []
    assert row.expected == {"y": 6.0} and row.above == {"x": 3.0, "y": 6.0}
    assert row.expected == {"y": 6.0}
    assert calls == [3.0]
    given = RowValues(check, {"x": 1.0, "y": 5.0})  # a value the row holds stands for the next row
    assert given.above == {"x": 1.0, "y": 5.0}
