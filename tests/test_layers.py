"""The package's layers point one way. Every module of sheetprop belongs to a part, and each part
may import only the parts listed for it (imports inside functions count too). A new module must
be given a part here, so a wrong direction cannot slip in unnoticed."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sheetprop"

# part -> the parts it may import. "base" is what every part may use.
BASE = {"sheetprop.errors", "sheetprop.atomic", "sheetprop.libreoffice", "sheetprop.layout", "sheetprop.files", "sheetprop.limits",
        "sheetprop.version"}
ALLOWED = {
    "base": {"base"},
    "engine": {"base", "engine"},
    "network": {"base", "engine", "network"},
    # The spreadsheet language: references, formula tokens, formulas read back into expressions.
    "spreadsheet": {"base", "engine", "spreadsheet"},
    "record": {"base", "network", "record"},
    "fast_worksheet": {"base", "engine", "fast_worksheet"},
    "metrics_sheet": {"base", "metrics_sheet"},
    "writer": {"base", "engine", "network", "spreadsheet", "record", "fast_worksheet", "metrics_sheet", "writer"},
    "check": {"base", "engine", "network", "spreadsheet", "record", "check"},
    "mnist": {"base", "fast_worksheet", "metrics_sheet", "mnist"},
    # The faces and front doors: they join the parts and nothing imports them back.
    "app": {"base", "engine", "network", "spreadsheet", "record", "fast_worksheet", "metrics_sheet", "writer", "check",
            "mnist", "app"},
}
APPS = {"sheetprop", "sheetprop.__main__", "sheetprop.cli", "sheetprop.api", "sheetprop.readme",
        "sheetprop.autograder"}
# Third-party libraries a part must not import: torch is mnist's alone; the calculus knows no
# spreadsheet library; the writer never reads workbooks (openpyxl doubles build's memory).
FORBIDDEN = {"torch": set(ALLOWED) - {"mnist"}, "xlsxwriter": {"engine", "network"},
             "openpyxl": {"engine", "network", "spreadsheet", "writer", "fast_worksheet", "metrics_sheet"}}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def part_of(module: str) -> str:
    if module in APPS or module.startswith("sheetprop.handin"):
        return "app"
    if module in BASE:
        return "base"
    second = module.split(".")[1] if module.count(".") >= 1 else ""
    if second in ALLOWED and second not in ("base", "app"):
        return second
    raise AssertionError(f"{module} has no part in tests/test_layers.py: give it one")


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, anywhere in it, as absolute names."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # `from sheetprop.check import pool` imports the module sheetprop.check.pool.
            found.update(f"{node.module}.{alias.name}" for alias in node.names
                         if (PACKAGE.parent / f"{node.module}.{alias.name}".replace(".", "/")).with_suffix(".py").exists())
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_a_module_imports_only_the_parts_below_it(path):
    module = module_name(path)
    part = part_of(module)
    wrong = sorted(name for name in imports(path) if name.split(".")[0] == "sheetprop" and name != "sheetprop"
                   and part_of(name) not in ALLOWED[part])
    assert not wrong, f"{module} ({part}) imports {wrong}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_heavy_libraries_stay_in_their_parts(path):
    part = part_of(module_name(path))
    wrong = sorted(name for name in imports(path) if part in FORBIDDEN.get(name.split(".")[0], ()))
    assert not wrong, f"{module_name(path)} ({part}) imports {wrong}"


def test_the_rules_catch_a_wrong_direction(tmp_path):
    """The check itself can fail: check importing the writer is refused."""
    planted = PACKAGE / "check" / "_planted_for_test.py"
    planted.write_text("from sheetprop.writer import build\n")
    try:
        with pytest.raises(AssertionError, match="imports"):
            test_a_module_imports_only_the_parts_below_it(planted)
    finally:
        planted.unlink()


def test_every_module_has_a_part():
    for path in MODULES:
        part_of(module_name(path))
