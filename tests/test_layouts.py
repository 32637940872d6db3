"""`check` on the layouts of issue 19, each fixture laid out by hand here (``layout_workbooks``):
helper columns, the student's own weight numbering, η drifting through a relative reference,
and files from other spreadsheet programs (Hancom Office, a rights-protected workbook)."""

from __future__ import annotations

import io
import json
import re
import zipfile

from xlsxwriter.utility import xl_col_to_name as xl_col

from layout_workbooks import cell, write
from sheetprop.cli import main

ETA_CELL = "B1"
ETA = 0.5
STEPS = 4

# Mazur's 2-2-2 example with the weights numbered by (from, to), as some students do:
# h1 = w1·i1 + w3·i2, h2 = w2·i1 + w4·i2, o1 = w5·a_h1 + w7·a_h2, o2 = w6·a_h1 + w8·a_h2.
DO1 = "({ao1}-{t1})*{ao1}*(1-{ao1})"
DO2 = "({ao2}-{t2})*{ao2}*(1-{ao2})"
FROM_TO = {
    "h1": "={w1}*{i1}+{w3}*{i2}", "ah1": "=1/(1+EXP(-{h1}))",
    "h2": "={w2}*{i1}+{w4}*{i2}", "ah2": "=1/(1+EXP(-{h2}))",
    "o1": "={w5}*{ah1}+{w7}*{ah2}", "ao1": "=1/(1+EXP(-{o1}))",
    "o2": "={w6}*{ah1}+{w8}*{ah2}", "ao2": "=1/(1+EXP(-{o2}))",
    "E1": "=0.5*({t1}-{ao1})^2", "E2": "=0.5*({t2}-{ao2})^2", "E_tot": "={E1}+{E2}",
    # ∂E/∂w1 (i1 → h1): δ_h1 = (δo1·w5 + δo2·w6)·σ'(h1), under this numbering.
    "dw1": f"=({DO1}*{{w5}}+{DO2}*{{w6}})*{{ah1}}*(1-{{ah1}})*{{i1}}",
    "dw2": f"=({DO1}*{{w7}}+{DO2}*{{w8}})*{{ah2}}*(1-{{ah2}})*{{i1}}",
    "dw3": f"=({DO1}*{{w5}}+{DO2}*{{w6}})*{{ah1}}*(1-{{ah1}})*{{i2}}",
    "dw4": f"=({DO1}*{{w7}}+{DO2}*{{w8}})*{{ah2}}*(1-{{ah2}})*{{i2}}",
    "dw5": f"={DO1}*{{ah1}}", "dw6": f"={DO2}*{{ah1}}", "dw7": f"={DO1}*{{ah2}}", "dw8": f"={DO2}*{{ah2}}",
}
STARTING = {"t1": 0.01, "t2": 0.99, "i1": 0.05, "i2": 0.1,
            "w1": 0.15, "w2": 0.25, "w3": 0.2, "w4": 0.3, "w5": 0.4, "w6": 0.5, "w7": 0.45, "w8": 0.55}
HEADERS = {**{k: k for k in STARTING}, "h1": "h1", "ah1": "a_h1", "h2": "h2", "ah2": "a_h2",
           "o1": "o1", "ao1": "a_o1", "o2": "o2", "ao2": "a_o2", "E1": "E1", "E2": "E2",
           "E_tot": "E_total", **{f"dw{k}": f"∂E/∂w{k}" for k in range(1, 9)}}
ORDER = ["t1", "t2", "i1", "i2", "w1", "w2", "w3", "w4", "h1", "ah1", "h2", "ah2", "w5", "w6", "w7",
         "w8", "o1", "ao1", "o2", "ao2", "E1", "E2", "E_tot", *(f"dw{k}" for k in range(1, 9))]
HEADER_ROW = 2  # 0-based: row 3


def table(formulas: dict, order=ORDER, headers=HEADERS, slips=None, update=None, steps=STEPS,
          starting=STARTING) -> dict:
    """One sheet's cells: η in B1, the header in row 3, a step a row. ``slips``: {(step, name):
    formula}; ``update(step, name)`` may give a weight's update formula (else w − $B$1·∂E/∂w)."""
    slips = slips or {}
    cells = {"A1": "η", ETA_CELL: ETA}
    columns = {name: k for k, name in enumerate(order)}
    for name, col in columns.items():
        cells[cell(HEADER_ROW, col)] = headers[name]
    for step in range(steps):
        row = HEADER_ROW + 1 + step
        refs = {name: cell(row, col) for name, col in columns.items()}
        refs.update({f"prev_{name}": cell(row - 1, col) for name, col in columns.items()})
        for name, col in columns.items():
            if name.startswith("blank "):
                continue  # a header cell with nothing below it
            content = slips.get((step, name))
            if content is None and name in formulas:
                content = formulas[name]
            elif content is None and name[0] in "wb" and name[1:].isdigit() and step > 0:
                content = (update(step, name) if update else None) or "={prev_%s}-$B$1*{prev_d%s}" % (name, name)
            elif content is None:
                content = starting[name]
            cells[cell(row, col)] = content.format(**refs) if isinstance(content, str) else content
    return cells


def check(path, capsys):
    code = main(["check", "--json", str(path)])
    return code, json.loads(capsys.readouterr().out)


def groups(report) -> set:
    return {(g["first_cell"], g["last_cell"], g["label"]) for g in report["groups"]}


def column_cells(name: str, first: int = 0, last: int = STEPS - 1, order=ORDER) -> tuple[str, str]:
    col = order.index(name)
    return cell(HEADER_ROW + 1 + first, col), cell(HEADER_ROW + 1 + last, col)


# --- the student's own weight numbering ------------------------------------------------------

def test_weights_numbered_from_to_are_read_and_judged_under_that_numbering(tmp_path, capsys):
    path = tmp_path / "from_to.xlsx"
    write(path, {"Sheet1": table(FROM_TO)})
    code, report = check(path, capsys)
    assert (code, report["findings"]) == (0, [])
    (note,) = [n for n in report["notes"] if "numbered its own way" in n]
    assert "w3 is w2" in note and "w2 is w3" in note


def test_a_slip_under_the_students_numbering_is_named_in_its_own_terms(tmp_path, capsys):
    # ∂E/∂w3 (i2 → h1 here) written with σ'(h2): wrong under this numbering, and only there.
    slip = f"=({DO1}*{{w5}}+{DO2}*{{w6}})*{{ah2}}*(1-{{ah2}})*{{i2}}"
    path = tmp_path / "from_to_slip.xlsx"
    write(path, {"Sheet1": table(FROM_TO, slips={(step, "dw3"): slip for step in range(STEPS)})})
    code, report = check(path, capsys)
    first, last = column_cells("dw3")
    assert code == 1
    assert groups(report) == {(first, last, "∂E/∂w3")}


# --- files from other programs ---------------------------------------------------------------

def _as_hancom_writes_it(path):
    """The file rewritten as Hancom Office's "Cell" saves it: every element of the main namespace
    with an x: prefix, and each cell format inside a markup-compatibility block."""
    source, result = zipfile.ZipFile(path), io.BytesIO()
    main_ns = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    with zipfile.ZipFile(result, "w") as target:
        for item in source.infolist():
            part = source.read(item.filename)
            if main_ns in part:
                part = part.replace(main_ns, main_ns.replace(b"xmlns=", b"xmlns:x="))
                part = re.sub(rb"<(/?)(?=[A-Za-z])(?![a-z]+:)", rb"<\1x:", part)
            if item.filename == "xl/styles.xml":
                part = re.sub(
                    rb"(<x:cellXfs[^>]*>)(.*?)(</x:cellXfs>)",
                    lambda m: m[1] + re.sub(
                        rb"<x:xf\b.*?(?:/>|</x:xf>)",
                        lambda xf: (b'<mc:AlternateContent xmlns:mc="http://schemas.openxmlformats.org/'
                                    b'markup-compatibility/2006"><mc:Choice xmlns:hs="urn:hs" Requires="hs">'
                                    + xf[0] + b"</mc:Choice><mc:Fallback>" + xf[0]
                                    + b"</mc:Fallback></mc:AlternateContent>"), m[2], flags=re.S) + m[3],
                    part, flags=re.S)
            target.writestr(item, part)
    path.write_bytes(result.getvalue())


def test_a_workbook_hancom_office_saved_is_read(tmp_path, capsys):
    path = tmp_path / "hancom.xlsx"
    cells = table(FROM_TO)
    write(path, {"시트1": cells}, bold={"시트1": [cell(HEADER_ROW, 0)]})
    _as_hancom_writes_it(path)
    assert b"<x:worksheet" in zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml")
    code, report = check(path, capsys)
    assert (code, report["findings"]) == (0, [])


def test_a_rights_protected_workbook_is_refused_with_that_reason(tmp_path, capsys):
    wrapped = tmp_path / "protected.xlsx"
    wrapped.write_bytes(b"\x00\x01<## DRMONE  This document is protected by a DRM vendor ##>\x00" + bytes(range(256)) * 8)
    irm = tmp_path / "irm.xlsx"  # Microsoft's rights management: an OLE container naming its transform
    irm.write_bytes(bytes.fromhex("D0CF11E0A1B11AE1") + bytes(504) + "DRMEncryptedDataSpace".encode("utf-16-le"))
    for path in (wrapped, irm):
        assert main(["check", str(path)]) == 2
        err = capsys.readouterr().err
        assert "rights-protected (DRM)" in err and len(err.strip().splitlines()) == 1
    password = tmp_path / "password.xlsx"  # an encrypted workbook without DRM keeps its own reason
    password.write_bytes(bytes.fromhex("D0CF11E0A1B11AE1") + bytes(504) + "EncryptedPackage".encode("utf-16-le"))
    assert main(["check", str(password)]) == 2
    assert "password-protected" in capsys.readouterr().err


# --- helper columns ---------------------------------------------------------------------------

# The usual numbering, with δ of each neuron in a helper column of its own (headed A…D, as in
# many handouts) that the gradients read.
HELPED = {
    **{k: v for k, v in FROM_TO.items() if not k.startswith("dw")},
    "h1": "={w1}*{i1}+{w2}*{i2}", "h2": "={w3}*{i1}+{w4}*{i2}",
    "o1": "={w5}*{ah1}+{w6}*{ah2}", "o2": "={w7}*{ah1}+{w8}*{ah2}",
    "dh1": f"=({DO1}*{{w5}}+{DO2}*{{w7}})*{{ah1}}*(1-{{ah1}})",
    "dh2": f"=({DO1}*{{w6}}+{DO2}*{{w8}})*{{ah2}}*(1-{{ah2}})",
    "do1": f"={DO1}", "do2": f"={DO2}",
    "dw1": "={dh1}*{i1}", "dw2": "={dh1}*{i2}", "dw3": "={dh2}*{i1}", "dw4": "={dh2}*{i2}",
    "dw5": "={do1}*{ah1}", "dw6": "={do1}*{ah2}", "dw7": "={do2}*{ah1}", "dw8": "={do2}*{ah2}",
}
HELPED_ORDER = [*ORDER[:23], "dh1", "dh2", "do1", "do2", *ORDER[23:]]
HELPED_HEADERS = {**HEADERS, "dh1": "A", "dh2": "B", "do1": "C", "do2": "D"}
USUAL = {**STARTING, "w2": 0.2, "w3": 0.25, "w6": 0.45, "w7": 0.5}


# The usual numbering written inline (no helper columns).
HELPED_FROM_USUAL = {**{k: v for k, v in HELPED.items() if k not in ("dh1", "dh2", "do1", "do2")},
                     **{f"dw{k}": f"=({DO1}*{{w5}}+{DO2}*{{w7}})*{{ah1}}*(1-{{ah1}})*{{i{(k + 1) % 2 + 1}}}"
                        for k in (1, 2)},
                     **{f"dw{k}": f"=({DO1}*{{w6}}+{DO2}*{{w8}})*{{ah2}}*(1-{{ah2}})*{{i{(k + 1) % 2 + 1}}}"
                        for k in (3, 4)},
                     "dw5": f"={DO1}*{{ah1}}", "dw6": f"={DO1}*{{ah2}}", "dw7": f"={DO2}*{{ah1}}",
                     "dw8": f"={DO2}*{{ah2}}"}


def helped_table(slips=None):
    cells = table(HELPED, HELPED_ORDER, HELPED_HEADERS, slips=slips)
    # The usual starting weights (the fixture's STARTING numbers them from-to).
    for name, value in USUAL.items():
        cells[cell(HEADER_ROW + 1, HELPED_ORDER.index(name))] = value
    return cells


def test_right_helper_columns_are_read_through(tmp_path, capsys):
    path = tmp_path / "helped.xlsx"
    write(path, {"Sheet1": helped_table()})
    code, report = check(path, capsys)
    assert (code, report["findings"]) == (0, [])


def test_a_slip_inside_a_helper_column_is_named_there(tmp_path, capsys):
    # δ of h2 written with σ'(h1): ∂E/∂w3 and ∂E/∂w4 read it and only inherit the slip.
    slip = f"=({DO1}*{{w6}}+{DO2}*{{w8}})*{{ah1}}*(1-{{ah1}})"
    path = tmp_path / "helped_slip.xlsx"
    write(path, {"Sheet1": helped_table({(step, "dh2"): slip for step in range(STEPS)})})
    code, report = check(path, capsys)
    assert code == 1
    first, last = column_cells("dh2", order=HELPED_ORDER)
    assert groups(report) == {(first, last, "B")}
    (shown,) = {f["hint"] for f in report["findings"]}
    assert "uses a_h1·(1 − a_h1)" in shown and "δ of h2" in report["findings"][0]["message"]


# --- η drifting through a relative reference to a weight ---------------------------------------

def test_eta_drifting_down_one_weights_own_column_is_an_eta_drift_of_that_column(tmp_path, capsys):
    # η sits above the table in w3's column (G1 here); w3's update reads $G$1 in the first two
    # update rows, then $G2, $G3, … (above the table, its header, w3's own earlier values) where the other
    # seven read $G$1.
    steps = 6
    w3 = xl_col(ORDER.index("w3"))
    eta = f"${w3}$1"

    def update(step, name):
        if name == "w3" and step >= 2:
            return "={prev_w3}-$%s%d*{prev_dw3}" % (w3, step)
        return "={prev_%s}-%s*{prev_d%s}" % (name, eta, name)

    cells = table(HELPED_FROM_USUAL, update=update, steps=steps)
    cells.pop("A1"), cells.pop(ETA_CELL)
    cells[f"{xl_col(ORDER.index('w3') - 1)}1"], cells[f"{w3}1"] = "η", ETA
    path = tmp_path / "drift.xlsx"
    write(path, {"Sheet1": cells})
    code, report = check(path, capsys)
    assert code == 1
    drifts = [f for f in report["findings"] if f["kind"] == "η drift"]
    assert {f["cell"] for f in drifts} == {cell(HEADER_ROW + 1 + step, ORDER.index("w3")) for step in range(2, steps)}
    assert {f["cell"] for f in report["findings"]} == {f["cell"] for f in drifts}
    assert all(f"{w3}$1" in f["message"] for f in drifts)


# --- η read from a cell inside the table ---------------------------------------------------------

def test_eta_read_from_a_cell_of_the_table_is_circular_and_its_stale_values_are_not_trusted(tmp_path, capsys):
    # Every update reads $X$5 (E_total of the third data row) where the η cell $B$1 belongs:
    # rows 4 and 5 close a circle, and the saved values are those from before it closed (each
    # weight as it was, as if η were 0).
    steps = 5
    inside = cell(HEADER_ROW + 3, ORDER.index("E_tot"))
    absolute = "$" + re.sub(r"(\d+)", r"$\1", inside)
    cells = table(HELPED_FROM_USUAL, steps=steps,
                  update=lambda step, name: "={prev_%s}-%s*{prev_d%s}" % (name, absolute, name))
    weights = [f"w{k}" for k in range(1, 9)]
    stale = {cell(HEADER_ROW + 1 + step, ORDER.index(w)): USUAL[w] for step in range(1, steps) for w in weights}
    for w in weights:
        cells[cell(HEADER_ROW + 1, ORDER.index(w))] = USUAL[w]
    path = tmp_path / "circular.xlsx"
    write(path, {"Sheet1": cells}, stale={"Sheet1": stale})
    code, report = check(path, capsys)
    assert code == 1
    assert groups(report) == {(*column_cells(w, 1, steps - 1), w) for w in weights}
    assert all(inside in f["message"] for f in report["findings"])
    assert sum("circular" in note for note in report["notes"]) == 1


# --- a header that repeats the table's labels --------------------------------------------------

def test_a_header_naming_each_label_twice_reads_the_columns_that_hold_the_table(tmp_path, capsys):
    # Left of the table an empty copy of its header (two columns both i1, both w1, …), as
    # students leave a block to fill in; the table proper starts after it.
    blank = [f"blank {name}" for name in ORDER]
    order = blank + ORDER
    headers = {**HEADERS, **{f"blank {name}": HEADERS[name] for name in ORDER}}
    cells = table(HELPED_FROM_USUAL, order, headers)
    for name in ("w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8"):
        cells[cell(HEADER_ROW + 1, order.index(name))] = USUAL[name]
    path = tmp_path / "repeated.xlsx"
    write(path, {"Sheet1": cells})
    code, report = check(path, capsys)
    assert (code, report["findings"]) == (0, [])
    assert report["sheets"][0]["rows"] == STEPS
    # A slip in the table proper is found in its own cells.
    slipped = dict(cells)
    dw5 = order.index("dw5")
    slipped[cell(HEADER_ROW + 2, dw5)] = slipped[cell(HEADER_ROW + 2, dw5)] + "*1.001"
    write(path, {"Sheet1": slipped})
    code, report = check(path, capsys)
    assert code == 1 and {f["cell"] for f in report["findings"]} == {cell(HEADER_ROW + 2, dw5)}


# --- another shape: 2-2-1 with a bias of its own for each neuron, trained --------------------------

DO = "({ao1}-{t1})*{ao1}*(1-{ao1})"
XOR = {
    "h1": "={w1}*{i1}+{w2}*{i2}+{b1}", "ah1": "=1/(1+EXP(-{h1}))",
    "h2": "={w3}*{i1}+{w4}*{i2}+{b2}", "ah2": "=1/(1+EXP(-{h2}))",
    "o1": "={w5}*{ah1}+{w6}*{ah2}+{b3}", "ao1": "=1/(1+EXP(-{o1}))",
    "E_tot": "=0.5*({t1}-{ao1})^2",
    "dw5": f"={DO}*{{ah1}}", "dw6": f"={DO}*{{ah2}}", "db3": f"={DO}",
    "db1": f"={DO}*{{w5}}*{{ah1}}*(1-{{ah1}})", "db2": f"={DO}*{{w6}}*{{ah2}}*(1-{{ah2}})",
    "dw1": f"={DO}*{{w5}}*{{ah1}}*(1-{{ah1}})*{{i1}}", "dw2": f"={DO}*{{w5}}*{{ah1}}*(1-{{ah1}})*{{i2}}",
    "dw3": f"={DO}*{{w6}}*{{ah2}}*(1-{{ah2}})*{{i1}}", "dw4": f"={DO}*{{w6}}*{{ah2}}*(1-{{ah2}})*{{i2}}",
}
XOR_ORDER = ["i1", "i2", "t1", "w1", "w2", "w3", "w4", "b1", "b2", "h1", "ah1", "h2", "ah2", "w5", "w6", "b3",
             "o1", "ao1", "E_tot", *(f"dw{k}" for k in range(1, 7)), *(f"db{k}" for k in range(1, 4))]
XOR_HEADERS = {**HEADERS, "b1": "b1", "b2": "b2", "b3": "b3", **{f"db{k}": f"∂E/∂b{k}" for k in range(1, 4)}}
XOR_START = {"i1": 1.0, "i2": 0.0, "t1": 1.0, "w1": 0.3, "w2": -0.4, "w3": 0.7, "w4": 0.2, "w5": -0.5,
             "w6": 0.9, "b1": 0.1, "b2": -0.2, "b3": 0.05}


def test_a_2_2_1_network_with_a_trained_bias_for_each_neuron_is_inferred(tmp_path, capsys):
    path = tmp_path / "xor.xlsx"
    write(path, {"XOR": table(XOR, XOR_ORDER, XOR_HEADERS, starting=XOR_START)})
    code, report = check(path, capsys)
    assert (code, report["findings"]) == (0, [])
    assert any("one per neuron" in note and "b3 is b_o1" in note for note in report["notes"])


def test_slips_in_a_2_2_1_network_with_biases_are_found_where_they_enter(tmp_path, capsys):
    # ∂E/∂b2 with σ'(h1) for σ'(h2), and b1's update reading w5 where η belongs.
    slips = {(step, "db2"): f"={DO}*{{w6}}*{{ah1}}*(1-{{ah1}})" for step in range(STEPS)}
    path = tmp_path / "xor_slips.xlsx"
    b1 = XOR_ORDER.index("b1")

    def update(step, name):
        return "={prev_b1}-{w5}*{prev_db1}" if name == "b1" and step == 2 else None

    write(path, {"XOR": table(XOR, XOR_ORDER, XOR_HEADERS, slips=slips, update=update, starting=XOR_START)})
    code, report = check(path, capsys)
    assert code == 1
    assert groups(report) == {(*column_cells("db2", order=XOR_ORDER), "∂E/∂b2"),
                              (cell(HEADER_ROW + 3, b1), cell(HEADER_ROW + 3, b1), "b1")}
