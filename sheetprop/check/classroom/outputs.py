"""Where `check` writes (--csv, --feedback, --out), checked before any work: an output that is one
of the inputs (a submission, the key, a class folder), lies inside a graded folder, or holds an
input (a feedback folder that is the key's own folder) is refused, and every output is tried
for writing, so a class is never graded only to find its gradebook cannot be written, and
nothing handed in is replaced."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from sheetprop.atomic import output_folder
from sheetprop.errors import UserError


def _real(path: Path) -> Path:
    return Path(os.path.realpath(Path(path).expanduser()))


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def guard(inputs: list[Path], files: dict[str, Path | None], folders: dict[str, Path | None]) -> None:
    """Refuse (UserError, one line) any output among ``files`` (flag → file) and ``folders``
    (flag → folder written into) that is an input, lies inside a folder of ``inputs``, or (a
    folder) holds an input; then try writing each."""
    given = [_real(p) for p in inputs if p is not None]
    for flag, path in [*files.items(), *folders.items()]:
        if path is None:
            continue
        real = _real(path)
        for source, shown in zip(given, [p for p in inputs if p is not None]):
            if real == source or (source.exists() and Path(path).expanduser().exists()
                                  and os.path.samefile(source, Path(path).expanduser())):
                raise UserError(f"{flag} {path} is one of the inputs ({shown}): it would be written over")
            if source.is_dir() and _inside(real, source):
                raise UserError(f"{flag} {path} lies inside {shown}, which is being graded: write it elsewhere")
            if flag in folders and _inside(source, real):
                raise UserError(f"{flag} {path} holds an input ({shown}), which a file written there could "
                                "replace: give a folder of its own")
    for flag, path in files.items():
        if path is not None:
            probe_file(flag, Path(path).expanduser())
    for flag, path in folders.items():
        if path is not None:
            probe_folder(flag, Path(path).expanduser())


def probe_file(flag: str, path: Path) -> None:
    """``path`` can be written: not a folder, its folder exists (made if need be) and takes a new file."""
    if path.is_dir():
        raise UserError(f"{flag} {path} is a folder; give a file name")
    try:  # its folder is made, as writing it would
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{flag} {path}: cannot create its folder {path.parent}: {exc.strerror or exc}") from None
    if path.exists() and not os.access(path, os.W_OK):
        raise UserError(f"{flag} {path} cannot be written (permission denied)")
    _try_writing(flag, path.parent, path)


def probe_folder(flag: str, folder: Path) -> None:
    """``folder`` exists (made if need be) and takes a new file."""
    output_folder(folder, f"{flag} {folder} is a file; give a folder")
    _try_writing(flag, folder, folder)


def _try_writing(flag: str, folder: Path, shown: Path) -> None:
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".sheetprop-probe-"):
            pass
    except OSError as exc:
        raise UserError(f"{flag} {shown} cannot be written: {exc.strerror or exc}") from None
