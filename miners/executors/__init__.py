"""Where projects run. An executor takes tasks (SPECs with their place in the list) and the
run's ``Settings`` and yields events as projects start, change stage and finish; it decides
only *where* each project runs. Every executor runs a project the same way
(``isolate.run_isolated``: a worker process of its own, killed with everything it started
when it overruns), and the caller alone writes outputs and state. The tasks, the
events and the protocol are in ``base``.

``local``: a pool of ``--jobs`` worker processes on this machine (the base install).
``ray``: one Ray actor per slot, each mining a project at a time (``pip install citrace[ray]``).
"""

from __future__ import annotations

from miners.executors.base import (
    Event,
    Executor,
    ExecutorOptions,
    ExecutorUnavailable,
    Finished,
    StageReached,
    Started,
    Task,
)

EXECUTORS = ("local", "ray")


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
