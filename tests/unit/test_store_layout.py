"""The store package's shape: its record modules never import the package's top, and no one outside reaches inside.

Read from the source with `ast`, so a record module that imports `facegate.store` itself (the
circle the one-class store had, which tests/unit/test_layers.py's graph cannot see: a module's own
package runs first anyway) or a caller that touches a private name of the store fails here.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "facegate" / "store"
CALLERS = ("facegate", "pipeline", "control", "entry", "bench", "tests")
PRIVATE_REACH = re.compile(r"\b\w*store\w*(?:\.core)?\._[a-z]\w*")  # a private name of a store or of its core


def imports_the_top(path: Path) -> list[int]:
    """The lines where a file imports `facegate.store` itself (inside functions too)."""

    def names(node: ast.AST) -> list[str]:
        if isinstance(node, ast.Import):
            return [alias.name for alias in node.names]
        return [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else []

    return [
        node.lineno for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) if "facegate.store" in names(node)
    ]


def test_no_record_module_imports_the_package_top() -> None:
    modules = [path for path in sorted(PACKAGE.glob("*.py")) if path.stem != "__init__"]
    assert len(modules) >= 8
    assert [f"{path.name}:{line}" for path in modules for line in imports_the_top(path)] == []


def test_the_guard_sees_an_import_of_the_top_inside_a_function(tmp_path: Path) -> None:
    source = tmp_path / "sample.py"
    source.write_text(
        "from facegate.store.core import iso_now\n\ndef f():\n    from facegate.store import Store\n", encoding="utf-8"
    )
    assert imports_the_top(source) == [4]


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
