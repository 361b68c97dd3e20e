"""Recipes from a project's tox configuration, whichever file tox reads it from.

tox itself lists the environments (so its factor expansion and file precedence hold); we
only choose which environments are test runs and which interpreter each one gets.
"""

from __future__ import annotations

import configparser
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from recipes import interpreters
from recipes.ci import dev_dependencies, steps
from recipes.records import CommandOutcome, Recipe, StageError
from recipes.sandbox import Policy, SandboxSettings, base_environment, run

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI
    import tomli as tomllib

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
QUERY_LINES = 20000  # lines of ``tox config`` kept: a section and a line per command


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


def spelled_for(checkout: Path, overrides: Sequence[str]) -> list[str]:
    """tox ``-x`` overrides, written here for INI sections (``testenv``, ``testenv:NAME``),
    as the checkout's configuration names its sections. A TOML one (``tox.toml``, or
    ``pyproject.toml``'s ``[tool.tox]`` tables) calls them ``env_run_base`` and
    ``env.NAME``, under ``tool.tox`` in pyproject.toml; tox ignores an override of a
    section it does not know, so there the INI spelling would let nothing through (not
    even the probe's variable: the tests ran untraced)."""
    prefix = _toml_prefix(checkout)
    if prefix is None:
        return list(overrides)
    return [_respelled(override, prefix) for override in overrides]


def reads_ini(checkout: Path) -> bool:
    """The checkout's tox configuration is INI (tox.ini, setup.cfg, legacy_tox_ini)."""
    return _toml_prefix(checkout) is None


def _toml_prefix(checkout: Path) -> str | None:
    """The key path of the tox tables in a TOML configuration; None for an INI one."""
    source = tox_config_file(checkout)
    if source == "tox.toml":
        return ""
    if source != "pyproject.toml":
        return None
    try:
        pyproject = tomllib.loads((checkout / source).read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None  # tox itself will say what is wrong
    tool = pyproject.get("tool")
    table = tool.get("tox") if isinstance(tool, dict) else None
    # tox reads legacy_tox_ini (INI) only when [tool.tox] holds nothing else.
    return "tool.tox." if isinstance(table, dict) and set(table) - {"legacy_tox_ini"} else None


def _respelled(override: str, prefix: str) -> str:
    key = override.partition("=")[0]
    section, dot, rest = override.partition(".")
    if not dot or len(section) > len(key):  # "requires=a.b": no section
        return override
    if section == "testenv":
        return f"{prefix}env_run_base.{rest}"
    if section.startswith("testenv:"):
        # "testenv:py3.11.recreate": tox joins the dotted parts of a section name again.
        return f"{prefix}env.{section.removeprefix('testenv:')}.{rest}"
    return override


def _contains(path: Path, needle: str) -> bool:
    try:
        return needle in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


@dataclass(frozen=True)
class ToxEnvironment:
    """One environment tox knows, and its test commands as tox resolved them (factors,
    substitutions, ``{posargs}`` defaults); ``commands`` is None when tox could not say."""

    name: str
    commands: tuple[str, ...] | None = None


def list_environments(checkout: Path, *, log_path: Path,
                      settings: SandboxSettings = SandboxSettings()) -> list[ToxEnvironment]:
    """Every environment tox knows for this checkout, in tox's order, with its commands
    (``tox config -e ALL -k commands``). When that fails (an environment whose commands
    tox cannot resolve while planning makes it exit 255: natsort 7.0.1), the names come
    from ``tox list`` and the commands from what ``tox config`` did show."""
    shown = _tox_query(checkout, ["config", "-e", "ALL", "-k", "commands"], log_path, settings)
    configured = _configured_commands(shown.output_tail) if shown.verdict in ("ok", "failed") \
        else []
    if shown.ok and configured:
        return configured
    listed = _tox_query(checkout, ["list", "--no-desc"], log_path, settings)
    if not listed.ok:
        last = listed.output_tail.strip().splitlines()[-1:] or ["no output"]
        message = f"tox cannot read the configuration: {last[0]}"
        raise StageError("plan", "config_unreadable", message)
    commands = {env.name: env.commands for env in configured}
    names = []
    for line in listed.output_tail.splitlines():
        line = line.strip()
        if line and re.fullmatch(r"[\w.{},+-]+", line) and not line.endswith(":"):
            names.append(ToxEnvironment(line, commands.get(line)))
    return names


def _tox_query(checkout: Path, arguments: list[str], log_path: Path,
               settings: SandboxSettings) -> CommandOutcome:
    """A tox command that only reads the configuration (it may leave a .tox directory):
    in the sandbox, with no network, and no provisioning."""
    argv = [sys.executable, "-m", "tox", *arguments, "--no-provision"]
    argv += [arg for override in NO_PROVISIONING for arg in ("-x", override)]
    return run(argv, cwd=checkout, timeout=LIST_TIMEOUT, log_path=log_path,
               env=base_environment({"TOX_USER_CONFIG_FILE": "/dev/null", "NO_COLOR": "1"}),
               tail_lines=QUERY_LINES,
               policy=Policy(writable=(checkout,), unsafe_no_sandbox=settings.unsafe_no_sandbox))


def _configured_commands(output: str) -> list[ToxEnvironment]:
    """The environments of ``tox config``'s output: a ``[testenv:NAME]`` section each, whose
    ``commands =`` value is on its line or on the indented lines below it (tox's own log
    lines may come between). A section without that line (tox stopped while resolving it)
    has unknown commands. tox's own environments (``.pkg``) are left out."""
    found: dict[str, list[str] | None] = {}
    name: str | None = None
    current: list[str] | None = None  # the commands of section ``name``, once seen
    for line in output.splitlines():
        section = re.fullmatch(r"\[testenv:(.+)\]", line.strip())
        if section is not None or line.startswith("["):
            name, current = (section.group(1) if section else None), None
            if name is not None and not name.startswith("."):
                found.setdefault(name, None)
        elif name in found and line.startswith("commands ="):
            current = found[name] = [line.split("=", 1)[1].strip()]
        elif current is not None and line.startswith("  ") and line.strip():
            current.append(line.strip())
    return [ToxEnvironment(env, None if commands is None else _known(commands))
            for env, commands in found.items()]


def _known(commands: list[str]) -> tuple[str, ...] | None:
    """The commands, or None when tox could not resolve them: a substitution such as
    ``{envsitepackagesdir}`` needs the environment's interpreter, which planning may not
    find (natsort 7.0.1: ``commands = # Exception: Skip('could not find python ...')``)."""
    if any(command.startswith("# Exception") for command in commands):
        return None
    return tuple(command for command in commands if command)


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
    """Whether an environment's name leaves it a test run (no chore factor, and not on an
    interpreter citrace cannot trace: ``pypy3.9``, ``pypy_54``, ``jython``)."""
    factors = set(env_name.lower().split("-"))
    if any(factor.startswith(("pypy", "jython")) for factor in factors):
        return False
    return env_name.lower() not in CHORE_FACTORS and not factors & CHORE_FACTORS


# How an environment ranks by what its commands do and by its name: a test runner (pytest,
# unittest, nose, trial, ``setup.py test``, a ``runtests.py`` ...) in an environment not named
# for a chore first; then one named for a chore (``coverage`` running ``pytest --cov``); then
# commands that are neither a test runner nor a chore (a project's own script).
RUNS_TESTS, CHORE_NAMED_TESTS, RUNS_OTHER = 0, 1, 2


@dataclass(frozen=True)
class Judgement:
    """Whether an environment is run as the project's tests: ``rank`` (RUNS_TESTS first)
    when it is, ``why_not`` when it is not."""

    rank: int = RUNS_OTHER
    why_not: str = ""


def judge_environments(environments: list[ToxEnvironment]) -> dict[str, Judgement]:
    """Each environment judged by its commands, and by its name when tox could not show
    them. An environment that runs no command, or only chores (linters, docs builds,
    coverage reports), is no test run; and when some environment not named for a chore
    runs a test runner, no other is (``update-actions``, or ``docs`` inheriting
    ``[testenv]``'s pytest, beside ``py311``)."""
    judged = {env.name: _judge(env) for env in environments}
    if any(j.rank == RUNS_TESTS and not j.why_not for j in judged.values()):
        for env in environments:
            verdict = judged[env.name]
            # Commands tox could not resolve while planning (natsort 8.4.0's py37, whose
            # {envsitepackagesdir} needs an interpreter not on PATH there) are most often
            # the same as a resolved environment's: such an environment keeps its place.
            if verdict.why_not or verdict.rank == RUNS_TESTS or env.commands is None:
                continue
            why = ("not a test run (named for a chore; other environments run the tests)"
                   if verdict.rank == CHORE_NAMED_TESTS else
                   f"runs no test runner ({_shown(env.commands)}); other environments do")
            judged[env.name] = Judgement(verdict.rank, why)
    return judged


def _judge(env: ToxEnvironment) -> Judgement:
    chore_name = not is_test_environment(env.name)
    if env.commands is None:
        return Judgement(why_not="not a test run" if chore_name else "")
    if not env.commands:
        return Judgement(why_not="has no commands: tox would run nothing and say OK")
    if any(steps.is_test_step(command) for command in env.commands):
        return Judgement(CHORE_NAMED_TESTS if chore_name else RUNS_TESTS)
    if all(not steps.classify(c).kept or steps.is_bookkeeping(c) for c in env.commands):
        return Judgement(why_not=f"runs no test, only chores ({_shown(env.commands)})")
    return Judgement(why_not="not a test run" if chore_name else "")


def _shown(commands: tuple[str, ...] | None) -> str:
    shown = "; ".join(commands or ())
    return shown if len(shown) <= 80 else shown[:77] + "..."


def recipes_from_tox(checkout: Path, environments: Callable[[], list[ToxEnvironment]],
                     ) -> tuple[list[Recipe], list[str]]:
    """Recipes for the test environments that can run here, best first, and the
    environments left out with the reason; ``environments()`` lists tox's (in the sandbox:
    ``ci_jobs.ToxEnvironments.environments``, shared with the CI jobs that run tox)."""
    source = tox_config_file(checkout)
    if source is None:
        return [], []
    overrides, repairs = config_repairs(checkout)
    recipes: list[tuple[tuple[int, ...], Recipe]] = []
    skipped: list[str] = []
    listed = environments()
    judged = judge_environments(listed)
    for name in (env.name for env in listed):
        if judged[name].why_not:
            skipped.append(f"{name}: {judged[name].why_not}")
            continue
        if any(re.fullmatch(r"py3\.?\d+t", factor) for factor in name.split("-")):
            skipped.append(f"{name}: a free-threaded Python (none here)")
            continue
        names_python, wanted = python_factor(name)
        toxenv, runs_on = name, wanted  # a stand-in runs the environment on another Python
        if wanted is not None and (3,) <= wanted < interpreters.TOX_OLDEST:
            stand_in = _stand_in(name, wanted, listed)
            skipped.append(f"{name}: tox runs no Python {_text(wanted)} environment here"
                           + (f"; {stand_in[0]} stands in" if stand_in else ""))
            if stand_in is None or any(r.toxenv == stand_in[0] for _, r in recipes):
                continue
            toxenv, runs_on = stand_in
        chosen = interpreters.choose(runs_on)
        if chosen is None:
            wanted_text = ".".join(map(str, wanted)) if wanted else "python 3"
            skipped.append(f"{name}: no interpreter for {wanted_text} on this machine")
            continue
        recipe = Recipe(kind="tox", source=source, job=name, python=chosen.short,
                        interpreter=chosen.path, toxenv=toxenv, overrides=overrides,
                        repairs=repairs, wanted=_text(wanted))
        # What the commands do comes first; then an environment named for a Python is one
        # of the project's main test runs; one named otherwise ("doctest", "tz",
        # "docstrings") is more often a side job.
        recipes.append(((judged[name].rank, 0 if names_python else 1,
                         *interpreters.rank(wanted, chosen)), recipe))
    recipes.sort(key=lambda pair: pair[0])
    return [recipe for _, recipe in recipes], skipped


def _stand_in(name: str, wanted: tuple[int, int],
              listed: list[ToxEnvironment]) -> tuple[str, tuple[int, int]] | None:
    """For an environment on a Python 3 older than tox runs here (``py35-django``): the
    same environment on the oldest Python it runs (``py37-django``: tox makes an
    environment of any listed factors), unless the configuration lists that one itself."""
    chosen = interpreters.choose(interpreters.TOX_OLDEST)
    if chosen is None:
        return None
    version = chosen.version[:2]
    factors = name.split("-")
    for index, factor in enumerate(factors):
        if interpreters.parse_version(factor) == wanted:
            factors[index] = f"py{version[0]}{version[1]}"
            renamed = "-".join(factors)
            known = {env.name for env in listed}
            return None if renamed in known else (renamed, (version[0], version[1]))
    return None


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


# tox provisions itself (a newer tox, with the ``requires`` plugins, in ``.tox/.tox``) when the
# configuration's ``requires`` are not met: at plan time and in the traced run there is no
# network to do so, and a tox 3 plugin (tox-venv, tox-pip-version) would not load in tox 4.
# So every tox command here ignores ``requires``; the key is spelled per configuration file
# (tox.ini and legacy_tox_ini: ``tox``; setup.cfg: ``tox:tox``; TOML: the top level), and an
# override of a section the file lacks is ignored.
NO_PROVISIONING = ("tox.requires=", "tox:tox.requires=", "requires=")


def config_repairs(checkout: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(tox ``-x`` overrides, notes) for every tox recipe of the checkout: RUN_EVERY_COMMAND,
    ALLOW_EXTERNALS, NO_PROVISIONING, and repairs of tox 3 settings that tox 4 refuses,
    read from an INI configuration: ``passenv = A B`` (tox 3 split on spaces; tox 4 wants
    commas or one name a line); the project's ``setup_requires`` added to every
    environment's ``deps``."""
    source = tox_config_file(checkout)
    overrides, notes = _ini_repairs(checkout, source) if source in ("tox.ini", "setup.cfg") \
        else ((), ())
    fetched = dev_dependencies.setup_requires(checkout)
    if fetched:  # `setup.py test` would fetch them at test time, which has no network
        overrides += tuple(f"testenv.deps+={requirement}" for requirement in fetched)
        notes += ("setup_requires and tests_require installed with the environment: "
                  + ", ".join(fetched),)
    return (RUN_EVERY_COMMAND, ALLOW_EXTERNALS, *NO_PROVISIONING, *overrides), notes


def _ini_repairs(checkout: Path, source: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read(checkout / source, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        return (), ()  # tox itself will say what is wrong
    overrides, notes = [], []
    core = "tox:tox" if source == "setup.cfg" else "tox"
    if parser.get(core, "requires", fallback="").strip():
        notes.append(f"[{core}] requires: ignored (tox would provision itself, which needs "
                     f"the network; tox 3 plugins do not load in tox 4)")
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
