"""Build a tox environment and run its tests through tox itself.

tox keeps its own semantics (substitutions, ``deps``, ``extras``, ``setenv``, ``usedevelop``,
``commands_pre``); we only add overrides: let the probe's variable through, pin the
interpreter, and repair configurations that today's tox rejects.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from recipes import interpreters
from recipes.ci.tox import python_factor, reads_ini, spelled_for
from recipes.records import CommandOutcome, Env, Recipe, StageError
from recipes.runners import addopts, envs, installers, tox_installs
from recipes.runners.diagnose import cause_of_build_failure, failure_line
from recipes.runners.installers import BuildOptions
from recipes.sandbox import (
    SandboxSettings,
    base_environment,
    build_policy,
    interpreter_roots,
    project_dirs,
    run,
    suite_policy,
)

PASSED_TO_TESTS = "CITRACE_*"

_MISSING_EXTRAS = re.compile(r"extras not found for package \S+: (.+?) \(available: (.*?)\)")


def _tox_argv(recipe: Recipe, work_dir: Path, installer: str, *extra: str,
              checkout: Path) -> list[str]:
    argv = [sys.executable, "-m", "tox", *installers.tox_arguments(installer), "-e",
            recipe.toxenv, "--workdir", str(work_dir),
            "-x", f"testenv.pass_env+={PASSED_TO_TESTS}",
            "-x", f"testenv.pass_env+={addopts.VARIABLE}"]
    _, version = python_factor(recipe.toxenv)
    if version is None:
        # An environment that names no version (`unit`, or the generic `py`, `py3`) would
        # run on tox's own interpreter: the plan chose one for it (the newest the project
        # declares: cachetools 4.1.1's `py` pins py 1.9.0, which does not load on 3.11).
        argv += ["-x", f"testenv.base_python={recipe.interpreter}"]
    for override in recipe.overrides:
        argv += ["-x", override]
    version = interpreters.parse_version(recipe.python)
    if version is not None and version < sys.version_info[:2] and reads_ini(checkout):
        # tox builds the package on its own interpreter: an old setup.py that imports its
        # package (sortedcontainers 1.5.9: `from collections import Sequence`) fails there,
        # before the environment's older Python ever runs. Build it on that Python.
        argv += ["-x", f"testenv:.pkg.base_python={recipe.interpreter}"]
    return _sections_spelled(argv + list(extra), checkout)


def _sections_spelled(argv: list[str], checkout: Path) -> list[str]:
    """``argv`` with its overrides naming the sections as the configuration file does."""
    overrides = [index + 1 for index, arg in enumerate(argv[:-1]) if arg == "-x"]
    spelled = spelled_for(checkout, [argv[index] for index in overrides])
    for index, override in zip(overrides, spelled, strict=True):
        argv[index] = override
    return argv


def _reuse_overrides(toxenv: str) -> list[str]:
    """Overrides that keep tox from recreating the environment: ``recreate = true`` in
    ``[testenv]`` or in the environment's own section (an override of ``testenv`` does
    not reach a value the environment's section sets itself)."""
    return ["-x", "testenv.recreate=false", "-x", f"testenv:{toxenv}.recreate=false"]


def _tox_env(recipe: Recipe, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = base_environment({"TOX_USER_CONFIG_FILE": "/dev/null", "NO_COLOR": "1",
                            "PY_COLORS": "0", **(extra or {})})
    # tox finds "py311" on PATH: put the chosen interpreter's directory first.
    env["PATH"] = os.pathsep.join([str(Path(recipe.interpreter).parent), env.get("PATH", "")])
    return env


def build(recipe: Recipe, checkout: Path, *, work_dir: Path, log_path: Path,
          timeout: float, options: BuildOptions | None = None) -> Env:
    """Create the environment and install the project and its test dependencies, trying
    each installer attempt in turn (tox-uv as of the checkout's date, tox-uv, pip)."""
    _refuse_before_37(recipe)
    deadline = time.monotonic() + timeout
    options = options or BuildOptions()
    fallbacks: list[str] = []
    tried = _runnable(installers.attempts(options, recipe.interpreter), recipe)
    for number, attempt in enumerate(tried, start=1):
        recipe, outcome = _build_repaired(attempt, recipe, checkout, work_dir, log_path,
                                          deadline, options)
        if outcome.ok:
            break
        reason = failure_line(outcome, f"tox ({attempt.installer}) could not build")
        if number == len(tried) or outcome.timed_out:
            raise StageError("build", cause_of_build_failure(outcome), reason)
        fallbacks.append(installers.fallback_note(attempt, reason))
    recipe = replace(recipe, installer=attempt.installer, as_of=attempt.as_of,
                     tests_as_of=attempt.tests_as_of, installer_fallbacks=tuple(fallbacks))
    recipe = tox_installs.move_installs(
        recipe, checkout, work_dir=work_dir, log_path=log_path,
        timeout=max(1.0, deadline - time.monotonic()),
        tox_argv=_tox_argv(recipe, work_dir, attempt.installer, checkout=checkout),
        env=_tox_env(recipe, installers.environment(attempt, work_dir)),
        policy=build_policy(project_dirs(checkout, work_dir),
                            readable=interpreter_roots(recipe.interpreter),
                            settings=options.sandbox, meter=options.meter))
    python = str(work_dir / recipe.toxenv / "bin" / "python")
    site_packages, version = envs.describe(python, inside=work_dir,
                                           interpreter=recipe.interpreter,
                                           settings=options.sandbox)
    return Env(recipe=recipe, python=python, site_packages=site_packages, version=version,
               work_dir=str(work_dir))


def _runnable(attempts: list[installers.Attempt], recipe: Recipe) -> list[installers.Attempt]:
    """The attempts tox can make on the recipe's Python: its virtualenv runner (the pip
    attempt) seeds no pip that runs below 3.9, and would fail with a confusing import error
    in pip (Markdown 2.5.2's py37: ``cannot import name 'Literal'``), hiding the real one."""
    version = interpreters.parse_version(recipe.python)
    if version is None or version >= installers.VIRTUALENV_SEEDS:
        return attempts
    return [a for a in attempts if a.installer != installers.PIP] or attempts


def _refuse_before_37(recipe: Recipe) -> None:
    """Fail at once, before minutes of building, a tox environment on Python 3.6 or older:
    tox-uv builds it, but then runs its ``_venv_query.py`` in it for the test run, which
    3.6 cannot parse (``from __future__ import annotations``; natsort 7.0.1's py36), and
    tox's virtualenv runner cannot make it (virtualenv 21 seeds nothing below 3.9). The
    pipeline goes on to the project's next recipe, and ``recipes_tried`` says why."""
    version = interpreters.parse_version(recipe.python)
    if version is not None and (3,) <= version < interpreters.TOX_OLDEST:
        raise StageError("build", "venv_failed", (
            f"tox cannot run a Python {recipe.python} environment here: tox-uv's environment "
            "query needs Python {}.{} and virtualenv 21 seeds none below 3.9; trying the "
            "project's next recipe".format(*interpreters.TOX_OLDEST)))


def _build_repaired(attempt: installers.Attempt, recipe: Recipe, checkout: Path,
                    work_dir: Path, log_path: Path, deadline: float, options: BuildOptions,
                    ) -> tuple[Recipe, CommandOutcome]:
    """One attempt, repeated once with a repair if today's tox rejected the configuration."""
    outcome = _build_once(attempt, recipe, checkout, work_dir, log_path, deadline, options)
    repaired = _repair(recipe, outcome)
    if repaired is not None:
        recipe = repaired
        outcome = _build_once(attempt, recipe, checkout, work_dir, log_path, deadline,
                              options)
    return recipe, outcome


def _build_once(attempt: installers.Attempt, recipe: Recipe, checkout: Path, work_dir: Path,
                log_path: Path, deadline: float, options: BuildOptions) -> CommandOutcome:
    # --recreate: an environment an earlier attempt left may hold the wrong versions.
    argv = _tox_argv(recipe, work_dir, attempt.installer, "--notest", "--recreate",
                     checkout=checkout)
    policy = build_policy(project_dirs(checkout, work_dir),
                          readable=interpreter_roots(recipe.interpreter),
                          settings=options.sandbox, meter=options.meter)
    return run(argv, cwd=checkout, timeout=max(1.0, deadline - time.monotonic()),
               env=_tox_env(recipe, installers.environment(attempt, work_dir)), log_path=log_path,
               policy=policy)


def _repair(recipe: Recipe, outcome: CommandOutcome) -> Recipe | None:
    """A recipe that avoids a failure today's tox is known to make, or None."""
    if outcome.ok:
        return None
    missing = _MISSING_EXTRAS.search(outcome.output_tail)
    if missing:
        # tox 4 refuses extras the package does not declare; tox 3 ignored them.
        declared = [x.strip() for x in missing.group(2).split(",")]
        available = ",".join(x for x in declared if x not in ("", "none"))
        note = f"dropped extras the package does not declare: {missing.group(1)}"
        return replace(recipe, overrides=recipe.overrides + (f"testenv.extras={available}",),
                       repairs=recipe.repairs + (note,))
    if installers.editable_refused(outcome.output_tail):
        # ``usedevelop = true`` or ``package = editable`` with a build backend that has no
        # PEP 660 build_editable: install the sdist, as tox does by default. An override of
        # ``testenv`` does not reach the environment's own section: both are set.
        sections = ("testenv", f"testenv:{recipe.toxenv}")
        plain = tuple(f"{section}.{key}" for section in sections
                      for key in ("usedevelop=false", "package=sdist"))
        note = "installed the package from its sdist: its build backend cannot install editable"
        return replace(recipe, overrides=recipe.overrides + plain,
                       repairs=recipe.repairs + (note,))
    return None


def run_tests(env: Env, checkout: Path, *, extra_env: Mapping[str, str], log_path: Path,
              timeout: float, writable: Sequence[Path] = (),
              sandbox: SandboxSettings = SandboxSettings()) -> CommandOutcome:
    """Run the environment's test commands; the environment is reused as built, whatever
    the project's configuration says (``recreate = true`` would make it again, and the run
    has no network to do so)."""
    argv = _tox_argv(env.recipe, Path(env.work_dir), env.recipe.installer or installers.PIP,
                     "--skip-pkg-install", *_reuse_overrides(env.recipe.toxenv),
                     checkout=checkout)
    policy = suite_policy(project_dirs(checkout, Path(env.work_dir), *writable),
                          readable=interpreter_roots(env.recipe.interpreter), settings=sandbox)
    return run(argv, cwd=checkout, timeout=timeout, env=_tox_env(env.recipe, extra_env),
               log_path=log_path, policy=policy)
