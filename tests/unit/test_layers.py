"""The packages import one way: foundations <- pipeline <- control <- entry (README, "Layout").

Inside pipeline/ too: transport, detectors, delivery <- gating, recognition, view <- runtime <- the four
stages <- supervision. No two modules import each other, even through others or inside functions, and no
product module or class grows past its size (450 and 350 lines).
Read from the source with `ast`, so an upward import fails here before it turns into a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LAYERS = ("facegate", "pipeline", "control", "entry", "bench")  # lowest first; bench drives everything
PIPELINE_LAYERS = (  # lowest first; a module may import its own level and those below
    ("transport", "detectors", "delivery"),
    ("gating", "recognition", "view"),
    ("runtime",),
    ("capture", "detect", "match", "emit"),
    ("supervision",),
)
PRODUCT = ("facegate", "pipeline", "control", "entry")  # product code: no import circle, no module or class too big
MAX_MODULE_LINES, MAX_CLASS_LINES = 450, 350


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


def pipeline_level(module: str) -> int | None:
    """The PIPELINE_LAYERS index of a `pipeline.x...` module, None for anything else."""
    parts = module.split(".")
    if parts[0] != "pipeline" or len(parts) < 2:
        return None
    return next((i for i, group in enumerate(PIPELINE_LAYERS) if parts[1] in group), None)


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    """Every module of the project packages (and supervisor.py) by dotted name."""
    paths = [path for package in LAYERS for path in sorted((REPO / package).rglob("*.py"))]
    return {**{module_name(path): path for path in paths}, "supervisor": REPO / "supervisor.py"}


def imported_modules(path: Path, this: str, known: dict[str, Path]) -> set[str]:
    """The project modules a file imports, at module level or inside functions: `from a import b` counts
    module `a.b` when there is one, and importing `a.b` runs the package `a` first."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    with_parents = {".".join(name.split(".")[:n]) for name in found for n in range(1, name.count(".") + 2)}
    return {name for name in with_parents if name in known and not f"{this}.".startswith(f"{name}.")}


def import_graph() -> dict[str, set[str]]:
    known = project_modules()
    return {name: imported_modules(path, name, known) for name, path in known.items()}


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted, largest first."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:  # depth is bounded by the module count (~200), under the recursion limit
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(groups, key=len, reverse=True)


def test_pipeline_subpackages_import_only_their_level_and_below() -> None:
    faults = []
    for name, targets in import_graph().items():
        level = pipeline_level(name)
        if level is None:
            continue
        faults += [f"{name} imports {target}" for target in sorted(targets) if (pipeline_level(target) or 0) > level]
    assert faults == []


def test_no_import_circle_between_project_modules() -> None:
    assert import_cycles(import_graph()) == []


def oversized(path: Path) -> list[str]:
    """What in one file is past its size: the module's lines, any class's lines."""
    text = path.read_text(encoding="utf-8")
    faults = [f"{len(text.splitlines())} lines"] if len(text.splitlines()) > MAX_MODULE_LINES else []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ClassDef) and node.end_lineno is not None:
            length = node.end_lineno - node.lineno + 1
            faults += [f"class {node.name}: {length} lines"] if length > MAX_CLASS_LINES else []
    return faults


def test_no_product_module_or_class_past_its_size() -> None:
    paths = [REPO / "supervisor.py", *(p for package in PRODUCT for p in sorted((REPO / package).rglob("*.py")))]
    faults = {str(path.relative_to(REPO)): oversized(path) for path in paths if "migrations" not in path.parts}
    assert {name: found for name, found in faults.items() if found} == {}


def test_the_size_guard_counts_a_long_class(tmp_path: Path) -> None:
    source = tmp_path / "sample.py"
    source.write_text("class Big:\n" + "    x = 1\n" * MAX_CLASS_LINES, encoding="utf-8")
    assert oversized(source) == [f"class Big: {MAX_CLASS_LINES + 1} lines"]


def test_the_cycle_finder_sees_a_circle_through_a_function_level_import(tmp_path: Path) -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert import_cycles(graph) == [["a", "b", "c"]]
    source = tmp_path / "sample.py"
    source.write_text("def f():\n    from pipeline.transport import shm\n", encoding="utf-8")
    assert imported_modules(source, "sample", project_modules()) >= {"pipeline.transport.shm", "pipeline.transport"}


def test_the_guard_sees_an_upward_import(tmp_path: Path) -> None:
    """The parser finds imports at module level and inside functions alike."""
    source = tmp_path / "sample.py"
    source.write_text(
        "import pipeline.supervision.hub\n\ndef f():\n    from control.app import make_app\n", encoding="utf-8"
    )
    assert imported_packages(source) == {("pipeline", 1), ("control", 4)}
