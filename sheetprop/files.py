"""Reading a file a user named, safely: only a regular file, only up to a size, with one-line errors.

A FIFO would block forever, /dev/zero never ends, and a folder or a huge file is not what was
meant; each is refused before a byte is read, in words that name what the file was wanted for.
"""

from __future__ import annotations

import stat
from pathlib import Path

from sheetprop.errors import UserError


def read_limited(path: Path, what: str, limit: int, limit_text: str | None = None) -> bytes:
    """The bytes of ``path``, which must be a regular file of at most ``limit`` bytes. ``what``
    names it in errors ("template", "metrics file"); ``limit_text`` says the limit in words."""
    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise UserError(f"{what} {path} not found") from None
    except OSError as exc:
        raise UserError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise UserError(f"cannot read {what} {path}: it is a folder")
    if not stat.S_ISREG(info.st_mode):
        raise UserError(f"cannot read {what} {path}: it is not a regular file (a FIFO, device or socket)")
    if info.st_size > limit:
        raise UserError(f"{what} {path} is {info.st_size:,} bytes; {limit_text or f'at most {limit:,} bytes are read'}")
    try:
        with open(path, "rb") as handle:
            return handle.read(limit + 1)[:limit]  # a file that grows while read is cut, not followed
    except OSError as exc:
        raise UserError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
