"""What pip installs: every subpackage, and one version."""

import sys
from pathlib import Path

import sheetprop

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_subpackage_is_listed_for_installation():
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "sheetprop").rglob("__init__.py")}
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    assert found <= listed, f"add {sorted(found - listed)} to pyproject's packages"


def test_the_version_has_one_source():
    assert "version" not in PYPROJECT["project"] and "version" in PYPROJECT["project"]["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "sheetprop.version.__version__"}
    from sheetprop.version import __version__

    assert sheetprop.__version__ is __version__ and __version__.count(".") == 2


def test_the_core_install_stays_light():
    core = " ".join(PYPROJECT["project"]["dependencies"])
    assert "torch" not in core and "pandas" not in core
