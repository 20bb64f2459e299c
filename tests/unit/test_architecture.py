"""The package's imports point down (docs/architecture.md): no cycles, no layer reaching up.

Every `import` and `from ... import` counts, at any depth (inside functions and
`if TYPE_CHECKING:` blocks too): an import that runs late is still a dependency
a reader has to follow.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = "analytics_gateway"
ROOT = Path(__file__).resolve().parents[2] / PACKAGE

# layers that serve requests, and what sits on top of everything
GRAPHQL_AND_HTTP = ("http", "schema", "resolvers", "context")
WIRING = ("app", "cli", "services")
# feature packages and services: pure cores in thin shells, below the request layers
BELOW_REQUESTS = (
    "alerting", "dashboards", "ml", "backends", "subscriptions", "ingest", "self_monitoring",
    "audit", "privacy", "crypto", "behaviour", "kpis", "reports",
)  # fmt: skip
DRIVERS = ("redis", "duckdb", "elasticsearch", "influxdb_client", "aiohttp", "sqlite3")

Graph = dict[str, set[str]]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    return {
        _module_name(path): path
        for path in ROOT.rglob("*.py")
        if "dist" not in path.relative_to(ROOT).parts
    }


def _imported(module: str, is_package: bool, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    """Every name `node` imports, absolute (`from a import b` gives `a` and `a.b`)."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    base = node.module or ""
    if node.level:
        parent = module.split(".") if is_package else module.split(".")[:-1]
        parent = parent[: len(parent) - (node.level - 1)]
        base = ".".join([*parent, base] if base else parent)
    yield base
    for alias in node.names:
        yield f"{base}.{alias.name}"


def import_graph() -> tuple[Graph, dict[str, set[str]]]:
    """Module -> the package's modules it imports; module -> every top-level package it imports."""
    sources = _sources()
    graph: Graph = {}
    external: dict[str, set[str]] = {}
    for module, path in sources.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        ours: set[str] = set()
        theirs: set[str] = set()
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for name in _imported(module, path.name == "__init__.py", node):
                if name.split(".")[0] != PACKAGE:
                    theirs.add(name.split(".")[0])
                    continue
                while name and name not in sources:  # `from a import b`: b may be a name in a
                    name = name.rpartition(".")[0]
                if name and name != module:
                    ours.add(name)
        graph[module] = ours
        external[module] = theirs
    return graph, external


def cycles(graph: Graph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph.get(nxt, ())))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def _area(module: str) -> str:
    """The top-level module or package under analytics_gateway: `http`, `ingest_buffer`..."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _in(module: str, areas: tuple[str, ...]) -> bool:
    area = _area(module)
    return any(area == a or area.startswith(a + "_") for a in areas)


def upward_imports(graph: Graph) -> list[str]:
    """Imports that break the layering, as `importer -> imported` lines."""
    wrong = []
    for module, imported in sorted(graph.items()):
        for target in sorted(imported):
            if _in(module, BELOW_REQUESTS) and _in(target, GRAPHQL_AND_HTTP + WIRING):
                wrong.append(f"{module} -> {target}")
            if _area(module) == "schema" and _area(target) == "backends":
                wrong.append(f"{module} -> {target}")
    return wrong


def test_the_package_has_no_import_cycle() -> None:
    graph, _ = import_graph()
    assert len(graph) > 100, "the walk found the package's modules"
    assert cycles(graph) == []


def test_no_layer_imports_one_above_it() -> None:
    graph, _ = import_graph()
    assert upward_imports(graph) == []


def test_schema_and_resolvers_never_touch_a_store_driver() -> None:
    _, external = import_graph()
    offenders = sorted(
        f"{module} imports {driver}"
        for module, packages in external.items()
        if _area(module) in {"schema", "resolvers"}
        for driver in packages & set(DRIVERS)
    )
    assert offenders == []


# -- the walk itself can fail: it finds what the rules forbid --------------------------------


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"p.a": {"p.b"}, "p.b": {"p.c"}, "p.c": {"p.a"}, "p.d": {"p.a"}}, [["p.a", "p.b", "p.c"]]),
        ({"p.a": {"p.b"}, "p.b": set()}, []),
    ],
)
def test_cycles_are_found(graph: Graph, expected: list[list[str]]) -> None:
    assert cycles(graph) == expected


def test_upward_imports_are_found() -> None:
    graph: Graph = {
        f"{PACKAGE}.alerting.routes": {f"{PACKAGE}.http.handlers"},
        f"{PACKAGE}.ingest_buffer": {f"{PACKAGE}.resolvers.common"},
        f"{PACKAGE}.backends.broker": {f"{PACKAGE}.services"},
        f"{PACKAGE}.schema.dashboards": {f"{PACKAGE}.backends.base"},
        f"{PACKAGE}.http.metrics": {f"{PACKAGE}.ingest"},  # down: fine
    }
    assert upward_imports(graph) == [
        f"{PACKAGE}.alerting.routes -> {PACKAGE}.http.handlers",
        f"{PACKAGE}.backends.broker -> {PACKAGE}.services",
        f"{PACKAGE}.ingest_buffer -> {PACKAGE}.resolvers.common",
        f"{PACKAGE}.schema.dashboards -> {PACKAGE}.backends.base",
    ]


def test_imports_inside_functions_count(tmp_path: Path) -> None:
    source = "def late():\n    from analytics_gateway.http import handlers\n"
    tree = ast.parse(source)
    nodes = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    names = {name for node in nodes for name in _imported(f"{PACKAGE}.ml.x", False, node)}
    assert f"{PACKAGE}.http.handlers" in names
