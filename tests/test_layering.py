"""Imports point one way, text core ← storage ← stages ← flows ← CLI, with no cycles, hidden
or not: every import of the project's own modules is read from the source (function-level
imports included) and checked."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

# Where each installed module's source lives (flows/, storage/ and seeds/ install inside newsdelta).
SOURCES = {"newsdelta": ROOT / "newsdelta", "newsdelta.flows": ROOT / "flows", "newsdelta.storage": ROOT / "storage",
           "newsdelta.seeds": ROOT / "seeds", "textdelta": ROOT / "textdelta"}


def modules() -> dict[str, Path]:
    out = {}
    for package, folder in SOURCES.items():
        for path in folder.rglob("*.py"):
            if "versions" in path.parts and "migrations" in path.parts:
                continue
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join([package, *parts])] = path
    return out


def imports(path: Path, known: set[str]) -> set[str]:
    """The project modules `path` imports (the most specific known module for each name)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    # A package's __init__ is a module of its own; importing a submodule is not importing it.
    return {name: {i for i in imports(path, known) if i != name and not name.startswith(i + ".")} for name, path in found.items()}


def layer(module: str) -> int:
    if module.startswith("textdelta"):
        return 0
    if module.startswith("newsdelta.storage"):
        return 2
    if module.startswith(("newsdelta.stages", "newsdelta.alerts", "newsdelta.views", "newsdelta.evaluation", "newsdelta.documents")):
        return 3
    if module.startswith("newsdelta.flows"):
        return 4
    if module in ("newsdelta.cli", "newsdelta.serve", "newsdelta.demo"):
        return 5
    return 1  # settings, errors, urls, http client, feeds, seeds: below storage and the stages


def test_no_module_imports_a_module_that_imports_it_back() -> None:
    edges = graph()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)


def test_imports_point_from_the_cli_down_to_the_text_core() -> None:
    upward = [(a, b) for a, targets in graph().items() for b in targets if layer(b) > layer(a)]
    assert upward == [], f"imports pointing up the layers: {upward}"


def test_the_text_core_imports_nothing_of_newsdelta() -> None:
    edges = graph()
    assert all(not t.startswith("newsdelta") for m, targets in edges.items() if m.startswith("textdelta") for t in targets)
