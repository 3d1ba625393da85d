"""The package layout stays as the developers' guide wants it: no import cycle between the packages of src/,
and no module over 500 lines."""
from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from tests.helpers import ROOT

SRC = ROOT / "src"
MAX_LINES = 500


def _package(path: Path) -> str:
    parts = path.relative_to(SRC).parts
    return parts[0] if len(parts) > 1 else path.stem


def package_imports() -> dict[str, set[str]]:
    """``{package: other src packages it imports}`` over every import statement (inside functions too)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [node.module] if isinstance(node, ast.ImportFrom) and node.module else (
                [alias.name for alias in node.names] if isinstance(node, ast.Import) else [])
            for name in names:
                if name.startswith("src.") and name.split(".")[1] != _package(path):
                    graph[_package(path)].add(name.split(".")[1])
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as ``[a, b, ..., a]``, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt] if nxt in path else [node, nxt]
            if nxt not in state and (cycle := visit(nxt, [*path, nxt])):
                return cycle
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start, [start])):
            return cycle
    return None


def test_no_package_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]  # the check itself works
    assert find_cycle(package_imports()) is None


def test_no_module_over_500_lines() -> None:
    lines = {str(p.relative_to(ROOT)): len(p.read_text().splitlines()) for p in SRC.rglob("*.py")}
    long = {path: n for path, n in lines.items() if n > MAX_LINES}
    assert not long, f"split these by concern: {long}"


def test_the_gallery_owns_the_store_and_scoring_sits_below():
    """Only the gallery (and the benchmarks that measure the store) import the vector store among the packages
    that use a gallery; the acceptance rule sits below both the gallery and evaluation."""
    graph = package_imports()
    assert "vector_store" not in graph["serve"] and "vector_store" not in graph["cluster"]
    assert "evaluation" not in graph["gallery"] and "gallery" not in graph["evaluation"]
    assert graph["scoring"] == set() and "scoring" in graph["gallery"] and "scoring" in graph["evaluation"]
