"""Executors: projects in worker processes of their own, the per-project time limit, no
process outliving its run, and the Ray executor giving the local executor's dataset."""

from __future__ import annotations

import importlib.util
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from miners.cli.main import main
from miners.executors import Finished, StageReached, Started, Task
from miners.executors import ray as ray_executor
from miners.executors.isolate import Worker, run_isolated
from miners.executors.local import LocalExecutor
from miners.executors.procs import descendants
from miners.pipeline import Settings, slug
from miners.specs import parse_spec
from recipes.records import STAGES
from tests.miners.batchkit import (
    processes_mentioning,
    read_jsonl,
    read_problems,
    start_citrace,
    tiny_project,
)

# A build that never ends: pip runs this hook in a subprocess of its own ("_in_process").
HANGING_BACKEND = """\
import time

def get_requires_for_build_editable(config_settings=None):
    time.sleep(600)
    return []

def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    raise RuntimeError("never reached")

get_requires_for_build_wheel = get_requires_for_build_editable
build_wheel = build_editable
"""


def _settings(out: Path) -> Settings:
    return Settings(work_root=out / "work", logs_dir=out / "logs")


def _missing_task(tmp_path: Path, index: int) -> Task:
    """A SPEC whose directory is gone by the time it runs: it fails at once, at acquire."""
    gone = tmp_path / f"gone-{index}"
    gone.mkdir()
    spec = parse_spec(str(gone), base_dir=tmp_path)
    gone.rmdir()
    return Task(index, f"k{index}", spec)


def test_a_project_runs_in_a_worker_process_and_its_result_comes_back(tmp_path: Path) -> None:
    events: list[object] = []
    finished = run_isolated(_missing_task(tmp_path, 0), _settings(tmp_path / "out"),
                            timeout=60, on_event=events.append)
    assert isinstance(events[0], Started) and events[0].pid not in (0, os.getpid())
    assert [e.stage for e in events if isinstance(e, StageReached)] == ["acquire"]
    result = finished.result
    assert (result.status, result.stage, result.cause) == ("failed", "acquire", "not_found")
    assert result.timings["total"] > 0 and finished.problems == []


def test_a_worker_that_dies_leaves_a_failure_with_its_log_tail(tmp_path: Path) -> None:
    out = tmp_path / "out"
    worker = Worker()
    worker.proc.kill()  # dies before it reads its task
    worker.proc.wait()
    finished = run_isolated(_missing_task(tmp_path, 0), _settings(out), timeout=60,
                            worker=worker)
    result = finished.result
    assert (result.status, result.cause) == ("failed", "worker_died")
    assert f"killed by signal {signal.SIGKILL}" in result.reason
    assert result.log_tail.startswith("failures/") and result.reason in \
        (out / result.log_tail).read_text()
    assert (out / result.log).is_file()


def test_a_lost_ray_task_keeps_the_log_its_project_had_written(tmp_path: Path) -> None:
    class LostRay:  # a Ray task lost after its retries: a fault these tests cannot cause
        @staticmethod
        def get(ref: object) -> None:
            raise RuntimeError("the node died")

    settings, task = _settings(tmp_path / "out"), _missing_task(tmp_path, 0)
    settings.logs_dir.mkdir(parents=True)
    (settings.logs_dir / f"{slug(task.spec.raw)}.log").write_text("building ...\n")
    finished, lost = ray_executor._collect(LostRay, None, task, settings)  # type: ignore[arg-type]
    result = finished.result
    assert lost  # its actor is replaced
    assert (result.status, result.cause) == ("failed", "worker_died")
    tail = (tmp_path / "out" / result.log_tail).read_text()
    assert tail.startswith("building ...") and "lost after retries" in tail


def test_the_local_executor_runs_at_most_jobs_projects_at_once(tmp_path: Path) -> None:
    tasks = [_missing_task(tmp_path, n) for n in range(5)]
    running, most = 0, 0
    finished = []
    for event in LocalExecutor(jobs=2).run(tasks, _settings(tmp_path / "out")):
        if isinstance(event, Started):
            running += 1
            most = max(most, running)
        elif isinstance(event, Finished):
            running -= 1
            finished.append(event.task.index)
    assert sorted(finished) == list(range(5)) and most == 2


def _workers_of_this_process() -> set[int]:
    found = set()
    for pid in descendants(os.getpid()):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"miners.executors.worker" in command:
            found.add(pid)
    return found


def test_each_project_gets_a_worker_of_its_own_and_the_spare_is_stopped_at_the_end(
        tmp_path: Path) -> None:
    """Work directories are removed all the same. (Whether the next worker was already up
    when a project finished cannot be read off the events: the slot goes on to the next
    project before this loop sees the last one's end, and these projects end in
    milliseconds.)"""
    out = tmp_path / "out"
    tasks = [_missing_task(tmp_path, n) for n in range(3)]
    finished = 0
    started: list[int] = []
    for event in LocalExecutor(jobs=1).run(tasks, _settings(out)):
        if isinstance(event, Started):
            started.append(event.pid)
        elif isinstance(event, Finished):
            finished += 1
    assert len(set(started)) == 3 and finished == 3
    assert _workers_of_this_process() == set()
    assert not any((out / "work").iterdir())


def test_a_spare_that_gets_no_project_exits_on_its_own() -> None:
    worker = Worker()
    assert worker.proc.stdin is not None
    worker.proc.stdin.close()  # what a run that ends before needing it amounts to
    assert worker.proc.wait(timeout=120) == 0
    worker.close()


def test_ray_missing_is_a_clear_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # "import ray" now fails
    (tmp_path / "proj").mkdir()
    assert main(["mine", str(tmp_path / "proj"), "-o", str(tmp_path / "out"),
                 "--executor", "ray"]) == 2
    assert "pip install 'citrace[ray]'" in capsys.readouterr().err


def _hanging_project(tmp_path: Path) -> Path:
    project = tiny_project(tmp_path, 0)
    (project / "_backend.py").write_text(HANGING_BACKEND)
    return project


def _hanging_build(out: Path) -> list[str]:
    """The build hook that hangs: run by pip's ``_in_process`` script, or by uv as a
    ``python -c`` script that calls ``get_requires_for_build_*``."""
    return [c for c in processes_mentioning(str(out))
            if "_in_process" in c or "get_requires_for_build" in c]


def _wait_for(condition: Callable[[], object], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


@pytest.mark.slow
def test_a_project_over_its_time_limit_is_killed_with_everything_it_started(
        tmp_path: Path, batch_env: None) -> None:
    out = tmp_path / "out"
    assert main(["mine", str(_hanging_project(tmp_path)), "-o", str(out),
                 "--project-timeout", "12"]) == 0
    [repo] = read_jsonl(out / "repos.jsonl")
    assert (repo["status"], repo["stage"], repo["cause"]) == ("failed", "build", "timeout")
    assert "did not finish within 12 s" in repo["reason"]
    assert repo["timings"]["total"] >= 12 and repo["timings"]["build"] > 0
    # whatever the build was doing (on a loaded machine, maybe still making the venv),
    # nothing of it is left, and neither is its work directory
    assert processes_mentioning(str(out)) == []
    assert not (out / "work").exists()


@pytest.mark.slow
def test_workers_do_not_outlive_a_killed_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = start_citrace("mine", str(_hanging_project(tmp_path)), "-o", str(out))
    try:
        assert _wait_for(lambda: _hanging_build(out), 120), processes_mentioning(str(out))
    finally:
        run.send_signal(signal.SIGKILL)  # also when the build never showed: leave nothing
        run.wait()
    assert _wait_for(lambda: not processes_mentioning(str(out)), 5), \
        processes_mentioning(str(out))


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                    reason="Ray is not installed (pip install 'citrace[ray]')")
def test_the_ray_executor_gives_the_local_dataset(tmp_path: Path, reference_run: Path) -> None:
    listing = reference_run.parent / "projects" / "list.txt"
    out = tmp_path / "out"
    run = start_citrace("mine", str(listing), "-o", str(out), "--executor", "ray")
    output = run.communicate(timeout=300)[0].decode()
    assert run.returncode == 0, output
    assert read_problems(out / "problems.jsonl") == read_problems(reference_run / "problems.jsonl")
    assert [r["status"] for r in read_jsonl(out / "repos.jsonl")] == ["ok"] * 3


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                    reason="Ray is not installed (pip install 'citrace[ray]')")
def test_the_ray_executor_reports_the_stage_each_project_is_in(tmp_path: Path,
                                                              batch_env: None) -> None:
    # citrace status read "acquire" for a Ray project building for minutes (lxml 3.5.0).
    project = tiny_project(tmp_path / "projects", 0)
    task = Task(0, "k0", parse_spec(str(project), base_dir=tmp_path))
    executor = ray_executor.RayExecutor(max_in_flight=1, poll_seconds=0.2)
    events = list(executor.run([task], _settings(tmp_path / "out")))
    assert isinstance(events[-1], Finished) and events[-1].result.status == "ok"
    stages = [event.stage for event in events if isinstance(event, StageReached)]
    assert "build" in stages, events  # creating a virtualenv alone takes longer than a poll
    assert stages == sorted(stages, key=STAGES.index)  # each reported once, in order
