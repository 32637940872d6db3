"""Write-then-rename, so a failed run never leaves a partial file or damages an existing one."""

import contextlib
import os
import tempfile
from pathlib import Path

from sheetprop.errors import UserError


def check_output_path(path: Path) -> Path:
    """Create the parent folder if needed and fail clearly if ``path`` cannot be written."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise UserError(f"output path {path} is a directory; give a file name such as {path / 'out.xlsx'}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create output folder {path.parent}: {exc.strerror or exc}") from None
    if not os.access(path.parent, os.W_OK):
        raise UserError(f"output folder {path.parent} is not writable")
    if path.exists() and not os.access(path, os.W_OK):
        raise UserError(f"output file {path} is not writable")
    return path


@contextlib.contextmanager
def atomic_output(path: Path):
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds."""
    path = check_output_path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    # mkstemp makes the file private (0600); the result should get the usual permissions.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
