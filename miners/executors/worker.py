"""The process one project runs in: ``python -m miners.executors.worker``.

It may be started before its project is known (a spare, ready when the run needs it): it
imports what a project needs, then reads a pickled ``(Task, Settings, log path)`` on
standard input (end of input: not needed, it exits), runs ``mine_project`` and writes JSON
lines on standard output: ``{"event": "stage", "stage": ...}`` as each stage begins,
then one ``{"event": "done", "result": ..., "problems": [...]}``. Anything else the
project's code prints goes to the project's log, never into that channel.

If the process that started it dies (the run was killed), a watchdog kills everything this
worker started, and the worker (``procs.end_own_tree``: stopped first, so that the thread
running the project cannot start a command behind the killer's back), so no orphaned build
keeps writing into a work directory that a resumed run is about to reuse.
"""

from __future__ import annotations

import json
import os
import pickle
import sys
import threading
import time
from dataclasses import replace
from typing import IO, Any

from miners.executors.procs import become_subreaper, end_own_tree
from miners.pipeline import Settings, mine_project
from recipes import interpreters
from recipes.sandbox import isolation

WATCH_INTERVAL = 0.25


def main() -> int:
    channel = _private_stdout()
    become_subreaper()  # so that no process of a project escapes kill_tree as an orphan
    _watch_parent(os.getppid())
    _warm_up()
    try:
        task, settings, log_path, leave_work = pickle.load(sys.stdin.buffer)
    except EOFError:
        return 0  # a spare the run did not need: it closed our stdin
    assert isinstance(settings, Settings)
    _log_to(log_path)
    if leave_work:  # the executor removes it, after this worker is gone
        settings = replace(settings, keep_work=True)

    def send(message: dict[str, Any]) -> None:
        channel.write(json.dumps(message, ensure_ascii=False) + "\n")
        channel.flush()

    result, problems = mine_project(task.spec, settings,
                                    on_stage=lambda stage: send({"event": "stage",
                                                                 "stage": stage}))
    send({"event": "done", "result": result.to_dict(),
          "problems": [p.to_dict() for p in problems]})
    sys.stderr.flush()
    # Everything is handed over: skip the interpreter's teardown of every module imported
    # (a good part of a second on a busy machine, per project).
    os._exit(0)


def _warm_up() -> None:
    """Fill the caches every project needs while this worker waits for its project (a spare
    waits while the previous project runs): the interpreters on this machine (one process
    start each), the sandbox backend that works here, and the benchmarks' index for
    decontamination. Only caches are at stake: a failure here is met again, and reported,
    by the project's own stages."""
    for warm in (interpreters.discover, isolation.current, _benchmark_index):
        try:
            warm()
        except Exception:
            pass


def _benchmark_index() -> None:
    from tracer.dataset.decontaminate import decontaminate

    decontaminate([], keep=False)  # loads the benchmarks and builds their (memoised) index


def _log_to(log_path: str) -> None:
    """From now on, standard output and error go to the project's log."""
    sys.stderr.flush()
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    os.dup2(fd, 2)
    os.dup2(fd, 1)
    os.close(fd)


def _private_stdout() -> IO[str]:
    """The protocol channel: the original stdout, while fd 1 is pointed at stderr."""
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return channel


def _watch_parent(parent: int) -> None:
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(WATCH_INTERVAL)
        end_own_tree()

    threading.Thread(target=watch, name="citrace-parent-watch", daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
