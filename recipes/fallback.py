"""The recipe of last resort: install the project with its test extras and run pytest,
or unittest discovery when pytest finds nothing to run."""

from __future__ import annotations

import configparser
from pathlib import Path

import tomllib
from packaging.specifiers import InvalidSpecifier, SpecifierSet

from recipes import interpreters
from recipes.records import Recipe

TEST_EXTRAS = ("test", "tests", "testing")
REQUIREMENT_FILES = (
    "requirements-test.txt", "requirements_test.txt", "test-requirements.txt",
    "test_requirements.txt", "requirements/test.txt", "requirements/tests.txt",
    "requirements-dev.txt", "dev-requirements.txt", "requirements/dev.txt",
)
PYTEST = ("{python}", "-m", "pytest", "-q", "-p", "no:cacheprovider")
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
    install.append("pytest")
    return Recipe(kind="fallback", source="fallback", job="pytest", python=chosen.short,
                  interpreter=chosen.path, install=tuple(install), commands=(PYTEST, UNITTEST))


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
