"""The package's import graph has no cycle, counting every import (a function's own, too), so a
lazy import cannot hide one; only imports for type checking are left out."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "mockgateway"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(n) for n in ast.walk(node)}
    return skipped


def import_graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        tree = ast.parse(path.read_text())
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        skipped = _type_checking_nodes(tree)
        deps: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                deps |= {f"{target}.{a.name}" for a in node.names} & files.keys()
                if target in files:
                    deps.add(target)
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names} & files.keys()
        graph[name] = deps - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work: list[tuple[str, list[str]]] = [(root, sorted(graph[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, todo = work[-1]
            if todo:
                nxt = todo.pop()
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, sorted(graph.get(nxt, ()))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_a_lazy_import_counts_as_an_edge(tmp_path: Path) -> None:
    graph = import_graph()
    assert "mockgateway.checker._cli" in graph["mockgateway._check_args"]  # imported in _run


def test_the_package_has_no_import_cycle() -> None:
    assert cycles(import_graph()) == []


def test_the_web_edge_is_its_own_package_and_the_core_never_imports_it() -> None:
    graph = import_graph()
    core = [m for m in graph if not m.startswith("mockgateway.web") and m != "mockgateway._server"]
    leaks = sorted(m for m in core if any(d.startswith("mockgateway.web") for d in graph[m]))
    assert leaks == [], leaks


CORE = (
    "mockgateway._gateway",
    "mockgateway._lifecycle",
    "mockgateway._accounts",
    "mockgateway._delivery",
    "mockgateway._timeline",
    "mockgateway._jobs",
    "mockgateway._billing",
)
WIRE = {"ApiError", "gateway_error", "apim_error", "wire_error", "bad_request"}


def _names_used(module: str) -> set[str]:
    path = PACKAGE.parent / (module.replace(".", "/") + ".py")
    if not path.exists():  # a package: its __init__
        path = PACKAGE.parent / module.replace(".", "/") / "__init__.py"
    tree = ast.parse(path.read_text())
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names
    }


def test_the_core_raises_domain_errors_and_knows_no_http() -> None:
    graph = import_graph()
    for module in CORE:
        assert not any(d.startswith("aiohttp") for d in graph[module]), module
        assert not _names_used(module) & WIRE, (module, _names_used(module) & WIRE)
    store = [m for m in graph if m.startswith("mockgateway.store")]
    assert store
    for module in store:
        assert not _names_used(module) & WIRE, module


def test_error_bodies_are_built_only_in_the_table() -> None:
    """Every wire error body comes from a function of mockgateway._errors: no module builds one
    from its parts (a status number and literal strings)."""
    builders = {"gateway_error", "apim_error", "ApiError"}
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "_errors.py" and path.parent == PACKAGE:
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            called = isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            if called and node.func.id in builders:  # type: ignore[attr-defined]
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert offenders == []
