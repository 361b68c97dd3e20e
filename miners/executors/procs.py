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
from pathlib import Path

PROC = Path("/proc")
PR_SET_CHILD_SUBREAPER = 36
KILL_PASSES = 5


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


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid``, parents before children."""
    children: dict[int, list[int]] = {}
    try:
        entries = list(PROC.iterdir())
    except OSError:
        return []
    for entry in entries:
        if not entry.name.isdigit():
            continue
        parent = _parent_of(entry)
        if parent is not None:
            children.setdefault(parent, []).append(int(entry.name))
    found: list[int] = []
    queue = [pid]
    while queue:
        for child in children.get(queue.pop(0), []):
            found.append(child)
            queue.append(child)
    return found


def _parent_of(entry: Path) -> int | None:
    try:
        stat = (entry / "stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return int(fields[1]) if len(fields) > 1 else None


def kill_tree(pid: int, *, include_self: bool = True) -> None:
    """SIGKILL ``pid``, its descendants and their process groups, never the caller's own."""
    own_group = os.getpgrp()
    # Again while any is left: a process may have forked between the walk and the kill,
    # and the orphans of a killed one come back to a subreaper (``become_subreaper``).
    for _ in range(KILL_PASSES):
        targets = descendants(pid)
        if include_self:
            targets.insert(0, pid)
        targets = [target for target in targets if target != os.getpid()]
        if not targets:
            return
        for target in targets:
            _kill_group_of(target, own_group)
            _kill(target)
        time.sleep(0.01)


def _kill_group_of(pid: int, own_group: int) -> None:
    try:
        group = os.getpgid(pid)
    except (ProcessLookupError, PermissionError):
        return
    if group != own_group:
        try:
            os.killpg(group, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
