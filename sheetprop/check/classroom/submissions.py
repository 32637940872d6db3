"""What a class hands in, as submissions: each PATH given to `check` is a workbook, a folder or a
.zip (as course platforms export them). In a folder or zip each top-level entry is one submission
(a student's folder, repo clone, zip, or a single file) and its id is the entry's name. A
submission with several workbooks lists them best first: the ones whose sheets the key names,
then by depth and name; grading takes the first that holds a backprop table and names the others.
"""

from __future__ import annotations

import contextlib
import html
import os
import re
import shutil
import tempfile
import time
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
    """Every submission under ``paths``; archives are unpacked into ``workdir``, all within one
    budget (safe_zip.Budget). A PATH that does not exist is a usage error."""
    found: list[Submission] = []
    budget = safe_zip.Budget()
    for number, path in enumerate(paths):
        path = Path(path).expanduser()
        if not path.exists() and not path.is_symlink():
            raise UserError(f"{path} not found")
        if path.is_dir():
            found.extend(_entries(path, path.name, workdir / str(number), key_sheets, budget, True))
        elif is_class_archive(path):
            root = workdir / str(number)
            root.mkdir(parents=True)
            refused = safe_zip.extract(path, root, budget)
            wrapper = _wrapper(path)
            inside = root.joinpath(*wrapper)
            if not inside.is_dir():
                inside, wrapper = root, ()
            found.extend(_entries(inside, path.name, workdir / f"{number}-inner", key_sheets, budget, False))
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


def _entries(folder: Path, shown_as: str, workdir: Path, key_sheets, budget: safe_zip.Budget,
             handed_in: bool) -> list[Submission]:
    found = []
    for number, entry in enumerate(sorted(folder.iterdir(), key=lambda e: e.name)):
        if _ignored(entry.name):
            continue
        if entry.is_symlink() and not _exists(entry):  # dangling or a loop: still a row, so no student vanishes
            found.append(Submission(entry.name, problem=f"{entry.name} is a link to nothing that can be read "
                                    "(dangling, or a loop)", status="unreadable"))
            continue
        # The class folder is the teacher's: its links are followed (inside a submission they are not).
        shown = f"{shown_as}/{entry.name}"
        if entry.is_dir():
            found.append(_from_folder(entry.name, entry, shown, key_sheets))
        elif is_class_archive(entry):  # a student's own zip: unpacked as their folder
            inner = workdir / str(number)
            inner.mkdir(parents=True)
            try:
                refused = safe_zip.extract(entry, inner, budget, handed_in)
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


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # a loop of links: "too many levels of symbolic links"
        return False


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
    known = {s.id: s for s in found}
    rows = {}
    for member in refused:
        parts = [p for p in member.name.replace("\\", "/").split("/") if p]
        if tuple(parts[:len(wrapper)]) == wrapper and len(parts) > len(wrapper):
            parts = parts[len(wrapper):]
        top = parts[0] if parts else member.name
        if top in known and not known[top].candidates and known[top].status != "error":
            known[top].problem, known[top].status = _refusal(member), "error"  # its folder was made, its file not
        elif top not in known and top not in rows:
            rows[top] = Submission(top, problem=_refusal(member), status="error")
    return list(rows.values())


def _refusal(member: safe_zip.Refused) -> str:
    return f"{member.name} was not unpacked: {member.reason}"


def _ignored(name: str) -> bool:
    return name.startswith((".", "~$")) or name in _IGNORED


def _unique_ids(submissions: list[Submission]) -> None:
    """Every id unique: a second alice.xlsx becomes alice.xlsx~2, or ~3 where a submission is
    already named alice.xlsx~2."""
    taken = {s.id for s in submissions}
    seen: set[str] = set()
    for submission in submissions:
        if submission.id in seen:
            count = 2
            while f"{submission.id}~{count}" in taken:
                count += 1
            submission.id = f"{submission.id}~{count}"
            taken.add(submission.id)
        seen.add(submission.id)


WORK_PREFIX = "sheetprop-class-"
STALE_AFTER_S = 24 * 3600


@contextlib.contextmanager
def work_folder():
    """The folder a class is unpacked into, removed after; named by this process, so that one a
    killed run left behind is found by ``sweep_stale``."""
    folder = tempfile.mkdtemp(prefix=f"{WORK_PREFIX}{os.getpid()}-")
    try:
        yield Path(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def sweep_stale(root: str | None = None) -> list[Path]:
    """Remove the class folders of earlier runs that are gone (killed with -9): only ours, by
    name and owner, whose process no longer runs, or older than a day."""
    removed = []
    root = Path(root or tempfile.gettempdir())
    try:
        entries = list(root.iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = re.fullmatch(rf"{WORK_PREFIX}(\d+)-\w+|{WORK_PREFIX}\w+", entry.name)
        if match is None or entry.is_symlink():
            continue
        try:
            info = entry.stat()
        except OSError:
            continue
        if not entry.is_dir() or info.st_uid != os.getuid():
            continue
        pid = int(match.group(1)) if match.group(1) else None
        if (pid is not None and pid != os.getpid() and not _running(pid)) or time.time() - info.st_mtime > STALE_AFTER_S:
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True
