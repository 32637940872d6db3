"""Recalculate a workbook in headless LibreOffice, as a real spreadsheet program would.

LibreOffice normally shows the values cached in an .xlsx and recalculates nothing; a throw-away
profile with OOXMLRecalcMode = 0 ("always recalculate") makes it compute every formula on load,
and converting the file back to .xlsx stores what it computed.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from sheetprop.errors import UserError

_ALWAYS_RECALCULATE = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry"
           xmlns:xs="http://www.w3.org/2001/XMLSchema"
           xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <item oor:path="/org.openoffice.Office.Calc/Formula/Load">
    <prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop>
  </item>
  <item oor:path="/org.openoffice.Office.Calc/Formula/Load">
    <prop oor:name="ODFRecalcMode" oor:op="fuse"><value>0</value></prop>
  </item>
{SAFETY}</oor:items>
"""
# Whatever a workbook holds, nothing in it runs and nothing outside it is fetched: macros off at
# the highest security level, links to other files never updated, and every http/https/ftp request
# sent to a proxy that is a port of ours bound but not listening, so it is refused on the spot
# (LibreOffice fetches linked images and OLE objects on load, whatever the link settings say).
_SAFETY = """  <item oor:path="/org.openoffice.Office.Common/Security/Scripting">
    <prop oor:name="MacroSecurityLevel" oor:op="fuse"><value>3</value></prop>
  </item>
  <item oor:path="/org.openoffice.Office.Common/Security/Scripting">
    <prop oor:name="DisableMacrosExecution" oor:op="fuse"><value>true</value></prop>
  </item>
  <item oor:path="/org.openoffice.Office.Calc/Content/Update">
    <prop oor:name="Link" oor:op="fuse"><value>2</value></prop>
  </item>
  <item oor:path="/org.openoffice.Office.Common/Security/Scripting">
    <prop oor:name="BlockUntrustedRefererLinks" oor:op="fuse"><value>true</value></prop>
  </item>
  <item oor:path="/org.openoffice.Inet/Settings">
    <prop oor:name="ooInetProxyType" oor:op="fuse"><value>1</value></prop>
  </item>
  <item oor:path="/org.openoffice.Inet/Settings">
    <prop oor:name="ooInetNoProxy" oor:op="fuse"><value></value></prop>
  </item>
  <item oor:path="/org.openoffice.Inet/Settings">
    <prop oor:name="ooInetHTTPProxyName" oor:op="fuse"><value>127.0.0.1</value></prop>
  </item>
  <item oor:path="/org.openoffice.Inet/Settings">
    <prop oor:name="ooInetHTTPProxyPort" oor:op="fuse"><value>{DEAD_PORT}</value></prop>
  </item>
  <item oor:path="/org.openoffice.Inet/Settings">
    <prop oor:name="ooInetHTTPSProxyName" oor:op="fuse"><value>127.0.0.1</value></prop>
  </item>
  <item oor:path="/org.openoffice.Inet/Settings">
    <prop oor:name="ooInetHTTPSProxyPort" oor:op="fuse"><value>{DEAD_PORT}</value></prop>
  </item>
  <item oor:path="/org.openoffice.Inet/Settings">
    <prop oor:name="ooInetFTPProxyName" oor:op="fuse"><value>127.0.0.1</value></prop>
  </item>
  <item oor:path="/org.openoffice.Inet/Settings">
    <prop oor:name="ooInetFTPProxyPort" oor:op="fuse"><value>{DEAD_PORT}</value></prop>
  </item>
"""
_SAFE_ONLY = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry"
           xmlns:xs="http://www.w3.org/2001/XMLSchema"
           xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
{SAFETY}</oor:items>
"""


def find_soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


# LibreOffice's CSV filter options: comma, double quotes, UTF-8, from line 1, ..., "save cell
# contents as shown" on (what a viewer sees, number formats applied), every sheet to its own file.
_CSV_AS_SHOWN = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true,false,false,-1"


# LibreOffice may use this much address space, which bounds what a small hostile file can make it
# allocate (an .ods cell repeated over a million rows and a thousand columns asks for gigabytes).
MAX_LIBREOFFICE_BYTES = 2 * 2**30  # recalculating a built workbook of 6 x 5,000 rows takes ~900 MB resident
# Converting an .ods a student sent needs far less; held lower, so a hostile one ends well under 1 GiB.
MAX_ODS_CONVERSION_BYTES = 2**30


def recalculate(source: Path, out_dir: Path, timeout: float = 300,
                memory_bytes: int = MAX_LIBREOFFICE_BYTES) -> Path:
    """Open ``source`` in LibreOffice with recalculation forced, save it as .xlsx into
    ``out_dir`` (same file name) and return that path. LibreOffice may use ``memory_bytes`` of
    address space."""
    return recalculate_all([source], out_dir, timeout, memory_bytes)[0]


def recalculate_all(sources, out_dir: Path, timeout: float = 300,
                    memory_bytes: int = MAX_LIBREOFFICE_BYTES) -> list[Path]:
    """``recalculate`` for several files in one LibreOffice run (it starts once, not per file)."""
    _convert(sources, out_dir, "xlsx:Calc MS Excel 2007 XML", timeout, memory_bytes=memory_bytes)
    return [Path(out_dir).resolve() / (Path(source).stem + ".xlsx") for source in sources]


def displayed_text(source: Path, out_dir: Path, timeout: float = 300, recalculated: bool = True
                   ) -> dict[str, list[list[str]]]:
    """Every sheet of ``source`` as the text LibreOffice displays in each cell: of the values it
    computes itself, or (``recalculated=False``) of the values the file carries, as on opening.
    Each cell in its own number format: LibreOffice's CSV export ignores conditional formats
    (its printing applies them: sheetprop.handin.screens)."""
    import csv

    _convert([source], out_dir, _CSV_AS_SHOWN, timeout, recalculated)
    sheets = {}
    for path in sorted(Path(out_dir).resolve().glob(f"{Path(source).stem}-*.csv")):
        with open(path, newline="", encoding="utf-8") as handle:
            sheets[path.stem.removeprefix(Path(source).stem + "-")] = list(csv.reader(handle))
    return sheets


PDF_EXPORT = "pdf:calc_pdf_Export"


def print_to_pdf(sources, out_dir: Path, timeout: float = 600) -> list[Path]:
    """Each workbook of ``sources`` as LibreOffice prints it (each sheet's print settings, its
    conditional formats and charts) to a PDF of the same name in ``out_dir``, in one LibreOffice
    run; the values as the files carry them, nothing recalculated."""
    _convert(list(sources), out_dir, PDF_EXPORT, timeout, recalculated=False)
    return [Path(out_dir).resolve() / (Path(source).stem + ".pdf") for source in sources]


def _convert(sources, out_dir: Path, convert_to: str, timeout: float, recalculated: bool = True,
             memory_bytes: int = MAX_LIBREOFFICE_BYTES) -> None:
    soffice = find_soffice()
    if soffice is None:
        raise UserError("LibreOffice is not installed (no 'soffice' on PATH); on Debian/Ubuntu: "
                        "apt-get install libreoffice-calc-nogui")
    sources, out_dir = [Path(source).resolve() for source in sources], Path(out_dir).resolve()
    if any(source.parent == out_dir for source in sources):
        raise ValueError("out_dir must differ from the sources' folder, or a source is overwritten")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sheetprop-lo-") as profile, _dead_port() as dead_port:
        user = Path(profile, "user")
        user.mkdir()
        settings = (_ALWAYS_RECALCULATE if recalculated else _SAFE_ONLY).replace("{SAFETY}", _SAFETY)
        (user / "registrymodifications.xcu").write_text(settings.replace("{DEAD_PORT}", str(dead_port)),
                                                        encoding="utf-8")
        # LibreOffice opens copies without links to anything outside them: a linked image may
        # name any file: or http: target, and the proxy stops only the second kind.
        staged = Path(profile, "in")
        staged.mkdir()
        copies = [_copy_without_links(source, staged / source.name) for source in sources]
        command = [soffice, f"-env:UserInstallation={Path(profile).as_uri()}", "--headless",
                   "--norestore", "--nologo", "--convert-to", convert_to,
                   "--outdir", str(out_dir), *map(str, copies)]
        names = ", ".join(source.name for source in sources)
        # LibreOffice's own temp files (lu*.tmp) go inside the profile, so they are removed with it
        # even when LibreOffice is killed (timeout, Ctrl-C) and cannot clean up after itself.
        scratch = Path(profile, "tmp")
        scratch.mkdir()
        proxy = f"http://127.0.0.1:{dead_port}"
        env = {**os.environ, "TMPDIR": str(scratch), "TMP": str(scratch), "TEMP": str(scratch),
               **{name: proxy for name in ("http_proxy", "https_proxy", "ftp_proxy", "all_proxy",
                                           "HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "ALL_PROXY")},
               "no_proxy": "", "NO_PROXY": ""}
        returncode, output = _run_in_own_group(command, timeout, f"recalculating {names}", env, memory_bytes,
                                               leftovers=[Path(profile), *_scratch_folders(out_dir)])
    if returncode != 0 or not all(any(out_dir.glob(source.stem + "*")) for source in sources):
        detail = output.strip().splitlines()
        raise UserError(f"LibreOffice could not convert {names}: "
                        f"{detail[-1] if detail else f'exit code {returncode}'}")


@contextlib.contextmanager
def _dead_port():
    """A local port bound and never listened on: a connection to it is refused at once."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


# An attribute that links to something outside the package: ODF's xlink:href (images, OLE
# objects, linked sheets and ranges) and OOXML's external relationships (linked pictures, OLE
# objects, other workbooks). A link inside the package (Pictures/x.png, ./Object 1, #Sheet2)
# has no scheme, no leading slash and no "..", and is kept.
_HREF = re.compile(rb"""(\bxlink:href\s*=\s*)(["'])(.*?)\2""", re.DOTALL)
_INTERNAL = re.compile(rb"#.*|(?:\./)?(?![/\\])(?!.*\.\.)[^:]*", re.DOTALL)
_RELATIONSHIP = re.compile(rb"<Relationship\b[^>]*>")
_TARGET = re.compile(rb"""(\bTarget\s*=\s*)(["'])(.*?)\2""", re.DOTALL)


def _copy_without_links(source: Path, target: Path) -> Path:
    """``source`` copied to ``target`` with every link out of the file emptied (a file that is
    not a zip archive is copied as it is)."""
    import zipfile

    if not zipfile.is_zipfile(source):
        shutil.copyfile(source, target)
        return target
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for item in old.infolist():
            data = old.read(item.filename)
            if item.filename.endswith((".xml", ".rels")):
                data = _HREF.sub(lambda m: m[0] if _INTERNAL.fullmatch(m[3]) else m[1] + m[2] * 2, data)
                data = _RELATIONSHIP.sub(_internal_relationship, data)
            # mimetype first and stored, as ODF requires: the copy keeps each entry's settings.
            new.writestr(item, data, compress_type=item.compress_type)
    return target


def _internal_relationship(match) -> bytes:
    element = match[0]
    if not re.search(rb"""TargetMode\s*=\s*["']External["']""", element):
        return element
    return _TARGET.sub(lambda m: m[1] + m[2] + b"#" + m[2], element)


def _scratch_folders(out_dir: Path) -> list[Path]:
    """What a LibreOffice run leaves if its caller is killed: ``out_dir`` and, when that lies in
    a sheetprop temp folder, the folder too (the caller's own cleanup never runs after kill -9)."""
    folders = [out_dir]
    parent = out_dir.parent
    if parent.name.startswith("sheetprop-") and parent.parent == Path(tempfile.gettempdir()).resolve():
        folders.append(parent)
    return folders


# Started beside LibreOffice, in a session of its own so no signal to the caller's group reaches
# it. It reads LibreOffice's group id, then waits: "done" ends it quietly; the end of its input
# without "done" means the caller died (even by kill -9, which no finally survives), and then it
# ends LibreOffice's group and removes the folders the caller can no longer remove.
_WATCHDOG = """
import os, shutil, signal, sys
for name in ("SIGINT", "SIGTERM", "SIGHUP"):
    signal.signal(getattr(signal, name), signal.SIG_IGN)
lines = sys.stdin.read().split()
if "done" not in lines:
    if lines:
        try:
            os.killpg(int(lines[0]), signal.SIGKILL)
        except OSError:
            pass
    for folder in sys.argv[1:]:
        shutil.rmtree(folder, ignore_errors=True)
"""


def _in_child(memory_bytes: int = MAX_LIBREOFFICE_BYTES) -> None:
    """In LibreOffice's process, before it starts: die with the caller (Linux), and stay under
    the memory limit."""
    import resource

    with contextlib.suppress(OSError, ValueError, resource.error):
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _run_in_own_group(command: list[str], timeout: float, doing: str, env: dict | None = None,
                      memory_bytes: int = MAX_LIBREOFFICE_BYTES,
                      leftovers: list[Path] = ()) -> tuple[int, str]:
    """Run LibreOffice in a process group of its own and end the whole group on a timeout, Ctrl-C
    or any other exit: the launcher's child, soffice.bin, would otherwise run on and re-create the
    profile folder just removed. A watchdog does the same, and removes ``leftovers``, when the
    caller itself is killed."""
    watchdog = subprocess.Popen([sys.executable, "-c", _WATCHDOG, *map(str, leftovers)], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                                text=True)
    process = None
    try:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   start_new_session=True, env=env,
                                   preexec_fn=functools.partial(_in_child, memory_bytes))
        watchdog.stdin.write(f"{process.pid}\n")
        watchdog.stdin.flush()
        output, _ = process.communicate(timeout=timeout)
        return process.returncode, output or ""
    except subprocess.TimeoutExpired:
        raise UserError(f"LibreOffice did not finish {doing} within {timeout:.0f} s") from None
    finally:
        if process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        with contextlib.suppress(OSError, ValueError):
            watchdog.stdin.write("done\n")
            watchdog.stdin.close()
        watchdog.wait()
