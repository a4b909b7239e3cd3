"""The house rules of the code base, checked: ``edge``, ``broker``, ``hub`` and ``bridge``
never import each other (they share only ``contract``), ``contract`` imports none of them,
and no module imports itself back through a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("contract", "edge", "broker", "hub", "bridge", "firmware_stubs", "villagewatch")
#: The deployable parts: each may import ``contract`` and never another one of these.
PARTS = ("edge", "broker", "hub", "bridge")


def module_graph() -> dict[str, set[str]]:
    """Our modules and the modules of ours each one imports (absolute imports)."""
    files = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            name = ".".join(path.relative_to(REPO).with_suffix("").parts)
            files[name.removesuffix(".__init__")] = path

    def ours(module: str) -> str | None:
        while module and module not in files:
            module = module.rpartition(".")[0]
        return module or None

    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                deps.add(ours(node.module))
            elif isinstance(node, ast.Import):
                deps.update(ours(alias.name) for alias in node.names)
        graph[name] = {d for d in deps if d and d != name}
    return graph


def imports_between(graph: dict[str, set[str]], source: str, target: str) -> list[str]:
    return sorted(
        f"{m} -> {d}"
        for m, deps in graph.items()
        if m.split(".")[0] == source
        for d in deps
        if d.split(".")[0] == target
    )


def test_edge_broker_and_hub_never_import_each_other():
    graph = module_graph()
    for source in PARTS:
        for target in PARTS:
            if source != target:
                assert imports_between(graph, source, target) == [], (source, target)


def test_the_contract_depends_on_nothing_of_ours_but_itself():
    graph = module_graph()
    for other in ("edge", "broker", "hub", "bridge", "villagewatch", "firmware_stubs"):
        assert imports_between(graph, "contract", other) == []


def test_firmware_imports_nothing_a_microcontroller_lacks():
    graph = module_graph()
    for other in ("contract", "edge", "broker", "hub", "bridge", "villagewatch"):
        assert imports_between(graph, "firmware_stubs", other) == []


def test_no_import_cycles():
    graph = module_graph()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                cycles.append([*path[path.index(dep) :], dep])
            elif dep not in state:
                visit(dep, [*path, dep])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert len(graph) > 50  # the walk really saw the code base
    assert cycles == []
