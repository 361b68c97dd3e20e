"""Recipes from a project's GitHub Actions workflows (``.github/workflows/*.yml``).

A job is read when it sets up Python with ``actions/setup-python``. Its ``strategy.matrix``
is expanded as GitHub does (axes, ``exclude``, then ``include``), and for each entry the
``${{ ... }}`` expressions in ``runs-on``, ``env``, ``with`` and ``run`` are substituted.
``run`` steps before the first test-like step set the environment up; test-like steps are
the test commands; other ``uses`` actions are left out with the reason, as are steps after
the tests and steps whose ``if:`` is false for the entry.
"""

from __future__ import annotations

import itertools
import json
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recipes.ci import steps
from recipes.ci.actions_expr import condition, substitute
from recipes.ci.jobs import (
    MAX_JOBS,
    WORKFLOWS,
    Job,
    ToxEnvironments,
    best_first,
    job_recipes,
    load_yaml,
    text_of,
)
from recipes.records import Recipe, StageError

RUNNER = {"os": "Linux", "arch": "X64"}
SHELLS = ("bash", "sh")
SETUP_PYTHON = "actions/setup-python"
CHECKOUT = "actions/checkout"

Combo = dict[str, Any]


def recipes_from_actions(checkout: Path, *, log_path: Path,
                         tox: ToxEnvironments | None = None) -> tuple[list[Recipe], list[str]]:
    """Recipes for the workflow jobs that can run here, best first, and "job: why" for the
    rest. A workflow file that cannot be read is noted and the others are still read."""
    directory = checkout / WORKFLOWS
    if not directory.is_dir():
        return [], []
    files = sorted(p for p in directory.iterdir() if p.suffix in (".yml", ".yaml") and p.is_file())
    jobs: list[Job] = []
    skipped: list[str] = []
    for path in files:
        source = WORKFLOWS + path.name
        try:
            workflow = load_yaml(path, label=source)
        except StageError as exc:
            skipped.append(exc.failure.message)
            continue
        if not isinstance(workflow, dict) or not isinstance(workflow.get("jobs"), dict):
            skipped.append(f"{source}: no jobs")
            continue
        found, why_not = workflow_jobs(workflow, source, checkout, limit=MAX_JOBS - len(jobs))
        jobs += found
        skipped += why_not
    tox = tox or ToxEnvironments(checkout, log_path=log_path)
    ranked = []
    for job in jobs:
        found_recipes, why_not = job_recipes(job, checkout=checkout, tox=tox)
        ranked += found_recipes
        skipped += why_not
    return best_first(ranked, skipped), skipped


def workflow_jobs(workflow: dict[str, Any], source: str, checkout: Path, *,
                  limit: int = MAX_JOBS) -> tuple[list[Job], list[str]]:
    """One Job per matrix entry of each job that sets up Python, at most ``limit``."""
    jobs: list[Job] = []
    skipped: list[str] = []
    for job_id, spec in workflow["jobs"].items():
        label = f"{source} {job_id}"
        if not isinstance(spec, dict):
            continue
        if "uses" in spec:
            skipped.append(f"{label}: calls a reusable workflow, which is not read")
            continue
        spec_steps = [s for s in _listed(spec.get("steps")) if isinstance(s, dict)]
        if not any(_action(s) == SETUP_PYTHON for s in spec_steps):
            skipped.append(f"{label}: no {SETUP_PYTHON} step")
            continue
        combos, why_not = _combos(spec.get("strategy"), limit=max(0, limit - len(jobs)) + 1)
        if combos is None:
            skipped.append(f"{label}: {why_not}")
            continue
        for combo in combos:
            if len(jobs) >= limit:
                skipped.append(f"{source}: more than {MAX_JOBS} jobs; the rest are not read")
                return jobs, skipped
            job, why_not = _job(str(job_id), spec, spec_steps, combo, workflow, source, checkout)
            if job is None:
                skipped.append(why_not)
            else:
                jobs.append(job)
    return jobs, skipped


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _action(step: dict[str, Any]) -> str:
    """``actions/setup-python`` for ``uses: actions/setup-python@v5``; "" for run steps."""
    return text_of(step.get("uses")).split("@", 1)[0].strip().lower()


def _combos(strategy: Any, *, limit: int) -> tuple[list[Combo] | None, str]:
    """The matrix entries (at most ``limit``), or None and why they cannot be known."""
    matrix = strategy.get("matrix") if isinstance(strategy, dict) else None
    if matrix is None:
        return [{}], ""
    if not isinstance(matrix, dict):
        return None, "the matrix is computed at run time"
    axes = {str(k): v for k, v in matrix.items() if k not in ("include", "exclude")}
    if not all(isinstance(values, list) for values in axes.values()):
        return None, "a matrix axis is computed at run time"
    includes = [e for e in _listed(matrix.get("include")) if isinstance(e, dict)]
    excludes = [e for e in _listed(matrix.get("exclude")) if isinstance(e, dict)]
    base = list(itertools.islice(_product(axes, excludes), limit)) if axes else []
    combos = [dict(c) for c in base]
    for include in includes:
        # An include extends every entry whose original values it does not change;
        # when it extends none, it is an entry of its own.
        extended = False
        for original, combo in zip(base, combos[:len(base)], strict=True):
            if all(original[k] == v for k, v in include.items() if k in original):
                combo.update(include)
                extended = True
        if not extended:
            combos.append(dict(include))
    return (combos or [{}])[:limit], ""


def _product(axes: dict[str, list[Any]], excludes: list[dict[str, Any]]) -> Iterator[Combo]:
    names = list(axes)
    for values in itertools.product(*(axes[n] for n in names)):
        combo = dict(zip(names, values, strict=True))
        if not any(all(combo.get(k) == v for k, v in e.items()) for e in excludes):
            yield combo


def _job(job_id: str, spec: dict[str, Any], spec_steps: list[dict[str, Any]], combo: Combo,
         workflow: dict[str, Any], source: str, checkout: Path) -> tuple[Job | None, str]:
    name = job_id + "".join(f" {k}={_short(v)}" for k, v in combo.items())
    label = f"{source} {name}"
    contexts: dict[str, Any] = {"matrix": combo, "runner": RUNNER, "env": {}}
    env = _environment([workflow.get("env"), spec.get("env")], contexts)
    contexts["env"] = env
    runs_on = " ".join(substitute(text_of(v), contexts) for v in _listed(spec.get("runs-on")))
    if any(word in runs_on.lower() for word in ("windows", "macos", "mac-", "osx")):
        return None, f"{label}: runs on {runs_on}, not Linux"
    if "if" in spec and condition(text_of(spec["if"]), contexts) is False:
        return None, f"{label}: its if: is false for this entry"
    reading = _Reading(contexts, {**_run_defaults(workflow), **_run_defaults(spec)}, checkout,
                       notes=_unprovided(spec))
    for step in spec_steps:
        reading.read(step)
    return Job(source=source, name=name, python=reading.python, setenv=tuple(env.items()),
               setup=tuple(reading.setup), tests=tuple(reading.tests),
               notes=tuple(reading.notes)), ""


@dataclass
class _Reading:
    """A job's steps read in order for one matrix entry."""

    contexts: dict[str, Any]
    defaults: dict[str, Any]  # ``defaults.run``: shell, working-directory
    checkout: Path
    python: str = ""
    setup: list[str] = field(default_factory=list)
    tests: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def read(self, step: dict[str, Any]) -> None:
        label = text_of(step.get("name")) or text_of(step.get("uses")) \
            or steps.describe(text_of(step.get("run")))
        action = _action(step)
        shell = text_of(step.get("shell") or self.defaults.get("shell")).split(" ", 1)[0]
        if "if" in step and condition(text_of(step["if"]), self.contexts) is False:
            self.notes.append(f"{label}: its if: is false for this entry")
        elif action == SETUP_PYTHON:
            self.python = _setup_python_version(step, self.contexts, self.checkout)
        elif action and action != CHECKOUT:
            self.notes.append(f"uses {text_of(step.get('uses'))}: actions are not run")
        elif "run" not in step:
            return
        elif shell and shell not in SHELLS:
            self.notes.append(f"{label}: shell {shell} is not run")
        else:
            self.read_run(_script(step, self.contexts, self.defaults))

    def read_run(self, script: str) -> None:
        if steps.is_test_step(script):
            self.tests.append(script)
        elif self.tests:
            verdict = steps.classify(script)
            why = verdict.reason if not verdict.kept else "runs after the tests"
            self.notes.append(f"{steps.describe(script)}: {why}")
        else:
            self.setup.append(script)


def _short(value: Any) -> str:
    text = json.dumps(value, default=str) if isinstance(value, (dict, list)) else text_of(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _environment(levels: list[Any], contexts: dict[str, Any]) -> dict[str, str]:
    env: dict[str, str] = {}
    for level in levels:
        if isinstance(level, dict):
            for key, value in level.items():
                env[str(key)] = substitute(text_of(value), {**contexts, "env": env})
    return env


def _run_defaults(section: dict[str, Any]) -> dict[str, Any]:
    defaults = section.get("defaults")
    run = defaults.get("run") if isinstance(defaults, dict) else None
    return {k: v for k, v in run.items() if v is not None} if isinstance(run, dict) else {}


def _setup_python_version(step: dict[str, Any], contexts: dict[str, Any],
                          checkout: Path) -> str:
    with_ = step["with"] if isinstance(step.get("with"), dict) else {}
    versions = _listed(with_.get("python-version"))
    if versions:
        lines = substitute(text_of(versions[-1]), contexts).split()
        return lines[-1] if lines else ""  # with several, the last one is the default
    version_file = text_of(with_.get("python-version-file"))
    if version_file and not version_file.endswith(".toml"):
        try:
            text = (checkout / version_file).read_text(encoding="utf-8", errors="replace")
            return next((line.strip() for line in text.splitlines() if line.strip()), "")
        except OSError:
            return ""
    return ""


def _script(step: dict[str, Any], contexts: dict[str, Any], defaults: dict[str, Any]) -> str:
    """The step's ``run`` with its ``env`` and ``working-directory`` written in: each step
    runs in a fresh shell, so exporting them at the top of the script is exact."""
    step_env = _environment([step.get("env")], contexts)
    script = substitute(text_of(step.get("run")), {**contexts, "env": {**contexts["env"],
                                                                      **step_env}})
    lines = [f"export {k}={shlex.quote(v)}" for k, v in step_env.items() if k.isidentifier()]
    directory = text_of(step.get("working-directory") or defaults.get("working-directory"))
    if directory:
        lines.append(f"cd {shlex.quote(substitute(directory, contexts))}")
    return "\n".join([*lines, script.strip()])


def _unprovided(spec: dict[str, Any]) -> list[str]:
    """Notes for what the job's machine had and this one does not: container, services."""
    notes = []
    if spec.get("container"):
        notes.append("container: the job's container image is not used")
    services = spec.get("services")
    for service in services if isinstance(services, dict) else ():
        notes.append(f"services: {service}: not provided here")
    return notes
