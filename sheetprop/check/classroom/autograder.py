"""`sheetprop autograder gradescope`: the zip a Gradescope programming assignment takes as its
autograder, grading each submission against the teacher's key with `check`.

Gradescope's specification (gradescope-autograders.readthedocs.io/en/latest/specs/): the zip
holds ``setup.sh`` and ``run_autograder`` at its root; Gradescope extracts it into
``/autograder/source``, runs ``setup.sh`` once as root when it builds the image (with network),
copies ``run_autograder`` to ``/autograder/run_autograder`` and runs it from ``/autograder`` for
each submission, which it places in ``/autograder/submission``; the script must write
``/autograder/results/results.json``.

What the zip holds and why:

- ``sheetprop-<version>-py3-none-any.whl``: this sheetprop, built from its source tree (or the
  wheel given with ``--wheel``), installed with ``pip --no-index --no-deps``: the grader that runs
  is the one the teacher tried, whatever PyPI holds that day.
- ``requirements.txt``: sheetprop's core dependencies, read from the wheel's metadata. Gradescope's
  Ubuntu image has no numpy or openpyxl, so setup.sh installs them from PyPI at build time, or,
  with ``--wheelhouse DIR``, from the wheels in DIR bundled as ``wheels/`` (no index at all).
- the key, and ``sheetprop-autograder.json`` (points, visibility, tolerance, the key's sheets).
"""

from __future__ import annotations

import argparse
import email.parser
import json
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from sheetprop.check.classroom.budget import MAX_CHECK_SECONDS
from sheetprop.errors import UserError

ROOT_VARIABLE = "SHEETPROP_AUTOGRADER_ROOT"  # stands in for /autograder (tests, a local dry run)
CONFIG_NAME = "sheetprop-autograder.json"
KEY_NAME = "key.xlsx"
VENV_NAME = "sheetprop-venv"  # under the root: setup.sh makes it, run_autograder uses it

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (the network is on).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive  # apt asks nothing (no time zone prompt) while the image builds
ROOT="${SHEETPROP_AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
VENV="$ROOT/sheetprop-venv"
if [ ! -x "$VENV/bin/python" ]; then
  if ! python3 -c "import ensurepip, venv" 2>/dev/null; then
    apt-get update
    apt-get install -y python3 python3-venv python3-pip
  fi
  python3 -m venv "$VENV"
fi
__LIBREOFFICE__
PIP=("$VENV/bin/python" -m pip install --disable-pip-version-check)
if [ -d "$SOURCE/wheels" ]; then
  "${PIP[@]}" --no-index --find-links "$SOURCE/wheels" -r "$SOURCE/requirements.txt"
else
  "${PIP[@]}" -r "$SOURCE/requirements.txt"
fi
# The bundled sheetprop itself, never an index's.
"${PIP[@]}" --no-index --no-deps --force-reinstall "$SOURCE"/__WHEEL__
"$VENV/bin/python" -m sheetprop --version
"""

# Installing LibreOffice lets `check` grade a file saved without values (written by a program);
# a file saved by Excel, LibreOffice or Google Sheets needs none of it.
LIBREOFFICE_SH = """apt-get update
apt-get install -y --no-install-recommends libreoffice-calc-nogui
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this from /autograder for each submission (in submission/); it writes
# results/results.json.
ROOT="${SHEETPROP_AUTOGRADER_ROOT:-/autograder}"
"$ROOT/sheetprop-venv/bin/python" -m sheetprop.check.classroom.gradescope_run "$ROOT" && exit 0
# The grader could not even start: still a result the student sees, not a silent failure.
mkdir -p "$ROOT/results"
printf '%s\\n' '{"score": 0.0, "output": "the autograder could not start; ask your teacher to look at its log", "tests": []}' \\
  > "$ROOT/results/results.json"
"""


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "autograder", help="write a course platform's autograder that grades submissions with check",
        description="Write an autograder a course platform runs on every submission, grading it "
        "against the teacher's key with `sheetprop check`.")
    platforms = parser.add_subparsers(dest="platform", metavar="PLATFORM", required=True)
    gradescope = platforms.add_parser(
        "gradescope", help="the autograder.zip of a Gradescope programming assignment",
        description="Write the zip to upload as a Gradescope programming assignment's autograder "
        "(Configure Autograder → Zip file upload). It installs this sheetprop from a bundled wheel "
        "(its dependencies from PyPI when Gradescope builds the image, or from --wheelhouse) and "
        "grades the workbook in each submission against the key: one test per column of each sheet, "
        "the score in --points, the text report as the output.")
    gradescope.add_argument("--key", type=Path, required=True, metavar="KEY.xlsx",
                            help="the answer key that `build --exercise` wrote beside the student version")
    gradescope.add_argument("--out", type=Path, default=Path("autograder.zip"), metavar="ZIP",
                            help="where to write the zip (default: autograder.zip)")
    gradescope.add_argument("--points", type=_points, default=100.0,
                            help="the assignment's autograder points; a submission scores its fraction "
                            "of right cells times this (default: 100)")
    gradescope.add_argument("--visibility", choices=("visible", "after_due_date", "after_published", "hidden"),
                            default=None, help="when students see the tests (Gradescope's setting; "
                            "default: Gradescope's own, visible)")
    gradescope.add_argument("--wheel", type=Path, default=None, metavar="FILE.whl",
                            help="bundle this sheetprop wheel instead of building one from the source tree")
    gradescope.add_argument("--wheelhouse", type=Path, default=None, metavar="DIR",
                            help="bundle the wheels in DIR (e.g. from `pip download -d DIR -r "
                            "requirements.txt --only-binary=:all: --platform manylinux2014_x86_64 "
                            "--python-version 3.10`) so setup.sh installs without any index")
    gradescope.add_argument("--libreoffice", action="store_true",
                            help="also install LibreOffice in the image, to grade files saved without values")
    gradescope.add_argument("--feedback-level", choices=("location", "hint", "full"), default="full",
                            help="what each student's result gives away: location (the wrong cells, never the "
                            "answer), hint, or full (default)")
    parser.set_defaults(run=run)


def _points(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < 1e6:
        raise argparse.ArgumentTypeError(f"{text} must be a positive number of points")
    return value


def run(args) -> int:
    from sheetprop.check import DEFAULT_TOLERANCE

    wheel_dir = Path(tempfile.mkdtemp(prefix="sheetprop-wheel-"))
    try:
        wheel = args.wheel if args.wheel is not None else build_wheel(wheel_dir)
        write_gradescope_zip(args.out, args.key, wheel, points=args.points, visibility=args.visibility,
                             tolerance=DEFAULT_TOLERANCE, wheelhouse=args.wheelhouse,
                             libreoffice=args.libreoffice, feedback_level=args.feedback_level)
    finally:
        shutil.rmtree(wheel_dir, ignore_errors=True)
    print(f"wrote {args.out}: upload it as the autograder of a Gradescope programming assignment "
          f"worth {args.points:g} points")
    return 0


def key_sheets(key: Path) -> list[str]:
    """The lr sheets of an answer key, from its record; a file that is no key is a UserError."""
    from sheetprop.check.read.workbook_input import open_workbook
    from sheetprop.record import read_exercise_record

    formulas, _ = open_workbook(Path(key))
    record = read_exercise_record(formulas)
    if record is None:
        raise UserError(f"{Path(key).name} is not an answer key written by `sheetprop build --exercise` "
                        "(it has no _sheetprop record)")
    return list(record["sheets"])


def source_tree() -> Path | None:
    """The folder holding sheetprop's pyproject.toml: this package's checkout (None when installed)."""
    import sheetprop

    root = Path(sheetprop.__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() else None


def build_wheel(folder: Path) -> Path:
    """Build sheetprop's wheel from a copy of its source tree (so no build/ or egg-info lands in
    the checkout) with the setuptools already installed: no index, no network. Installed (no
    source tree), the wheel is packed from the installed package's own files instead."""
    root = source_tree()
    if root is None:
        return wheel_from_installed(folder)
    copy = folder / "source"
    copy.mkdir()
    for name in _tree_parts(root):
        source = root / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif source.is_file():
            shutil.copy2(source, copy / name)
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
               "--disable-pip-version-check", "--quiet", "--wheel-dir", str(folder), str(copy)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        raise UserError("building sheetprop's wheel took over 10 minutes; give a wheel with --wheel") from None
    wheels = sorted(folder.glob("sheetprop-*.whl"))
    if done.returncode != 0 or not wheels:
        detail = (done.stderr.strip().splitlines() or ["no wheel written"])[-1]
        raise UserError(f"cannot build sheetprop's wheel with pip and setuptools ({detail}); "
                        "give a wheel with --wheel")
    return wheels[-1]


def wheel_from_installed(folder: Path) -> Path:
    """The wheel of the installed sheetprop, packed from its installed files and metadata (pure
    Python: no setuptools, no index): the grader that runs is the one installed here."""
    import base64
    import hashlib
    from importlib import metadata

    import sheetprop

    try:
        dist = metadata.distribution("sheetprop")
    except metadata.PackageNotFoundError:
        raise UserError("sheetprop runs from neither a source tree nor an installed package, so no wheel "
                        "can be made here; give one with --wheel") from None
    package = Path(sheetprop.__file__).resolve().parent
    files = [f for f in dist.files or [] if f.parts[:1] == ("sheetprop",) and "__pycache__" not in f.parts
             and f.suffix != ".pyc"]
    if not files or Path(files[0].locate()).resolve().parents[len(files[0].parts) - 2] != package:
        raise UserError(f"the installed sheetprop {dist.version} is not the one running ({package}); "
                        "give a wheel with --wheel")
    info = f"sheetprop-{dist.version}.dist-info"
    wheel = folder / f"sheetprop-{dist.version}-py3-none-any.whl"
    records = []
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        def add(name: str, data: bytes) -> None:
            archive.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), data,
                             compress_type=zipfile.ZIP_DEFLATED)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            records.append(f"{name},sha256={digest},{len(data)}")

        for file in sorted(files, key=lambda f: f.as_posix()):
            add(file.as_posix(), Path(file.locate()).read_bytes())
        add(f"{info}/METADATA", (dist.read_text("METADATA") or "").encode("utf-8"))
        add(f"{info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: sheetprop\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        for extra in ("entry_points.txt", "top_level.txt"):
            text = dist.read_text(extra)
            if text:
                add(f"{info}/{extra}", text.encode("utf-8"))
        records.append(f"{info}/RECORD,,")
        add_record = "\n".join(records) + "\n"
        archive.writestr(f"{info}/RECORD", add_record)
    return wheel


def _tree_parts(root: Path) -> list[str]:
    """What the build reads: pyproject.toml, the readme, the package and its mapped folders."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    readme = project.get("project", {}).get("readme")
    mapped = project.get("tool", {}).get("setuptools", {}).get("package-dir", {}).values()
    return ["pyproject.toml", "sheetprop", *([readme] if isinstance(readme, str) else []),
            *(str(p).split("/")[0] for p in mapped), *(p.name for p in root.glob("LICENSE*"))]


def requirements(wheel: Path) -> list[str]:
    """The wheel's core dependencies (Requires-Dist without an extra), markers kept."""
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        headers = email.parser.Parser().parsestr(archive.read(metadata).decode("utf-8"), headersonly=True)
    return [r for r in headers.get_all("Requires-Dist") or [] if "extra ==" not in r.replace("extra==", "extra ==")]


def write_gradescope_zip(out: Path, key: Path, wheel: Path, points: float = 100.0, visibility: str | None = None,
                         tolerance: float | None = None, wheelhouse: Path | None = None,
                         libreoffice: bool = False, feedback_level: str = "full") -> Path:
    from sheetprop.atomic import atomic_output

    if not Path(wheel).is_file() or not Path(wheel).name.startswith("sheetprop-") or Path(wheel).suffix != ".whl":
        raise UserError(f"{wheel} is not a sheetprop wheel (sheetprop-VERSION-py3-none-any.whl)")
    if wheelhouse is not None and not Path(wheelhouse).is_dir():
        raise UserError(f"--wheelhouse {wheelhouse} is not a folder of wheels")
    config = {"platform": "gradescope", "key": KEY_NAME, "key_sheets": key_sheets(key), "points": points,
              "visibility": visibility, "tolerance": tolerance, "feedback_level": feedback_level, "time_limit": MAX_CHECK_SECONDS}
    # The wheel's file name goes into a script run as root: quoted, so "(1)" or "$(…)" is a name.
    setup = SETUP_SH.replace("__WHEEL__", shlex.quote(Path(wheel).name)).replace("__LIBREOFFICE__", LIBREOFFICE_SH * libreoffice)
    with atomic_output(Path(out)) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        _add_text(archive, "setup.sh", setup, executable=True)
        _add_text(archive, "run_autograder", RUN_AUTOGRADER, executable=True)
        _add_text(archive, "requirements.txt", "".join(f"{r}\n" for r in requirements(wheel)))
        _add_text(archive, CONFIG_NAME, json.dumps(config, indent=2) + "\n")
        archive.write(key, KEY_NAME)
        archive.write(wheel, Path(wheel).name)
        if wheelhouse is not None:
            archive.writestr(zipfile.ZipInfo("wheels/"), "")  # the folder setup.sh looks for, even if empty
            for extra in sorted(Path(wheelhouse).glob("*.whl")):
                archive.write(extra, f"wheels/{extra.name}")
    return Path(out)


def _add_text(archive: zipfile.ZipFile, name: str, text: str, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    # Unix permissions in the high bits: unzip keeps a script executable.
    info.external_attr = ((0o755 if executable else 0o644) | stat.S_IFREG) << 16
    archive.writestr(info, text.encode("utf-8"))
