"""tox ``commands`` that install packages (``pip install -e .[test]`` before pytest, as in
bidict 0.21.0) need the package index, which the traced test run has not. They run at build
time instead, in the built environment, and the test run gets the other commands: a repair,
recorded in ``Recipe.repairs``."""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
from dataclasses import replace
from pathlib import Path

from recipes.records import Recipe
from recipes.runners import installers
from recipes.sandbox import Policy, base_environment, run

# "pip install", "python -m pip install", "/path/bin/python3 -m pip install", with tox's "-"
# (ignore the exit code) in front.
_PIP_INSTALL = re.compile(r"^(-\s*)?(\S*python[\d.]*\s+-m\s+)?pip3?\s+install\b")
CONFIG_TIMEOUT = 120.0


def move_installs(recipe: Recipe, checkout: Path, *, work_dir: Path, log_path: Path,
                  timeout: float, tox_argv: list[str], env: dict[str, str],
                  policy: Policy) -> Recipe:
    """``recipe`` with its install commands run now (in ``policy``, the build's) and left
    out of its test run; unchanged when it has none, or nothing but them."""
    config = _commands(tox_argv, checkout, log_path, env, policy)
    if config is None:
        return recipe
    commands, change_dir = config
    installs = [c for c in commands if _PIP_INSTALL.match(c)]
    rest = [c for c in commands if not _PIP_INSTALL.match(c)]
    # Braces would be substituted a second time when the override is read.
    if not installs or not rest or any("{" in c or "\n" in c for c in rest):
        return recipe
    venv_bin = work_dir / recipe.toxenv / "bin"
    install_env = {**env, "VIRTUAL_ENV": str(venv_bin.parent),
                   "PATH": os.pathsep.join([str(venv_bin), env.get("PATH", "")])}
    python = str(venv_bin / "python")
    for command in installs:
        # With uv, through uv: then the line resolves as of the checkout's date too (bidict
        # 0.21.0's test extra takes a sphinx of 2020, which today's jinja2 breaks).
        argv = _as_uv(command, python) if recipe.installer == installers.UV else None
        # Failures are left to the test run to show: it may still work without.
        run(argv or ["bash", "-c", command.lstrip("- ")], cwd=change_dir, timeout=timeout,
            log_path=log_path, env=install_env, policy=policy)
    note = "ran at build time, as the test run has no network: " + "; ".join(installs)
    return replace(recipe, overrides=recipe.overrides + ("testenv.commands=" + "\n".join(rest),),
                   repairs=recipe.repairs + (note,))


def _as_uv(command: str, python: str) -> list[str] | None:
    """The ``uv pip install`` doing what a ``pip install`` line does, when every option it
    uses is one uv takes; else None (pip runs it)."""
    try:
        words = shlex.split(command.lstrip("- "))
    except ValueError:
        return None
    start = words.index("install") + 1 if "install" in words else len(words)
    args: list[str] = []
    words = words[start:]
    while words:
        word = words.pop(0)
        if word in ("-e", "--editable", "-r", "--requirement") and words:
            args += [word, words.pop(0)]
        elif word in ("-U", "--upgrade", "-q", "--quiet") or not word.startswith("-"):
            args.append(word)
        elif word.startswith("--upgrade-strategy"):  # uv's --upgrade is pip's "eager"
            if word == "--upgrade-strategy" and words:
                words.pop(0)
        else:
            return None
    if not args:
        return None
    return installers.install_argv(installers.Attempt(installers.UV), python, args)


def _commands(tox_argv: list[str], checkout: Path, log_path: Path, env: dict[str, str],
              build: Policy) -> tuple[list[str], Path] | None:
    """The environment's commands as tox resolves them, and the directory they run in."""
    argv = [sys.executable, "-m", "tox", "config", "--format", "json", "--no-provision",
            "-k", "commands", "change_dir", *_options(tox_argv)]
    policy = replace(build, network="none")  # reading the configuration needs no index
    outcome = run(argv, cwd=checkout, timeout=CONFIG_TIMEOUT, log_path=log_path,
                  env=base_environment(env), policy=policy)
    if not outcome.ok:
        return None
    try:
        found = json.loads(outcome.output_tail[outcome.output_tail.index("{"):])
        section = next(iter(found["env"].values()))
        commands = [str(c) for c in section["commands"]]
        return commands, Path(str(section.get("change_dir") or checkout))
    except (ValueError, KeyError, TypeError, StopIteration, AttributeError):
        return None


def _options(tox_argv: list[str]) -> list[str]:
    """The ``-e``, ``--workdir`` and ``-x`` options of a ``tox`` command line (the runner
    does not change the commands)."""
    kept = []
    for index, arg in enumerate(tox_argv):
        if arg in ("-e", "--workdir", "-x") and index + 1 < len(tox_argv):
            kept += [arg, tox_argv[index + 1]]
    return kept
