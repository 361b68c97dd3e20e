"""The process one project runs in: ``python -m miners.executors.worker``.

It reads a pickled ``(Task, Settings)`` on standard input, runs ``mine_project`` and writes
JSON lines on standard output: ``{"event": "stage", "stage": ...}`` as each stage begins,
then one ``{"event": "done", "result": ..., "problems": [...]}``. Anything else the
project's code prints goes to standard error (the project's log), never into that channel.

If the process that started it dies (the run was killed), a watchdog kills everything this
worker started and exits at once, so no orphaned build keeps writing into a work directory
that a resumed run is about to reuse.
"""

from __future__ import annotations

import json
import os
import pickle
import sys
import threading
import time
from typing import IO, Any

from miners.executors.procs import kill_tree
from miners.pipeline import Settings, mine_project

WATCH_INTERVAL = 0.25


def main() -> int:
    channel = _private_stdout()
    task, settings = pickle.load(sys.stdin.buffer)
    assert isinstance(settings, Settings)
    _watch_parent(os.getppid())

    def send(message: dict[str, Any]) -> None:
        channel.write(json.dumps(message, ensure_ascii=False) + "\n")
        channel.flush()

    result, problems = mine_project(task.spec, settings,
                                    on_stage=lambda stage: send({"event": "stage",
                                                                 "stage": stage}))
    send({"event": "done", "result": result.to_dict(),
          "problems": [p.to_dict() for p in problems]})
    return 0


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
        kill_tree(os.getpid(), include_self=False)
        os._exit(1)

    threading.Thread(target=watch, name="citrace-parent-watch", daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
