"""``--executor ray``: one Ray task per project, on a cluster or on a local Ray instance.

A Ray task runs the project exactly as the local executor does (``isolate.run_isolated``:
a worker process with the time limit), so both give the same dataset. Ray retries a task
whose worker or node died (``retries``); a project that fails is a result, not an error,
and is not retried. On a node other than the driver's, the project works in a temporary
directory of that node and its log comes back with the result; on the driver's own node
it uses the run's directories directly. Nodes need citrace installed (same version).
"""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Generator, Iterable
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

from miners.executors.base import Event, ExecutorUnavailable, Finished, Started, Task
from miners.executors.isolate import run_isolated
from miners.pipeline import Settings, isolation_fields, keep_log_tail, slug
from miners.records import ProjectResult
from recipes.records import Failure

INSTALL_HINT = "install it with: pip install 'citrace[ray]'"


def mine_on_node(task: Task, settings: Settings, timeout: float,
                 driver_host: str) -> tuple[Finished, str | None]:
    """The Ray task: one project; its log text too when it ran away from the driver."""
    if socket.gethostname() == driver_host:
        return run_isolated(task, settings, timeout=timeout), None
    scratch = Path(tempfile.mkdtemp(prefix="citrace-"))
    here = replace(settings, work_root=scratch / "work", logs_dir=scratch / "logs")
    try:
        finished = run_isolated(task, here, timeout=timeout)
        log_path = here.logs_dir / f"{slug(task.spec.raw)}.log"
        log_text = log_path.read_text("utf-8", "replace") if log_path.exists() else None
        return finished, log_text
    finally:
        if not settings.keep_work:
            shutil.rmtree(scratch, ignore_errors=True)


class RayExecutor:
    def __init__(self, *, address: str | None = None, project_timeout: float = 3600.0,
                 max_in_flight: int | None = None, retries: int = 2) -> None:
        self.address = address
        self.project_timeout = project_timeout
        self.max_in_flight = max_in_flight
        self.retries = retries

    def run(self, tasks: Iterable[Task], settings: Settings) -> Generator[Event, None, None]:
        ray = _import_ray()
        started_here = self._connect(ray)
        remote = ray.remote(num_cpus=1, max_retries=self.retries)(mine_on_node)
        limit = self.max_in_flight or 2 * max(1, int(ray.cluster_resources().get("CPU", 1)))
        in_flight: dict[Any, Task] = {}
        feed = iter(tasks)
        host = socket.gethostname()
        try:
            while True:
                while len(in_flight) < limit and (task := next(feed, None)) is not None:
                    ref = remote.remote(task, settings, self.project_timeout, host)
                    in_flight[ref] = task
                    yield Started(task)
                if not in_flight:
                    return
                [ref], _ = ray.wait(list(in_flight), num_returns=1)
                yield _collect(ray, ref, in_flight.pop(ref), settings)
        finally:
            for ref in in_flight:
                ray.cancel(ref, force=True)
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


def _collect(ray: ModuleType, ref: Any, task: Task, settings: Settings) -> Finished:
    try:
        finished, log_text = ray.get(ref)
    except Exception as exc:  # the task's worker or node died more often than retried
        message = f"the Ray task was lost after retries: {type(exc).__name__}: {exc}"
        failure = Failure("acquire", "worker_died", message.splitlines()[0])
        return Finished(task, ProjectResult.failed(task.spec.raw, failure,
                                                   **_kept_log(task, settings, failure),
                                                   **isolation_fields(settings)))
    assert isinstance(finished, Finished)
    if log_text is not None:
        log_path = settings.logs_dir / f"{slug(task.spec.raw)}.log"
        settings.logs_dir.mkdir(parents=True, exist_ok=True)
        with open(log_path, "a", encoding="utf-8") as log:
            log.write(log_text)
        if finished.result.log_tail:  # kept on the node that ran it: keep it here too
            tail = keep_log_tail(log_path, settings.logs_dir.parent)
            finished = replace(finished, result=replace(finished.result, log_tail=tail))
    return finished


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
