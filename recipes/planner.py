"""Every way we know to build a checkout and run its tests, best first."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from recipes import shell_runner, tox_runner, tox_source, venv_runner
from recipes.actions_source import recipes_from_actions
from recipes.ci_jobs import ToxEnvironments
from recipes.fallback import fallback_recipe
from recipes.records import CommandOutcome, Env, Recipe, StageError
from recipes.travis_source import recipes_from_travis

RUNNERS = {"tox": tox_runner, "shell": shell_runner, "fallback": venv_runner}
CiSource = Callable[..., tuple[list[Recipe], list[str]]]


def plan(checkout: Path, *, log_path: Path) -> tuple[list[Recipe], list[str]]:
    """The recipes for a checkout, best first, and what was left out with the reason:
    tox environments, then jobs of ``.travis.yml``, then of GitHub Actions workflows, then
    the fallback.

    A configuration that cannot be read is recorded as left out, and the other sources
    still get their chance.
    """
    skipped: list[str] = []
    try:
        recipes, skipped = tox_source.recipes_from_tox(checkout, log_path=log_path)
    except StageError as exc:
        recipes = []
        skipped.append(f"{tox_source.tox_config_file(checkout)}: {exc.failure.message}")
    tox = ToxEnvironments(checkout, log_path=log_path)
    sources: tuple[CiSource, ...] = (recipes_from_travis, recipes_from_actions)
    for source in sources:
        try:
            found, why_not = source(checkout, log_path=log_path, tox=tox)
        except StageError as exc:
            found, why_not = [], [exc.failure.message]
        recipes += _new_tox_environments(found, recipes, why_not)
        skipped += why_not
    fallback = fallback_recipe(checkout)
    if fallback is not None:
        recipes.append(fallback)
    else:
        skipped.append("fallback: no interpreter here accepts the project's requires-python")
    if not recipes:
        raise StageError("plan", "no_interpreter", "no recipe can run here: " + "; ".join(skipped))
    return recipes, skipped


def _new_tox_environments(found: list[Recipe], planned: list[Recipe],
                          skipped: list[str]) -> list[Recipe]:
    """``found`` less the tox recipes whose environment is already planned."""
    planned_envs = {r.toxenv for r in planned if r.kind == "tox"}
    kept = []
    for recipe in found:
        if recipe.kind == "tox" and recipe.toxenv in planned_envs:
            skipped.append(f"{recipe.source} {recipe.job}: runs tox environment "
                           f"{recipe.toxenv}, already planned")
            continue
        if recipe.kind == "tox":
            planned_envs.add(recipe.toxenv)
        kept.append(recipe)
    return kept


def build(recipe: Recipe, checkout: Path, *, work_dir: Path, log_path: Path,
          timeout: float) -> Env:
    runner = RUNNERS.get(recipe.kind, venv_runner)
    return runner.build(recipe, checkout, work_dir=work_dir, log_path=log_path, timeout=timeout)


def run_tests(env: Env, checkout: Path, *, extra_env: Mapping[str, str], log_path: Path,
              timeout: float) -> CommandOutcome:
    runner = RUNNERS.get(env.recipe.kind, venv_runner)
    return runner.run_tests(env, checkout, extra_env=extra_env, log_path=log_path, timeout=timeout)
