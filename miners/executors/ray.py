"""``--executor ray``: projects on a cluster or on a local Ray instance.

One Ray actor per slot (a CPU of the cluster, or ``max_in_flight``) runs one project at a
time exactly as the local executor does (``isolate.run_isolated``: a worker process with
the time limit), so both give the same dataset. Like a local slot, each actor keeps the
worker of its next project started while the current one runs, so the interpreter's
start-up and citrace's imports are paid while a project runs, not between projects (a Ray
task per project paid them cold every time). Ray restarts an actor whose process or node
died and retries its project (``retries``); a project that fails is a result, not an
error, and is not retried. On a node other than the driver's, the project works in a
temporary directory of that node and its log comes back with the result; on the driver's
own node it uses the run's directories directly. Nodes need citrace installed (same
version). The driver asks each busy actor for the stage its project is in every
``poll_seconds`` (an actor answers while it mines: two threads), so ``citrace status`` shows
where each project is, as with the local executor.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

from miners.executors.base import (
    Event,
    ExecutorUnavailable,
    Finished,
    StageReached,
    Started,
    Task,
)
from miners.executors.isolate import Worker, run_isolated
from miners.pipeline import Settings, isolation_fields, keep_log_tail, slug
from miners.records import ProjectResult
from recipes.records import STAGES, Failure

INSTALL_HINT = "install it with: pip install 'citrace[ray]'"


def mine_on_node(task: Task, settings: Settings, timeout: float, driver_host: str, *,
                 worker: Worker | None = None,
                 on_event: Callable[[Event], None] | None = None) -> tuple[Finished, str | None]:
    """One project on this node (in ``worker``, or a new one); its log text too when it ran
    away from the driver."""
    if socket.gethostname() == driver_host:
        return run_isolated(task, settings, timeout=timeout, worker=worker,
                            on_event=on_event), None
    scratch = Path(tempfile.mkdtemp(prefix="citrace-"))
    here = replace(settings, work_root=scratch / "work", logs_dir=scratch / "logs")
    try:
        finished = run_isolated(task, here, timeout=timeout, worker=worker, on_event=on_event)
        log_path = here.logs_dir / f"{slug(task.spec.raw)}.log"
        log_text = log_path.read_text("utf-8", "replace") if log_path.exists() else None
        return finished, log_text
    finally:
        if not settings.keep_work:
            shutil.rmtree(scratch, ignore_errors=True)


class Slot:
    """The Ray actor of one slot: mines one project at a time, with the next one's worker
    already started."""

    def __init__(self) -> None:
        self.spare: Worker | None = None
        self.stage = ""  # of the project being mined; "" between projects

    def mine(self, task: Task, settings: Settings, timeout: float,
             driver_host: str) -> tuple[Finished, str | None]:
        worker, self.spare = self.spare or Worker(), Worker()
        self.stage = "acquire"
        try:
            return mine_on_node(task, settings, timeout, driver_host, worker=worker,
                                on_event=self._on_event)
        finally:
            self.stage = ""

    def _on_event(self, event: Event) -> None:
        if isinstance(event, StageReached):
            self.stage = event.stage

    def current_stage(self) -> str:
        """Answered from the actor's second thread while ``mine`` runs in the first."""
        return self.stage

    def close(self) -> None:
        if self.spare is not None:
            self.spare.close()
            self.spare = None


class RayExecutor:
    def __init__(self, *, address: str | None = None, project_timeout: float = 3600.0,
                 max_in_flight: int | None = None, retries: int = 2,
                 poll_seconds: float = 2.0) -> None:
        self.address = address
        self.project_timeout = project_timeout
        self.max_in_flight = max_in_flight
        self.retries = retries
        self.poll_seconds = poll_seconds

    def run(self, tasks: Iterable[Task], settings: Settings) -> Generator[Event, None, None]:
        ray = _import_ray()
        started_here = self._connect(ray)
        slot = ray.remote(num_cpus=1, max_restarts=self.retries, max_concurrency=2,
                          max_task_retries=self.retries)(Slot)
        limit = self.max_in_flight or max(1, int(ray.cluster_resources().get("CPU", 1)))
        idle = [slot.remote() for _ in range(limit)]
        in_flight: dict[Any, tuple[Task, Any]] = {}  # ref -> (task, its actor)
        stages: dict[Any, str] = {}  # ref -> the stage last reported
        feed = iter(tasks)
        host = socket.gethostname()
        try:
            while True:
                while idle and (task := next(feed, None)) is not None:
                    actor = idle.pop()
                    ref = actor.mine.remote(task, settings, self.project_timeout, host)
                    in_flight[ref] = (task, actor)
                    yield Started(task)
                if not in_flight:
                    return
                ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=self.poll_seconds)
                if not ready:
                    yield from _stages_reached(ray, in_flight, stages)
                    continue
                [ref] = ready
                task, actor = in_flight.pop(ref)
                stages.pop(ref, None)
                finished, lost = _collect(ray, ref, task, settings)
                # An actor that lost its project after every retry is replaced.
                idle.append(slot.remote() if lost else actor)
                yield finished
        finally:
            _stop(ray, [*idle, *(actor for _, actor in in_flight.values())])
            if started_here:
                ray.shutdown()

    def _connect(self, ray: ModuleType) -> bool:
        """Connect (or start a local instance); True when this call did it."""
        if ray.is_initialized():
            return False
        try:
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False,
                     configure_logging=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = self.address or "a local Ray instance"
            raise ExecutorUnavailable(f"cannot start or reach {where}: {exc}") from exc
        return True


def _stages_reached(ray: ModuleType, in_flight: dict[Any, tuple[Task, Any]],
                    seen: dict[Any, str]) -> Iterator[StageReached]:
    """A ``StageReached`` for each project whose actor reports a stage not reported yet. An
    actor that does not answer at once (its node busy or gone) is asked again next time."""
    asked = {ref: actor.current_stage.remote() for ref, (_, actor) in in_flight.items()}
    for ref, answer in asked.items():
        try:
            stage = ray.get(answer, timeout=5)
        except Exception:  # lost or slow: the project's own result says what happened
            continue
        if stage in STAGES and stage != seen.get(ref):
            seen[ref] = stage
            yield StageReached(in_flight[ref][0], stage)


def _stop(ray: ModuleType, actors: list[Any]) -> None:
    """Stop the actors' spare workers, then the actors (those still mining are killed)."""
    try:
        ray.get([actor.close.remote() for actor in actors], timeout=30)
    except Exception:  # an actor lost or busy: killing it ends its workers too
        pass
    for actor in actors:
        ray.kill(actor)


def _collect(ray: ModuleType, ref: Any, task: Task, settings: Settings) -> tuple[Finished, bool]:
    """The project's result, and whether its actor was lost."""
    try:
        finished, log_text = ray.get(ref)
    except Exception as exc:  # the actor's process or node died more often than retried
        message = f"the Ray task was lost after retries: {type(exc).__name__}: {exc}"
        failure = Failure("acquire", "worker_died", message.splitlines()[0])
        return Finished(task, ProjectResult.failed(task.spec.raw, failure,
                                                   **_kept_log(task, settings, failure),
                                                   **isolation_fields(settings))), True
    assert isinstance(finished, Finished)
    if log_text is not None:
        log_path = settings.logs_dir / f"{slug(task.spec.raw)}.log"
        settings.logs_dir.mkdir(parents=True, exist_ok=True)
        with open(log_path, "a", encoding="utf-8") as log:
            log.write(log_text)
        if finished.result.log_tail:  # kept on the node that ran it: keep it here too
            tail = keep_log_tail(log_path, settings.logs_dir.parent)
            finished = replace(finished, result=replace(finished.result, log_tail=tail))
    return finished, False


def _kept_log(task: Task, settings: Settings, failure: Failure) -> dict[str, str]:
    """``log`` and ``log_tail`` of a project whose task was lost, when it ran on this node
    long enough to start its log (elsewhere the log was lost with the task)."""
    log_path = settings.logs_dir / f"{slug(task.spec.raw)}.log"
    if not log_path.is_file():
        return {}
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(f"\n[citrace: {failure.message}]\n")
    out_dir = settings.logs_dir.parent
    return {"log": str(log_path.relative_to(out_dir)),
            "log_tail": keep_log_tail(log_path, out_dir)}


def _import_ray() -> ModuleType:
    try:
        import ray
    except ImportError:
        raise ExecutorUnavailable(f"--executor ray needs Ray, which is not installed; "
                                  f"{INSTALL_HINT}") from None
    return ray
