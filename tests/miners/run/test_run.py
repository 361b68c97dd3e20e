"""The orchestration of a run, with a fake executor: resuming, crash repair, the order and
dedup of the outputs, retrying failures, and what refuses to start."""

from __future__ import annotations

import fcntl
import signal
import subprocess
import sys
import time
from collections.abc import Generator, Iterable
from pathlib import Path

import pytest

import miners.run.batch
from miners.cli.main import main
from miners.executors import Event, Finished, Task
from miners.executors.procs import start_time
from miners.pipeline import Settings
from miners.run.state import RunIdentity, RunState
from tests.miners.batchkit import FakeExecutor, fake_list, read_jsonl

NAMES = [f"p{n}" for n in range(6)]


@pytest.fixture
def executors(monkeypatch: pytest.MonkeyPatch) -> list[FakeExecutor]:
    """Each run gets the next fake executor of this list (seeded 0, 1, 2, ...)."""
    made: list[FakeExecutor] = []

    def make(options: object) -> FakeExecutor:
        made.append(FakeExecutor(seed=len(made)))
        return made[-1]

    monkeypatch.setattr(miners.run.batch, "make_executor", make)
    return made


def _mine(listing: Path, out: Path, *extra: str) -> int:
    return main(["mine", str(listing), "-o", str(out), *extra])


def test_the_outputs_do_not_depend_on_which_project_finished_first(
        tmp_path: Path, executors: list[FakeExecutor]) -> None:
    listing = fake_list(tmp_path / "projects", NAMES)
    for run in range(3):
        assert _mine(listing, tmp_path / f"out{run}") == 0
    assert len({tuple(e.seen) for e in executors}) > 1  # they did finish in other orders
    first = (tmp_path / "out0" / "problems.jsonl").read_bytes()
    for run in (1, 2):
        assert (tmp_path / f"out{run}" / "problems.jsonl").read_bytes() == first
        assert (tmp_path / f"out{run}" / "repos.jsonl").read_bytes() == \
            (tmp_path / "out0" / "repos.jsonl").read_bytes()
    assert [p["meta"]["source"] for p in read_jsonl(tmp_path / "out0" / "problems.jsonl")] == \
        [name for name in NAMES for _ in range(2)]


def test_a_task_id_two_specs_produce_goes_to_the_first_in_the_list(
        tmp_path: Path, executors: list[FakeExecutor]) -> None:
    listing = fake_list(tmp_path / "projects", NAMES)
    for name in ("p1", "p4"):
        (tmp_path / "projects" / name / "PROJECT").write_text("same")
    for run in range(4):
        assert _mine(listing, tmp_path / f"out{run}") == 0
        problems = read_jsonl(tmp_path / f"out{run}" / "problems.jsonl")
        same = [p["meta"]["source"] for p in problems if "same-local" in p["task_id"]]
        assert same == ["p1", "p1"]
        assert len({p["task_id"] for p in problems}) == len(problems) == 10
    assert any(seen.index("p4") < seen.index("p1") for seen in (e.seen for e in executors))


def test_an_interrupted_run_resumes_where_it_stopped(
        tmp_path: Path, executors: list[FakeExecutor], monkeypatch: pytest.MonkeyPatch) -> None:
    listing = fake_list(tmp_path / "projects", NAMES)
    assert _mine(listing, tmp_path / "whole") == 0
    out = tmp_path / "out"
    _interrupt_after(monkeypatch, finished=2)
    assert _mine(listing, out) == 130
    with RunState(out / "run.sqlite") as state:
        assert state.counts() == {"ok": 2, "pending": 4}
    monkeypatch.undo()
    _use_fake_executors(monkeypatch, executors)
    assert _mine(listing, out) == 0
    assert len(executors[-1].seen) == 4  # only the four not done
    _assert_same_outputs(out, tmp_path / "whole")


def test_work_a_killed_run_left_behind_is_removed_when_the_run_resumes(
        tmp_path: Path, executors: list[FakeExecutor]) -> None:
    listing = fake_list(tmp_path / "projects", NAMES)
    out = tmp_path / "out"
    stale = out / "work" / "p1-0123abcd" / "env0" / "venv"  # mid-build, or awaiting removal
    stale.mkdir(parents=True)
    (stale / "pyvenv.cfg").write_text("home = /usr/bin\n")
    assert _mine(listing, out) == 0
    assert not (out / "work").exists()
    kept = out / "kept"
    (kept / "work" / "mine").mkdir(parents=True)
    assert _mine(listing, kept, "--keep-work") == 0
    assert (kept / "work" / "mine").is_dir()  # --keep-work: nothing is removed


def test_a_crash_between_writing_and_committing_emits_nothing_twice(
        tmp_path: Path, executors: list[FakeExecutor], monkeypatch: pytest.MonkeyPatch) -> None:
    listing = fake_list(tmp_path / "projects", NAMES)
    assert _mine(listing, tmp_path / "whole") == 0
    out = tmp_path / "out"
    real_finish = RunState.finish
    calls = []

    def dying_finish(self: RunState, *args: object, **kwargs: object) -> None:
        calls.append(args)
        if len(calls) == 3:
            raise KeyboardInterrupt  # the process "dies" after the appends, before the commit
        real_finish(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(RunState, "finish", dying_finish)
    assert _mine(listing, out) == 130
    written = read_jsonl(out / "problems.jsonl")
    assert len(written) == 6  # three projects' lines, the third one's not committed
    with open(out / "problems.jsonl", "a") as torn:
        torn.write('{"task_id": "citrace/torn')  # and a torn line, for good measure
    monkeypatch.setattr(RunState, "finish", real_finish)
    assert _mine(listing, out) == 0
    _assert_same_outputs(out, tmp_path / "whole")


def test_failed_projects_are_skipped_unless_retried(
        tmp_path: Path, executors: list[FakeExecutor]) -> None:
    listing = fake_list(tmp_path / "projects", NAMES)
    (tmp_path / "projects" / "p2" / "FAIL").write_text("")
    out = tmp_path / "out"
    assert _mine(listing, out) == 0
    (tmp_path / "projects" / "p2" / "FAIL").unlink()
    assert _mine(listing, out) == 0
    assert executors[-1].seen == []
    assert {r["spec"]: r["status"] for r in read_jsonl(out / "repos.jsonl")}["p2"] == "failed"
    assert _mine(listing, out, "--retry-failed") == 0
    assert executors[-1].seen == ["p2"]
    _assert_same_outputs(out, _whole_run(listing, tmp_path / "whole"))


def test_another_list_in_the_same_outdir_is_refused_unless_fresh(
        tmp_path: Path, executors: list[FakeExecutor], capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "out"
    assert _mine(fake_list(tmp_path / "a", NAMES[:3]), out) == 0
    other = fake_list(tmp_path / "b", NAMES[3:])
    assert _mine(other, out) == 2
    assert "holds another run" in capsys.readouterr().err
    assert _mine(other, out, "--max-asserts", "3", "--fresh") == 0
    assert [r["spec"] for r in read_jsonl(out / "repos.jsonl")] == NAMES[3:]


def test_one_run_per_outdir_at_a_time(tmp_path: Path, executors: list[FakeExecutor],
                                      capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(miners.run.batch, "LOCK_WAIT_SECONDS", 0.1)
    out = tmp_path / "out"
    out.mkdir()
    with open(out / ".run.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        assert _mine(fake_list(tmp_path / "a", NAMES[:2]), out) == 2
    assert "being mined by another citrace process" in capsys.readouterr().err


def test_status_summarises_a_run_from_outside(
        tmp_path: Path, executors: list[FakeExecutor], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    listing = fake_list(tmp_path / "projects", NAMES)
    (tmp_path / "projects" / "p0" / "FAIL").write_text("")
    out = tmp_path / "out"
    _interrupt_after(monkeypatch, finished=3)
    assert _mine(listing, out) == 130
    capsys.readouterr()
    assert main(["status", str(out)]) == 0
    text = capsys.readouterr().out
    assert "stopped before the end" in text
    assert "3 of 6 projects done" in text and "failures by cause: install_failed 1" in text
    assert main(["status", str(out), "--json"]) == 0
    assert '"pending": 3' in capsys.readouterr().out
    assert main(["status", str(tmp_path / "nothing")]) == 2


def test_a_worker_left_by_a_dead_run_is_killed_before_its_project_runs_again(
        tmp_path: Path) -> None:
    # a "worker" in a session of its own, whose child lives in yet another session
    worker = subprocess.Popen(
        [sys.executable, "-c", "import subprocess, sys, time\n"
         "child = subprocess.Popen(['sleep', '60'], start_new_session=True)\n"
         "print(child.pid, flush=True)\ntime.sleep(60)\n"],
        stdout=subprocess.PIPE, start_new_session=True)
    assert worker.stdout is not None
    grandchild = int(worker.stdout.readline())
    with RunState(tmp_path / "run.sqlite") as state:
        state.begin(RunIdentity("l", "{}", "0/1", 1), [("k", 0, "p")])
        state.mark_running("k", pid=worker.pid, pid_started=start_time(worker.pid))
        assert miners.run.batch._reap_workers(state) == 1
        assert state.counts() == {"pending": 1}
    assert worker.wait(timeout=5) == -signal.SIGKILL
    assert _gone(grandchild)


def _gone(pid: int) -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


# --- helpers ---------------------------------------------------------------------------------


def _use_fake_executors(monkeypatch: pytest.MonkeyPatch, made: list[FakeExecutor]) -> None:
    def make(options: object) -> FakeExecutor:
        made.append(FakeExecutor(seed=len(made)))
        return made[-1]

    monkeypatch.setattr(miners.run.batch, "make_executor", make)


class _Interrupting(FakeExecutor):
    def __init__(self, finished: int) -> None:
        super().__init__(seed=7)
        self.limit = finished

    def run(self, tasks: Iterable[Task], settings: Settings) -> Generator[Event, None, None]:
        done = 0
        for event in super().run(tasks, settings):
            yield event
            done += isinstance(event, Finished)
            if done == self.limit:
                raise KeyboardInterrupt


def _interrupt_after(monkeypatch: pytest.MonkeyPatch, *, finished: int) -> None:
    monkeypatch.setattr(miners.run.batch, "make_executor", lambda options: _Interrupting(finished))


def _whole_run(listing: Path, out: Path) -> Path:
    assert _mine(listing, out) == 0
    return out


def _assert_same_outputs(out: Path, reference: Path) -> None:
    assert (out / "problems.jsonl").read_bytes() == (reference / "problems.jsonl").read_bytes()
    assert (out / "repos.jsonl").read_bytes() == (reference / "repos.jsonl").read_bytes()
