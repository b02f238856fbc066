"""The package's imports run one way (domain ← store ← services ← schema ← resolvers ← api ← app),
with no cycle, and every module imports on its own in a fresh interpreter."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import koprogo_graph

PACKAGE = Path(koprogo_graph.__file__).parent

# Lowest first. A module may import from its own layer and the layers below it, never above.
LAYERS: list[tuple[str, ...]] = [
    ("errors", "config", "domain"),
    ("store", "migrate"),
    ("auth", "realtime", "ingest", "alerts", "notify", "embedded"),
    ("schema",),
    ("resolvers",),
    ("api",),
    ("app", "demo", "cli"),
]


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imported_by(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The package's modules ``name`` imports when it runs (``if TYPE_CHECKING`` blocks aside),
    with the packages whose ``__init__`` each import runs first."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()

    class Imports(ast.NodeVisitor):
        def visit_If(self, node: ast.If) -> None:
            if "TYPE_CHECKING" in ast.unparse(node.test):
                for child in node.orelse:
                    self.visit(child)
            else:
                self.generic_visit(node)

        def visit_Import(self, node: ast.Import) -> None:
            targets.update(a.name for a in node.names)

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            for alias in node.names:
                child = f"{module}.{alias.name}"
                targets.add(child if child in known else module)

    Imports().visit(ast.parse(path.read_text()))
    runs = set()
    for target in targets:
        parts = target.split(".")
        runs.update(".".join(parts[:k]) for k in range(2, len(parts) + 1))
    return {t for t in runs if t in known and t != name and not name.startswith(t + ".")}


def import_graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imported_by(name, path, known) for name, path in known.items()}


def layer_of(module: str) -> int:
    top = module.split(".")[1] if "." in module else ""
    for index, layer in enumerate(LAYERS):
        if top in layer:
            return index
    raise AssertionError(f"{module} belongs to no layer: add it to LAYERS")


def test_every_module_belongs_to_a_layer() -> None:
    for module in modules():
        if module != "koprogo_graph":
            layer_of(module)


def test_imports_run_one_way() -> None:
    upward = [
        f"{module} imports {target}"
        for module, targets in import_graph().items()
        if module != "koprogo_graph"
        for target in targets
        if layer_of(target) > layer_of(module)
    ]
    assert upward == []


def test_no_import_cycle() -> None:
    graph = import_graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
    assert cycles == []


def test_every_module_imports_alone() -> None:
    """Each module imported first, in an interpreter of its own, as a tool or a test run on its
    own would: none may work only because another was imported before it."""

    def import_alone(name: str) -> str:
        result = subprocess.run(
            [sys.executable, "-c", f"import {name}"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return "" if result.returncode == 0 else f"{name}: {result.stderr.strip().splitlines()[-1]}"

    with ThreadPoolExecutor(max_workers=4) as pool:
        failures = [f for f in pool.map(import_alone, sorted(modules())) if f]
    assert failures == []


def test_sql_lives_in_the_store():
    """Only store/ talks to the database: everything else calls it."""
    talking = re.compile(r"\bcon\.(execute|fetch|fetchrow|fetchval|copy_\w+)\(|\bSELECT\s+\w")
    outside = [
        str(path.relative_to(PACKAGE))
        for name, path in modules().items()
        if not name.startswith("koprogo_graph.store") and talking.search(path.read_text())
    ]
    assert outside == []


def test_only_config_reads_the_environment():
    reading = re.compile(r"\bos\.environ\b|\bos\.getenv\(|\bgetenv\(")
    outside = [
        str(path.relative_to(PACKAGE))
        for name, path in modules().items()
        if name != "koprogo_graph.config" and reading.search(path.read_text())
    ]
    assert outside == []


def test_every_private_api_use_says_why_and_names_its_test():
    """SPEC §3: a dependency's private API only where no public one exists, marked with why
    and the test that proves it (and that dependency capped in pyproject.toml)."""
    root = PACKAGE.parent
    marks = [
        (path, line)
        for path in PACKAGE.rglob("*.py")
        for line in path.read_text().splitlines()
        if "# private-api:" in line
    ]
    assert marks, "the known uses are marked"
    for path, line in marks:
        text = path.read_text()
        start = text.index(line)
        comment = " ".join(
            part.strip().lstrip("#").strip() for part in text[start:].splitlines()[:4]
        )
        named = re.findall(r"tests/[\w/]+\.py", comment)
        assert named and all((root / t).exists() for t in named), f"{path}: {line.strip()}"
