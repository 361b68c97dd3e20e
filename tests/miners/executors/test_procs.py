"""Killing a project's whole tree of processes while it is still growing: real processes,
started as fast as the machine allows by several threads at once, some of them orphaned on
purpose (a shell that leaves a ``sleep`` behind), the way a build's tools do."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from miners.executors.procs import kill_tree
from tests.miners.batchkit import processes_mentioning

REPO = Path(__file__).resolve().parents[3]

# A process that keeps starting children from four threads until it is killed: one in two
# runs in a session of its own (as sandboxed commands do), the others are shells in its own
# process group that leave their `sleep` behind as an orphan. Everything runs in the
# directory it is given, which is how the test finds the survivors. It prints "go" once it
# has started a few.
SPAWNER = textwrap.dedent("""
    import os, subprocess, sys, threading
    sys.path.insert(0, {repo!r})
    from miners.executors.procs import become_subreaper
    become_subreaper()
    {before}
    def spawn():
        n = 0
        while True:
            if n % 2:
                subprocess.Popen(["sleep", "300"], start_new_session=True)
            else:  # in this process's own group, an orphan-maker
                subprocess.Popen(["sh", "-c", "sleep 300 & exit 0"])
            n += 1
    for _ in range(4):
        threading.Thread(target=spawn, daemon=True).start()
    while len(os.listdir("/proc/self/task")) < 5:
        pass
    import time; time.sleep(0.3)
    print("go", flush=True)
    time.sleep(300)
""")


@pytest.fixture(autouse=True)
def _no_leftovers(tmp_path: Path) -> Iterator[None]:
    """Whatever a failing test leaves running in its directory is killed afterwards."""
    yield
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and os.readlink(entry / "cwd").startswith(str(tmp_path)):
                os.kill(int(entry.name), signal.SIGKILL)
        except OSError:
            pass


def _start(tmp_path: Path, before: str = "") -> subprocess.Popen[str]:
    code = SPAWNER.format(repo=str(REPO), before=before)
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path, text=True,
                            stdout=subprocess.PIPE, start_new_session=True)
    assert proc.stdout is not None and proc.stdout.readline() == "go\n"
    return proc


def _survivors(tmp_path: Path, within: float = 3.0) -> list[str]:
    """What still runs in ``tmp_path`` once killed processes had time to finish dying."""
    deadline = time.monotonic() + within
    while processes_mentioning(str(tmp_path)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return processes_mentioning(str(tmp_path))


def test_a_tree_that_keeps_growing_while_it_is_killed_leaves_nothing(tmp_path: Path) -> None:
    for _ in range(3):  # each round is one chance for a late child to slip through
        spawner = _start(tmp_path)
        kill_tree(spawner.pid)
        assert spawner.wait(timeout=10) == -signal.SIGKILL
        survivors = _survivors(tmp_path)
        assert not survivors, f"{len(survivors)} left, such as {survivors[:3]}"


def test_a_worker_whose_run_died_takes_its_growing_tree_with_it(tmp_path: Path) -> None:
    """The worker's watchdog, for real: the run's process is killed while the worker's
    threads keep starting commands."""
    watch = ("from miners.executors.worker import _watch_parent; "
             "_watch_parent(os.getppid())")
    for _ in range(3):
        # a stand-in for the run's process: it starts the worker, then waits to be killed
        run = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(f"""
                import subprocess, sys, time
                subprocess.Popen([sys.executable, "-c", {SPAWNER.format(repo=str(REPO),
                                 before=watch)!r}], stdout=sys.stdout)
                time.sleep(300)""")],
            cwd=tmp_path, text=True, stdout=subprocess.PIPE, start_new_session=True)
        assert run.stdout is not None and run.stdout.readline() == "go\n"
        run.kill()
        run.wait()
        survivors = _survivors(tmp_path, within=5.0)
        assert not survivors, f"{len(survivors)} left, such as {survivors[:3]}"
