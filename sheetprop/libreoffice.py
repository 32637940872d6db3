"""Recalculate a workbook in headless LibreOffice, as a real spreadsheet program would.

LibreOffice normally shows the values cached in an .xlsx and recalculates nothing; a throw-away
profile with OOXMLRecalcMode = 0 ("always recalculate") makes it compute every formula on load,
and converting the file back to .xlsx stores what it computed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
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
# the highest security level, links to other files never updated.
_SAFETY = """  <item oor:path="/org.openoffice.Office.Common/Security/Scripting">
    <prop oor:name="MacroSecurityLevel" oor:op="fuse"><value>3</value></prop>
  </item>
  <item oor:path="/org.openoffice.Office.Common/Security/Scripting">
    <prop oor:name="DisableMacrosExecution" oor:op="fuse"><value>true</value></prop>
  </item>
  <item oor:path="/org.openoffice.Office.Calc/Content/Update">
    <prop oor:name="Link" oor:op="fuse"><value>2</value></prop>
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


def recalculate(source: Path, out_dir: Path, timeout: float = 300) -> Path:
    """Open ``source`` in LibreOffice with recalculation forced, save it as .xlsx into
    ``out_dir`` (same file name) and return that path."""
    return recalculate_all([source], out_dir, timeout)[0]


def recalculate_all(sources, out_dir: Path, timeout: float = 300) -> list[Path]:
    """``recalculate`` for several files in one LibreOffice run (it starts once, not per file)."""
    _convert(sources, out_dir, "xlsx:Calc MS Excel 2007 XML", timeout)
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


def _convert(sources, out_dir: Path, convert_to: str, timeout: float, recalculated: bool = True) -> None:
    soffice = find_soffice()
    if soffice is None:
        raise UserError("LibreOffice is not installed (no 'soffice' on PATH); on Debian/Ubuntu: "
                        "apt-get install libreoffice-calc-nogui")
    sources, out_dir = [Path(source).resolve() for source in sources], Path(out_dir).resolve()
    if any(source.parent == out_dir for source in sources):
        raise ValueError("out_dir must differ from the sources' folder, or a source is overwritten")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sheetprop-lo-") as profile:
        user = Path(profile, "user")
        user.mkdir()
        settings = _ALWAYS_RECALCULATE if recalculated else _SAFE_ONLY
        (user / "registrymodifications.xcu").write_text(settings.replace("{SAFETY}", _SAFETY), encoding="utf-8")
        command = [soffice, f"-env:UserInstallation={Path(profile).as_uri()}", "--headless",
                   "--norestore", "--nologo", "--convert-to", convert_to,
                   "--outdir", str(out_dir), *map(str, sources)]
        names = ", ".join(source.name for source in sources)
        # LibreOffice's own temp files (lu*.tmp) go inside the profile, so they are removed with it
        # even when LibreOffice is killed (timeout, Ctrl-C) and cannot clean up after itself.
        scratch = Path(profile, "tmp")
        scratch.mkdir()
        env = {**os.environ, "TMPDIR": str(scratch), "TMP": str(scratch), "TEMP": str(scratch)}
        returncode, output = _run_in_own_group(command, timeout, f"recalculating {names}", env)
    if returncode != 0 or not all(any(out_dir.glob(source.stem + "*")) for source in sources):
        detail = output.strip().splitlines()
        raise UserError(f"LibreOffice could not convert {names}: "
                        f"{detail[-1] if detail else f'exit code {returncode}'}")


def _run_in_own_group(command: list[str], timeout: float, doing: str, env: dict | None = None) -> tuple[int, str]:
    """Run LibreOffice in a process group of its own and end the whole group on a timeout, Ctrl-C
    or any other exit: the launcher's child, soffice.bin, would otherwise run on and re-create the
    profile folder just removed."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True, env=env)
    try:
        output, _ = process.communicate(timeout=timeout)
        return process.returncode, output or ""
    except subprocess.TimeoutExpired:
        raise UserError(f"LibreOffice did not finish {doing} within {timeout:.0f} s") from None
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
