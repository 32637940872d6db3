"""Write-then-rename, so a failed run never leaves a partial file or damages an existing one.

Everything temporary (the file being written, xlsxwriter's own temp files) lives in one private
folder beside the output, removed on every exit path Python sees (errors, Ctrl-C, SIGTERM and
SIGHUP, which ``cli`` turns into exceptions). A run killed outright (kill -9, power loss) leaves
its folder behind; the next run in that folder sweeps it, as its process is gone.
"""

import contextlib
import errno
import os
import shutil
import stat
import sys
import tempfile
from pathlib import Path

from sheetprop.errors import UserError

TEMP_PREFIX = ".sheetprop-tmp-"
MAX_NAME_BYTES = 255  # the longest file name Linux, macOS and Windows file systems take
# Linux's PATH_MAX is 4,096 bytes; the temp folder written beside the output needs some of them.
MAX_PATH_BYTES = 4_000


def _file_create_error() -> tuple:
    """xlsxwriter's FileCreateError where xlsxwriter is loaded (nothing else raises it): `check`
    writes its CSV through here without importing the writer's library."""
    exceptions = sys.modules.get("xlsxwriter.exceptions")
    return (exceptions.FileCreateError,) if exceptions is not None else ()


def check_output_path(path: Path) -> Path:
    """Create the parent folder if needed and fail clearly if ``path`` cannot be written: it must be
    a new path or a regular file (never a folder, a link, a device, a FIFO or a socket, which a
    rename would replace)."""
    path = Path(path).expanduser()
    if len(os.fsencode(str(path))) > MAX_PATH_BYTES:  # first: any look at such a path fails
        raise UserError(f"output path is too long ({len(os.fsencode(str(path))):,} bytes; at most {MAX_PATH_BYTES:,})")
    if len(os.fsencode(path.name)) > MAX_NAME_BYTES:
        raise UserError(f"output file name is too long ({len(os.fsencode(path.name))} bytes; "
                        f"at most {MAX_NAME_BYTES})")
    if path.is_symlink():
        raise UserError(f"output path {path} is a symbolic link; give the path of a regular file")
    if path.is_dir():
        raise UserError(f"output path {path} is a directory; give a file name such as {path / 'out.xlsx'}")
    if path.exists() and not stat.S_ISREG(path.stat().st_mode):
        raise UserError(f"output path {path} is not a regular file (a device, FIFO or socket); "
                        "give a file name")
    output_folder(path.parent)
    if not os.access(path.parent, os.W_OK):
        raise UserError(f"output folder {path.parent} is not writable")
    if path.exists() and not os.access(path, os.W_OK):
        raise UserError(f"output file {path} is not writable")
    return path


def output_folder(folder: Path, when_a_file: str | None = None) -> Path:
    """``folder``, made where it is missing, for outputs: a one-line error where it is a file
    (``when_a_file`` says what to give instead) or cannot be made."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UserError(when_a_file or f"{folder} is a file; give a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create output folder {folder}: {exc.strerror or exc}") from None
    return folder


def sweep_stale(folder: Path) -> None:
    """Remove temp folders that runs killed outright left in ``folder`` (their process is gone)."""
    for stale in folder.glob(f"{TEMP_PREFIX}*"):
        pid = stale.name[len(TEMP_PREFIX):].split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


@contextlib.contextmanager
def atomic_output(path: Path):
    """Yield a temporary path in a private folder beside ``path`` (``tmp.parent`` is free for other
    temporary files); move it into place only if the block succeeds; remove the folder always."""
    path = check_output_path(path)
    sweep_stale(path.parent)
    try:
        folder = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", dir=path.parent))
    except OSError as exc:
        raise UserError(f"cannot write in {path.parent}: {exc.strerror or exc}") from None
    tmp = folder / ("output" + path.suffix)
    try:
        tmp.touch()
        # The result gets the usual permissions of a new file, not the private folder's.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        try:
            yield tmp
        except _file_create_error() as exc:  # xlsxwriter's wrapper of the OSError it met while saving
            raise _write_error(path, exc.args[0] if exc.args else exc) from None
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            raise _write_error(path, exc) from None
        try:
            os.replace(tmp, path)
        except OSError as exc:
            raise _write_error(path, exc) from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _write_error(path: Path, cause) -> UserError:
    full = getattr(cause, "errno", None) in (errno.ENOSPC, errno.EDQUOT)
    detail = "the disk is full" if full else getattr(cause, "strerror", None) or cause
    return UserError(f"cannot write {path}: {detail}")
