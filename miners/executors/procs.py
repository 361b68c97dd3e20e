"""Finding and killing the whole tree of processes a project started.

A project's worker runs in its own session, but the commands it runs through
``recipes.sandbox.run`` each start another session of their own, so killing the worker's
process group alone would leave pip or pytest running. These helpers walk ``/proc`` to find
every descendant and kill their groups too. Where there is no ``/proc`` (not Linux), only
the worker's own group is killed.
"""

from __future__ import annotations

import ctypes
import os
import signal
import time
import warnings
from pathlib import Path
from typing import NoReturn

PROC = Path("/proc")
PR_SET_CHILD_SUBREAPER = 36
KILL_DEADLINE = 5.0  # seconds: a process stuck in the kernel (state D) may never go
DEAD = ("Z", "X")


def become_subreaper() -> bool:
    """Make this process the reaper of its orphaned descendants (Linux): a process whose
    parent dies, however early (a sandbox's first process, killed while it was forking
    before it could ask to die with its parent), is re-parented here, not to init, so that
    ``kill_tree`` still finds it. False where the kernel does not offer it."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def start_time(pid: int) -> str:
    """An identity for ``pid`` that a reused pid does not share ("" if unknown or gone).

    Field 22 of ``/proc/PID/stat`` is the start time in clock ticks since boot.
    """
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return ""
    # The command name (field 2) is in parentheses and may itself contain spaces.
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else ""


def is_same_process(pid: int, started: str) -> bool:
    """Whether ``pid`` is still the process that had start time ``started``."""
    return bool(pid) and bool(started) and start_time(pid) == started


def descendants(pid: int, *, live: bool = False) -> list[int]:
    """Every descendant of ``pid`` (with ``live``, zombies left out), parents before
    children."""
    children: dict[int, list[int]] = {}
    try:
        entries = list(PROC.iterdir())
    except OSError:
        return []
    for entry in entries:
        if not entry.name.isdigit():
            continue
        stat = _stat_of(entry)
        if stat is not None and not (live and stat[0] in DEAD):
            children.setdefault(stat[1], []).append(int(entry.name))
    found: list[int] = []
    queue = [pid]
    while queue:
        for child in children.get(queue.pop(0), []):
            found.append(child)
            queue.append(child)
    return found


def _stat_of(entry: Path) -> tuple[str, int] | None:
    """A process's state letter and its parent's pid, from ``/proc/PID/stat``."""
    try:
        stat = (entry / "stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return (fields[0], int(fields[1])) if len(fields) > 1 else None


def kill_tree(pid: int, *, include_self: bool = True) -> None:
    """SIGKILL ``pid``, its descendants and their process groups, never the caller's own.

    ``pid`` is stopped first and killed last: stopped, it starts nothing more while its
    tree is walked (a thread of it may be starting a sandbox at that very moment), and, a
    subreaper (``become_subreaper``), it stays the parent of every orphan a killed child
    leaves, so the next walk finds them. Killed first, its late children and orphans went to
    init, out of reach. The walk is repeated until it finds no live descendant. Without
    ``include_self`` (``pid`` is the caller, which cannot stop itself) only the descendants
    are killed: ``end_own_tree`` is the safe way to end one's own tree.
    """
    me = os.getpid()
    stop = include_self and pid != me
    # Groups killed whole only at the end, if at all: the caller's, and the root's (a
    # descendant in the root's group must not take the root down before the walk is done).
    spared = {os.getpgrp(), _group_of(pid)}
    if stop:
        _signal(pid, signal.SIGSTOP)
    deadline = time.monotonic() + KILL_DEADLINE
    while True:
        targets = [target for target in descendants(pid, live=True) if target != me]
        if not targets or time.monotonic() > deadline:
            break
        for target in targets:
            group = _group_of(target)
            if group not in spared:
                _signal_group(group, signal.SIGKILL)
            _signal(target, signal.SIGKILL)
        time.sleep(0.01)
    if stop:
        root_group = _group_of(pid)
        if root_group != os.getpgrp():
            _signal_group(root_group, signal.SIGKILL)
        _signal(pid, signal.SIGKILL)


def end_own_tree() -> NoReturn:
    """Kill every process this one started, then this one (a worker whose run died).

    A forked child does it with ``kill_tree``, which stops this process first: this process
    may have other threads that are starting commands, and only a stopped process is sure
    to start none after the last walk. Where fork fails, the descendants are killed from
    here, the best this process can do for itself."""
    me = os.getpid()
    try:
        with warnings.catch_warnings():  # 3.12+ warns of fork in a threaded process: the
            warnings.simplefilter("ignore", DeprecationWarning)  # child uses no lock of theirs
            child = os.fork()
    except OSError:
        kill_tree(me, include_self=False)
        os._exit(1)
    if child == 0:  # the undertaker: only os calls and what is imported already
        try:
            kill_tree(me)
        finally:
            os._exit(0)
    time.sleep(KILL_DEADLINE + 5)  # stopped, then killed, by the child well before
    kill_tree(me, include_self=False)
    os._exit(1)


def _group_of(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except (ProcessLookupError, PermissionError):
        return None


def _signal_group(group: int | None, number: int) -> None:
    if group is None:
        return
    try:
        os.killpg(group, number)
    except (ProcessLookupError, PermissionError):
        pass


def _signal(pid: int, number: int) -> None:
    try:
        os.kill(pid, number)
    except (ProcessLookupError, PermissionError):
        pass
