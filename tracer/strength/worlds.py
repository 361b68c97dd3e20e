"""A changed world: where a problem is checked a second time, to find asserts that hold only
where it was mined.

A problem whose expected value is the interpreter's version, the time zone's offset, the
user's name, the host's name, the working directory or an order that depends on string
hashing teaches nothing and fails wherever else it is evaluated. Validation runs the kept
test once more with the canonical solution in a world where all of these differ: the
nearest other Python available (when the problem's code runs there at all; else the same
Python), another time zone, user, host name and working directory, and another process
(so another hash seed). Blocks that fail there are dropped (``assert_environment_dependent``);
a problem left with none is dropped as ``environment_dependent``.

The clock is not shifted: nothing short of a preloaded library can move it for a process,
and the probe records no call whose value came from it knowingly. (Asserts on "now" fail the
second run anyway, made seconds later.)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from recipes import interpreters
from tracer.check.run import World as CheckWorld

CHANGED_ENV = (("TZ", "Asia/Kathmandu"), ("USER", "mirror"), ("LOGNAME", "mirror"))
CHANGED_HOSTNAME = "mirror-host"
CHANGED_DIRECTORY = "elsewhere"  # a directory of that name inside the check's /tmp


@dataclass(frozen=True)
class World:
    """Where a check runs: the interpreter, and what the check sees around it."""

    python: str
    check: CheckWorld = CheckWorld()
    changed: tuple[str, ...] = field(default=(), compare=False)  # what differs, for logs


_CHANGED = CheckWorld.of(dict(CHANGED_ENV), hostname=CHANGED_HOSTNAME, workdir=CHANGED_DIRECTORY)


def changed_worlds(python: str, version: str) -> list[World]:
    """The changed worlds to try, in order: with the nearest other Python, then with the
    same one (for code that does not run on the other)."""
    same = World(python, _CHANGED,
                 changed=("timezone", "user", "hostname", "directory", "hash seed"))
    other = other_python(version)
    if other is None:
        return [same]
    return [World(other.path, _CHANGED, changed=(f"python {other.short}", *same.changed)),
            same]


def other_python(version: str) -> interpreters.Interpreter | None:
    """The available interpreter nearest ``version`` ("3.11.7") that is another minor
    version of the same major one; the newer of two at the same distance."""
    wanted = interpreters.parse_version(version)
    if wanted is None:
        return None
    others = [i for i in interpreters.discover()
              if i.version[0] == wanted[0] and i.version[:2] != wanted]
    if not others:
        return None
    return min(others, key=lambda i: (abs(i.version[1] - wanted[1]), -i.version[1]))


def version_of(python: str) -> str:
    """"3.11.7" for an interpreter citrace found; "" for one it did not."""
    real = os.path.realpath(python)
    for found in interpreters.discover():
        if os.path.realpath(found.path) == real:
            return found.full
    return ""
