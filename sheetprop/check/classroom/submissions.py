"""What a class hands in, as submissions: each PATH given to `check` is a workbook, a folder or a
.zip (as course platforms export them). In a folder or zip each top-level entry is one submission
(a student's folder, repo clone, zip, or a single file) and its id is the entry's name. A
submission with several workbooks lists them best first: the ones whose sheets the key names,
then by depth and name; grading takes the first that holds a backprop table and names the others.
"""

from __future__ import annotations

import html
import os
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from sheetprop.check.classroom import safe_zip
from sheetprop.errors import UserError

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".ods")
REFUSED_SUFFIXES = (".xls", ".csv")   # read only to say why they cannot be graded
MAX_CANDIDATES = 10                   # a repo clone may hold hundreds of workbooks: the best ten are tried
MAX_WALK_FILES = 5_000
MAX_DEPTH = 8
_IGNORED = {"__MACOSX", "Thumbs.db", "desktop.ini", ".git", "node_modules"}


@dataclass
class Submission:
    id: str
    candidates: list[Path] = field(default_factory=list)  # workbooks to try, best first
    shown: dict[Path, str] = field(default_factory=dict)  # each candidate as the teacher knows it
    problem: str | None = None        # why nothing can be graded (then the status below)
    status: str = "unreadable"

    def name_of(self, path: Path) -> str:
        return self.shown.get(path, str(path))


def is_class_archive(path: Path) -> bool:
    """A .zip that is an archive of submissions, not a workbook under a .zip name."""
    if path.suffix.lower() != ".zip" or not path.is_file():
        return False
    try:
        with zipfile.ZipFile(path) as archive:
            return "xl/workbook.xml" not in archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return False


def is_class(paths: list[Path]) -> bool:
    """Several submissions, or a folder or archive of them (a single workbook is not a class)."""
    return len(paths) > 1 or any(p.is_dir() or is_class_archive(p) for p in paths)


def find_submissions(paths: list[Path], workdir: Path, key_sheets: list[str] | None = None) -> list[Submission]:
    """Every submission under ``paths``; archives are unpacked into ``workdir``. A PATH that does not
    exist is a usage error."""
    found: list[Submission] = []
    for number, path in enumerate(paths):
        path = Path(path).expanduser()
        if not path.exists() and not path.is_symlink():
            raise UserError(f"{path} not found")
        if path.is_dir():
            found.extend(_entries(path, path.name, workdir / str(number), key_sheets))
        elif is_class_archive(path):
            root = workdir / str(number)
            root.mkdir(parents=True)
            refused = safe_zip.extract(path, root)
            wrapper = _wrapper(path)
            inside = root.joinpath(*wrapper)
            if not inside.is_dir():
                inside, wrapper = root, ()
            found.extend(_entries(inside, path.name, workdir / f"{number}-inner", key_sheets))
            found.extend(_refused(refused, found, wrapper))
        else:
            found.append(Submission(path.name, [path], {path: str(path)}))
    _unique_ids(found)
    return found


def _wrapper(archive: Path) -> tuple[str, ...]:
    """The folders an export wraps the whole class in (class.zip → class/alice, class/bob): the
    leading folders every member's name shares."""
    with zipfile.ZipFile(archive) as book:
        names = [[p for p in n.replace("\\", "/").split("/") if p] for n in book.namelist()]
    names = [n for n in names if n and not _ignored(n[0])]
    wrapper: list[str] = []
    while names and all(len(n) > len(wrapper) + 1 for n in names) and len({n[len(wrapper)] for n in names}) == 1:
        wrapper.append(names[0][len(wrapper)])
    return tuple(wrapper)


def _entries(folder: Path, shown_as: str, workdir: Path, key_sheets) -> list[Submission]:
    found = []
    for number, entry in enumerate(sorted(folder.iterdir(), key=lambda e: e.name)):
        if _ignored(entry.name) or (entry.is_symlink() and not entry.exists()):
            continue  # the class folder is the teacher's: its links are followed (inside a submission they are not)
        shown = f"{shown_as}/{entry.name}"
        if entry.is_dir():
            found.append(_from_folder(entry.name, entry, shown, key_sheets))
        elif is_class_archive(entry):  # a student's own zip: unpacked as their folder
            inner = workdir / str(number)
            inner.mkdir(parents=True)
            try:
                refused = safe_zip.extract(entry, inner)
            except UserError as exc:
                found.append(Submission(entry.name, problem=str(exc), status="error"))
                continue
            submission = _from_folder(entry.name, inner, shown, key_sheets)
            if refused and not submission.candidates:
                submission.problem, submission.status = _refusal(refused[0]), "error"
            found.append(submission)
        elif entry.is_file():
            found.append(Submission(entry.name, [entry], {entry: shown}))
    return found


def _from_folder(name: str, folder: Path, shown: str, key_sheets) -> Submission:
    files = _walk(folder)
    ranked = sorted(files, key=lambda p: _rank(p, folder, key_sheets))
    submission = Submission(name, ranked[:MAX_CANDIDATES],
                            {p: f"{shown}/{p.relative_to(folder).as_posix()}" for p in ranked[:MAX_CANDIDATES]})
    if not ranked:
        submission.problem = f"holds no workbook ({', '.join(WORKBOOK_SUFFIXES)})"
    return submission


def _walk(folder: Path) -> list[Path]:
    files, seen = [], 0
    for top, dirs, names in os.walk(folder, followlinks=False):
        depth = len(Path(top).relative_to(folder).parts)
        dirs[:] = sorted(d for d in dirs if not _ignored(d) and depth < MAX_DEPTH)
        for name in sorted(names):
            seen += 1
            if seen > MAX_WALK_FILES:
                return files
            path = Path(top, name)
            if _ignored(name) or path.is_symlink() or not path.suffix.lower() in WORKBOOK_SUFFIXES + REFUSED_SUFFIXES:
                continue
            files.append(path)
    return files


def _rank(path: Path, folder: Path, key_sheets) -> tuple:
    refused = path.suffix.lower() in REFUSED_SUFFIXES
    matches = len(set(key_sheets) & set(sheet_names(path))) if key_sheets and not refused else 0
    return refused, -matches, len(path.relative_to(folder).parts), path.as_posix().lower()


_SHEET = re.compile(rb'<(?:\w+:)?sheet\b[^>]*?\bname="([^"]*)"')


def sheet_names(path: Path) -> list[str]:
    """The sheet names a workbook's directory lists (cheap: no sheet is read); [] when unknown."""
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo("xl/workbook.xml")
            if info.file_size > 2**20:
                return []
            text = archive.read(info)
    except (KeyError, zipfile.BadZipFile, OSError, ValueError, NotImplementedError):
        return []
    return [html.unescape(m.decode("utf-8", "replace")) for m in _SHEET.findall(text)]


def _refused(refused: list[safe_zip.Refused], found: list[Submission], wrapper: tuple) -> list[Submission]:
    """A member refused at unpacking whose submission has nothing else unpacked is an error row
    of its own; one inside a student's folder that still has workbooks is let be."""
    known = {s.id for s in found}
    rows = {}
    for member in refused:
        parts = [p for p in member.name.replace("\\", "/").split("/") if p]
        if tuple(parts[:len(wrapper)]) == wrapper and len(parts) > len(wrapper):
            parts = parts[len(wrapper):]
        top = parts[0] if parts else member.name
        if top not in known and top not in rows:
            rows[top] = Submission(top, problem=_refusal(member), status="error")
    return list(rows.values())


def _refusal(member: safe_zip.Refused) -> str:
    return f"{member.name} was not unpacked: {member.reason}"


def _ignored(name: str) -> bool:
    return name.startswith((".", "~$")) or name in _IGNORED


def _unique_ids(submissions: list[Submission]) -> None:
    seen: dict[str, int] = {}
    for submission in submissions:
        count = seen.get(submission.id, 0) + 1
        seen[submission.id] = count
        if count > 1:
            submission.id = f"{submission.id}~{count}"
