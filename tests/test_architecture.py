"""The rules of ARCHITECTURE.md, checked on the code's own import statements (lazy ones,
inside functions, included): who may import whom, no cycles, small folders, tests that
mirror the packages, and the programs that run in foreign places import only the
standard library."""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("miners", "recipes", "tracer")
MAX_MODULES_PER_FOLDER = 12
# Programs that run inside other environments or inside the sandbox, on interpreters that
# are not citrace's (the probe: CPython 3.6+), before anything of citrace is importable.
STANDALONE = ("tracer/probe.py", "tracer/boot_sitecustomize.py", "tracer/check/harness.py",
              "recipes/sandbox/pid1.py", "recipes/sandbox/forwarder.py")
# Standard library of the old Pythons the probe still runs on, gone from today's.
OLD_STDLIB = frozenset({"_dummy_thread"})


def _modules() -> dict[str, Path]:
    found = {}
    for layer in LAYERS:
        for path in (ROOT / layer).rglob("*.py"):
            relative = path.relative_to(ROOT)
            if "examples" in relative.parts:
                continue  # projects to mine, not citrace
            name = ".".join(relative.with_suffix("").parts).removesuffix(".__init__")
            found[name] = path
    return found


MODULES = _modules()


def _imported(path: Path) -> set[str]:
    """Every module name an import statement in ``path`` names (``from a import b`` names
    ``a.b`` when that is a module, else ``a``)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                dotted = f"{node.module}.{alias.name}"
                names.add(dotted if dotted in MODULES else node.module)
    return names


def _edges() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for name, path in MODULES.items():
        for target in _imported(path):
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                edges[name].add(target)
    return edges


EDGES = _edges()


def _under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_each_layer_imports_only_the_layers_below_it() -> None:
    broken = sorted(
        (a, b) for a, targets in EDGES.items() for b in targets
        if (_under(a, "tracer") and _under(b, "miners"))
        or (_under(a, "recipes") and (_under(b, "miners") or _under(b, "tracer"))))
    assert broken == [], "miners -> tracer -> recipes, never back up"


def test_the_sandbox_front_door_is_not_imported_from_behind_it() -> None:
    # recipes/sandbox/__init__.py imports its modules; one importing it back is a cycle.
    behind = sorted(a for a, targets in EDGES.items()
                    if a.startswith("recipes.sandbox.") and "recipes.sandbox" in targets)
    assert behind == []


def test_no_import_cycles() -> None:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in EDGES.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(MODULES):
        if module not in index:
            visit(module)
    assert cycles == []


def test_standalone_programs_import_only_the_standard_library() -> None:
    for relative in STANDALONE:
        foreign = sorted(name for name in _imported(ROOT / relative)
                         if name.partition(".")[0] not in sys.stdlib_module_names | OLD_STDLIB)
        assert foreign == [], f"{relative} runs where only the standard library is"


def test_folders_stay_small_and_tests_mirror_the_packages() -> None:
    per_folder: dict[Path, int] = defaultdict(int)
    for path in MODULES.values():
        if path.name != "__init__.py":
            per_folder[path.parent.relative_to(ROOT)] += 1
    crowded = {str(folder): count for folder, count in per_folder.items()
               if count > MAX_MODULES_PER_FOLDER}
    assert crowded == {}
    untested = sorted(str(folder) for folder in per_folder
                      if not (ROOT / "tests" / folder).is_dir())
    assert untested == [], "each package has its folder of tests under tests/"


def test_the_time_limit_plugin_imports_the_standard_library_and_pytest_only() -> None:
    """tracer/timelimit.py runs inside the project's pytest, on CPython 3.6+ (install_probe
    compiles it with the environment's version: tests/tracer's 3.6 environment does)."""
    path = ROOT / "tracer" / "timelimit.py"
    foreign = sorted(name for name in _imported(path)
                     if name.partition(".")[0] not in sys.stdlib_module_names | {"pytest"})
    assert foreign == []
