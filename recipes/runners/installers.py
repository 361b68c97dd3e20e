"""Which installer builds a project's environment, and the commands it takes.

Two installers: ``pip`` (environments made by ``virtualenv``, packages installed by the
environment's own pip) and ``uv`` (``uv venv --seed``, ``uv pip install --python``; for tox,
the tox-uv runner). uv comes from its PyPI wheel, installed with citrace. Only uv can resolve
dependencies as of a date (``exclude-newer``), which old projects need: the versions of
their day. Each build tries, in order, the ``Attempt``s of ``attempts``: uv as of the
checkout's date, uv with the newest versions, then pip; the first that builds is kept, and
the recipe records which (``Recipe.installer``, ``Recipe.as_of``, ``Recipe.installer_fallbacks``).
The test tools (``TEST_TOOLS``: pytest, its plugins, nose, mock) of the dated attempt are
resolved as of the tests' own date when it is older (``Recipe.tests_as_of``): a suite
untouched since 2014 in a project committed to in 2025 wants the pytest of its day, while
the package's dependencies follow its newest code (resolving them all as of the tests'
date would fail on what the 2025 code requires, and the build would lose every date).
"""

from __future__ import annotations

import functools
import shutil
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from recipes import interpreters
from recipes.records import Env
from recipes.sandbox import (
    SandboxSettings,
    base_environment,
    build_policy,
    interpreter_roots,
    project_dirs,
    run,
    untrusted,
)
from recipes.sandbox.egress import NetworkMeter

PIP, UV = "pip", "uv"
INSTALLERS = (PIP, UV)
PACKAGING_TOOLS = ("pip", "setuptools", "wheel")  # newest even when resolving as of a date
NO_LIMIT = "2999-12-31T00:00:00Z"
# Just before setuptools 82.0.0 (2026-02-08), the first without ``pkg_resources``.
SETUPTOOLS_WITH_PKG_RESOURCES = "2026-02-08T00:00:00Z"
# setuptools 58 (2021-09-04) removed ``use_2to3``: a 2012-2016 ``setup.py`` that converts its
# Python 2 code at build time ("use_2to3 is invalid") builds with the setuptools before it.
SETUPTOOLS_WITH_2TO3 = "2021-09-03T00:00:00Z"
# Resolved as of the tests' date: what a suite's code calls and its runner loads (uv's
# per-package dates name packages one by one: there is no pattern for "pytest-*").
TEST_TOOLS = ("pytest", "pluggy", "py", "iniconfig", "nose", "nose2", "mock", "coverage",
              "pytest-cov", "pytest-xdist", "pytest-forked", "pytest-mock", "pytest-timeout",
              "pytest-asyncio", "pytest-runner", "hypothesis")
VIRTUALENV_SEEDS = (3, 9)  # the oldest Python virtualenv 21 puts pip in


@dataclass(frozen=True)
class BuildOptions:
    """How the builds of one project install: the installer asked for, the date to resolve
    dependencies as of (ISO 8601, "" for the newest versions), how they are isolated, and
    where their use of the network is added up."""

    installer: str = PIP
    as_of: str = ""
    tests_as_of: str = ""  # the tests' own date, for TEST_TOOLS ("": as_of serves)
    sandbox: SandboxSettings = SandboxSettings()
    meter: NetworkMeter | None = None

    def __post_init__(self) -> None:
        if self.installer not in INSTALLERS:
            raise ValueError(f"unknown installer {self.installer!r}: use one of {INSTALLERS}")


def as_of_date(text: str) -> str:
    """A checkout's date (git's ``...+02:00``, PyPI's ``...Z``) as the UTC timestamp uv's
    ``--exclude-newer`` takes; "" when there is none or it cannot be read."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Attempt:
    """One way to build: an installer, the date it resolves as of ("" for newest), and
    the older date it resolves the test tools as of ("" for ``as_of``)."""

    installer: str
    as_of: str = ""
    tests_as_of: str = ""
    setuptools_as_of: str = ""  # an older limit for setuptools than the packaging tools'

    def describe(self) -> str:
        tests = f" (test tools as of {self.tests_as_of})" if self.tests_as_of else ""
        return f"{self.installer} as of {self.as_of}{tests}" if self.as_of else self.installer


def needs_2to3(output: str) -> bool:
    """Whether a build failed because its ``setup.py`` asks for ``use_2to3``, which the
    setuptools it got no longer has."""
    return "use_2to3 is invalid" in output


@functools.lru_cache(maxsize=1)
def uv_binary() -> str | None:
    """The uv executable: the one uv's wheel installed beside citrace, else one on PATH."""
    try:
        import uv  # the PyPI wheel: the binary and a helper that finds it

        return str(uv.find_uv_bin())
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


def default_installer() -> str:
    """uv when it is present (it builds environments several times faster than pip, cold or
    warm: tests/benchmarks/bench_install.py, and only it can time travel), else pip."""
    return UV if uv_binary() is not None else PIP


def travel_date(as_of: str, interpreter: str) -> str:
    """The date to resolve as of on ``interpreter``: ``as_of``, or the date the packages of
    the day had caught up with that interpreter, when later; "" (the newest versions) for an
    interpreter newer than the table."""
    version = _version(interpreter)
    if not as_of or version is None:
        return as_of
    floor = interpreters.supported_since(version)
    if floor is None:
        return "" if version > max(interpreters.RELEASED) else as_of
    floor_text = floor.strftime("%Y-%m-%dT%H:%M:%SZ")
    return max(as_of, floor_text)  # both UTC in one format: text order is time order


def attempts(options: BuildOptions, interpreter: str) -> list[Attempt]:
    """The ways to try, best first. uv cannot drive Python 2 (it needs ``-I``), so those
    builds, and every build when uv is absent, go through pip alone. (virtualenv 21 refuses
    Python 2 too; the planner leaves Python 2 out, as the probe needs 3.6.)"""
    version = _version(interpreter)
    if options.installer != UV or uv_binary() is None or (version and version[0] == 2):
        return [Attempt(PIP)]
    as_of = travel_date(options.as_of, interpreter)
    tests_as_of = travel_date(options.tests_as_of, interpreter)
    older = tests_as_of if as_of and tests_as_of and tests_as_of < as_of else ""
    dated = [Attempt(UV, as_of, older)] if as_of else []
    return [*dated, Attempt(UV), Attempt(PIP)]


def venv_argv(attempt: Attempt, interpreter: str, venv: Path) -> list[str]:
    """The command that creates ``venv`` for ``interpreter``, with pip (and, below 3.12,
    setuptools and wheel) seeded: old ``setup.py`` projects and CI steps call them."""
    version = _version(interpreter)
    # virtualenv 21 ships no pip for Pythons before 3.9 (it refuses to seed them): uv seeds
    # those for pip builds too, and pip then installs.
    old = version is not None and (3,) <= version < VIRTUALENV_SEEDS
    if attempt.installer == UV or (old and uv_binary() is not None):
        return [_uv(), "venv", "-q", "--seed", "--python", interpreter, str(venv)]
    return [sys.executable, "-m", "virtualenv", "-q", "-p", interpreter, str(venv)]


def only_pip_can(output: str) -> bool:
    """Whether a failed uv build failed in a way no other uv attempt avoids: an editable
    install where the setuptools the Python allows predates PEP 660 (below 64, as on 3.6);
    pip falls back to ``setup.py develop``, uv cannot."""
    return "has no attribute 'build_editable'" in output


def editable_refused(output: str) -> bool:
    """Whether an install failed because the project cannot be installed editable: its
    build backend predates PEP 660 (no ``build_editable``), as pip and uv say it."""
    text = output.lower()
    return ("has no attribute 'build_editable'" in text
            or "missing the 'build_editable' hook" in text
            or "cannot be installed in editable mode" in text)


def without_editable(args: tuple[str, ...]) -> tuple[str, ...]:
    """pip install's arguments with every ``-e X`` (``-eX``, ``--editable X``,
    ``--editable=X``) installed as plain ``X``."""
    kept: list[str] = []
    for arg in args:
        if kept and kept[-1] in ("-e", "--editable"):
            kept[-1] = arg
        elif arg.startswith("--editable="):
            kept.append(arg.split("=", 1)[1])
        elif arg.startswith("-e") and arg != "-e":
            kept.append(arg[2:])
        else:
            kept.append(arg)
    return tuple(kept)


def install_argv(attempt: Attempt, python: str, args: list[str] | tuple[str, ...]) -> list[str]:
    """The command that installs ``args`` (pip install's arguments) into ``python``'s
    environment."""
    if attempt.installer == UV:
        return [_uv(), "pip", "install", "--python", python, *args]
    return [python, "-m", "pip", "install", *args]


def environment(attempt: Attempt, work_dir: Path) -> dict[str, str]:
    """Variables every command of the attempt gets: no interpreter downloads, and for a
    dated attempt, uv's configuration of the date (``UV_CONFIG_FILE``, written in
    ``work_dir``), which reaches every uv the attempt runs: citrace's, tox-uv's, CI steps'."""
    env = {"UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1"}
    if attempt.installer == UV:
        # Undated too: an attempt after a dated one, in the same shell, must replace it.
        work_dir.mkdir(parents=True, exist_ok=True)
        config = work_dir / ("uv-as-of.toml" if attempt.as_of else "uv-newest.toml")
        # An earlier build wrote here.
        untrusted.write_text(config, _uv_config(attempt.as_of, attempt.tests_as_of,
                                                attempt.setuptools_as_of))
        env["UV_CONFIG_FILE"] = str(config)
    return env


def _uv_config(as_of: str, tests_as_of: str = "", setuptools_as_of: str = "") -> str:
    """``exclude-newer`` (when resolving as of a date) for everything but the packaging tools:
    the pip, setuptools and wheel of an old date do not run on today's Pythons (pip 10
    imports what 3.12 removed), and uv seeds environments and builds sdists with them.
    (``UV_EXCLUDE_NEWER`` cannot exempt them; only the configuration file can.) setuptools
    stops before 82, which removed ``pkg_resources``: old ``setup.py`` plugins
    (setuptools_scm of 2019), and old projects at test time (humanize 2.6.0), import it.
    ``tests_as_of``: the date for ``TEST_TOOLS``, older than ``as_of``; ``setuptools_as_of``:
    an older limit for setuptools (``SETUPTOOLS_WITH_2TO3``)."""
    tools = {name: tests_as_of for name in TEST_TOOLS} if tests_as_of else {}
    tools.update({name: NO_LIMIT for name in PACKAGING_TOOLS})
    tools["setuptools"] = setuptools_as_of or SETUPTOOLS_WITH_PKG_RESOURCES
    limits = ", ".join(f'{name} = "{date}"' for name, date in tools.items())
    newer = f'exclude-newer = "{as_of}"\n' if as_of else ""
    return f"{newer}exclude-newer-package = {{ {limits} }}\n"


def tox_arguments(installer: str) -> list[str]:
    """tox options choosing the runner: tox-uv, once installed, makes itself the default
    for every tox run, so pip is asked for by name too. ``uv_seed`` keeps pip and setuptools
    in the environment for ``setup.py`` projects and ``commands`` that call pip."""
    if installer == UV:
        return ["--runner", "uv-venv-runner", "-x", "testenv.uv_seed=true"]
    return ["--runner", "virtualenv"] if _tox_uv_installed() else []


def fallback_note(attempt: Attempt, reason: str) -> str:
    return f"{attempt.describe()} failed ({reason[:200]}); tried the next installer"


def _uv() -> str:
    found = uv_binary()
    if found is None:
        raise RuntimeError("uv is not installed: pip install uv, or use --installer pip")
    return found


@functools.lru_cache(maxsize=1)
def _tox_uv_installed() -> bool:
    from importlib.util import find_spec

    return find_spec("tox_uv") is not None


@functools.lru_cache(maxsize=64)
def _version(interpreter: str) -> tuple[int, int] | None:
    """(major, minor) as interpreter discovery found it; None for a path it did not find."""
    from recipes import interpreters

    known = {i.path: i.version[:2] for i in interpreters.discover()}
    if interpreter in known:
        return known[interpreter]
    return (2, 7) if Path(interpreter).name.startswith("python2") else None


def install_into(env: Env, checkout: Path, requirements: list[str], *, as_of: str,
                 scratch: str, log_path: Path, timeout: float, options: BuildOptions) -> bool:
    """Install ``requirements`` into a built environment after the fact, as its build
    installed (its installer, resolving as of ``as_of``), in the build's sandbox with the
    build's network; whether it worked (its output is in the log)."""
    attempt = Attempt(env.recipe.installer or PIP, as_of)
    work_dir = Path(env.work_dir)
    policy = build_policy(project_dirs(checkout, work_dir),
                          readable=interpreter_roots(env.recipe.interpreter),
                          settings=options.sandbox, meter=options.meter)
    installed = run(install_argv(attempt, env.python, requirements), cwd=checkout,
                    timeout=timeout, log_path=log_path, policy=policy,
                    env=base_environment(environment(attempt, work_dir / scratch)))
    return installed.ok
