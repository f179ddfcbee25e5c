"""The store package's shape: its record modules import only downward, and no one outside it reaches inside.

Read from the source with `ast`, so a record module that imports the package's top (the circle
the one-class store had) or a caller that touches a private name fails here.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "facegate" / "store"
CALLERS = ("facegate", "pipeline", "control", "entry", "bench", "tests")
PRIVATE_REACH = re.compile(r"\b\w*store\w*(?:\.core)?\._[a-z]\w*")  # store._rows, store.core._writer, ...


def store_imports(path: Path) -> set[str]:
    """The `facegate.store...` modules a file imports, inside functions too."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return {name for name in found if name == "facegate.store" or name.startswith("facegate.store.")}


def module_graph() -> dict[str, set[str]]:
    return {path.stem: {name.rsplit(".", 1)[-1] for name in store_imports(path)}
            for path in sorted(PACKAGE.glob("*.py")) if path.stem != "__init__"}


def cycle(graph: dict[str, set[str]]) -> list[str]:
    """A circle of imports among the modules, or [] if there is none."""
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> list[str]:
        if name in path:
            return [*path[path.index(name):], name]
        if name in done or name not in graph:
            return []
        for target in sorted(graph[name]):
            found = visit(target, [*path, name])
            if found:
                return found
        done.add(name)
        return []

    return next((found for name in sorted(graph) if (found := visit(name, []))), [])


def test_no_record_module_imports_the_package_top_and_none_import_in_a_circle() -> None:
    graph = module_graph()
    assert "core" in graph and graph["core"] == set()
    assert [name for name, targets in graph.items() if "store" in targets] == []
    assert cycle(graph) == []


def test_the_cycle_finder_sees_a_circle() -> None:
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) == []


def test_nothing_outside_the_store_reaches_a_private_name_of_it() -> None:
    faults = []
    for package in CALLERS:
        for path in sorted((REPO / package).rglob("*.py")):
            if PACKAGE in path.parents or path == Path(__file__):
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if PRIVATE_REACH.search(line):
                    faults.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert faults == []
