"""The recipe of last resort: install the project with its test extras, test requirement
files and dev dependencies, and run pytest, or unittest discovery when pytest finds nothing
to run, and when neither finds a test, look further (``recipes.ci.discovery``)."""

from __future__ import annotations

import configparser
import sys
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from recipes import interpreters
from recipes.ci import dev_dependencies, discovery
from recipes.records import Recipe

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI
    import tomli as tomllib

TEST_EXTRAS = ("test", "tests", "testing")
REQUIREMENT_FILES = (
    "requirements-test.txt", "requirements_test.txt", "test-requirements.txt",
    "test_requirements.txt", "requirements/test.txt", "requirements/tests.txt",
    "requirements-dev.txt", "dev-requirements.txt", "requirements/dev.txt",
)
# One module that fails to import (a nose-era test file) must not stop the whole session:
# the other modules' tests still run and are counted (tabulate 0.8.7). No ``-q``: with a
# project's own ``addopts = -q`` it makes ``-qq``, which prints no summary to count.
PYTEST = ("{python}", "-m", "pytest", "-p", "no:cacheprovider",
          "--continue-on-collection-errors")
# pytest's configuration files, where ``addopts = --cov ...`` may wait for pytest-cov.
PYTEST_CONFIGS = ("pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg")
UNITTEST = ("{python}", "-m", "unittest", "discover", "-v")


def fallback_recipe(checkout: Path) -> Recipe | None:
    """The fallback recipe, or None when no interpreter on the machine suits the project."""
    requires_python, extras = _declared(checkout)
    chosen = _interpreter_for(requires_python)
    if chosen is None:
        return None
    extra = next((e for e in TEST_EXTRAS if e in extras), "")
    install = ["-e", f".[{extra}]" if extra else "."]
    install += [f"-r{name}" for name in REQUIREMENT_FILES if (checkout / name).is_file()]
    install += _dev_dependencies(checkout)
    install.append("pytest")
    pytest: tuple[str, ...] = PYTEST
    if _asks_for_coverage(checkout):
        # ``addopts = --cov ...`` makes pytest refuse to start without pytest-cov. Installing
        # it keeps every option the project wrote (rewriting ``addopts`` would mean parsing
        # five file formats and would drop options that choose what runs, such as
        # ``--doctest-modules``); ``--no-cov`` then turns the measuring off, so coverage
        # neither slows the traced run nor competes with the probe for the trace hooks.
        install.append("pytest-cov")
        pytest = (*PYTEST, "--no-cov")
    scripts = discovery.script_tests(checkout)
    first: tuple[tuple[str, ...], ...] = (pytest,)
    if scripts:  # modules that run themselves when imported: pytest must leave them alone
        pytest = (*pytest, *(f"--ignore={script}" for script in scripts))
        first = (discovery.run_with_scripts(pytest, scripts),)
    commands = (*first, UNITTEST, *discovery.further_commands(checkout, pytest))
    return Recipe(kind="fallback", source="fallback", job="pytest", python=chosen.short,
                  interpreter=chosen.path, install=tuple(install), commands=commands)


def _dev_dependencies(checkout: Path) -> list[str]:
    """Poetry's dev dependencies and PEP 735 test groups, which ``pip install .`` ignores."""
    try:
        pyproject = tomllib.loads((checkout / "pyproject.toml").read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return []
    return dev_dependencies.declared(pyproject)


def _asks_for_coverage(checkout: Path) -> bool:
    """Whether a pytest configuration file passes pytest-cov's options (``--cov``)."""
    for name in PYTEST_CONFIGS:
        try:
            text = (checkout / name).read_text("utf-8", errors="replace")
        except OSError:
            continue
        if "--cov" in text:  # also in tox commands: then pytest-cov is merely unused
            return True
    return False


def _declared(checkout: Path) -> tuple[str, set[str]]:
    """``requires-python`` and the extras a project declares, from whatever metadata is static."""
    requires, extras = "", set()
    try:
        project = tomllib.loads((checkout / "pyproject.toml").read_text("utf-8")).get("project", {})
        requires = str(project.get("requires-python", ""))
        extras |= set(project.get("optional-dependencies", {}))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError, AttributeError):
        pass
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(checkout / "setup.cfg", encoding="utf-8")
        requires = requires or parser.get("options", "python_requires", fallback="")
        if parser.has_section("options.extras_require"):
            extras |= set(parser.options("options.extras_require"))
    except (configparser.Error, UnicodeDecodeError):
        pass
    return requires.strip(), extras


def _interpreter_for(requires_python: str) -> interpreters.Interpreter | None:
    """The preferred interpreter if the project accepts it, else the oldest one it accepts."""
    try:
        accepted = SpecifierSet(requires_python)
    except InvalidSpecifier:
        accepted = SpecifierSet()
    pool = tuple(i for i in interpreters.discover() if accepted.contains(i.full))
    return interpreters.choose(None, available=pool)
