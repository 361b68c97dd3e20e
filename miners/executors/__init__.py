"""Where projects run. An executor takes tasks (SPECs with their place in the list) and the
run's ``Settings`` and yields events as projects start, change stage and finish; it decides
only *where* each project runs. Every executor runs a project the same way
(``isolate.run_isolated``: a worker process of its own, killed with everything it started
when it overruns), and the caller alone writes outputs and state.

``local``: a pool of ``--jobs`` worker processes on this machine (the base install).
``ray``: one Ray task per project, with retries (``pip install citrace[ray]``).
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from miners.pipeline import Settings
from miners.records import ProjectResult, Spec
from tracer.records import Problem

EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class Task:
    """One SPEC to mine: ``index`` is its place in the whole list, ``key`` its stable name."""

    index: int
    key: str
    spec: Spec


@dataclass(frozen=True)
class Started:
    task: Task
    pid: int = 0  # the worker process, when it runs on this machine
    pid_started: str = ""  # its start time, to tell it from a later process with the same pid


@dataclass(frozen=True)
class StageReached:
    task: Task
    stage: str


@dataclass(frozen=True)
class Finished:
    task: Task
    result: ProjectResult
    problems: list[Problem] = field(default_factory=list)


Event = Started | StageReached | Finished


class Executor(Protocol):
    def run(self, tasks: Iterable[Task], settings: Settings) -> Generator[Event, None, None]:
        """Events for ``tasks``, exactly one ``Finished`` per task, in completion order.

        Closing the iterator early stops the projects still running.
        """
        ...


@dataclass(frozen=True)
class ExecutorOptions:
    kind: str = "local"
    jobs: int | None = None  # local: 1 when None; ray: projects in flight, 2 per cluster CPU
    project_timeout: float = 3600.0
    ray_address: str | None = None
    ray_retries: int = 2


class ExecutorUnavailable(RuntimeError):
    """The chosen executor cannot run here (Ray not installed, cluster unreachable)."""


def make_executor(options: ExecutorOptions) -> Executor:
    if options.kind == "local":
        from miners.executors.local import LocalExecutor

        return LocalExecutor(jobs=options.jobs or 1, project_timeout=options.project_timeout)
    if options.kind == "ray":
        from miners.executors.ray import RayExecutor

        return RayExecutor(address=options.ray_address, project_timeout=options.project_timeout,
                           max_in_flight=options.jobs, retries=options.ray_retries)
    raise ValueError(f"unknown executor {options.kind!r}; expected one of {', '.join(EXECUTORS)}")


__all__ = ["EXECUTORS", "Event", "Executor", "ExecutorOptions", "ExecutorUnavailable",
           "Finished", "StageReached", "Started", "Task", "make_executor"]
