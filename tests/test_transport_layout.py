"""The transport layer's shape: no import cycle inside it, type-only imports included, and
nothing imported from the layers above it (the ledger reaches it through ConnectionObserver)."""

from __future__ import annotations

import grimp
import pytest

TRANSPORT = "loadscope.engine.transport"
ABOVE = ("loadscope.engine.metrics", "loadscope.engine.diagnostics", "loadscope.engine.session")


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("loadscope")


def transport_modules(graph: grimp.ImportGraph) -> list[str]:
    return sorted(m for m in graph.modules if m == TRANSPORT or m.startswith(TRANSPORT + "."))


def test_no_import_cycle_inside_the_transport(graph: grimp.ImportGraph) -> None:
    modules = transport_modules(graph)
    assert len(modules) > 10
    cycles = [
        (a, b)
        for a in modules
        for b in modules
        if a < b and graph.chain_exists(a, b) and graph.chain_exists(b, a)
    ]
    assert cycles == []


def test_transport_imports_no_layer_above_it(graph: grimp.ImportGraph) -> None:
    upward = {
        (module, imported)
        for module in transport_modules(graph)
        for imported in graph.find_modules_directly_imported_by(module)
        if imported.startswith(ABOVE)
    }
    assert upward == set()
