"""Recipes from a project's ``.travis.yml``, its job matrix expanded the way Travis does.

Jobs are ``python`` x ``env`` (``env.jobs`` or ``env.matrix``) x ``os``, less the
``matrix.exclude`` entries, plus each ``matrix.include`` entry (which inherits the root
steps); ``env.global`` goes to every job and ``allow_failures`` changes nothing here. A job
runs ``before_install``, ``install`` (by default ``pip install -r requirements.txt`` when the
file exists) and ``before_script`` as setup steps, and ``script`` (no default) as its tests.
"""

from __future__ import annotations

import itertools
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from recipes.ci.jobs import (
    MAX_JOBS,
    TRAVIS,
    Job,
    ToxEnvironments,
    best_first,
    job_recipes,
    load_yaml,
    text_of,
)
from recipes.ci.steps import SYSTEM
from recipes.records import Recipe, StageError

SETUP_KEYS = ("before_install", "install", "before_script")
DEFAULT_INSTALL = "pip install -r requirements.txt"

Entry = dict[str, Any]  # one job of the matrix: python, env, os and any step keys


def recipes_from_travis(checkout: Path, *, log_path: Path,
                        tox: ToxEnvironments | None = None) -> tuple[list[Recipe], list[str]]:
    """Recipes for the ``.travis.yml`` jobs that can run here, best first, and "job: why"
    for the rest. StageError("plan", "config_unreadable") when the file cannot be read."""
    if not (checkout / TRAVIS).is_file():
        return [], []
    config = load_yaml(checkout / TRAVIS, label=TRAVIS)
    if config is None:
        return [], [f"{TRAVIS}: the file is empty"]
    if not isinstance(config, dict):
        raise StageError("plan", "config_unreadable", f"{TRAVIS} is not a mapping of keys")
    jobs, skipped = travis_jobs(config, checkout)
    tox = tox or ToxEnvironments(checkout, log_path=log_path)
    ranked = []
    for job in jobs:
        found, why_not = job_recipes(job, checkout=checkout, tox=tox)
        ranked += found
        skipped += why_not
    return best_first(ranked, skipped), skipped


def travis_jobs(config: dict[str, Any], checkout: Path) -> tuple[list[Job], list[str]]:
    """The jobs of the matrix (at most MAX_JOBS), and "job: why" for those left out."""
    entries = list(itertools.islice(_entries(config), MAX_JOBS + 1))
    skipped = []
    if len(entries) > MAX_JOBS:
        entries = entries[:MAX_JOBS]
        skipped.append(f"{TRAVIS}: the job matrix has more than {MAX_JOBS} jobs; "
                       f"only the first {MAX_JOBS} are read")
    global_env, _ = _env_sections(config.get("env"))
    jobs = []
    for entry in entries:
        job, why_not = _job(entry, config, global_env, checkout)
        if job is not None:
            jobs.append(job)
        else:
            skipped.append(why_not)
    return jobs, skipped


def _entries(config: dict[str, Any]) -> Iterator[Entry]:
    """Matrix entries, lazily: a huge matrix is never built whole."""
    _, env_axis = _env_sections(config.get("env"))
    pythons, oses = _listed(config.get("python")), _listed(config.get("os"))
    section = _matrix_section(config)
    includes = [e for e in _listed(section.get("include")) if isinstance(e, dict)]
    excludes = [e for e in _listed(section.get("exclude")) if isinstance(e, dict)]
    # With include and no expansion key at the root, Travis adds no root job.
    if pythons or env_axis or oses or not includes:
        for python, env, os_name in itertools.product(pythons or [None], env_axis or [None],
                                                      oses or [None]):
            entry = {"python": python, "env": " ".join(_env_strings(env, notes=[])),
                     "os": os_name}
            if not any(_matches(entry, exclude) for exclude in excludes):
                yield entry
    for include in includes:
        entry = dict(include)
        entry.setdefault("python", pythons[0] if pythons else None)
        entry.setdefault("os", oses[0] if oses else None)
        entry["env"] = " ".join(_env_strings(include.get("env"), notes=[]))
        entry["included"] = True
        yield entry


def _matrix_section(config: dict[str, Any]) -> dict[str, Any]:
    section: dict[str, Any] = {"include": [], "exclude": []}
    for key in ("matrix", "jobs"):
        value = config.get(key)
        if isinstance(value, list):  # the old form: a bare list of included jobs
            value = {"include": value}
        if isinstance(value, dict):
            for part in ("include", "exclude"):
                section[part] = _listed(section[part]) + _listed(value.get(part))
    return section


def _matches(entry: Entry, exclude: dict[str, Any]) -> bool:
    tracked = [key for key in ("python", "env", "os") if key in exclude]
    if not tracked:
        return False
    for key in tracked:
        wanted = exclude[key]
        if key == "env":
            wanted = " ".join(_env_strings(wanted, notes=[]))
        if _normal(entry.get(key)) != _normal(wanted):
            return False
    return True


def _normal(value: Any) -> str:
    return " ".join(text_of(value).split())


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _env_sections(env: Any) -> tuple[Any, list[Any]]:
    """(``env.global``, the env axis): ``env`` is a list, a string, or a mapping with
    ``global`` and ``jobs``/``matrix``."""
    if isinstance(env, dict):
        axis = env.get("jobs", env.get("matrix"))
        return env.get("global"), _listed(axis)
    return None, _listed(env)


def _env_strings(value: Any, *, notes: list[str]) -> list[str]:
    """``FOO=1 BAR=2`` strings from an env value: a string, a list, or ``{NAME: value}``;
    encrypted (``secure``) entries are noted and left out."""
    strings = []
    for item in _listed(value):
        if isinstance(item, dict):
            if "secure" in item:
                notes.append("env: an encrypted (secure) variable is not available here")
                continue
            strings.append(" ".join(f"{k}={shlex.quote(text_of(v))}" for k, v in item.items()))
        elif isinstance(item, list):
            strings.extend(_env_strings(item, notes=notes))
        elif item is not None:
            strings.append(text_of(item))
    return strings


def _variables(strings: list[str]) -> list[tuple[str, str]]:
    """``FOO=bar BAZ="a b"`` -> [("FOO", "bar"), ("BAZ", "a b")]; later wins."""
    variables: dict[str, str] = {}
    for text in strings:
        try:
            words = shlex.split(text)
        except ValueError:
            words = text.split()
        for word in words:
            name, sep, value = word.partition("=")
            if sep and name.isidentifier():
                variables[name] = value
    return list(variables.items())


def _job(entry: Entry, config: dict[str, Any], global_env: Any,
         checkout: Path) -> tuple[Job | None, str]:
    python, env, os_name = text_of(entry.get("python")), _normal(entry.get("env")), \
        text_of(entry.get("os")) or "linux"
    name = f"python={python or 'default'}" + (f" env={env}" if env else "") \
        + (f" os={os_name}" if os_name != "linux" else "")
    if entry.get("included") and entry.get("name"):
        name = f"{text_of(entry['name'])}: {name}"
    if os_name != "linux":
        return None, f"{TRAVIS} {name}: runs on {os_name}, not Linux"
    steps = {key: _steps(entry[key] if key in entry else config.get(key))
             for key in (*SETUP_KEYS, "script")}
    if steps["install"] is None:
        steps["install"] = [DEFAULT_INSTALL] if (checkout / "requirements.txt").is_file() else []
    if not steps["script"]:
        return None, f"{TRAVIS} {name}: no script (Travis has no default test command)"
    notes: list[str] = []
    strings = _env_strings(global_env, notes=notes) + _env_strings(entry.get("env"), notes=notes)
    setup = tuple(step for key in SETUP_KEYS for step in steps[key] or ())
    return Job(source=TRAVIS, name=name, python=python, setenv=tuple(_variables(strings)),
               setup=setup, tests=tuple(steps["script"]),
               notes=tuple(notes) + _unprovided(entry, config)), ""


def _steps(value: Any) -> list[str] | None:
    """A step key's commands; None when the key is absent, [] when set to skip."""
    if value is None:
        return None
    if isinstance(value, bool) or value == "skip":
        return []
    return [text_of(step) for step in _listed(value) if not isinstance(step, (dict, list))]


def _unprovided(entry: Entry, config: dict[str, Any]) -> tuple[str, ...]:
    """Notes for services and apt addons the job asks for, which this machine does not give."""
    notes = []
    for service in _listed(entry.get("services", config.get("services"))):
        notes.append(f"services: {text_of(service)}: not provided here")
    addons = entry.get("addons", config.get("addons"))
    apt = addons.get("apt") if isinstance(addons, dict) else None
    packages = apt.get("packages") if isinstance(apt, dict) else apt
    if packages:
        listed = " ".join(text_of(p) for p in _listed(packages) if isinstance(p, (str, int)))
        notes.append(f"addons.apt: {listed}: {SYSTEM}")
    return tuple(notes)
