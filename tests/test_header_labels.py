"""Labels that are not the course's on the course's table: a typo (i2 typed over the t2 column),
words of the student's own after a label, a key / value list beside the table that repeats one of
its labels. Each workbook is a sheetprop key with its header changed (and its record removed, so
the header is all check has): it must read back as the key's table, right, and a slip planted in
it must be found at its cell."""

import json

import openpyxl
import pytest

from sheetprop.cli import main
from sheetprop.network import labels

SHEET = "lr=0.5"


@pytest.fixture(scope="module")
def key(tmp_path_factory):
    path = tmp_path_factory.mktemp("labels") / "key.xlsx"
    assert main(["build", "--quiet", "--steps", "4", "--lrs", "0.5", "--out", str(path)]) == 0
    return path


def header(sheet) -> tuple[int, dict[str, str]]:
    for row in sheet.iter_rows(max_row=40):
        if any(c.value == "step" for c in row):
            return row[0].row, {c.value: c.column_letter for c in row if isinstance(c.value, str)}
    raise AssertionError("no header row")


def typo(sheet):
    row, columns = header(sheet)
    sheet[f"{columns['t2']}{row}"] = "i2"


def words(sheet):
    row, columns = header(sheet)
    sheet[f"{columns['t1']}{row}"] = "t1 ( output of out_o1)"


def key_value_list(sheet):
    """The table moved three columns right, and a list of givens in A:B beside it whose first
    label sits in the header row."""
    row, _ = header(sheet)
    sheet.move_range(f"A{row - 1}:AF{row + 10}", cols=3, translate=True)
    for k, (label, value) in enumerate((("t1", 0.01), ("t2", 0.99), ("i1", 0.05), ("w1", 0.15))):
        sheet.cell(row + k, 1, label)
        sheet.cell(row + k, 2, value)


def relabelled(key, folder, change, slip: bool = False):
    book = openpyxl.load_workbook(key)
    change(book[SHEET])
    del book["_sheetprop"]
    planted = None
    if slip:
        row, columns = header(book[SHEET])
        planted = f"{columns['E2']}{row + 2}"
        book[SHEET][planted] = book[SHEET][planted].value.replace("^2", "^3")
    out = folder / f"{change.__name__}{'_slip' if slip else ''}.xlsx"
    book.save(out)
    return out, planted


def check(path, capsys):
    code = main(["check", "--json", str(path)])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("change", [typo, words, key_value_list])
def test_the_table_reads_back_right(key, tmp_path, capsys, change):
    path, _ = relabelled(key, tmp_path, change)
    code, report = check(path, capsys)
    assert code == 0, report.get("message")
    assert report["scores"]["score"] == 1.0
    assert report["scores"]["cells"] == 4 * 19 + 3 * 8  # every computed cell and weight update of the key


@pytest.mark.parametrize("change", [typo, words, key_value_list])
def test_a_slip_in_the_relabelled_table_is_found_at_its_cell(key, tmp_path, capsys, change):
    path, planted = relabelled(key, tmp_path, change, slip=True)
    code, report = check(path, capsys)
    assert code == 1
    assert [f["cell"] for f in report["findings"]] == [planted]


def test_words_after_a_label_are_the_students_own():
    assert labels.parse("t1 ( output of out_o1)") == "t1"
    assert labels.parse("a_h1 [sigmoid]") == "a_h1"
    assert labels.parse("(output of out_o1)") is None


def test_a_repeated_label_is_settled_by_its_place():
    found = [("t1", 2), ("i2", 3), ("i1", 4), ("i2", 5), ("w1", 6)]
    settled = labels.settle_repeated(found, {"t1": 2, "i2": 3, "i1": 4, "w1": 6})
    assert settled == {"t1": 2, "t2": 3, "i1": 4, "i2": 5, "w1": 6}
    # Nothing to tell them apart (no neighbour numbers on from either): the first one stays.
    alone = [("w1", 2), ("x", 3), ("w1", 8)]
    assert labels.settle_repeated([f for f in alone if f[0] != "x"], {"w1": 2}) == {"w1": 2}
