"""Every way we know to build a checkout and run its tests, best first."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from recipes import tox_runner, tox_source, venv_runner
from recipes.fallback import fallback_recipe
from recipes.records import CommandOutcome, Env, Recipe, StageError


def plan(checkout: Path, *, log_path: Path) -> tuple[list[Recipe], list[str]]:
    """The recipes for a checkout, best first, and what was left out with the reason.

    A tox configuration that tox cannot read is recorded as left out, and the fallback
    still gets its chance.
    """
    skipped: list[str] = []
    try:
        recipes, skipped = tox_source.recipes_from_tox(checkout, log_path=log_path)
    except StageError as exc:
        recipes = []
        skipped.append(f"{tox_source.tox_config_file(checkout)}: {exc.failure.message}")
    fallback = fallback_recipe(checkout)
    if fallback is not None:
        recipes.append(fallback)
    else:
        skipped.append("fallback: no interpreter here accepts the project's requires-python")
    if not recipes:
        raise StageError("plan", "no_interpreter", "no recipe can run here: " + "; ".join(skipped))
    return recipes, skipped


def build(recipe: Recipe, checkout: Path, *, work_dir: Path, log_path: Path,
          timeout: float) -> Env:
    runner = tox_runner if recipe.kind == "tox" else venv_runner
    return runner.build(recipe, checkout, work_dir=work_dir, log_path=log_path, timeout=timeout)


def run_tests(env: Env, checkout: Path, *, extra_env: Mapping[str, str], log_path: Path,
              timeout: float) -> CommandOutcome:
    runner = tox_runner if env.recipe.kind == "tox" else venv_runner
    return runner.run_tests(env, checkout, extra_env=extra_env, log_path=log_path, timeout=timeout)
