"""Helpers for batch-run tests: tiny real projects, a list of them, runs of ``citrace mine``
in a subprocess, and a fake executor for testing the orchestration without builds."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
from collections.abc import Generator, Iterable, Sequence
from pathlib import Path
from typing import Any

from miners.executors import Event, Finished, Started, Task
from miners.pipeline import Settings
from miners.records import ProjectResult
from recipes.records import Failure
from tracer.records import MutationScore, Problem, ProblemMeta

REPO = Path(__file__).resolve().parents[2]

TINY_MODULE = '''\
def double(x):
    """Return twice x."""
    return x * 2


def greet(name):
    """Say hello to name."""
    return "hello " + name
'''

TINY_TEST = '''\
import unittest

from {package} import double, greet


class TestTiny(unittest.TestCase):
    def test_double(self):
        self.assertEqual(double(2), 4)
        self.assertEqual(double({n}), {n2})

    def test_greet(self):
        self.assertEqual(greet("bob"), "hello bob")
'''


BACKEND = Path(__file__).parent / "data" / "tiny_backend.py"


def tiny_project(root: Path, number: int) -> Path:
    """A project that builds in seconds (no tox: the fallback recipe; a build backend with no
    requirements) and yields 2 problems; the number changes its name (so task ids differ)
    and one recorded call."""
    package = f"tiny{number}"
    project = root / f"proj-{number}"
    (project / package).mkdir(parents=True)
    (project / "tests").mkdir()
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "_backend"\nbackend-path = ["."]\n'
        f'\n[project]\nname = "{package}"\nversion = "0.1"\n')
    shutil.copyfile(BACKEND, project / "_backend.py")
    (project / package / "__init__.py").write_text(TINY_MODULE)
    (project / "tests" / f"test_{package}.py").write_text(
        TINY_TEST.format(package=package, n=number + 3, n2=2 * (number + 3)))
    return project


def project_list(root: Path, count: int) -> Path:
    """``count`` tiny projects and a list file naming them (paths relative to the list)."""
    root.mkdir(parents=True, exist_ok=True)
    for number in range(count):
        tiny_project(root, number)
    listing = root / "list.txt"
    listing.write_text("".join(f"proj-{n}\n" for n in range(count)))
    return listing


def batch_environment() -> dict[str, str]:
    """For runs of these tests: builds a little faster (no byte-compiling; the sandbox passes
    PIP_* on). Projects run in the real sandbox (``CITRACE_SANDBOX`` as the host has it,
    ``auto`` by default), as users run them: killing, resuming and timing out must work on
    the sandboxed process trees too."""
    return {"PIP_NO_COMPILE": "1"}


def citrace_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "miners.cli.main", *args]


def start_citrace(*args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, **batch_environment(),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    # Ctrl-C's SIGINT as a terminal would deliver it: a test session started in the
    # background (`cmd &` in a script) inherits SIGINT ignored, and Python keeps it so.
    return subprocess.Popen(citrace_command(*args), cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            preexec_fn=_interruptible)


def _interruptible() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def read_problems(path: Path) -> list[dict[str, Any]]:
    """problems.jsonl without what differs between two runs of the same list: the times of
    the validation runs in each problem's meta."""
    problems = read_jsonl(path)
    for problem in problems:
        meta = problem.get("meta", {})
        meta["validation_runs"] = [{**run, "seconds": 0.0}
                                   for run in meta.get("validation_runs", [])]
    return problems


def processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes (not zombies) that mention ``text`` in their command
    line or working directory: a run's workers, pip, pytest ... all name paths inside its
    OUTDIR or work there (uv runs a build hook as ``python -c SCRIPT`` from its own cache,
    in the project's directory). Read from the host's ``/proc``, which sees processes in
    sandboxes too."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            zombie = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
            cwd = os.readlink(entry / "cwd")
        except (OSError, IndexError):
            continue
        if (text in command or cwd.startswith(text)) and not zombie:
            found.append(f"{command} (in {cwd})")
    return found


# --- a fake executor: the orchestration without processes -----------------------------------


def fake_problems(task: Task, count: int = 2, *, project: str | None = None,
                  mutation: Sequence[MutationScore] = ()) -> list[Problem]:
    name = project or Path(task.spec.url).name
    scores = list(mutation) or [MutationScore()] * count
    return [Problem(task_id=f"citrace/{name}-local/{name}.f{n}", prompt=f"def f{n}():\n",
                    # Each project's bodies differ: equal ones would be deduplicated.
                    canonical_solution=f"    return {name!r}, {n}\n",
                    test=f"def check(candidate):\n    assert candidate() == ({name!r}, {n})\n",
                    entry_point=f"f{n}",
                    meta=ProblemMeta(source=task.spec.raw, version="local", path="m.py",
                                     qualname=f"f{n}", line=1, python="3", ci_file="fake",
                                     n_asserts=1, n_calls=1, mutation=scores[n]))
            for n in range(count)]


class FakeExecutor:
    """Finishes tasks in a shuffled order. A SPEC whose directory holds a file ``FAIL``
    fails at build; one holding a file ``PROJECT`` emits that project's task ids; one
    holding ``MUTATION`` (a line "mutants killed" per problem) gives its problems those
    mutation scores."""

    def __init__(self, *, seed: int = 0, jobs: int = 3) -> None:
        self.random = random.Random(seed)
        self.jobs = jobs
        self.seen: list[str] = []

    def run(self, tasks: Iterable[Task], settings: Settings) -> Generator[Event, None, None]:
        window: list[Task] = []
        feed = iter(tasks)
        while True:
            while len(window) < self.jobs and (task := next(feed, None)) is not None:
                window.append(task)
                yield Started(task)
            if not window:
                return
            task = window.pop(self.random.randrange(len(window)))
            self.seen.append(task.spec.raw)
            yield finish(task)


def finish(task: Task) -> Finished:
    directory = Path(task.spec.url)
    if (directory / "FAIL").exists():
        result = ProjectResult.failed(task.spec.raw, Failure("build", "install_failed", "no"),
                                      timings={"total": 0.1})
        return Finished(task, result)
    marker = directory / "PROJECT"
    project = marker.read_text().strip() if marker.exists() else None
    problems = fake_problems(task, project=project, mutation=_mutation_scores(directory))
    result = ProjectResult(spec=task.spec.raw, status="ok", stage="validate", reason="",
                           name=project or directory.name, version="local",
                           timings={"build": 1.0, "test": 1.0, "total": 2.5},
                           counts={"problems": len(problems)})
    return Finished(task, result, problems)


def _mutation_scores(directory: Path) -> list[MutationScore]:
    marker = directory / "MUTATION"
    if not marker.exists():
        return []
    pairs = [tuple(int(n) for n in line.split()) for line in marker.read_text().splitlines()]
    return [MutationScore(mutants, killed, killed / mutants if mutants else 0.0)
            for mutants, killed in pairs]


def fake_list(root: Path, names: Iterable[str]) -> Path:
    """Empty directories (enough for the fake executor) and a list naming them."""
    root.mkdir(parents=True, exist_ok=True)
    names = list(names)
    for name in names:
        (root / name).mkdir(exist_ok=True)
    listing = root / "list.txt"
    listing.write_text("".join(f"{name}\n" for name in names))
    return listing
