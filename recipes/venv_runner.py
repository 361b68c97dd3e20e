"""Build a plain virtualenv for a fallback recipe and run its test commands."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from recipes import envs
from recipes.diagnose import cause_of_build_failure, failure_line
from recipes.records import CommandOutcome, Env, Recipe, StageError
from recipes.sandbox import (
    base_environment,
    build_policy,
    interpreter_roots,
    project_dirs,
    run,
    suite_policy,
)

NO_TESTS_COLLECTED = 5  # pytest's exit status when it found nothing to run


def build(recipe: Recipe, checkout: Path, *, work_dir: Path, log_path: Path,
          timeout: float) -> Env:
    venv = work_dir / "venv"
    policy = build_policy(project_dirs(checkout, work_dir),
                          readable=interpreter_roots(recipe.interpreter))
    created = run([sys.executable, "-m", "virtualenv", "-q", "-p", recipe.interpreter, str(venv)],
                  cwd=checkout, timeout=timeout, log_path=log_path, policy=policy)
    if not created.ok:
        raise StageError("build", "venv_failed", failure_line(created, "virtualenv failed"))
    python = str(venv / "bin" / "python")
    installed = run([python, "-m", "pip", "install", *recipe.install], cwd=checkout,
                    timeout=timeout, log_path=log_path, env=_venv_env(venv), policy=policy)
    if not installed.ok:
        reason = failure_line(installed, "pip install failed")
        raise StageError("build", cause_of_build_failure(installed), reason)
    site_packages, version = envs.describe(python)
    return Env(recipe=recipe, python=python, site_packages=site_packages, version=version,
               work_dir=str(work_dir))


def run_tests(env: Env, checkout: Path, *, extra_env: Mapping[str, str], log_path: Path,
              timeout: float) -> CommandOutcome:
    """Run the recipe's commands in order; a later one runs only if pytest found no tests."""
    venv = Path(env.python).parent.parent
    policy = suite_policy(project_dirs(checkout, Path(env.work_dir)),
                         readable=interpreter_roots(env.recipe.interpreter))
    outcome: CommandOutcome | None = None
    for command in env.recipe.commands:
        argv = [part.replace("{python}", env.python) for part in command]
        outcome = run(argv, cwd=checkout, timeout=timeout, log_path=log_path,
                      env=_venv_env(venv, extra_env), policy=policy)
        if outcome.exit_code != NO_TESTS_COLLECTED:
            break
    if outcome is None:
        raise StageError("test", "no_tests", "the recipe has no test command")
    return outcome


def _venv_env(venv: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = base_environment(extra)
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = os.pathsep.join([str(venv / "bin"), env.get("PATH", "")])
    return env
