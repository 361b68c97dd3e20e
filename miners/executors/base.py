"""What every executor shares: the tasks it is given, the events it yields, the
``Executor`` protocol, and the options that choose one (``make_executor`` in
``miners.executors``)."""

from __future__ import annotations

from collections.abc import Generator, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from miners.pipeline import Settings
from miners.records import ProjectResult, Spec
from recipes.errors import CitraceError
from recipes.records import Stage
from tracer.records import Problem


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
    stage: Stage


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
    jobs: int | None = None  # local: 1 when None; ray: slots (actors), one per cluster CPU
    project_timeout: float = 3600.0
    ray_address: str | None = None
    ray_retries: int = 2


class ExecutorUnavailable(CitraceError):
    """The chosen executor cannot run here (Ray not installed, cluster unreachable)."""
