"""The import graph of `loadscope`, type-checking imports included: no module takes part in an
import cycle, and the console imports only the engine's public API. And no class in `engine/`
or `tui/` is over 300 lines, no module over 800."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import grimp
import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("loadscope", exclude_type_checking_imports=False)


def imports_of(graph: grimp.ImportGraph, module: str) -> set[str]:
    return set(graph.find_modules_directly_imported_by(module))


def find_cycle(graph: grimp.ImportGraph, modules: Iterable[str]) -> list[str] | None:
    """One import cycle as a path that ends where it starts, or None (a depth-first search
    that finds an edge back to a module still on its path)."""
    done: set[str] = set()
    for root in sorted(modules):
        if root in done:
            continue
        path = [root]
        on_path = {root}
        pending = [iter(sorted(imports_of(graph, root)))]
        while pending:
            module = next(pending[-1], None)
            if module is None:
                pending.pop()
                done.add(path[-1])
                on_path.discard(path.pop())
            elif module in on_path:
                return [*path[path.index(module) :], module]
            elif module not in done:
                path.append(module)
                on_path.add(module)
                pending.append(iter(sorted(imports_of(graph, module))))
    return None


def test_the_cycle_finder_reports_a_cycle_and_passes_a_tree() -> None:
    graph = grimp.ImportGraph()
    for name in ("a", "a.b", "a.c", "a.d"):
        graph.add_module(name)
    graph.add_import(importer="a.b", imported="a.c")
    graph.add_import(importer="a.c", imported="a.d")
    assert find_cycle(graph, graph.modules) is None
    graph.add_import(importer="a.d", imported="a.b")
    assert find_cycle(graph, graph.modules) == ["a.b", "a.c", "a.d", "a.b"]


def test_no_import_cycles(graph: grimp.ImportGraph) -> None:
    assert graph.modules, "grimp found no modules under loadscope"
    cycle = find_cycle(graph, graph.modules)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def is_private(module: str) -> bool:
    return any(part.startswith("_") and part != "__init__" for part in module.split("."))


def test_the_console_imports_only_the_engines_public_api(graph: grimp.ImportGraph) -> None:
    console = {"loadscope.tui", *graph.find_descendants("loadscope.tui")}
    assert len(console) > 10
    private = sorted(
        f"{importer} -> {imported}"
        for importer in console
        for imported in imports_of(graph, importer)
        if imported.startswith("loadscope.engine") and is_private(imported)
    )
    assert private == []


MAX_CLASS_LINES = 300
MAX_MODULE_LINES = 800


def sizes_over_limits(root: Path) -> list[str]:
    """Every class over MAX_CLASS_LINES and module over MAX_MODULE_LINES under `root`."""
    found = []
    for path in sorted(root.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > MAX_MODULE_LINES:
            found.append(f"{path}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef) and node.end_lineno is not None:
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_CLASS_LINES:
                    found.append(f"{path}:{node.lineno}: class {node.name}, {lines} lines")
    return found


def test_the_size_check_finds_a_long_class_and_a_long_module(tmp_path: Path) -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_CLASS_LINES))
    (tmp_path / "long.py").write_text(f"class Long:\n{body}\n" + "\n" * MAX_MODULE_LINES)
    (tmp_path / "short.py").write_text("class Short:\n    pass\n")
    found = sizes_over_limits(tmp_path)
    assert len(found) == 2 and all("long.py" in line for line in found), found


@pytest.mark.parametrize("folder", ["engine", "tui"])
def test_no_class_over_300_lines_and_no_module_over_800(folder: str) -> None:
    assert sizes_over_limits(REPO / folder) == []
