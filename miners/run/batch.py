"""A resumable run over a list of SPECs.

The run's progress lives in ``OUTDIR/run.sqlite`` (``miners.run.state``). Starting a run
loads it: projects already finished are skipped, projects that were running when a previous
process died run again (after any worker it left behind is killed), and with
``retry_failed`` the failed ones too. The outputs are repaired first (``miners.run.outputs``), so
nothing is emitted twice. The executor (``miners.executors``) decides where each project
runs; this process alone writes the outputs and the database, in this order per finished
project: its problem lines (synced), its ``repos.jsonl`` line (synced), then one commit
marking it done. When every SPEC of the run is done, ``problems.jsonl`` and ``repos.jsonl``
are rewritten in list order.
"""

from __future__ import annotations

import fcntl
import json
import logging
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from miners.executors import (
    ExecutorOptions,
    ExecutorUnavailable,
    Finished,
    StageReached,
    Started,
    Task,
    make_executor,
)
from miners.executors.procs import is_same_process, kill_tree
from miners.pipeline import Settings
from miners.records import ProjectResult, Spec
from miners.run import build_caches, outputs
from miners.run.finalize import finalize
from miners.run.progress import Progress
from miners.run.shard import Shard
from miners.run.state import (
    STATE_FILE,
    RunIdentity,
    RunMismatch,
    RunState,
    list_fingerprint,
    spec_keys,
)
from recipes.errors import CitraceError
from tracer.dataset.mutation_filter import keep_strong
from tracer.records import Problem

log = logging.getLogger("citrace")

LOCK_FILE = ".run.lock"
LOCK_WAIT_SECONDS = 3.0


class RunError(CitraceError):
    """The run cannot start: OUTDIR is busy or holds another run, or the executor is missing."""


@dataclass(frozen=True)
class RunOptions:
    executor: ExecutorOptions = field(default_factory=ExecutorOptions)
    shard: Shard = field(default_factory=Shard)
    retry_failed: bool = False
    fresh: bool = False  # discard what OUTDIR holds and start again


@dataclass
class RunSummary:
    projects: int = 0  # SPECs of this run (of this shard)
    ok: int = 0
    failed: int = 0
    pending: int = 0  # not done (the run was interrupted)
    problems: int = 0  # in problems.jsonl
    mined_now: int = 0  # finished by this invocation
    duplicate_tasks: int = 0  # problems left out because an earlier SPEC had the task id

    @property
    def complete(self) -> bool:
        return self.pending == 0


def settings_identity(settings: Settings) -> str:
    """The settings that change what a project emits, as stable JSON."""
    emitting: dict[str, object] = {"max_asserts": settings.max_asserts,
                                   "validate_timeout": settings.validate_timeout}
    # Each only when set, so that runs started before it existed keep their identity.
    if settings.keep_contaminated:
        emitting["keep_contaminated"] = True
    if not settings.augment:
        emitting["augment"] = False
    if settings.licenses:  # which projects are mined at all: two lists must not mix
        emitting["license"] = sorted(settings.licenses)
    if settings.min_mutation_score is not None:
        emitting["min_mutation_score"] = settings.min_mutation_score
    return json.dumps(emitting, sort_keys=True)


def mine_all(specs: Sequence[Spec], out_dir: Path, settings: Settings,
             options: RunOptions | None = None, *,
             on_result: Callable[[ProjectResult], None] | None = None) -> RunSummary:
    options = options or RunOptions()
    build_cache_bound = build_caches.max_bytes_from_environment()  # a bad value: fix it now
    out_dir.mkdir(parents=True, exist_ok=True)
    with run_lock(out_dir):
        _bound_build_caches(build_cache_bound, settings)
        if options.fresh:
            discard_run(out_dir)
        keys = spec_keys(specs)
        tasks = [Task(i, keys[i], spec) for i, spec in options.shard.select(specs)]
        identity = RunIdentity(list_fingerprint(keys), settings_identity(settings),
                               str(options.shard), len(specs))
        with RunState(out_dir / STATE_FILE) as state:
            _prepare(state, identity, tasks, out_dir, retry_failed=options.retry_failed)
            if not settings.keep_work:
                # Nothing runs now (we hold the lock, stray workers are dead): what a killed
                # run left behind, mid-project or waiting for removal, goes.
                shutil.rmtree(settings.work_root, ignore_errors=True)
            summary = _execute(state, tasks, out_dir, settings, options, on_result)
            if summary.complete and state.get_meta("finalized") != "1":
                finalize(out_dir, state)
                summary.problems = state.problems_written()  # duplicates are gone now
                _remove_if_empty(settings.work_root)
            return summary


def _bound_build_caches(max_bytes: int, settings: Settings) -> None:
    """The pip and uv caches every run on the machine shares stay under a bound
    (``miners.run.build_caches``); failing to trim them is no reason not to mine."""
    try:
        build_caches.bound_build_caches(max_bytes, settings=settings.sandbox)
    except OSError as exc:
        log.warning("could not check the size of the build caches: %s", exc)


@contextmanager
def run_lock(out_dir: Path) -> Iterator[None]:
    """One run per OUTDIR at a time. An flock dies with its process, so a killed run never
    leaves a stale lock behind."""
    with open(out_dir / LOCK_FILE, "a") as lock:
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise RunError(f"{out_dir} is being mined by another citrace process; "
                                   f"watch it with: citrace status {out_dir}") from None
                time.sleep(0.2)
        yield


def discard_run(out_dir: Path) -> None:
    for name in (STATE_FILE, f"{STATE_FILE}-wal", f"{STATE_FILE}-shm", outputs.PROBLEMS,
                 outputs.REPOS, "duplicates.jsonl", "dedup.json"):
        (out_dir / name).unlink(missing_ok=True)
    for name in ("logs", "work", "failures"):
        shutil.rmtree(out_dir / name, ignore_errors=True)


def _prepare(state: RunState, identity: RunIdentity, tasks: list[Task], out_dir: Path, *,
             retry_failed: bool) -> None:
    try:
        state.begin(identity, ((t.key, t.index, t.spec.raw) for t in tasks))
    except RunMismatch as exc:
        raise RunError(f"{out_dir} holds another run: {exc}. Resume it with the same command, "
                       f"or start again with --fresh, or choose another -o") from None
    interrupted = _reap_workers(state)
    retried = state.retry_failed() if retry_failed else 0
    repaired = outputs.repair(out_dir, state)
    counts = state.counts()
    done = counts["ok"] + counts["failed"]
    if done or interrupted:
        again = [f"{n} {what}" for n, what in ((interrupted, "interrupted and run again"),
                                               (retried, "failed and retried")) if n]
        log.info("resuming: %d of %d projects done (%d ok, %d failed)%s", done, len(tasks),
                 counts["ok"], counts["failed"], "; " + ", ".join(again) if again else "")
    if repaired.dropped_lines or repaired.requeued:
        log.info("repaired the outputs: dropped %d uncommitted line(s), %d project(s) whose "
                 "lines were missing run again", repaired.dropped_lines, repaired.requeued)


def _reap_workers(state: RunState) -> int:
    """Kill workers a dead run left behind (they would share our work directories), and put
    their projects back in the queue."""
    for _key, pid, started in state.running_workers():
        if is_same_process(pid, started):
            kill_tree(pid)
    return state.requeue_running()


def _execute(state: RunState, tasks: list[Task], out_dir: Path, settings: Settings,
             options: RunOptions, on_result: Callable[[ProjectResult], None] | None,
             ) -> RunSummary:
    statuses = state.status_of(t.key for t in tasks)
    pending = [t for t in tasks if statuses.get(t.key) == "pending"]
    summary = RunSummary(projects=len(tasks))
    if pending:
        log.info("mining %d project(s) into %s (executor %s)", len(pending), out_dir,
                 options.executor.kind)
    recorder = _Recorder(out_dir, state, summary, settings.min_mutation_score)
    progress = Progress(total=len(tasks), done=len(tasks) - len(pending),
                        problems=state.problems_written())
    try:
        executor = make_executor(options.executor)
        with closing(executor.run(pending, settings)) as events:
            for event in events:
                if isinstance(event, Started):
                    state.mark_running(event.task.key, pid=event.pid,
                                       pid_started=event.pid_started)
                elif isinstance(event, StageReached):
                    state.mark_stage(event.task.key, event.stage)
                elif isinstance(event, Finished):
                    written = recorder.record(event)
                    progress.finished(event.result, written,
                                      event.result.timings.get("total", 0.0))
                    if on_result:
                        on_result(event.result)
    except ExecutorUnavailable as exc:
        raise RunError(str(exc)) from None
    finally:
        progress.close()
        recorder.close()
        state.requeue_running()  # stopped early: the executor has killed them
    _count(state, summary)
    return summary


class _Recorder:
    """Writes one finished project: problem lines, repos line, then the commit."""

    def __init__(self, out_dir: Path, state: RunState, summary: RunSummary,
                 min_mutation_score: float | None = None) -> None:
        self._state = state
        self._min_mutation_score = min_mutation_score
        self._summary = summary
        self._problems = outputs.Appender(out_dir / outputs.PROBLEMS)
        self._repos = outputs.Appender(out_dir / outputs.REPOS)

    def record(self, finished: Finished) -> int:
        task = finished.task
        problems, result = weak_tests_dropped(finished.problems, finished.result,
                                              self._min_mutation_score)
        claims: list[tuple[str, int]] = []
        lines = []
        seen: set[str] = set()
        for pos, problem in enumerate(problems):
            holder = self._state.claim(problem.task_id)
            if problem.task_id in seen or (holder is not None and holder.key != task.key
                                           and holder.idx < task.index):
                self._summary.duplicate_tasks += 1
                continue  # an earlier SPEC of the list has this task: it wins
            seen.add(problem.task_id)
            claims.append((problem.task_id, pos))
            lines.append(problem.to_dict())
        self._problems.write(lines)
        self._repos.write([result.to_dict()])
        self._state.finish(task.key, result, claims)
        self._summary.mined_now += 1
        return len(claims)

    def close(self) -> None:
        self._problems.close()
        self._repos.close()


def weak_tests_dropped(problems: Sequence[Problem], result: ProjectResult,
                       minimum: float | None) -> tuple[list[Problem], ProjectResult]:
    """The validated problems whose mutation score passes ``--min-mutation-score``, and the
    project's result counting the others (``dropped_mutation_score_below``,
    ``dropped_mutation_not_measured``; ``problems`` is then what is kept, as after
    decontamination)."""
    kept, dropped = keep_strong(problems, minimum)
    if not dropped:
        return kept, result
    counts = Counter(result.counts)
    counts.update({f"dropped_{reason}": n for reason, n in dropped.items()})
    counts["problems"] = len(kept)
    return kept, replace(result, counts=dict(counts))


def _count(state: RunState, summary: RunSummary) -> None:
    counts = state.counts()
    summary.ok, summary.failed = counts["ok"], counts["failed"]
    summary.pending = counts["pending"] + counts["running"]
    summary.problems = state.problems_written()


def _remove_if_empty(directory: Path) -> None:
    try:
        directory.rmdir()
    except OSError:
        pass
