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
