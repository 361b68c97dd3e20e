"""Recipes from a project's tox configuration, whichever file tox reads it from.

tox itself lists the environments (so its factor expansion and file precedence hold); we
only choose which environments are test runs and which interpreter each one gets.
"""

from __future__ import annotations

import configparser
import re
import sys
from collections.abc import Callable
from pathlib import Path

from recipes import interpreters
from recipes.records import Recipe, StageError
from recipes.sandbox import Policy, SandboxSettings, base_environment, run

# Environment factors that name a chore rather than a test run.
CHORE_FACTORS = frozenset({
    "lint", "linters", "flake8", "pep8", "pycodestyle", "pylint", "style", "mypy", "typing",
    "types", "typecheck", "black", "isort", "format", "fmt", "docs", "doc", "sphinx",
    "coverage", "cov", "codecov", "coveralls", "report", "clean", "release", "release-check",
    "build", "publish", "deploy", "upload", "manifest", "check-manifest", "checkqa", "qa",
    "pre-commit", "precommit", "bandit", "safety", "readme", "spell", "pyroma", "twine",
    "check", "dev", "venv", "bump", "changelog", "towncrier", "setuptools-latest", "pypy",
    "pypy3", "jython", "ruff", "pyright", "pydocstyle", "docstyle", "benchmark", "bench",
    "spelling", "spellcheck", "linkcheck", "pyupgrade", "news", "newsfragments",
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


def list_environments(checkout: Path, *, log_path: Path,
                      settings: SandboxSettings = SandboxSettings()) -> list[str]:
    """Every environment tox knows for this checkout, in tox's order."""
    argv = [sys.executable, "-m", "tox", "list", "--no-desc", "--no-provision"]
    # Listing only reads the configuration (and may leave a .tox directory): no network.
    outcome = run(argv, cwd=checkout, timeout=LIST_TIMEOUT, log_path=log_path,
                  env=base_environment({"TOX_USER_CONFIG_FILE": "/dev/null"}), tail_lines=5000,
                  policy=Policy(writable=(checkout,),
                                unsafe_no_sandbox=settings.unsafe_no_sandbox))
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


def recipes_from_tox(checkout: Path, environments: Callable[[], list[str]],
                     ) -> tuple[list[Recipe], list[str]]:
    """Recipes for the test environments that can run here, best first, and the
    environments left out with the reason; ``environments()`` lists tox's (in the sandbox:
    ``ci_jobs.ToxEnvironments.names``, shared with the CI jobs that run tox)."""
    source = tox_config_file(checkout)
    if source is None:
        return [], []
    overrides, repairs = config_repairs(checkout)
    recipes: list[tuple[tuple[int, int, int], Recipe]] = []
    skipped: list[str] = []
    for name in environments():
        if not is_test_environment(name):
            skipped.append(f"{name}: not a test run")
            continue
        names_python, wanted = python_factor(name)
        chosen = interpreters.choose(wanted)
        if chosen is None:
            wanted_text = ".".join(map(str, wanted)) if wanted else "python 3"
            skipped.append(f"{name}: no interpreter for {wanted_text} on this machine")
            continue
        recipe = Recipe(kind="tox", source=source, job=name, python=chosen.short,
                        interpreter=chosen.path, toxenv=name, overrides=overrides,
                        repairs=repairs, wanted=_text(wanted))
        # An environment named for a Python is one of the project's main test runs; one
        # named otherwise ("doctest", "tz", "docstrings") is more often a side job.
        recipes.append(((0 if names_python else 1, *interpreters.rank(wanted, chosen)), recipe))
    recipes.sort(key=lambda pair: pair[0])
    return [recipe for _, recipe in recipes], skipped


def _text(version: tuple[int, int] | None) -> str:
    return f"{version[0]}.{version[1]}" if version else ""


# The tox settings that take a list, and the separator tox 4 wants between items.
_LIST_KEYS = {"passenv": "pass_env", "pass_env": "pass_env"}
# The variables the runner passes to the tests (tox_runner.PASSED_TO_TESTS): an override
# that replaces pass_env must keep them.
_RUNNER_PASS_ENV = "CITRACE_*"


# Every test command runs even when one before it fails, so that a docs doctest or a
# style check listed before the suite (natsort 7.0.1: a doctest that needs a locale this
# machine lacks) does not keep the suite from running; the run still counts as failed, and
# the pipeline judges it by the tests that passed.
RUN_EVERY_COMMAND = "testenv.ignore_errors=true"
# tox 3 ran a command from outside the environment (``./run_tests.py``, ``make``) with a
# warning; tox 4 refuses it unless allowlisted. Everything runs in the sandbox anyway.
ALLOW_EXTERNALS = "testenv.allowlist_externals+=*"


def config_repairs(checkout: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(tox ``-x`` overrides, notes) for every tox recipe of the checkout: RUN_EVERY_COMMAND,
    ALLOW_EXTERNALS, and repairs of tox 3 settings that tox 4 refuses, read from an INI
    configuration: ``passenv = A B`` (tox 3 split on spaces; tox 4 wants commas or one name
    a line)."""
    source = tox_config_file(checkout)
    repaired = _ini_repairs(checkout, source) if source in ("tox.ini", "setup.cfg") else ((), ())
    return (RUN_EVERY_COMMAND, ALLOW_EXTERNALS, *repaired[0]), repaired[1]


def _ini_repairs(checkout: Path, source: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read(checkout / source, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        return (), ()  # tox itself will say what is wrong
    overrides, notes = [], []
    for section in parser.sections():
        if section != "testenv" and not section.startswith("testenv:"):
            continue
        for key, tox4_key in _LIST_KEYS.items():
            names = _space_separated(parser.get(section, key, fallback=""))
            if names:
                value = ",".join([*names, _RUNNER_PASS_ENV])
                overrides.append(f"{section}.{tox4_key}={value}")
                notes.append(f"[{section}] {key}: separated its names with commas "
                             f"(tox 4 rejects spaces)")
    return tuple(overrides), tuple(notes)


def _space_separated(value: str) -> list[str]:
    """The names of a pass_env value when some line holds several separated by spaces and
    the value is plain names; [] when nothing needs repair or it is not plain."""
    lines = [line.strip() for line in value.splitlines() if line.strip()]
    if not any(len(line.split()) > 1 for line in lines):
        return []
    names = [name.rstrip(",") for line in lines for name in line.replace(",", " ").split()]
    if not all(re.fullmatch(r"[A-Za-z_*?][\w*?]*", name) for name in names):
        return []  # factor conditions or substitutions: leave them to tox
    return names
