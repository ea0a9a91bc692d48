#!/usr/bin/env python3
"""The package's import graph: which module imports which, in layers from the ground floor up.

Every import of a project module counts, including those inside functions (made there to keep
``transcribe --help`` fast): a cycle is a cycle wherever its imports stand. Layer 0 holds modules
that import no other project module; a module's layer is one above the highest it imports.

    python scripts/import_graph.py            # layers, one line per module
    python scripts/import_graph.py --dot      # Graphviz, for a picture

Exits 1 when the graph has a cycle. tests/test_structure.py checks the same.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "transcribe"


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(root: Path = PACKAGE) -> dict[str, dict[str, bool]]:
    """module → {imported project module: True if any import of it stands inside a function}."""
    modules = {module_name(path, root): path for path in sorted(root.rglob("*.py"))}
    graph: dict[str, dict[str, bool]] = {name: {} for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node, in_function in _walk(tree, False):
            for target in _targets(node, package, modules):
                if target != name:
                    graph[name][target] = graph[name].get(target, True) and in_function
    return graph


def _walk(node: ast.AST, in_function: bool):
    for child in ast.iter_child_nodes(node):
        inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child, in_function
        yield from _walk(child, inside)


def _targets(node: ast.AST, package: str, modules: dict) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name in modules]
    if node.level:
        base = package.split(".")
        base = base[: len(base) - node.level + 1]
        stem = ".".join(base + ([node.module] if node.module else []))
    else:
        stem = node.module or ""
    found = []
    for alias in node.names:  # "from . import audio" names a module; "from .audio import load" a name in one
        if f"{stem}.{alias.name}" in modules:
            found.append(f"{stem}.{alias.name}")
        elif stem in modules:
            found.append(stem)
    return found


def cycles(graph: dict[str, dict[str, bool]]) -> list[list[str]]:
    """Each cycle found by depth-first search, as the modules on it (the first repeated at the end)."""
    found, state, path = [], {}, []

    def visit(name: str) -> None:
        state[name] = "open"
        path.append(name)
        for target in sorted(graph[name]):
            if state.get(target) == "open":
                found.append(path[path.index(target) :] + [target])
            elif target not in state:
                visit(target)
        path.pop()
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name)
    return found


def layers(graph: dict[str, dict[str, bool]]) -> dict[str, int]:
    """Each module's layer (the graph must have no cycle)."""
    memo: dict[str, int] = {}

    def layer(name: str) -> int:
        if name not in memo:
            memo[name] = 1 + max((layer(target) for target in graph[name]), default=-1)
        return memo[name]

    return {name: layer(name) for name in graph}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dot", action="store_true", help="print the graph in Graphviz's dot language")
    args = parser.parse_args(argv)
    graph = imports()
    found = cycles(graph)
    if found:
        for cycle in found:
            print("cycle: " + " -> ".join(cycle))
        return 1
    if args.dot:
        print("digraph transcribe {\n  rankdir=BT;")
        for name, targets in sorted(graph.items()):
            for target, lazy in sorted(targets.items()):
                print(f'  "{name}" -> "{target}"' + (" [style=dashed];" if lazy else ";"))
        print("}")
        return 0
    by_layer = layers(graph)
    for level in range(max(by_layer.values()) + 1):
        names = sorted(name.removeprefix("transcribe.") or "transcribe" for name, at in by_layer.items() if at == level)
        print(f"{level:2d}  {' '.join(names)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
