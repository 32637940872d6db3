"""Unpack a zip of submissions that a student (or a platform export) may have made hostile.

Nothing is trusted from the archive's directory: each member is written by streaming and
counting what actually inflates, and stopped at the limit. A member whose name is absolute,
climbs out (``..``), is a link or a device, or inflates past a limit is not written; it is
returned as refused with its reason, so that one bad member becomes one error row and the rest of
the class is graded.
"""

from __future__ import annotations

import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from sheetprop.errors import UserError

MAX_MEMBER_BYTES = 50 * 2**20      # as large as a workbook `check` reads
MAX_ARCHIVE_BYTES = 4 * 2**30      # every member of every archive of one class together, inflated
MAX_MEMBERS = 20_000               # per archive, and for the class's archives together
MAX_RATIO = 200                    # inflated / packed: per member over 1 MB, and for the class's totals
RATIO_FLOOR = 2**20                # totals under this are not held to the ratio (a few tiny files)
_CHUNK = 2**20
_SKIPPED = {"__MACOSX"}            # macOS resource forks: never a submission


class Budget:
    """What every archive unpacked for one class may write together: one budget of bytes and
    members, and the ratio applied to totals, so that neither a class zip of many small bombs
    (each under the per-member ratio's 1 MB) nor student zips inside a class zip (each with a
    fresh limit) write gigabytes. ``packed`` counts only the bytes the teacher handed in: an
    archive unpacked from another adds none (its bytes were the outer archive's output)."""

    def __init__(self, limit: int | None = None, members: int | None = None):
        self.room = MAX_ARCHIVE_BYTES if limit is None else limit
        self.members = MAX_MEMBERS if members is None else members
        self.written = self.packed = 0

    def ratio_exceeded(self, more: int) -> bool:
        total = self.written + more
        return total > RATIO_FLOOR and total > MAX_RATIO * max(self.packed, 1)


@dataclass(frozen=True)
class Refused:
    name: str      # the member's name as the archive gives it
    reason: str


def extract(archive: Path, target: Path, budget: Budget | None = None, handed_in: bool = True) -> list[Refused]:
    """Unpack ``archive`` into the folder ``target``; the members refused, with their reasons.
    ``budget``: shared by every archive of a class (a fresh one by default); ``handed_in``: the
    archive is the teacher's input, not one unpacked from another (its packed bytes count)."""
    budget = budget if budget is not None else Budget()
    try:
        book = zipfile.ZipFile(archive)
        members = book.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
        raise UserError(f"{archive.name} is not a readable zip archive ({exc})") from None
    if len(members) > min(MAX_MEMBERS, budget.members):
        raise UserError(f"{archive.name} has {len(members):,} members; at most {min(MAX_MEMBERS, budget.members):,} "
                        "are unpacked (for the whole class)")
    budget.members -= len(members)
    if handed_in:
        budget.packed += sum(m.compress_size for m in members)
    refused = []
    with book:
        for member in members:
            parts = _safe_parts(member.filename)
            if parts is None:
                refused.append(Refused(member.filename, "its name is absolute or leaves the archive's folder"))
                continue
            if not parts or parts[0] in _SKIPPED or member.is_dir():
                continue
            kind = stat.S_IFMT(member.external_attr >> 16)
            if kind and kind != stat.S_IFREG:
                refused.append(Refused(member.filename, "it is a link or special file, not a file"))
                continue
            if member.flag_bits & 0x1:
                refused.append(Refused(member.filename, "it is encrypted"))
                continue
            destination = target.joinpath(*parts)
            try:
                written = _copy_limited(book, member, destination, budget)
            except _TooLarge as exc:
                destination.unlink(missing_ok=True)
                refused.append(Refused(member.filename, str(exc)))
                continue
            except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
                destination.unlink(missing_ok=True)
                refused.append(Refused(member.filename, f"it cannot be unpacked ({exc})"))
                continue
            budget.written += written
            budget.room -= written
    return refused


class _TooLarge(Exception):
    pass


def _safe_parts(name: str) -> tuple[str, ...] | None:
    """The member's path as folder names, or None for one that is absolute or climbs out."""
    name = name.replace("\\", "/")
    path = PurePosixPath(name)
    if path.is_absolute() or (path.parts and ":" in path.parts[0]):  # /etc/x, C:/x
        return None
    parts = tuple(p for p in path.parts if p not in ("", "."))
    if any(p == ".." for p in parts):
        return None
    return parts


def _copy_limited(book: zipfile.ZipFile, member: zipfile.ZipInfo, destination: Path, budget: Budget) -> int:
    destination.parent.mkdir(parents=True, exist_ok=True)
    limit = min(MAX_MEMBER_BYTES, budget.room)
    written = 0
    with book.open(member) as source, open(destination, "xb") as out:
        while chunk := source.read(_CHUNK):
            written += len(chunk)
            if written > limit:
                raise _TooLarge(f"it inflates past {limit / 2**20:.0f} MB (a zip bomb, far larger than a workbook, "
                                "or past what the whole class may unpack)")
            if written > 2**20 and written > MAX_RATIO * max(member.compress_size, 1):
                raise _TooLarge(f"it inflates over {MAX_RATIO}× its packed size (a zip bomb)")
            if budget.ratio_exceeded(written):
                raise _TooLarge(f"the class's archives would inflate over {MAX_RATIO}× their packed size "
                                "(a zip bomb of many small members)")
            out.write(chunk)
    return written
