"""The package's import graph has no cycles: each module's dependencies form a layering.

Lazy (function-level) imports count too: a cycle through one still ties two modules'
designs together, and it is only a matter of time before someone hoists it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest_scaling

PACKAGE = Path(pytest_scaling.__file__).resolve().parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """module → the package modules it imports (anywhere in the file)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path [a, b, ..., a], or None (depth-first search with colours)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def _is_package_init(graph: dict[str, set[str]], a: str, b: str) -> bool:
    """A package's __init__ re-exporting its submodules, which import siblings by full name, is no cycle."""
    return b.startswith(a + ".") or a.startswith(b + ".")


def test_no_import_cycles():
    graph = import_graph()
    # A submodule reaching its own package's __init__ (e.g. estimators.x → estimators) is the
    # same layer; drop those edges and look for real cycles.
    layered = {a: {b for b in targets if not _is_package_init(graph, a, b)} for a, targets in graph.items()}
    assert find_cycle(layered) is None, " → ".join(find_cycle(layered))


def test_find_cycle_finds_one():
    """The check itself can fail: the old executors ↔ ray_executor circle is reported."""
    graph = {"executors": {"ray_executor", "runs"}, "ray_executor": {"executors"}, "runs": set()}
    assert find_cycle(graph) == ["executors", "ray_executor", "executors"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
