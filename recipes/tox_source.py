"""Recipes from a project's tox configuration, whichever file tox reads it from.

tox itself lists the environments (so its factor expansion and file precedence hold); we
only choose which environments are test runs and which interpreter each one gets.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from recipes import interpreters
from recipes.records import Recipe, StageError
from recipes.sandbox import Policy, base_environment, run

# Environment factors that name a chore rather than a test run.
CHORE_FACTORS = frozenset({
    "lint", "linters", "flake8", "pep8", "pycodestyle", "pylint", "style", "mypy", "typing",
    "types", "typecheck", "black", "isort", "format", "fmt", "docs", "doc", "sphinx",
    "coverage", "cov", "codecov", "coveralls", "report", "clean", "release", "release-check",
    "build", "publish", "deploy", "upload", "manifest", "check-manifest", "checkqa", "qa",
    "pre-commit", "precommit", "bandit", "safety", "readme", "spell", "pyroma", "twine",
    "check", "dev", "venv", "bump", "changelog", "towncrier", "setuptools-latest", "pypy",
    "pypy3", "jython", "ruff", "pyright", "pydocstyle", "docstyle", "benchmark", "bench",
})
LIST_TIMEOUT = 120.0


def tox_config_file(checkout: Path) -> str | None:
    """Which file tox would read its configuration from, or None if there is none."""
    if (checkout / "tox.ini").is_file():
        return "tox.ini"
    if _contains(checkout / "setup.cfg", "[tox:tox]"):
        return "setup.cfg"
    pyproject = checkout / "pyproject.toml"
    if _contains(pyproject, "legacy_tox_ini") or _contains(pyproject, "[tool.tox"):
        return "pyproject.toml"
    if (checkout / "tox.toml").is_file():
        return "tox.toml"
    return None


def _contains(path: Path, needle: str) -> bool:
    try:
        return needle in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def list_environments(checkout: Path, *, log_path: Path) -> list[str]:
    """Every environment tox knows for this checkout, in tox's order."""
    argv = [sys.executable, "-m", "tox", "list", "--no-desc", "--no-provision"]
    # Listing only reads the configuration (and may leave a .tox directory): no network.
    outcome = run(argv, cwd=checkout, timeout=LIST_TIMEOUT, log_path=log_path,
                  env=base_environment({"TOX_USER_CONFIG_FILE": "/dev/null"}), tail_lines=5000,
                  policy=Policy(writable=(checkout,)))
    if not outcome.ok:
        last = outcome.output_tail.strip().splitlines()[-1:] or ["no output"]
        message = f"tox cannot read the configuration: {last[0]}"
        raise StageError("plan", "config_unreadable", message)
    names = []
    for line in outcome.output_tail.splitlines():
        line = line.strip()
        if line and re.fullmatch(r"[\w.{},+-]+", line) and not line.endswith(":"):
            names.append(line)
    return names


def python_factor(env_name: str) -> tuple[bool, tuple[int, int] | None]:
    """(names a python, version) for a tox environment name: ``py311-django`` -> (True, (3, 11));
    ``py3`` -> (True, None); ``unit`` -> (False, None)."""
    for factor in env_name.split("-"):
        version = interpreters.parse_version(factor)
        if version:
            return True, version
        if factor in ("py", "py3", "python", "python3"):
            return True, None
    return False, None


def is_test_environment(env_name: str) -> bool:
    factors = set(env_name.lower().split("-"))
    return env_name.lower() not in CHORE_FACTORS and not factors & CHORE_FACTORS


def recipes_from_tox(checkout: Path, *, log_path: Path) -> tuple[list[Recipe], list[str]]:
    """Recipes for the test environments that can run here, best first, and the
    environments left out with the reason."""
    source = tox_config_file(checkout)
    if source is None:
        return [], []
    recipes: list[tuple[tuple[int, int], Recipe]] = []
    skipped: list[str] = []
    for name in list_environments(checkout, log_path=log_path):
        if not is_test_environment(name):
            skipped.append(f"{name}: not a test run")
            continue
        _, wanted = python_factor(name)
        chosen = interpreters.choose(wanted)
        if chosen is None:
            wanted_text = ".".join(map(str, wanted)) if wanted else "python 3"
            skipped.append(f"{name}: no interpreter for {wanted_text} on this machine")
            continue
        recipe = Recipe(kind="tox", source=source, job=name, python=chosen.short,
                        interpreter=chosen.path, toxenv=name)
        recipes.append((_rank(wanted, chosen), recipe))
    recipes.sort(key=lambda pair: pair[0])
    return [recipe for _, recipe in recipes], skipped


def _rank(wanted: tuple[int, int] | None, chosen: interpreters.Interpreter) -> tuple[int, int]:
    # An exact interpreter beats a stand-in; among those, the version nearest the one
    # citrace is tested on, newer first.
    exact = 0 if wanted is None or chosen.version[:2] == wanted else 1
    distance = abs(chosen.version[1] - interpreters.PREFERRED[1]) * 2
    if chosen.version[1] < interpreters.PREFERRED[1]:
        distance += 1
    return (exact, distance)
