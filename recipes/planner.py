"""Every way we know to build a checkout and run its tests, best first."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from recipes import interpreters
from recipes.ci import tox as tox_source
from recipes.ci.actions import recipes_from_actions
from recipes.ci.fallback import fallback_recipe
from recipes.ci.jobs import ToxEnvironments
from recipes.ci.travis import recipes_from_travis
from recipes.records import CommandOutcome, Env, Recipe, StageError
from recipes.runners import shell, venv
from recipes.runners import tox as tox_runner
from recipes.runners.installers import BuildOptions
from recipes.sandbox import SandboxSettings
from recipes.support import Support, declared_support

RUNNERS = {"tox": tox_runner, "shell": shell, "fallback": venv}
CiSource = Callable[..., tuple[list[Recipe], list[str]]]


def plan(checkout: Path, *, log_path: Path, settings: SandboxSettings = SandboxSettings(),
         date: str = "") -> tuple[list[Recipe], list[str]]:
    """The recipes for a checkout, best first, and what was left out with the reason:
    tox environments, then jobs of ``.travis.yml``, then of GitHub Actions workflows, then
    the fallback; among the CI's recipes, those on a Python with the fast tracer that the
    project supports come first (``for_tracing``). ``date`` (the release's or the
    commit's, ISO 8601) chooses the Python of a job that names none when the project
    declares none that is here.

    A configuration that cannot be read is recorded as left out, and the other sources
    still get their chance. StageError("plan", "python2_only") for a project that runs
    only on Python 2, which the tracer cannot trace.
    """
    support = declared_support(checkout)
    if support.python2_only():
        raise StageError("plan", "python2_only",
                         f"the project supports only Python 2 ({support.evidence()}); "
                         f"citrace traces tests on Python 3.6 or newer")
    skipped: list[str] = []
    tox = ToxEnvironments(checkout, log_path=log_path, settings=settings)
    try:
        recipes, skipped = tox_source.recipes_from_tox(checkout, tox.environments)
    except StageError as exc:
        recipes = []
        skipped.append(f"{tox_source.tox_config_file(checkout)}: {exc.failure.message}")
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
    traceable = _traceable(recipes, skipped)
    if not traceable:
        cause = "python2_only" if recipes else "no_interpreter"
        raise StageError("plan", cause, "no recipe can run here: " + "; ".join(skipped))
    return for_tracing(traceable, support, date), skipped


def _traceable(recipes: list[Recipe], skipped: list[str]) -> list[Recipe]:
    """The recipes on a Python the probe runs on; the others are noted in ``skipped``."""
    kept = []
    for recipe in recipes:
        version = interpreters.parse_version(recipe.python)
        if version is not None and version < interpreters.OLDEST_TRACEABLE:
            skipped.append(f"{recipe.source} {recipe.job}: Python {recipe.python} cannot be "
                           f"traced (the tracer runs on Python 3.6 and newer)")
        else:
            kept.append(recipe)
    return kept


def for_tracing(recipes: list[Recipe], support: Support, date: str = "") -> list[Recipe]:
    """The recipes reordered for the tracer: its ``sys.monitoring`` backend (3.12+) costs
    about 1.1x where ``sys.setprofile`` costs 7x, and it sees generator yields. So a CI job
    on 3.12+ that the project supports (the job names that version, or the metadata
    declares it) goes first; otherwise the order is kept, and the fallback stays last.
    A job naming no version runs first on a version the project declares
    (``_declared_python``), then on the one chosen for it before (which the pipeline tries
    only if the first did not build)."""
    moved = []
    for recipe in recipes:
        declared = recipe if recipe.wanted else _declared_python(recipe, support, date)
        moved += [declared] if declared == recipe else [declared, recipe]
    ci = [r for r in moved if r.kind != "fallback"]
    ci.sort(key=lambda r: 0 if _fast_and_supported(r, support) else 1)
    return ci + [r for r in moved if r.kind == "fallback"]


def _fast_and_supported(recipe: Recipe, support: Support) -> bool:
    version = interpreters.parse_version(recipe.python)
    if version is None or version < interpreters.MONITORING:
        return False
    return recipe.wanted == recipe.python or support.declares(version)


def _declared_python(recipe: Recipe, support: Support, date: str) -> Recipe:
    """``recipe`` (which names no Python) on the oldest 3.12+ interpreter here that the
    project declares support for; else, when its classifiers name versions and not the one
    chosen, on the newest they name: a 2020 project listing 3.5 to 3.8 imports
    ``collections.Iterable``, which 3.10 removed. When it declares no version that is here,
    on the Python of its ``date`` (``interpreters.of_era``) if older than the one chosen:
    a 2013 project that names "Python :: 3" only (or 3.3, long gone) ran on the Python of
    2013 with the packages of 2013, and its dependencies can only be resolved as of its
    date on an interpreter they already supported (Flask 0.10.1: jinja2 3.1 on 3.11 has no
    ``Markup``; CherryPy 3.6.0 imports ``cgi.escape``, gone in 3.8). Unchanged otherwise."""
    present = [i for i in interpreters.discover()
               if i.version[:2] >= interpreters.OLDEST_TRACEABLE
               and support.declares(i.version[:2])]
    fast = [i for i in present if i.version[:2] >= interpreters.MONITORING]
    version = interpreters.parse_version(recipe.python)
    era = interpreters.of_era(date) if date and not present else None
    if fast:
        chosen = fast[0]
    elif present and version is not None and not support.declares(version):
        chosen = present[-1]
    elif era is not None and version is not None and era.version[:2] < version:
        chosen = era
    else:
        return recipe
    return replace(recipe, python=chosen.short, interpreter=chosen.path)


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
          timeout: float, options: BuildOptions | None = None) -> Env:
    """Build the recipe's environment; ``options``: the installer, and the date to resolve
    dependencies as of (pip, newest versions, when not given)."""
    runner = RUNNERS.get(recipe.kind, venv)
    return runner.build(recipe, checkout, work_dir=work_dir, log_path=log_path, timeout=timeout,
                        options=options)


def run_tests(env: Env, checkout: Path, *, extra_env: Mapping[str, str], log_path: Path,
              timeout: float, writable: Sequence[Path] = (),
              sandbox: SandboxSettings = SandboxSettings()) -> CommandOutcome:
    """Run the environment's tests; ``writable``: directories they may write besides the
    project's (the probe's trace directory)."""
    runner = RUNNERS.get(env.recipe.kind, venv)
    return runner.run_tests(env, checkout, extra_env=extra_env, log_path=log_path,
                            timeout=timeout, writable=writable, sandbox=sandbox)
