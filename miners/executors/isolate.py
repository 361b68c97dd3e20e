"""One project in a worker process of its own, with a time limit.

Every executor runs projects through ``run_isolated``: it starts ``miners.executors.worker``
in a new session, follows the stages it reports, and returns a ``Finished`` event. A project
that overruns ``timeout`` is killed with every process it started (``procs.kill_tree``: the
commands it runs live in sessions of their own) and recorded as failed with cause
``timeout`` at the stage it was in; a worker that dies without answering is recorded as
failed with cause ``worker_died``. Either way the last lines of its log are kept in
``OUTDIR/failures/`` (``pipeline.keep_log_tail``) and its work directory is removed unless
the run keeps work directories.
"""

from __future__ import annotations

import json
import os
import pickle
import queue
import shutil
import site
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any, cast

import miners
from miners.executors.base import Event, Finished, StageReached, Started, Task
from miners.executors.procs import kill_tree, start_time
from miners.pipeline import Settings, isolation_fields, keep_log_tail, slug
from miners.records import ProjectResult
from recipes.records import STAGES, Failure, Stage
from tracer.records import Problem

POLL_SECONDS = 0.5
EXIT_GRACE_SECONDS = 10.0


class Cancelled(Exception):
    """The run is stopping: the project was killed and has no result."""


@dataclass
class _Watch:
    """What the worker has reported so far: the stage it is in and the time per stage."""

    task: Task
    emit: Callable[[Event], None]
    started: float = field(default_factory=time.monotonic)
    stage: Stage = "acquire"
    stage_started: float = field(default_factory=time.monotonic)
    timings: dict[str, float] = field(default_factory=dict)
    done: dict[str, Any] | None = None

    def on_message(self, message: dict[str, Any]) -> None:
        stage = message.get("stage")
        # From another process (maybe another citrace's): a stage this one does not know
        # is no stage change.
        if message.get("event") == "stage" and stage in STAGES:
            self._close_stage()
            self.stage, self.stage_started = cast(Stage, stage), time.monotonic()
            self.emit(StageReached(self.task, self.stage))
        elif message.get("event") == "done":
            self.done = message

    def _close_stage(self) -> None:
        self.timings[self.stage] = round(time.monotonic() - self.stage_started, 3)

    def final_timings(self) -> dict[str, float]:
        self._close_stage()
        return self.timings

    def elapsed(self) -> float:
        return round(time.monotonic() - self.started, 3)


class Worker:
    """A started worker process, waiting for its task. Starting one costs the interpreter's
    start-up and citrace's imports (most of citrace's own time per project), so an executor
    may start the next one while a project runs and hand it over ready.

    Until it has a task its standard error goes to an unnamed temporary file, which joins
    the project's log afterwards (an import error must reach the log); the worker then
    writes to the project's log itself."""

    def __init__(self) -> None:
        self.early_stderr: IO[bytes] = tempfile.TemporaryFile()  # closed in close()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "miners.executors.worker"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self.early_stderr, start_new_session=True,
            env=_worker_environment())
        self.started = start_time(self.proc.pid)

    def close(self, log_path: Path | None = None) -> None:
        """Stop it (with anything it started), let go of its pipes, and add what it printed
        before it had a task to ``log_path`` (an unused spare has no log)."""
        if self.proc.returncode is None:
            kill_tree(self.proc.pid)
        self.proc.wait()
        if self.proc.stdin is not None:
            self.proc.stdin.close()  # (stdout: its reader thread may still hold it)
        if log_path is not None:
            self.early_stderr.seek(0)
            early = self.early_stderr.read()
            if early:
                with open(log_path, "ab") as log:
                    log.write(early)
        self.early_stderr.close()


class Janitor:
    """Removes the work directories of finished projects in a background thread: removing a
    virtualenv is thousands of unlinks (seconds on a busy disk), which need not hold up the
    project's result or the next project. ``close`` waits for what is queued."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Path | None] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="citrace-janitor", daemon=True)
        self._thread.start()

    def remove(self, path: Path) -> None:
        self._queue.put(path)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def _work(self) -> None:
        while (path := self._queue.get()) is not None:
            shutil.rmtree(path, ignore_errors=True)


def run_isolated(task: Task, settings: Settings, *, timeout: float,
                 on_event: Callable[[Event], None] | None = None,
                 stop: threading.Event | None = None, worker: Worker | None = None,
                 janitor: Janitor | None = None) -> Finished:
    """Mine ``task`` in a worker process (``worker``, or a new one); its ``Started`` and
    ``StageReached`` events go to ``on_event``. Raises ``Cancelled`` (after killing the
    worker) when ``stop`` is set. With a ``janitor``, the worker leaves its work directory
    for the janitor to remove (unless the run keeps work directories)."""
    emit = on_event or (lambda event: None)
    timeout = task.spec.timeout or timeout  # a .jsonl list line's own timeout comes first
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    log_path = settings.logs_dir / f"{slug(task.spec.raw)}.log"
    leave_work = janitor is not None and not settings.keep_work
    worker = worker or Worker()
    proc = worker.proc
    watch = _Watch(task, emit)
    try:
        emit(Started(task, proc.pid, worker.started))
        _send_task(proc, (task, settings, str(log_path), leave_work))
        outcome = _follow(proc, watch, deadline=watch.started + timeout, stop=stop)
    finally:
        worker.close(log_path)
    if outcome == "cancelled":
        _remove_work(task, settings)
        raise Cancelled(task.spec.raw)
    if outcome == "done" and janitor is not None and leave_work:
        janitor.remove(settings.work_root / slug(task.spec.raw))
    return _finished(task, settings, watch, outcome, proc.returncode, log_path, timeout)


def _send_task(proc: subprocess.Popen[bytes], message: tuple[object, ...]) -> None:
    """``(task, settings, log path, leave_work)``: what ``worker.main`` reads."""
    assert proc.stdin is not None
    try:
        proc.stdin.write(pickle.dumps(message))
        proc.stdin.close()
    except BrokenPipeError:  # the worker died at start; _follow sees it exit
        pass


def _follow(proc: subprocess.Popen[bytes], watch: _Watch, *, deadline: float,
            stop: threading.Event | None) -> str:
    """Read the worker's messages until it is done, dies, overruns or is cancelled."""
    assert proc.stdout is not None
    lines: queue.Queue[bytes | None] = queue.Queue()
    reader = threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True)
    reader.start()
    while True:
        if stop is not None and stop.is_set():
            return "cancelled"
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return "timeout"
        try:
            line = lines.get(timeout=min(POLL_SECONDS, remaining))
        except queue.Empty:
            continue
        if line is None:
            break
        try:
            watch.on_message(json.loads(line))
        except ValueError:
            continue  # not ours: the channel is private, but never trust a line blindly
        if watch.done is not None:
            break  # the result is in: nothing else comes, the worker is exiting
    try:
        proc.wait(timeout=EXIT_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        pass  # done but lingering: run_isolated kills it
    return "done" if watch.done is not None else "died"


def _pump(stream: IO[bytes], lines: queue.Queue[bytes | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def _finished(task: Task, settings: Settings, watch: _Watch, outcome: str,
              returncode: int | None, log_path: Path, timeout: float) -> Finished:
    elapsed = watch.elapsed()
    if outcome == "done" and watch.done is not None:
        result = ProjectResult.from_dict(watch.done["result"])
        problems = [Problem.from_dict(p) for p in watch.done["problems"]]
        return Finished(task, replace(result, timings={**result.timings, "total": elapsed}),
                        problems)
    _remove_work(task, settings)
    if outcome == "timeout":
        # Say which limit it was: a .jsonl line's own, or the run's --project-timeout.
        limit = ("the timeout its line of the list sets" if task.spec.timeout
                 else "see --project-timeout")
        failure = Failure(watch.stage, "timeout",
                          f"the project did not finish within {timeout:.0f} s "
                          f"(killed during {watch.stage}; {limit})")
    else:
        failure = Failure(watch.stage, "worker_died",
                          f"the worker process died during {watch.stage} "
                          f"({_exit_description(returncode)}); see the log")
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(f"\n[citrace: {failure.message}]\n")
    timings = {**watch.final_timings(), "total": elapsed}
    out_dir = settings.logs_dir.parent
    # The worker could not keep its log's tail, as the pipeline does for other failures.
    return Finished(task, ProjectResult.failed(
        task.spec.raw, failure, timings=timings, log=str(log_path.relative_to(out_dir)),
        log_tail=keep_log_tail(log_path, out_dir), **isolation_fields(settings)))


def _exit_description(returncode: int | None) -> str:
    if returncode is None:
        return "still running"
    if returncode < 0:
        return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


def _remove_work(task: Task, settings: Settings) -> None:
    if not settings.keep_work:
        shutil.rmtree(settings.work_root / slug(task.spec.raw), ignore_errors=True)


def _worker_environment() -> dict[str, str]:
    """The host environment, plus a path to this citrace when it is not installed."""
    env = dict(os.environ)
    root = str(Path(miners.__file__).resolve().parent.parent)
    installed = {str(Path(p).resolve()) for p in [*site.getsitepackages(),
                                                  site.getusersitepackages()]}
    if root not in installed:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    return env

