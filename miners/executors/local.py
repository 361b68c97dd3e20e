"""``--executor local``: up to ``jobs`` projects at once on this machine.

Each project runs in its own worker process (``isolate.run_isolated``), so one thread per
slot is enough to drive it: threads only wait on pipes. Tasks are taken from the iterable
as slots free up, so a list of any length costs ``jobs`` workers and no more (plus one
spare per slot: the worker of the slot's next project, started while the current one runs,
so that the interpreter's start-up and citrace's imports do not add to each project's
time). Work directories are removed by a janitor thread once their project is done, off
the path from one project to the next.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterable
from typing import cast

from miners.executors.base import Event, Task
from miners.executors.isolate import Cancelled, Janitor, Worker, run_isolated
from miners.pipeline import Settings

_SLOT_DONE = object()


class LocalExecutor:
    def __init__(self, *, jobs: int = 1, project_timeout: float = 3600.0) -> None:
        if jobs < 1:
            raise ValueError("jobs must be at least 1")
        self.jobs = jobs
        self.project_timeout = project_timeout

    def run(self, tasks: Iterable[Task], settings: Settings) -> Generator[Event, None, None]:
        events: queue.Queue[object] = queue.Queue()
        stop = threading.Event()
        feed = iter(tasks)
        feed_lock = threading.Lock()
        janitor = Janitor()

        def next_task() -> Task | None:
            with feed_lock:
                return next(feed, None)

        def slot() -> None:
            spare: Worker | None = None
            try:
                while not stop.is_set() and (task := next_task()) is not None:
                    worker, spare = spare or Worker(), Worker()
                    events.put(run_isolated(task, settings, timeout=self.project_timeout,
                                            on_event=events.put, stop=stop, worker=worker,
                                            janitor=janitor))
            except Cancelled:
                pass
            except BaseException as exc:  # a bug here must reach the caller, not vanish
                events.put(exc)
            finally:
                if spare is not None:
                    spare.close()
                events.put(_SLOT_DONE)

        slots = [threading.Thread(target=slot, name=f"citrace-slot-{n}", daemon=True)
                 for n in range(self.jobs)]
        for thread in slots:
            thread.start()
        running = len(slots)
        try:
            while running:
                item = events.get()
                if item is _SLOT_DONE:
                    running -= 1
                elif isinstance(item, BaseException):
                    raise item
                else:
                    yield cast(Event, item)
        finally:
            stop.set()
            for thread in slots:
                thread.join()
            janitor.close()
