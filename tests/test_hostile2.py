"""Hostile files and faults, round 2 (issue 20): each case is refused with one line and exit 2, or
handled; no request leaves the machine; nothing is left behind. Every file is built here."""

import errno
import http.server
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest

from sheetprop.cli import main

REPO = Path(__file__).resolve().parents[1]
needs_soffice = pytest.mark.skipif(not shutil.which("soffice"), reason="needs LibreOffice")


def run(capsys, *argv) -> tuple[int, str]:
    code = main(list(map(str, argv)))
    return code, capsys.readouterr().err


def one_line_error(code: int, err: str) -> bool:
    return code == 2 and err.count("\n") == 1 and "Traceback" not in err


def run_cli(*argv, memory_mb: int | None = None, timeout: float = 120, env=None, **kwargs):
    """The CLI in a fresh interpreter, optionally under an address-space limit."""
    limit = (f"import resource; resource.setrlimit(resource.RLIMIT_AS, ({memory_mb} << 20, {memory_mb} << 20))\n"
             if memory_mb else "")
    code = limit + "import sys\nfrom sheetprop.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    kwargs.setdefault("stdout", subprocess.PIPE)
    kwargs.setdefault("stderr", subprocess.PIPE)
    return subprocess.run([sys.executable, "-c", code, *map(str, argv)], text=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})}, **kwargs)


def clean_exit(result, code: int = 2) -> bool:
    return result.returncode == code and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


# --- 1. no request leaves the machine; LibreOffice dies with its caller ---------------------------

_NAMESPACES = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
               'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
               'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
               'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
               'xmlns:xlink="http://www.w3.org/1999/xlink" '
               'xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0"')


def ods(path: Path, cell_xml: str = "", frames: str = "", more_rows: str = "") -> Path:
    """A one-sheet .ods: its first row holds "i1" (with ``frames`` in that cell) and ``cell_xml``."""
    content = (f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {_NAMESPACES} office:version="1.2">'
               '<office:body><office:spreadsheet><table:table table:name="s"><table:table-row>'
               f'<table:table-cell office:value-type="string"><text:p>i1</text:p>{frames}</table:table-cell>'
               f'{cell_xml}</table:table-row>{more_rows}</table:table></office:spreadsheet></office:body>'
               '</office:document-content>')
    manifest = ('<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
                'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
                '<manifest:file-entry manifest:full-path="/" '
                'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
                '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
                '</manifest:manifest>')
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("META-INF/manifest.xml", manifest)
        archive.writestr("content.xml", content)
    return path


def linked(url: str) -> str:
    """A linked image and a linked OLE object, both at ``url``."""
    return (f'<draw:frame draw:name="a" svg:width="1cm" svg:height="1cm"><draw:image xlink:href="{url}" '
            'xlink:type="simple" xlink:show="embed" xlink:actuate="onLoad"/></draw:frame>'
            f'<draw:frame draw:name="b" svg:width="1cm" svg:height="1cm"><draw:object xlink:href="{url}" '
            'xlink:type="simple" xlink:show="embed" xlink:actuate="onLoad"/></draw:frame>')


@pytest.mark.slow
@needs_soffice
def test_check_of_an_ods_with_linked_objects_sends_no_request(tmp_path, capsys):
    requests = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        webservice = (f'<table:table-cell table:formula="of:=WEBSERVICE(&quot;{url}/ws&quot;)" '
                      'office:value-type="string"><text:p>x</text:p></table:table-cell>')
        code, err = run(capsys, "check", ods(tmp_path / "linked.ods", webservice, linked(url + "/linked-image.png")))
    finally:
        server.shutdown()
    assert requests == []
    assert one_line_error(code, err), err  # no table in it: refused, after a conversion that fetched nothing


@pytest.mark.slow
@needs_soffice
def test_check_of_an_ods_with_linked_local_files_opens_none(tmp_path, capsys):
    # A FIFO shows whether anyone opens it for reading: opening its write end without blocking
    # succeeds only then. (A reader would also hang LibreOffice until its timeout.)
    fifo = tmp_path / "secret.png"
    os.mkfifo(fifo)
    opened, stop = [], threading.Event()

    def watch():
        while not stop.is_set():
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
                opened.append(True)
                return
            except OSError as exc:
                if exc.errno != errno.ENXIO:
                    raise
            time.sleep(0.005)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    reference = (f"<table:table-cell table:formula=\"of:=['{fifo.as_uri()}'#$Sheet1.A1]+1\" "
                 'office:value-type="float" office:value="1"><text:p>1</text:p></table:table-cell>')
    try:
        code, err = run(capsys, "check", ods(tmp_path / "local.ods", reference, linked(fifo.as_uri())))
    finally:
        stop.set()
        watcher.join()
    assert opened == []
    assert one_line_error(code, err), err


def _running(pattern: str) -> list[str]:
    return subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout.split()


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("soffice") or not shutil.which("pgrep"), reason="needs LibreOffice and pgrep")
def test_kill_9_of_check_ends_libreoffice_and_leaves_no_folder(tmp_path):
    # Many cells (under 1 MB inflated, which check reads at any packing ratio), so that the
    # conversion lasts long enough to be killed in the middle of it.
    rows = ('<table:table-row><table:table-cell table:formula="of:=RAND()" office:value-type="float" '
            'office:value="0"><text:p>0</text:p></table:table-cell></table:table-row>') * 6_000
    workbook = ods(tmp_path / "big.ods", more_rows=rows)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    process = subprocess.Popen([sys.executable, "-m", "sheetprop", "check", str(workbook)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "PYTHONPATH": str(REPO), "TMPDIR": str(scratch)})
    try:
        deadline = time.monotonic() + 60
        while not _running(f"soffice.bin.*{scratch}") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _running(f"soffice.bin.*{scratch}"), "LibreOffice never started"
        time.sleep(0.3)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    deadline = time.monotonic() + 5
    while (_running(str(scratch)) or list(scratch.iterdir())) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _running(str(scratch)), "LibreOffice still runs"
    assert list(scratch.iterdir()) == []


# --- helpers: hand-made tables with saved values (so no LibreOffice runs) ----------------------

import json  # noqa: E402
import re  # noqa: E402

import xlsxwriter  # noqa: E402

from check_workbooks import Layout, write_sheet  # noqa: E402


class _Valued:
    """An xlsxwriter sheet whose formulas carry a saved value, as a spreadsheet program saves them."""

    def __init__(self, sheet):
        self.sheet = sheet

    def __getattr__(self, name):
        return getattr(self.sheet, name)

    def write_formula(self, row, col, formula, *args):
        self.sheet.write_formula(row, col, formula, None, 0.5)


def table(path: Path, slips=None, steps: int = 3, name: str = "s", more=None) -> Path:
    """A 2-2-2 table typed by hand, with ``slips`` {(step, column): formula or number};
    ``more(book, sheet)`` adds anything else."""
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet(name)
    write_sheet(_Valued(sheet), Layout(), slips or {}, steps)
    if more is not None:
        more(book, sheet)
    book.close()
    return path


def patched(path: Path, replace: dict[bytes, bytes]) -> Path:
    """``path`` with byte strings replaced in every part."""
    with zipfile.ZipFile(path) as archive:
        parts = {item.filename: archive.read(item.filename) for item in archive.infolist()}
    for name, data in parts.items():
        for old, new in replace.items():
            data = data.replace(old, new)
        parts[name] = data
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return path


def checked(result) -> bool:
    """check ran to its report: exit 0 or 1, no traceback."""
    return result.returncode in (0, 1) and "Traceback" not in result.stderr


# --- 2. memory from small files ------------------------------------------------------------------

def test_sheets_holding_only_a1_and_xfd200_are_read_by_their_cells(tmp_path):
    def far_corners(book, sheet):
        for k in range(40):
            extra = book.add_worksheet(f"x{k}")
            extra.write_string(0, 0, "a")
            extra.write_string(199, 16_383, "b")
    workbook = table(tmp_path / "corners.xlsx", more=far_corners)
    assert workbook.stat().st_size < 100_000
    result = run_cli("check", workbook, memory_mb=1536)
    assert checked(result), result.stderr


def test_a_record_claiming_a_million_steps_is_held_to_the_rows_present(tmp_path, build):
    openpyxl = pytest.importorskip("openpyxl")
    key = build("--lrs", "0.5", "--steps", "3", "--exercise")
    student = key.with_name("BackPropagation_exercise.xlsx")
    book = openpyxl.load_workbook(student)
    book["_sheetprop"]["B3"] = 1_048_576
    book.save(student)
    result = run_cli("check", student, memory_mb=1536)
    assert checked(result), result.stderr
    assert "1,048,576 rows" in result.stdout


def test_findings_repeat_at_most_a_short_piece_of_a_long_text(tmp_path):
    text = "x" * 30_000
    workbook = table(tmp_path / "text.xlsx", {(k, "dw1"): 0.0 for k in range(60)}, steps=60)
    workbook = patched(workbook, {})  # a plain copy, then the typed numbers of ∂E/∂w1 become the text
    book = xlsxwriter.Workbook(str(tmp_path / "text2.xlsx"))
    sheet = book.add_worksheet("s")
    write_sheet(_Valued(sheet), Layout(), {(k, "dw1"): 0.0 for k in range(60)}, 60)
    column = Layout().columns()["dw1"]
    for k in range(60):
        sheet.write_string(1 + k, column, text)
    book.close()
    result = run_cli("check", "--json", tmp_path / "text2.xlsx", memory_mb=1536)
    assert checked(result), result.stderr
    report = json.loads(result.stdout)
    assert report["findings"] and len(result.stdout) < 60 * 2_000


@pytest.mark.slow
@needs_soffice
def test_an_ods_repeating_one_cell_over_the_whole_sheet_ends_in_one_line(tmp_path):
    repeated = ('<table:table-row table:number-rows-repeated="1048575"><table:table-cell '
                'table:number-columns-repeated="1024" office:value-type="float" office:value="1">'
                '<text:p>1</text:p></table:table-cell></table:table-row>')
    workbook = ods(tmp_path / "repeated.ods", more_rows=repeated)
    assert workbook.stat().st_size < 5_000
    result = run_cli("check", workbook, memory_mb=1536, timeout=600)
    assert clean_exit(result), result.stderr


def test_an_idx_header_promising_terabytes_is_refused_before_reading(tmp_path):
    pytest.importorskip("numpy")
    from sheetprop.errors import UserError
    from sheetprop.mnist.train.data import read_idx

    path = tmp_path / "forged-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 8, 3]) + (1_000_000).to_bytes(4, "big") + (4096).to_bytes(4, "big") * 2 + bytes(64))
    with pytest.raises(UserError, match="promises"):
        read_idx(path, expected_ndim=3)
    short = tmp_path / "short-idx3-ubyte"
    short.write_bytes(bytes([0, 0, 8, 3]) + (1000).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + bytes(64))
    with pytest.raises(UserError, match="holds 64"):
        read_idx(short, expected_ndim=3)


# --- 3. time from small files --------------------------------------------------------------------

def test_formulas_past_excels_length_are_refused_before_tokenising():
    from sheetprop import engine
    from sheetprop.spreadsheet.formulas import FormulaError, parse

    def resolve(ref):
        return engine.var(f"{ref[1]}{ref[2]}")
    for formula in ['="' + "'" * 100_000 + '"', "=" + "'a'" * 40_000]:
        with pytest.raises(FormulaError, match="8,192"):
            parse(formula, resolve)


def test_a_chain_of_cells_read_through_is_read_once_a_cell(tmp_path):
    # Seven columns far right, each cell summing 40 references to the column before: read naively,
    # 40^7 readings.
    def chain(book, sheet):
        sheet.write_number(0, 60, 0.0)
        for level in range(1, 8):
            terms = "+".join([xlsxwriter.utility.xl_rowcol_to_cell(0, 59 + level)] * 40)
            sheet.write_formula(0, 60 + level, f"=0*({terms})", None, 0)
    end = xlsxwriter.utility.xl_rowcol_to_cell(0, 67, True, True)
    workbook = table(tmp_path / "chain.xlsx", {(0, "h1"): "={w1}*{i1}+{w2}*{i2}+" + end}, more=chain)
    result = run_cli("check", workbook, timeout=120)
    assert checked(result), result.stderr


def test_a_file_past_the_work_budget_ends_in_one_line(tmp_path):
    def copies(book, sheet):
        for k in range(30):
            write_sheet(_Valued(book.add_worksheet(f"copy{k}")), Layout(), {}, 20)
    workbook = table(tmp_path / "copies.xlsx", more=copies)
    result = run_cli("check", "--time-limit", "0.01", workbook)
    assert clean_exit(result) and "too large to check" in result.stderr, result.stderr


def test_a_record_claiming_a_huge_network_over_a_small_sheet_is_not_built(tmp_path, build):
    openpyxl = pytest.importorskip("openpyxl")
    key = build("--lrs", "0.5", "--steps", "3", "--exercise")
    student = key.with_name("BackPropagation_exercise.xlsx")
    book = openpyxl.load_workbook(student)
    template = {"name": "huge", "layers": [16] * 5, "activations": ["sigmoid"] * 4,
                "inputs": [0.1] * 16, "targets": [0.5] * 16, "weights": [0.1] * 1024}
    book["_sheetprop"]["B2"] = json.dumps(template)
    book.save(student)
    result = run_cli("check", student, timeout=60)
    assert "Traceback" not in result.stderr and "1,024 weights" in result.stdout + result.stderr, result.stderr


# --- 4. one line where a traceback was -------------------------------------------------------------

def test_long_flat_sums_products_and_power_chains(tmp_path):
    # Terms the engine cannot fold away (0*x would be 0): each is one more level of a naive tree.
    slips = {(0, "E_total"): "={E1}+{E2}" + "+0.001*{i1}" * 700,
             (1, "E_total"): "={E1}+{E2}+0.001" + "*{i1}" * 1_500,
             (2, "E_total"): "={E1}+{E2}+0.001*{i1}" + "^{i1}" * 700}
    assert all(len(formula) < 8_192 for formula in slips.values())
    result = run_cli("check", table(tmp_path / "long.xlsx", slips))
    assert checked(result), result.stderr


@pytest.mark.slow
def test_integers_past_a_float_and_past_pythons_digit_limit(tmp_path):
    big = b"1" * 400
    workbook = patched(table(tmp_path / "big.xlsx", {(1, "w1"): 123456789.0}), {b"123456789": big})
    result = run_cli("check", workbook)
    assert checked(result), result.stderr
    eta = patched(table(tmp_path / "eta.xlsx"), {b"<v>0.5</v></c></row>": b"<v>" + big + b"</v></c></row>"})
    assert checked(run_cli("check", eta))
    huge = patched(table(tmp_path / "huge.xlsx", {(1, "w1"): 123456789.0}), {b"123456789": b"7" * 5_000})
    assert clean_exit(run_cli("check", huge))


def test_integers_past_a_float_in_templates_and_records(tmp_path, build, capsys):
    template = tmp_path / "big.toml"
    template.write_text("layers = [1, 1, 1]\nactivations = ['sigmoid', 'sigmoid']\ninputs = [1]\n"
                        f"targets = [0.5]\nweights = [{'9' * 400}, 0.5]\n", encoding="utf-8")
    assert one_line_error(*run(capsys, "build", "--template", template, "--out", tmp_path / "b.xlsx"))
    openpyxl = pytest.importorskip("openpyxl")
    student = build("--lrs", "0.5", "--steps", "2", "--exercise").with_name("BackPropagation_exercise.xlsx")
    book = openpyxl.load_workbook(student)
    book["_sheetprop"]["B3"] = "x"
    book.save(student)
    patched(student, {b"<t>x</t>": b"<t>x</t>"})
    record = book["_sheetprop"]["B2"].value
    book["_sheetprop"]["B2"] = record.replace('"weights":[', '"weights":[' + "9" * 400 + ",", 1)
    book["_sheetprop"]["B3"] = 2
    book.save(student)
    assert one_line_error(*run(capsys, "check", student))
    book["_sheetprop"]["B2"] = record.replace('"weights":[', '"weights":[' + "9" * 5_000 + ",", 1)
    book.save(student)
    assert one_line_error(*run(capsys, "check", student))


def test_defined_names_that_are_no_cell_and_references_outside_the_sheet(tmp_path):
    def names(book, sheet):
        book.define_name("other", "=eta")
        book.define_name("eta", "=s!$AO$1")
        book.define_name("bare", "=A1")
        book.define_name("broken", "='s!$A$1")
    slips = {(0, "h1"): "={w1}*{i1}+{w2}*{i2}+0*other", (1, "h1"): "={w1}*{i1}+{w2}*{i2}+0*bare",
             (2, "h1"): "={w1}*{i1}+{w2}*{i2}+0*broken", (0, "h2"): "={w3}*{i1}+{w4}*{i2}+0*A0",
             (1, "h2"): "={w3}*{i1}+{w4}*{i2}+0*A1048577", (2, "w1"): "=A0-$AO$1*B1048577"}
    result = run_cli("check", table(tmp_path / "names.xlsx", slips, more=names))
    assert checked(result), result.stderr


@pytest.mark.slow
def test_a_chartsheet_named_by_the_record_or_read_for_eta(tmp_path, build):
    openpyxl = pytest.importorskip("openpyxl")
    student = build("--lrs", "0.5", "--steps", "2", "--exercise").with_name("BackPropagation_exercise.xlsx")
    book = openpyxl.load_workbook(student)
    del book["lr=0.5"]
    book.create_chartsheet("lr=0.5")
    book.save(student)
    assert clean_exit(run_cli("check", student))

    def chart(book, sheet):
        chartsheet = book.add_chartsheet("c")
        series = book.add_chart({"type": "line"})
        series.add_series({"values": "=s!$A$2:$A$4"})
        chartsheet.set_chart(series)
    slips = {(k, "w1"): "={prev_w1}-c!$B$2*{prev_dw1}" for k in (1, 2)}
    assert checked(run_cli("check", table(tmp_path / "chart.xlsx", slips, more=chart)))


def test_eta_on_a_sheet_whose_name_has_an_apostrophe(tmp_path):
    def other(book, sheet):
        book.add_worksheet("it's").write_number(1, 1, 0.5)
    slips = {(k, f"w{n}"): f"={{prev_w{n}}}-'it''s'!$B$2*{{prev_dw{n}}}" for k in (1, 2) for n in range(1, 9)}
    result = run_cli("check", table(tmp_path / "apostrophe.xlsx", slips, more=other))
    assert checked(result), result.stderr


@pytest.mark.slow
def test_json_of_a_date_typed_cell(tmp_path):
    import datetime

    def date(book, sheet):
        sheet.write_datetime(2, Layout().columns()["dw1"], datetime.datetime(2024, 5, 1),
                             book.add_format({"num_format": "yyyy-mm-dd"}))
    result = run_cli("check", "--json", table(tmp_path / "date.xlsx", more=date))
    assert checked(result), result.stderr
    assert "2024-05-01" in json.dumps(json.loads(result.stdout)["findings"])


def test_an_out_of_5000_characters_and_a_trailing_slash(tmp_path, capsys):
    long = tmp_path / ("ab/" * 1_700 + "x.xlsx")
    assert one_line_error(*run(capsys, "build", "--quiet", "--out", long))
    code = run_cli("build", "--quiet", "--out", f"{tmp_path / 'newdir'}/").returncode
    assert code == 2 and not (tmp_path / "newdir").exists()


@pytest.mark.slow
def test_closed_standard_output_and_error(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = tmp_path / "closed.xlsx"
    built = subprocess.run(f'"{sys.executable}" -m sheetprop build --out "{out}" --steps 2 >&-', shell=True,
                           env=env, capture_output=False, stderr=subprocess.PIPE, text=True)
    assert built.returncode == 0 and out.is_file() and "Traceback" not in built.stderr
    quiet = tmp_path / "quiet.xlsx"
    built = subprocess.run(f'"{sys.executable}" -m sheetprop build --out "{quiet}" --steps 2 2>&-', shell=True,
                           env=env, stdout=subprocess.PIPE, text=True)
    assert built.returncode == 0 and quiet.is_file()
    checked_ = subprocess.run(f'"{sys.executable}" -m sheetprop check "{out}" >&-', shell=True, env=env,
                              stderr=subprocess.PIPE, text=True)
    assert clean_exit(checked_) and "standard output is closed" in checked_.stderr


def test_a_checkpoint_with_nan_weights_or_forged_metrics_is_refused_on_load(tmp_path):
    torch = pytest.importorskip("torch")
    from sheetprop.errors import UserError
    from sheetprop.mnist.train.checkpoint import load_checkpoint, save_checkpoint
    from sheetprop.mnist.train.model import MnistNet

    model = MnistNet().state_dict()
    row = {"epoch": 1, "train_loss": 0.5, "train_accuracy": 90.0, "test_loss": 0.5, "test_accuracy": 90.0,
           "lr": 0.1, "seconds": 1.0}
    state = {"epoch": 1, "settings": {}, "optimizer": {}, "rng": {}}
    poisoned = {name: torch.full_like(t, float("nan")) if t.is_floating_point() else t for name, t in model.items()}
    save_checkpoint(tmp_path / "nan.pt", {**state, "model": poisoned, "metrics": [row]})
    with pytest.raises(UserError, match="not finite"):
        load_checkpoint(tmp_path / "nan.pt", torch.device("cpu"), what="mnist-sheet")
    save_checkpoint(tmp_path / "forged.pt", {**state, "model": model, "metrics": [{**row, "test_loss": float("nan")}]})
    with pytest.raises(UserError, match="not finite"):
        load_checkpoint(tmp_path / "forged.pt", torch.device("cpu"), what="mnist-sheet")


# --- 5. the record is held against the workbook ------------------------------------------------------

def test_a_record_cut_to_one_row_and_one_sheet_is_caught(tmp_path, build):
    key = build("--lrs", "0.5,1", "--steps", "5")
    with zipfile.ZipFile(key) as archive:
        parts = {item.filename: archive.read(item.filename) for item in archive.infolist()}
    record_part = next(name for name, data in parts.items() if b"sheetprop-exercise-1" in data)
    record = re.sub(rb'(<c r="B3"[^>]*><v>)5(</v>)', rb"\g<1>1\g<2>", parts[record_part])
    for quote in (b'"', b"&quot;"):
        record = record.replace(b"[" + quote + b"lr=0.5" + quote + b", " + quote + b"lr=1" + quote + b"]",
                                b"[" + quote + b"lr=0.5" + quote + b"]")
    assert b"lr=1" not in record
    parts[record_part] = record
    forged = tmp_path / "forged.xlsx"
    with zipfile.ZipFile(forged, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    result = run_cli("check", forged)
    assert checked(result), result.stderr
    assert "the table goes on in row" in result.stdout
    assert "a table the workbook's record does not list" in result.stdout


# --- 6. inputs refused ---------------------------------------------------------------------------------

@pytest.mark.parametrize("options", [["--lrs", "1,1.0,01"], ["--lrs", "0.5,١"], ["--steps", "٧"],
                                     ["--steps", "5_000"]])
def test_numbers_that_are_not_plain(tmp_path, capsys, options):
    assert one_line_error(*run(capsys, "build", "--quiet", "--out", tmp_path / "x.xlsx", *options))
    assert not (tmp_path / "x.xlsx").exists()


def test_a_metrics_csv_with_underscores_or_other_digits(tmp_path, capsys):
    header = "epoch,train_loss,train_accuracy,test_loss,test_accuracy,lr,seconds\n"
    for bad in ("1,0.5,90,0.5,90,0.1,5_000\n", "١,0.5,90,0.5,90,0.1,5\n"):
        csv = tmp_path / "m.csv"
        csv.write_text(header + bad, encoding="utf-8")
        assert one_line_error(*run(capsys, "build", "--quiet", "--out", tmp_path / "x.xlsx", "--mnist-metrics", csv))


def test_a_workbook_past_what_check_reads_is_refused_with_its_estimate(tmp_path, capsys):
    code, err = run(capsys, "build", "--quiet", "--template", "deep", "--optimizer", "adam", "--steps", "2000",
                    "--lrs", "0.1,0.5,1", "--out", tmp_path / "deep.xlsx")
    assert one_line_error(code, err) and re.search(r"about [\d,]+ MB", err), err
    assert not (tmp_path / "deep.xlsx").exists()


@pytest.mark.slow
def test_the_largest_sheet_build_allows_is_one_check_reads(tmp_path, capsys):
    from sheetprop.check.read.workbook_input import MAX_PART_BYTES

    code, err = run(capsys, "build", "--quiet", "--template", "deep", "--optimizer", "adam", "--steps", "2000",
                    "--lrs", "0.5", "--out", tmp_path / "deep.xlsx")
    most = int(re.search(r"at most ([\d,]+) steps", err)[1].replace(",", ""))
    assert main(["build", "--quiet", "--template", "deep", "--optimizer", "adam", "--steps", str(most),
                 "--lrs", "0.5", "--out", str(tmp_path / "deep.xlsx")]) == 0
    with zipfile.ZipFile(tmp_path / "deep.xlsx") as archive:
        assert max(item.file_size for item in archive.infolist()) <= MAX_PART_BYTES


# --- 7. mnist checks its outputs before any work ------------------------------------------------------

def test_mnist_refuses_outputs_it_could_not_write_before_training(tmp_path, capsys):
    long = tmp_path / ("m" * 245 + ".xlsx")  # itself fits in 255 bytes; its _model.xlsx does not
    code, err = run(capsys, "mnist", "--out", long, "--no-download", "--data", tmp_path / "none")
    assert one_line_error(code, err) and "too long" in err, err
    (tmp_path / "run_metrics.csv").mkdir()
    code, err = run(capsys, "mnist", "--out", tmp_path / "run.xlsx", "--no-download", "--data", tmp_path / "none")
    assert one_line_error(code, err) and "run_metrics.csv" in err, err


@pytest.mark.slow
def test_mnist_training_that_diverges_stops_and_says_so(tmp_path):
    pytest.importorskip("torch")
    from mnist_fixtures import write_mnist_folder

    import torch
    from sheetprop.errors import UserError
    from sheetprop.mnist.train.batches import DeviceSplit
    from sheetprop.mnist.train.data import load_mnist
    from sheetprop.mnist.train.loop import TrainSettings, fit

    data = load_mnist(write_mnist_folder(tmp_path / "tiny", range(0, 600), range(600, 800)))
    cpu = torch.device("cpu")
    train = DeviceSplit.from_numpy(data.train_images, data.train_labels, cpu)
    test = DeviceSplit.from_numpy(data.test_images, data.test_labels, cpu)
    with pytest.raises(UserError, match="diverged"):
        fit(train, test, TrainSettings(epochs=2, batch_size=16, lr=1e8, seed=7), checkpoint=tmp_path / "c.pt")
    assert not (tmp_path / "c.pt").exists()  # no checkpoint of NaN weights


def test_an_ods_is_converted_by_a_libreoffice_held_under_one_gibibyte(tmp_path, monkeypatch):
    """A student's .ods is converted with LibreOffice's address space capped at 1 GiB (lower than
    for recalculating a built workbook), so the repeated-cell .ods above ends well under it."""
    import sheetprop.libreoffice as libreoffice
    from sheetprop.check.read import workbook_input

    asked = {}

    def recalculate(source, out_dir, timeout=300, memory_bytes=None):
        asked["memory_bytes"] = memory_bytes
        raise UserError("stop here")

    from sheetprop.errors import UserError
    monkeypatch.setattr(libreoffice, "recalculate", recalculate)
    monkeypatch.setattr(libreoffice, "find_soffice", lambda: "/usr/bin/soffice")
    source = tmp_path / "a.ods"
    source.write_bytes(b"PK")
    with pytest.raises(UserError, match="stop here"):
        workbook_input._converted_from_ods(source)
    assert asked["memory_bytes"] is not None and asked["memory_bytes"] <= 2**30
