"""The packages import one way: foundations <- pipeline <- control <- entry (README, "Layout").

Read from the source with `ast`, so an upward import fails here before it turns into a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LAYERS = ("facegate", "pipeline", "control", "entry", "bench")  # lowest first; bench drives everything


def imported_packages(path: Path) -> set[tuple[str, int]]:
    """(top-level package, line) of every absolute import in a file, including ones inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {(alias.name.split(".")[0], node.lineno) for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add((node.module.split(".")[0], node.lineno))
    return found


def upward_imports() -> list[str]:
    faults = []
    for level, package in enumerate(LAYERS):
        for path in sorted((REPO / package).rglob("*.py")):
            for target, line in imported_packages(path):
                if target in LAYERS and LAYERS.index(target) > level:
                    faults.append(f"{path.relative_to(REPO)}:{line} imports {target} (a layer above {package})")
    return faults


def test_every_package_imports_only_the_layers_below_it() -> None:
    assert upward_imports() == []


def test_the_guard_sees_an_upward_import(tmp_path: Path) -> None:
    """The parser finds imports at module level and inside functions alike."""
    source = tmp_path / "sample.py"
    source.write_text("import pipeline.hub\n\ndef f():\n    from control.app import make_app\n", encoding="utf-8")
    assert imported_packages(source) == {("pipeline", 1), ("control", 4)}
