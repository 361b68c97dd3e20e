"""Where the fallback looks for tests when the default discovery finds none: test files in
a folder that is not a package, names outside pytest's default pattern (``tests/tests.py``,
``test.py``), the module ``setup.py`` names as its ``test_suite`` (titlecase 1.1.1's
``titlecase/tests.py``), and last the doctests of the project's own modules.

Each command here runs only when every command before it ran no test (``recipes.runners.
venv``): a project whose ``pytest`` finds its tests never gets this far. The doctests come
last because their asserts are the examples the prompt already shows (such problems are
marked in their meta, ``from_doctests``)."""

from __future__ import annotations

import ast
import configparser
import re
import shlex
from pathlib import Path

TEST_DIRS = ("tests", "test", "testing")
TEST_FILES = ("tests.py", "test.py")
# Top-level folders and modules that are not the project's code: importing them for their
# doctests would run a build script or a documentation config.
NOT_CODE = frozenset({
    "tests", "test", "testing", "docs", "doc", "examples", "example", "build", "dist",
    "benchmarks", "scripts", "tools", "setup.py", "conftest.py", "noxfile.py", "fabfile.py",
    "conf.py", "ez_setup.py", "distribute_setup.py", "bootstrap.py",
})
# Where a project's CI names the doctest files pytest should read besides the modules.
CI_FILES = ("tox.ini", ".travis.yml", "setup.cfg", "pytest.ini", "Makefile")
_DOCTEST_GLOB = re.compile(r"--doctest-glob[= ]+['\"]?([^'\"\s]+)")
DOC_PLACES = ("README.rst", "README.md", "README.txt", "README", "docs", "doc")
# ``unittest.main()`` at a test module's top level, outside ``if __name__ == "__main__":``
# (column 0): importing the module runs its tests and exits, so no collector can load it.
_MAIN_AT_IMPORT = re.compile(r"^(?:unittest\.)?main\(", re.M)
_MAIN_IMPORTED = re.compile(r"^from unittest import .*\bmain\b", re.M)
# A test module with a runner of its own (python-mimeparse 0.1.4's ``mimeparse_test.py``):
# its ``test_*`` functions take the cases as arguments (``test_quality(args, expected)``),
# which pytest reads as fixtures it lacks, and its ``__main__`` block builds the suite.
_MAIN_GUARD = re.compile(r"^if __name__ == ['\"]__main__['\"]\s*:", re.M)
_TEST_WITH_ARGUMENTS = re.compile(r"^def test\w*\(\s*[A-Za-z_]", re.M)


def further_commands(checkout: Path, pytest: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """The commands that look further, in order: pytest over the test folders and files with
    a wider file pattern, unittest discovery inside each test folder, then doctests."""
    places = [d for d in TEST_DIRS if (checkout / d).is_dir()]
    places += [f for f in TEST_FILES if (checkout / f).is_file()]
    suite = test_suite_path(checkout)
    if suite is not None and not any(suite == p or suite.startswith(p + "/") for p in places):
        places.append(suite)
    commands: list[tuple[str, ...]] = []
    if places:
        # A path named on the command line is collected whatever its name; inside a folder
        # ``*test*.py`` finds ``tests/tests.py``. Never over the package: ``latest.py``.
        # One token: pytest before 4 took every word after ``-o`` as another override
        # (``-o python_files=... test``: "expects option=value style", ply 3.4 on 3.6).
        commands.append((*pytest, "--override-ini=python_files=*test*.py", *places))
    for folder in (d for d in TEST_DIRS if (checkout / d).is_dir()):
        # ``-s`` puts the folder itself on sys.path: its modules import without a package.
        commands.append(("{python}", "-m", "unittest", "discover", "-v", "-s", folder,
                         "-p", "*test*.py"))
    doctests = doctest_command(checkout, pytest)
    if doctests:
        commands.append(doctests)
    return tuple(commands)


def test_suite_path(checkout: Path) -> str | None:
    """The file or folder of the ``test_suite`` that ``setup.py`` (read, never run) or
    ``setup.cfg`` names, relative to the checkout: ``titlecase.tests`` is
    ``titlecase/tests.py``; ``tests.suite``, a function, is ``tests``. None when it names
    none, or nothing there."""
    name = _setup_py_test_suite(checkout)
    if name is None:
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(checkout / "setup.cfg", encoding="utf-8")
            name = parser.get("options", "test_suite", fallback=None)
        except (configparser.Error, UnicodeDecodeError):
            return None
    if not name or not all(part.isidentifier() for part in name.strip().split(".")):
        return None
    parts = name.strip().split(".")
    for end in range(len(parts), 0, -1):  # the longest prefix that is a module or package
        relative = "/".join(parts[:end])
        if (checkout / f"{relative}.py").is_file():
            return f"{relative}.py"
        if (checkout / relative).is_dir():
            return relative
    return None


def _setup_py_test_suite(checkout: Path) -> str | None:
    try:
        tree = ast.parse(_read(checkout / "setup.py"))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None  # a Python 2 setup.py: nothing read from it
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "test_suite" and isinstance(
                node.value, ast.Constant) and isinstance(node.value.value, str):
            return node.value.value
    return None


def script_tests(checkout: Path) -> list[str]:
    """Test modules written to be run as scripts: they call ``unittest.main()`` when
    imported (ply 3.4's ``test/testlex.py``, toposort 1.5's ``test/test_toposort.py``), or
    build their suite in a ``__main__`` block from test functions that take the cases as
    arguments (python-mimeparse 0.1.4's ``mimeparse_test.py``). pytest's collection of the
    first dies in ``SystemExit`` (and unittest discovery's nests a second discovery inside
    the import), of the second in missing fixtures; run as ``python file`` they run.
    Relative to the checkout, in a stable order."""
    candidates = [checkout / name for name in TEST_FILES]
    candidates += sorted(p for p in checkout.glob("*test*.py") if p.name not in TEST_FILES)
    for folder in TEST_DIRS:
        if (checkout / folder).is_dir():
            candidates += sorted((checkout / folder).rglob("*test*.py"))
    found = []
    for path in candidates:
        text = _read(path) if path.is_file() and not path.is_symlink() else ""
        if _MAIN_AT_IMPORT.search(text) and (
                "unittest.main(" in text or _MAIN_IMPORTED.search(text)):
            found.append(str(path.relative_to(checkout)))
        elif _own_runner(path, text, checkout):
            found.append(str(path.relative_to(checkout)))
    return found


def _own_runner(path: Path, text: str, checkout: Path) -> bool:
    """Whether a test module runs its tests itself: a ``__main__`` block, and test
    functions taking arguments that no ``conftest.py`` (nor pytest itself) could supply."""
    if not (_MAIN_GUARD.search(text) and _TEST_WITH_ARGUMENTS.search(text)):
        return False
    if re.search(r"^\s*(import pytest|from pytest |@pytest\.)", text, re.M):
        return False  # parametrized or fixture-fed: pytest's own
    folder = path.parent
    while True:
        if (folder / "conftest.py").exists():
            return False
        if folder == checkout or checkout not in folder.parents:
            return True
        folder = folder.parent


def run_with_scripts(pytest: tuple[str, ...], scripts: list[str]) -> tuple[str, ...]:
    """One command that runs pytest over the other tests (told to ignore the scripts), then
    each script with ``python``, from its own folder (they open their data files and put
    ``..`` on ``sys.path`` relative to it). It fails when any part failed; pytest's status 5,
    nothing collected, is no failure. The summaries of all parts are counted together."""
    lines = ["status=0",
             f"{shlex.join(pytest)}; code=$?; [ $code -eq 0 ] || [ $code -eq 5 ] || status=1"]
    for script in scripts:
        folder, _, name = script.rpartition("/")
        lines.append(f"(cd {shlex.quote(folder or '.')} && {shlex.quote('{python}')}"
                     f" {shlex.quote(name)}) || status=1")
    lines.append("exit $status")
    return ("sh", "-c", "\n".join(lines))


def doctest_command(checkout: Path, pytest: tuple[str, ...]) -> tuple[str, ...] | None:
    """pytest's ``--doctest-modules`` over the project's own modules, with the
    ``--doctest-glob`` patterns its CI passes and the documents they match; None when the
    project has no module of its own to read."""
    modules = project_modules(checkout)
    if not modules:
        return None
    globs = ci_doctest_globs(checkout)
    documents = [p for p in DOC_PLACES if globs and (checkout / p).exists()]
    options = [f"--doctest-glob={pattern}" for pattern in globs]
    return (*pytest, "--doctest-modules", *options, *modules, *documents)


def project_modules(checkout: Path) -> list[str]:
    """The project's packages and single modules, relative to the checkout: top-level
    folders with an ``__init__.py``, those under ``src/``, and top-level ``.py`` files that
    are neither tests nor build scripts."""
    found: list[str] = []
    for base in (checkout, checkout / "src"):
        if not base.is_dir():
            continue
        for entry in sorted(base.iterdir()):
            name = entry.name
            if name in NOT_CODE or name.startswith((".", "_", "test")):
                continue
            if entry.is_dir() and (entry / "__init__.py").is_file() or (
                    entry.is_file() and name.endswith(".py") and name.isascii()):
                found.append(str(entry.relative_to(checkout)))
    return found


def ci_doctest_globs(checkout: Path) -> list[str]:
    """The ``--doctest-glob`` patterns the project's CI and pytest settings name."""
    texts = [_read(checkout / name) for name in CI_FILES]
    workflows = checkout / ".github" / "workflows"
    if workflows.is_dir():
        texts += [_read(path) for path in sorted(workflows.glob("*.y*ml"))]
    globs: list[str] = []
    for text in texts:
        for pattern in _DOCTEST_GLOB.findall(text):
            if pattern not in globs:
                globs.append(pattern)
    return globs


def _read(path: Path) -> str:
    try:
        return path.read_text("utf-8", errors="replace")
    except OSError:
        return ""
