"""A run killed with SIGKILL at random moments and resumed each time ends with the dataset of
an uninterrupted run. (The orchestration's own crash cases, such as dying between writing
a project's lines and committing them, are tested one by one in ``test_run.py``.)"""

from __future__ import annotations

import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from miners.run.state import RunState
from tests.miners.batchkit import processes_mentioning, read_jsonl, read_problems, start_citrace

KILLS = 3
LONGEST_WAIT = 6.0  # seconds before a kill; a whole run takes 25-35 s here


@pytest.mark.slow
def test_a_run_killed_at_random_moments_resumes_to_the_uninterrupted_dataset(
        tmp_path: Path, reference_run: Path) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    listing = reference_run.parent / "projects" / "list.txt"
    out = tmp_path / "out"
    command = ("mine", str(listing), "-o", str(out), "--jobs", "2")
    killed_at = []
    for attempt in range(KILLS):
        run = start_citrace(*command)
        if attempt == 0:
            # the narrowest window: just after a project's lines are appended
            moment = _kill_when(run, lambda: _size(out / "problems.jsonl") > 0)
        else:
            moment = _kill_when(run, lambda: False, after=rng.uniform(0.5, LONGEST_WAIT))
        killed_at.append(moment)
    final = start_citrace(*command)
    output = final.communicate(timeout=600)[0].decode()
    why = f"seed {seed}, killed at {killed_at}\n{output}"
    assert final.returncode == 0, why
    assert read_problems(out / "problems.jsonl") == \
        read_problems(reference_run / "problems.jsonl"), why
    repos = read_jsonl(out / "repos.jsonl")
    assert [(r["spec"], r["status"]) for r in repos] == \
        [(r["spec"], r["status"]) for r in read_jsonl(reference_run / "repos.jsonl")], why
    with RunState(out / "run.sqlite", readonly=True) as state:
        assert state.counts() == {"ok": 3}, why
    # A killed run's workers notice their parent's death within a quarter of a second and
    # take what they started with them; on a loaded machine that can finish after the
    # resumed run does. Nothing may outlive it by more than a few seconds.
    deadline = time.monotonic() + 10
    while processes_mentioning(str(out)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not processes_mentioning(str(out)), why
    assert not (out / "work").exists(), why


@pytest.mark.slow
@pytest.mark.parametrize("number, status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_run_stopped_by_a_signal_takes_its_workers_with_it_and_resumes(
        tmp_path: Path, reference_run: Path, number: signal.Signals, status: int) -> None:
    """SIGTERM is how schedulers and ``timeout`` stop a batch job, SIGINT what Ctrl-C sends
    (here to the main process alone: its workers run in sessions of their own). Either ends
    the run at once and cleanly: its workers and their sandboxes gone before it exits, the
    status a shell expects, a line saying how to resume; then the same command finishes it."""
    listing = reference_run.parent / "projects" / "list.txt"
    out = tmp_path / "out"
    command = ("mine", str(listing), "-o", str(out), "--jobs", "2")
    run = start_citrace(*command)
    started = time.monotonic()
    while run.poll() is None and not _size(out / "problems.jsonl") and \
            time.monotonic() - started < 120:
        time.sleep(0.05)  # until a project is done and others are running
    assert run.poll() is None, "the run ended before it could be stopped"
    run.send_signal(number)
    output = run.communicate(timeout=60)[0].decode()
    assert run.returncode == status, output
    assert "run the same command again to resume" in output, output
    assert "Traceback" not in output, output
    assert not processes_mentioning(str(out)), output  # none left for the next run to meet
    final = start_citrace(*command)
    output = final.communicate(timeout=600)[0].decode()
    assert final.returncode == 0, output
    assert read_problems(out / "problems.jsonl") == \
        read_problems(reference_run / "problems.jsonl"), output


def _kill_when(run: subprocess.Popen[bytes], condition, *, after: float = 0.0,  # type: ignore[no-untyped-def]
               limit: float = 120.0) -> float | None:
    """SIGKILL the run (only its main process) once ``condition()`` or ``after`` seconds;
    the moment, or None when it finished first."""
    started = time.monotonic()
    while run.poll() is None:
        elapsed = time.monotonic() - started
        if (after and elapsed >= after) or condition() or elapsed > limit:
            run.send_signal(signal.SIGKILL)
            run.wait()
            return round(elapsed, 2)
        time.sleep(0.005)
    return None


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def test_a_command_that_keeps_nothing_promises_no_resume(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    # Ctrl-C at a moment no test can time: raised by the command itself.
    from miners.cli import main as cli
    from miners.cli import stats

    def interrupted(args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(stats, "_stats", interrupted)
    (tmp_path / "problems.jsonl").write_text("")
    assert cli.main(["stats", str(tmp_path)]) == 128 + signal.SIGINT
    assert capsys.readouterr().err.strip() == "citrace: interrupted"
