"""The pytest of a suite's era: what newer pytest removed, and a second run with an older one
(or with a newer one, when the suite's own pytest is too old for the Python it runs on).

A suite written for the pytest of its day may call what a later pytest removed (a
``conftest.py`` hook taking ``py.path`` arguments, ``request.cached_setup``, ``msg=`` to
``pytest.skip``). When a failed run's output names such an API (``REMOVALS``, from pytest's
own list of removals, doc/en/deprecations.rst), the tests run again after installing the
newest pytest from before that removal (``pytest<9``) into the same environment, when one
runs on the environment's Python (``RUNS_UP_TO``); the recipe records it
(``Recipe.test_runner_pin``, and a repair).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from recipes import interpreters
from recipes.records import Env
from recipes.runners import installers
from recipes.runners.installers import BuildOptions


@dataclass(frozen=True)
class Removal:
    """An API pytest removed: what, the first version without it, and how its absence shows
    in a run's output (matched case-insensitively)."""

    what: str
    removed_in: str  # "9", or "9.1" when a minor release removed it
    pattern: str


# Newest removals first: a suite that uses several needs the pytest before the oldest.
REMOVALS = (
    Removal("the fspath argument of Node constructors", "9.1",
            r"unexpected keyword argument 'fspath'"),
    Removal("py.path arguments of hooks (pytest_collect_file(path, parent))", "9",
            r"argument\(s\) \{'(path|startdir)'\} are declared in the hookimpl"),
    Removal("marks applied to fixtures", "9", r"marks applied to fixtures"),
    Removal("msg= of pytest.skip, pytest.fail and pytest.exit", "8",
            r"(skip|fail|exit)\(\) got an unexpected keyword argument 'msg'"),
    Removal("pytest.warns(None)", "8",
            r"exceptions must be derived from warning, not <class 'nonetype'>"),
    Removal("the pytest_cmdline_preparse hook", "8", r"unknown hook 'pytest_cmdline_preparse'"),
    Removal("pytest.Instance", "8", r"module 'pytest' has no attribute 'instance'"),
    Removal("the pytest.collect module", "7", r"module 'pytest' has no attribute 'collect'"),
    Removal("the pytest_warning_captured hook", "7", r"unknown hook 'pytest_warning_captured'"),
    Removal("pytest._fillfuncargs", "7", r"has no attribute '_fillfuncargs'"),
    Removal("direct construction of collection nodes (SomeFile(path, parent))", "6",
            r"direct construction of \S+ has been deprecated"),
    Removal("funcargnames", "6", r"has no attribute 'funcargnames'"),
    Removal("the pytest.config global", "5", r"module 'pytest' has no attribute 'config'"),
    Removal("the message parameter of pytest.raises", "5",
            r"unexpected keyword arguments passed to pytest\.raises: message"),
    Removal("the pytest_namespace hook", "4", r"pytest_namespace"),
    Removal("request.cached_setup", "4", r"has no attribute 'cached_setup'"),
    Removal("request.getfuncargvalue", "4", r"has no attribute 'getfuncargvalue'"),
    Removal("Metafunc.addcall", "4", r"'metafunc' object has no attribute 'addcall'"),
    Removal("Node.get_marker", "4", r"has no attribute 'get_marker'"),
    Removal("calling fixtures directly", "4", r"fixture \"\w+\" called directly"),
    Removal("the [pytest] section of setup.cfg", "4",
            r"\[pytest\] section in setup\.cfg files is no longer supported"),
    Removal("pytest_plugins in a conftest below the top", "4",
            r"defining 'pytest_plugins' in a non-top-level conftest is no longer supported"),
)
# The newest Python on which the newest pytest before each removal runs a suite, measured
# here (pytest 7.4.4 on 3.13, 6.2.5 on 3.12, 5.4.3 and 4.6.11 on 3.9 but not 3.10, 3.10.1
# on 3.7 but not 3.8); none for the pytest before 9 (8.4) and 9.1.
RUNS_UP_TO = {"8": (3, 13), "7": (3, 12), "6": (3, 9), "5": (3, 9), "4": (3, 7)}
# The newest Python checked; a newer one may need a newer pytest than any removal allows.
CHECKED_UP_TO = (3, 14)


# A pytest older than the Python it runs on fails in its own code, whatever the tests are:
# PEP 479 turned the ``raise StopIteration`` in pytest 2.x's hook wrappers into an error
# on 3.7 (hyperlink 17.3.1 pins pytest 2.9.2; its tox py34 runs on 3.7, the oldest tox runs).
# Told by its traceback inside pytest or pluggy.
TOO_OLD = re.compile(r"(?:_pytest|pluggy)[^\n]*\n(?:[^\n]*\n){0,3}?\S*\s*runtimeerror: "
                     r"generator raised stopiteration")
# The pytest that replaces it: a line that runs on that Python, resolved as of the line's
# last release, not the project's date (the pytest of that date is the one that failed).
# A range, not a version: uv as of 2020 resolves no pytest 3.6-5.2, whose atomicwrites was
# uploaded again in 2022, and settles on 3.5.1 (which runs on 3.7 to 3.9, measured here).
PYTEST_FOR = {
    (3, 7): ("pytest>=3.5,<5", "2020-06-06T00:00:00Z"),
    (3, 8): ("pytest>=3.5,<5", "2020-06-06T00:00:00Z"),
    (3, 9): ("pytest>=3.5,<5", "2020-06-06T00:00:00Z"),
    (3, 10): ("pytest>=6.2,<7", "2021-08-30T00:00:00Z"),
    (3, 11): ("pytest>=6.2,<7", "2021-08-30T00:00:00Z"),
    (3, 12): ("pytest>=6.2,<7", "2021-08-30T00:00:00Z"),
    (3, 13): ("pytest>=7.4,<8", "2024-01-01T00:00:00Z"),
}


def removed_apis(output: str) -> list[Removal]:
    """The removed APIs a test run's output shows the suite used, newest removal first."""
    text = output.lower()
    return [removal for removal in REMOVALS if re.search(removal.pattern, text)]


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def pin_for(output: str, python: str) -> tuple[str, str] | None:
    """(``pytest<N``, why) for a failed run's output on Python ``python`` ("3.11.7"): below
    the oldest removal it shows; None when it shows none, or when no pytest that old runs
    on that Python."""
    found = removed_apis(output)
    if not found:
        return _runs_here(output, python)
    oldest = min(found, key=lambda removal: _key(removal.removed_in))
    version = interpreters.parse_version(python)
    newest_python = RUNS_UP_TO.get(oldest.removed_in, CHECKED_UP_TO)
    if version is None or version[:2] > newest_python:
        return None
    why = f"the tests use {oldest.what}, which pytest {oldest.removed_in} removed"
    return f"pytest<{oldest.removed_in}", why


def _runs_here(output: str, python: str) -> tuple[str, str] | None:
    """(the pytest requirement that runs there, why) when the output shows a pytest too old
    for Python ``python`` failing in its own code; None otherwise."""
    version = interpreters.parse_version(python)
    newer = PYTEST_FOR.get(version[:2]) if version is not None else None
    if version is None or newer is None or not TOO_OLD.search(output.lower()):
        return None
    return (newer[0],
            f"the tests' pytest is older than Python {version[0]}.{version[1]} and fails there")


def older_pytest(env: Env, checkout: Path, output: str, *, log_path: Path, timeout: float,
                 options: BuildOptions) -> Env | None:
    """The environment with the pytest from before the removal a failed run's ``output``
    shows, installed (with the build's installer, as of its date, through the sandbox with
    the build's network), and a recipe that says so; None when there is nothing to retry
    or the install failed (its output is in the log)."""
    pin = pin_for(output, env.version)
    if pin is None or env.recipe.test_runner_pin:
        return None  # one retry per environment
    requirement, why = pin
    as_of = env.recipe.as_of
    settled = {pin: date for pin, date in PYTEST_FOR.values()}
    if requirement in settled:  # a pytest too old for this Python: the one that runs there
        as_of = max(as_of, settled[requirement])
    if not installers.install_into(env, checkout, [requirement], as_of=as_of,
                                   scratch="older-pytest", log_path=log_path, timeout=timeout,
                                   options=options):
        return None
    note = f"ran the tests again with {requirement}: {why}"
    recipe = replace(env.recipe, test_runner_pin=f"{requirement}: {why}",
                     repairs=env.recipe.repairs + (note,))
    return replace(env, recipe=recipe)
