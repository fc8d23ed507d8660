"""The import graph reads top-down: no cycle between blurb_lab's parts, and the validator needs no torch."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("blurb_lab", "hydra_plugins")


def part_of(module: str) -> str | None:
    """The node a module belongs to: a subpackage or top-level module of blurb_lab (blurb_lab.data,
    blurb_lab.train) or one Hydra plugin (hydra_plugins.blurb_optuna_sweeper); None outside ours."""
    parts = module.split(".")
    if parts[0] not in PACKAGES or len(parts) < 2:
        return None
    return ".".join(parts[:2])


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> list[tuple[str, int]]:
    """Every module a file imports, at the top or inside a function, with its line."""
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            # `from blurb_lab import tracking` imports the module blurb_lab.tracking
            found += [(f"{base}.{alias.name}" if base in PACKAGES else base, node.lineno) for alias in node.names]
    return found


def import_graph() -> dict[str, dict[str, list[str]]]:
    """node -> node it imports -> the places (file:line) that import it."""
    graph: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            source = part_of(module_name(path))
            for target, line in imported(path):
                node = part_of(target)
                if source and node and node != source:
                    graph[source][node].append(f"{path.relative_to(REPO)}:{line}")
    return graph


def cycles(graph: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, {}):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return out


def test_the_walk_sees_function_level_imports():
    graph = import_graph()
    assert "blurb_lab.models" in graph["blurb_lab.train"]  # imported inside prepare()
    assert "blurb_lab.report" in graph["hydra_plugins.blurb_optuna_sweeper"]  # inside trials_evp()


def test_cycle_finder_finds_a_cycle():
    graph = {"a": {"b": ["x:1"]}, "b": {"c": ["x:2"]}, "c": {"a": ["x:3"]}, "d": {"a": ["x:4"]}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_no_import_cycle_between_parts():
    graph = import_graph()
    found = cycles(graph)
    evidence = [
        f"{a} -> {b} ({', '.join(graph[a][b][:3])})" for component in found for a in component for b in component
        if b in graph.get(a, {})
    ]  # fmt: skip
    assert not found, "import cycles: " + "; ".join(evidence)


def test_shared_names_match_the_classes():
    from blurb_lab.tasks import TASK_TYPES
    from blurb_lab.types import TASK_TYPE_NAMES

    assert tuple(TASK_TYPES) == TASK_TYPE_NAMES
