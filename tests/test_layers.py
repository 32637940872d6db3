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


def is_module(name: str) -> bool:
    """Whether a dotted name is a module or a package of ours (not a function or class in one)."""
    place = PACKAGE.parent / name.replace(".", "/")
    return place.with_suffix(".py").exists() or (place / "__init__.py").exists()


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, anywhere in it, as absolute names."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # `from sheetprop.check.classroom import pool` imports the module sheetprop.check.classroom.pool.
            found.update(f"{node.module}.{alias.name}" for alias in node.names
                         if is_module(f"{node.module}.{alias.name}"))
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


def imported_modules(path: Path) -> set[str]:
    """The modules ``path`` imports by name, inside functions too: ``from sheetprop import engine``
    names ``sheetprop.engine``, not the front ``sheetprop`` (whose ``__init__`` any import runs
    first, as every package's does)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            submodules = {f"{node.module}.{alias.name}" for alias in node.names}
            submodules = {name for name in submodules if is_module(name)}
            found.update(submodules)
            if len(submodules) < len(node.names):
                found.add(node.module)
    return found


def import_graph(modules=MODULES) -> dict[str, set[str]]:
    """Module -> the sheetprop modules it imports (inside functions too). Importing a package runs
    its ``__init__``, so a package counts as its ``__init__`` module."""
    names = {module_name(path) for path in MODULES}
    graph = {}
    for path in modules:
        targets = set()
        for name in imported_modules(path):
            while name and name not in names:  # `from sheetprop.check.judge.table import X` -> the module
                name = name.rpartition(".")[0]
            if name and name != module_name(path):
                targets.add(name)
        graph[module_name(path)] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm, iteratively)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        found.append(sorted(group))
    return found


def test_no_import_cycle_among_the_modules():
    assert cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_planted_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
