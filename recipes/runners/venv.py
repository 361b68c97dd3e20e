"""Build a plain virtualenv for a fallback recipe and run its test commands."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from recipes.records import CommandOutcome, Env, Recipe, StageError
from recipes.runners import envs, installers
from recipes.runners.diagnose import cause_of_build_failure, failure_line, suite_counts
from recipes.runners.installers import PIP, BuildOptions
from recipes.sandbox import (
    Policy,
    SandboxSettings,
    base_environment,
    build_policy,
    interpreter_roots,
    project_dirs,
    run,
    suite_policy,
)

NO_TESTS_COLLECTED = 5  # pytest's exit status when it found nothing to run
_PIP_ONLY = " (only pip can do this)"


def build(recipe: Recipe, checkout: Path, *, work_dir: Path, log_path: Path,
          timeout: float, options: BuildOptions | None = None) -> Env:
    """Create the virtualenv and install the recipe's packages, trying each installer
    attempt in turn (uv as of the checkout's date, uv, pip) until one builds."""
    deadline = time.monotonic() + timeout
    options = options or BuildOptions()
    policy = build_policy(project_dirs(checkout, work_dir),
                          readable=interpreter_roots(recipe.interpreter),
                          settings=options.sandbox, meter=options.meter)
    fallbacks: list[str] = []
    tried = installers.attempts(options, recipe.interpreter)
    pip_only = False
    for number, attempt in enumerate(tried, start=1):
        if pip_only and attempt.installer != PIP:
            continue
        try:
            python, built = _build_with(attempt, recipe, checkout, work_dir / "venv",
                                        log_path, deadline, policy)
        except StageError as exc:
            if number == len(tried) or exc.failure.cause == "timeout":
                raise
            pip_only = exc.failure.message.endswith(_PIP_ONLY)
            fallbacks.append(installers.fallback_note(attempt, exc.failure.message))
            continue
        site_packages, version = envs.describe(python, inside=work_dir,
                                               interpreter=recipe.interpreter,
                                               settings=options.sandbox)
        built = replace(built, installer=attempt.installer, as_of=attempt.as_of,
                        tests_as_of=attempt.tests_as_of, installer_fallbacks=tuple(fallbacks))
        return Env(recipe=built, python=python, site_packages=site_packages, version=version,
                   work_dir=str(work_dir))
    raise AssertionError("attempts() is never empty")


def _build_with(attempt: installers.Attempt, recipe: Recipe, checkout: Path, venv: Path,
                log_path: Path, deadline: float, policy: Policy) -> tuple[str, Recipe]:
    """Build the virtualenv afresh with one installer; its python and the recipe as built
    (with its repairs), or StageError."""
    shutil.rmtree(venv, ignore_errors=True)  # what an attempt before this one left
    extra = installers.environment(attempt, venv.parent)
    created = run(installers.venv_argv(attempt, recipe.interpreter, venv), cwd=checkout,
                  timeout=_remaining(deadline), log_path=log_path, policy=policy,
                  env=base_environment(extra))
    if not created.ok:
        cause = "timeout" if created.timed_out else "venv_failed"
        raise StageError("build", cause, failure_line(created, f"{attempt.installer}: "
                                                      "creating the virtualenv failed"))
    python = str(venv / "bin" / "python")

    def install(args: tuple[str, ...]) -> CommandOutcome:
        return run(installers.install_argv(attempt, python, args), cwd=checkout,
                   timeout=_remaining(deadline), log_path=log_path,
                   env=_venv_env(venv, extra), policy=policy)

    installed = install(recipe.install)
    plain = installers.without_editable(recipe.install)
    if not installed.ok and plain != recipe.install \
            and installers.editable_refused(installed.output_tail):
        # A build backend without PEP 660's build_editable (flit_core < 3.4, setuptools < 64,
        # an in-tree backend): install a copy; the tracer traces it in site-packages.
        recipe = replace(recipe, install=plain, repairs=recipe.repairs + (
            "installed the project without -e: its build backend cannot install editable",))
        installed = install(plain)
    if not installed.ok and attempt.installer == installers.UV \
            and installers.needs_2to3(installed.output_tail):
        # A setup.py of 2012-2016 that converts its Python 2 code with use_2to3: the
        # setuptools before 58 still does. The converted copy is built, so not editable.
        attempt = replace(attempt, setuptools_as_of=installers.SETUPTOOLS_WITH_2TO3)
        extra = installers.environment(attempt, venv.parent)
        recipe = replace(recipe, install=plain, repairs=recipe.repairs + (
            "built with the setuptools before 58 and without -e: setup.py converts its "
            "code with use_2to3, which setuptools 58 removed",))
        installed = install(plain)
        if installed.ok:
            recipe = _convert_checkout(recipe, python, checkout, log_path, deadline, policy,
                                       _venv_env(venv, extra))
    if not installed.ok:
        reason = failure_line(installed, f"{attempt.installer} install failed")
        if installers.only_pip_can(installed.output_tail):
            reason += _PIP_ONLY
        raise StageError("build", cause_of_build_failure(installed), reason)
    return python, recipe


def _convert_checkout(recipe: Recipe, python: str, checkout: Path, log_path: Path,
                      deadline: float, policy: Policy, env: Mapping[str, str]) -> Recipe:
    """The checkout converted with 2to3 in place, as ``setup.py test`` converted it in its
    day: the tests (Python 2 too) run from the checkout, and import the package from it
    (the working directory comes first on ``sys.path``), not the converted copy installed.
    Left as it is when the interpreter has no ``lib2to3`` (3.13 removed it)."""
    converted = run([python, "-m", "lib2to3", "--write", "--nobackups", "--no-diffs", "."],
                    cwd=checkout, timeout=_remaining(deadline), log_path=log_path, env=env,
                    policy=policy)
    if not converted.ok:
        return recipe
    return replace(recipe, repairs=recipe.repairs + (
        "converted the checkout with 2to3 as setup.py test did: its tests import it",))


def _remaining(deadline: float) -> float:
    return max(1.0, deadline - time.monotonic())


def run_tests(env: Env, checkout: Path, *, extra_env: Mapping[str, str], log_path: Path,
              timeout: float, writable: Sequence[Path] = (),
              sandbox: SandboxSettings = SandboxSettings()) -> CommandOutcome:
    """Run the recipe's commands in order; a later one runs only if those before it ran no
    test (``ran_no_test``).
    ``writable``: directories the tests write besides the project's own (its traces)."""
    venv = Path(env.python).parent.parent
    policy = suite_policy(project_dirs(checkout, Path(env.work_dir), *writable),
                          readable=interpreter_roots(env.recipe.interpreter), settings=sandbox)
    outcome: CommandOutcome | None = None
    for command in env.recipe.commands:
        argv = [part.replace("{python}", env.python) for part in command]
        outcome = run(argv, cwd=checkout, timeout=timeout, log_path=log_path,
                      env=_venv_env(venv, extra_env), policy=policy)
        if not ran_no_test(outcome):
            break
    if outcome is None:
        raise StageError("test", "no_tests", "the recipe has no test command")
    return outcome


def ran_no_test(outcome: CommandOutcome) -> bool:
    """pytest collected nothing (exit status 5), or the summary counts no test: unittest's
    "Ran 0 tests ... OK" exits 0 before Python 3.12."""
    if outcome.exit_code == NO_TESTS_COLLECTED:
        return True
    counts = suite_counts(outcome.output_tail)
    return counts is not None and counts.passed + counts.failed + counts.errors == 0


def _venv_env(venv: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = base_environment(extra)
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = os.pathsep.join([str(venv / "bin"), env.get("PATH", "")])
    return env
