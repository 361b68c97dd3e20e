"""Build a virtualenv by running a CI job's shell steps, then run its test commands.

Every step runs with bash in the checkout, with the virtualenv's ``bin`` first on PATH and
``VIRTUAL_ENV`` set (as in an activated CI virtualenv), the recipe's ``setenv``, and the
variables the CI service sets (``CI``, ``TRAVIS`` or ``GITHUB_ACTIONS`` ...). State is carried
between steps the way the service carries it: Travis runs all of a job's lines in one shell,
so exported variables and the working directory carry over; GitHub Actions starts every step
afresh and carries only what a step writes to ``$GITHUB_ENV`` and ``$GITHUB_PATH``. A failing
step is recorded and the build goes on: the tests decide.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from recipes.ci.jobs import TRAVIS, shell_for
from recipes.ci.steps import describe, installs_project
from recipes.records import CommandOutcome, Env, Recipe, StageError
from recipes.runners import envs, installers
from recipes.runners.diagnose import failure_line
from recipes.runners.installers import BuildOptions
from recipes.sandbox import (
    Policy,
    SandboxSettings,
    base_environment,
    build_policy,
    interpreter_roots,
    project_dirs,
    run,
    suite_policy,
    untrusted,
)

STATE_FILE = "shell-state.json"
# Travis's lines share one shell. bash reads $BASH_ENV before a non-interactive script, so
# this prelude sets a trap that saves the exported variables and the working directory on
# exit; it unsets BASH_ENV first so that scripts the step starts do not run it too.
_PRELUDE = """unset BASH_ENV
__citrace_state=$_CITRACE_SHELL_STATE; unset _CITRACE_SHELL_STATE
trap 'env -0 > "$__citrace_state.env"; pwd > "$__citrace_state.cwd"' EXIT
"""
_SHELL_OWN = frozenset({"_", "SHLVL", "PWD", "OLDPWD", "BASH_ENV", "_CITRACE_SHELL_STATE"})
_GITHUB_FILES = ("GITHUB_ENV", "GITHUB_PATH", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY")


def build(recipe: Recipe, checkout: Path, *, work_dir: Path, log_path: Path,
          timeout: float, options: BuildOptions | None = None) -> Env:
    """Create the virtualenv and run the recipe's steps in it; StageError only when there is
    no environment at all (virtualenv failed, or the steps ran out of time).

    The installer makes the virtualenv and the installs this runner adds; the steps' own
    ``pip`` commands stay pip's (with ``UV_EXCLUDE_NEWER`` set for steps that call uv)."""
    started = time.monotonic()
    venv = work_dir / "venv"
    options = options or BuildOptions()
    policy = build_policy(project_dirs(checkout, work_dir),
                          readable=interpreter_roots(recipe.interpreter),
                          settings=options.sandbox, meter=options.meter)
    chain, fallbacks = _create_venv(installers.attempts(options, recipe.interpreter),
                                    recipe, checkout, venv, log_path, timeout, policy)
    python = str(venv / "bin" / "python")
    remaining = timeout - (time.monotonic() - started)
    shell = _Shell.start(recipe, checkout, venv, work_dir, log_path, remaining, policy,
                         installer_env=installers.environment(chain[0], work_dir))
    repairs, failed = list(recipe.repairs), []
    if shell.travis and any("pytest" in " ".join(c) or "py.test" in " ".join(c)
                            for c in recipe.commands):
        repairs.append("installed pytest first, as Travis's Python images have it")
        failed += _install(shell, chain, ["pytest"], fallbacks, cwd=checkout)
    for step in recipe.steps:
        failed += _attempt(shell, [*shell_for(recipe.source), step], label=describe(step))
    scripts = [*recipe.steps, *(command[-1] for command in recipe.commands)]
    if not any(installs_project(s, checkout) for s in scripts) and _installable(checkout):
        failed += _install_project(shell, chain, fallbacks, repairs, checkout)
    shell.save(work_dir / STATE_FILE)
    site_packages, version = envs.describe(python, inside=work_dir,
                                           interpreter=recipe.interpreter,
                                           settings=options.sandbox)
    built = replace(recipe, repairs=tuple(repairs), failed_steps=tuple(failed),
                    installer=chain[0].installer, as_of=chain[0].as_of,
                    tests_as_of=chain[0].tests_as_of, installer_fallbacks=tuple(fallbacks))
    return Env(recipe=built, python=python, site_packages=site_packages, version=version,
               work_dir=str(work_dir))


def _create_venv(tried: list[installers.Attempt], recipe: Recipe, checkout: Path, venv: Path,
                 log_path: Path, timeout: float, policy: Policy,
                 ) -> tuple[list[installers.Attempt], list[str]]:
    """Create the virtualenv with the first attempt that can; the attempts left from it
    (installs may still fall back along them), and the notes of those that failed."""
    deadline, fallbacks = time.monotonic() + timeout, list[str]()
    for number, attempt in enumerate(tried):
        shutil.rmtree(venv, ignore_errors=True)
        created = run(installers.venv_argv(attempt, recipe.interpreter, venv), cwd=checkout,
                      timeout=max(1.0, deadline - time.monotonic()), log_path=log_path,
                      policy=policy,
                      env=base_environment(installers.environment(attempt, venv.parent)))
        if created.ok:
            return tried[number:], fallbacks
        reason = failure_line(created, f"{attempt.installer}: creating the virtualenv failed")
        if created.timed_out or number == len(tried) - 1:
            raise StageError("build", "timeout" if created.timed_out else "venv_failed", reason)
        fallbacks.append(installers.fallback_note(attempt, reason))
    raise AssertionError("attempts() is never empty")


def _install(shell: _Shell, chain: list[installers.Attempt], args: list[str],
             fallbacks: list[str], *, cwd: Path) -> list[str]:
    """Install ``args`` with the first attempt of ``chain`` that can (uv as of the date, uv,
    pip); ["step: why"] if none could, [] if one did."""
    python = str(Path(shell.env["VIRTUAL_ENV"]) / "bin" / "python")
    label = "pip install " + " ".join(args)
    for attempt in chain:
        failed = _attempt(shell, installers.install_argv(attempt, python, args), label=label,
                          cwd=cwd, extra=installers.environment(attempt, shell.scratch))
        if not failed:
            return []
        if attempt is not chain[-1]:
            fallbacks.append(installers.fallback_note(attempt, failed[0]))
    return failed


def _install_project(shell: _Shell, chain: list[installers.Attempt], fallbacks: list[str],
                     repairs: list[str], checkout: Path) -> list[str]:
    """Install the checkout, which no step does: editable, else (a build backend without
    PEP 660's build_editable) as a copy. ["step: why"] for each install that failed."""
    repairs.append("installed the project with pip install -e ., which no step does")
    failed = _install(shell, chain, ["-e", "."], fallbacks, cwd=checkout)
    if failed:
        repairs.append("installed the project with pip install . (-e failed)")
        failed += _install(shell, chain, ["."], fallbacks, cwd=checkout)
    return failed


def _attempt(shell: _Shell, argv: list[str], *, label: str, cwd: Path | None = None,
             extra: Mapping[str, str] | None = None) -> list[str]:
    """Run one build step; ["step: why"] if it failed, [] if it passed."""
    outcome = shell.run(argv, cwd=cwd, extra=extra)
    if outcome.timed_out:
        raise StageError("build", "timeout", f"the build ran out of time at: {label}")
    if outcome.ok:
        return []
    return [f"{label}: {failure_line(outcome, f'exit code {outcome.exit_code}')}"]


def _installable(checkout: Path) -> bool:
    if (checkout / "setup.py").is_file():
        return True
    try:
        text = (checkout / "pyproject.toml").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return any(table in text for table in ("[build-system]", "[project]", "[tool.poetry]"))


def run_tests(env: Env, checkout: Path, *, extra_env: Mapping[str, str], log_path: Path,
              timeout: float, writable: Sequence[Path] = (),
              sandbox: SandboxSettings = SandboxSettings()) -> CommandOutcome:
    """Run the test commands in order, in the shell state the build left; stop at the first
    that fails and return the last outcome. ``extra_env`` reaches every test process."""
    work_dir = Path(env.work_dir)
    policy = suite_policy(project_dirs(checkout, work_dir, *writable),
                          readable=interpreter_roots(env.recipe.interpreter), settings=sandbox)
    shell = _Shell.resume(env.recipe, checkout, Path(env.python).parent.parent, work_dir,
                          log_path, timeout, policy)
    outcome: CommandOutcome | None = None
    for argv in env.recipe.commands:
        outcome = shell.run(argv, extra=extra_env)
        if not outcome.ok:
            break
    if outcome is None:
        raise StageError("test", "no_tests", "the recipe has no test command")
    return outcome


@dataclass
class _Shell:
    """The environment and working directory one step hands the next."""

    travis: bool
    env: dict[str, str]
    cwd: Path
    scratch: Path
    log_path: Path
    deadline: float
    policy: Policy  # what the steps may reach: builds get the network, tests do not
    count: int = 0

    @classmethod
    def start(cls, recipe: Recipe, checkout: Path, venv: Path, work_dir: Path, log_path: Path,
              timeout: float, policy: Policy,
              installer_env: Mapping[str, str] | None = None) -> _Shell:
        travis = recipe.source == TRAVIS
        if travis:
            ci = {"TRAVIS": "true", "CONTINUOUS_INTEGRATION": "true",
                  "TRAVIS_PYTHON_VERSION": recipe.python, "TRAVIS_BUILD_DIR": str(checkout),
                  "TRAVIS_OS_NAME": "linux"}
        else:
            ci = {"GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(checkout),
                  "RUNNER_OS": "Linux", "pythonLocation": str(venv)}
        env = base_environment({"CI": "true", **ci, **(installer_env or {}),
                                **dict(recipe.setenv)})
        env["VIRTUAL_ENV"] = str(venv)
        env["PATH"] = os.pathsep.join([str(venv / "bin"), env.get("PATH", "")])
        scratch = work_dir / "shell"
        scratch.mkdir(parents=True, exist_ok=True)
        untrusted.write_text(scratch / "prelude.sh", _PRELUDE)
        return cls(travis, env, checkout, scratch, log_path, time.monotonic() + timeout, policy)

    @classmethod
    def resume(cls, recipe: Recipe, checkout: Path, venv: Path, work_dir: Path,
               log_path: Path, timeout: float, policy: Policy) -> _Shell:
        shell = cls.start(recipe, checkout, venv, work_dir, log_path, timeout, policy)
        try:
            saved = json.loads(untrusted.read_text(work_dir / STATE_FILE))
            shell.env, shell.cwd = dict(saved["env"]), Path(saved["cwd"])
        except (OSError, ValueError, KeyError, TypeError):
            pass  # no saved state: start as the build did
        return shell

    def save(self, path: Path) -> None:
        untrusted.write_text(path, json.dumps({"env": self.env, "cwd": str(self.cwd)}))

    def run(self, argv: Sequence[str], *, extra: Mapping[str, str] | None = None,
            cwd: Path | None = None) -> CommandOutcome:
        self.count += 1
        env = {**self.env, **(extra or {})}
        files = self._prepare(argv, env)
        remaining = max(1.0, self.deadline - time.monotonic())
        outcome = run(argv, cwd=cwd or self.cwd, timeout=remaining, env=env,
                      log_path=self.log_path, policy=self.policy)
        self._absorb(files)
        return outcome

    def _prepare(self, argv: Sequence[str], env: dict[str, str]) -> dict[str, Path]:
        """Point the shell at the files it reports its state in; return those files."""
        stem = self.scratch / f"step{self.count}"
        if self.travis:
            if argv[0] != "bash":
                return {}
            env["BASH_ENV"] = str(self.scratch / "prelude.sh")
            env["_CITRACE_SHELL_STATE"] = str(stem)
            files = {"env": stem.with_suffix(".env"), "cwd": stem.with_suffix(".cwd")}
            for path in files.values():
                path.unlink(missing_ok=True)  # a step killed before its trap leaves none
            return files
        files = {name: stem.with_suffix(f".{name.lower()}") for name in _GITHUB_FILES}
        for name, path in files.items():
            untrusted.write_text(path, "")
            env[name] = str(path)
        return files

    def _absorb(self, files: dict[str, Path]) -> None:
        if "env" in files:
            self._absorb_travis(files["env"], files["cwd"])
        elif files:
            self._absorb_github(files["GITHUB_ENV"], files["GITHUB_PATH"])

    def _absorb_travis(self, env_file: Path, cwd_file: Path) -> None:
        try:
            entries = untrusted.read_text(env_file).split("\0")
            cwd = Path(untrusted.read_text(cwd_file).strip())
        except OSError:
            return  # the step ended without its trap (killed, or exec'd): nothing carries
        pairs = (entry.partition("=") for entry in entries if "=" in entry)
        self.env = {k: v for k, _, v in pairs if k not in _SHELL_OWN}
        if cwd.is_dir():
            self.cwd = cwd

    def _absorb_github(self, env_file: Path, path_file: Path) -> None:
        try:
            self.env.update(_github_env(untrusted.read_text(env_file)))
            lines = untrusted.read_text(path_file).splitlines()
        except OSError:
            return  # not a file of the step's (a link, say): nothing carries
        added = [line.strip() for line in lines if line.strip()]
        if added:
            self.env["PATH"] = os.pathsep.join([*reversed(added), self.env.get("PATH", "")])


def _github_env(text: str) -> dict[str, str]:
    """``NAME=value`` lines and ``NAME<<DELIMITER`` blocks, as written to ``$GITHUB_ENV``."""
    found: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        name, is_block, delimiter = line.partition("<<")
        if is_block and "=" not in name:
            body = []
            for inner in lines:
                if inner == delimiter:
                    break
                body.append(inner)
            found[name.strip()] = "\n".join(body)
        elif "=" in line:
            key, _, value = line.partition("=")
            found[key.strip()] = value
    return found
