"""The CPython interpreters present on this machine, and choosing one for a job.

Looks on PATH and in pyenv's versions directory. pyenv's shims are skipped: a shim for a
version that is not selected fails at run time, while the real binaries always work.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

# The version the host itself is tested on; preferred when a job does not name one.
PREFERRED = (3, 11)
# The oldest Python tox (with tox-uv or virtualenv 21) runs tests on: tox-uv's environment
# query needs 3.7, and virtualenv 21 seeds nothing below 3.9.
TOX_OLDEST = (3, 7)
# From this version on the probe traces with sys.monitoring (PEP 669): about 1.1x the
# untraced time where sys.setprofile costs 7x, and it records generator yields.
MONITORING = (3, 12)
# The oldest Python the probe runs on; a job on an older one (2.7) cannot be traced.
OLDEST_TRACEABLE = (3, 6)
# When each CPython x.y came out (x.y.0), and how long the packages of the day took to
# support a new one: before that, a project's dependencies of its date rarely ran on it.
RELEASED = {(2, 7): "2010-07-03", (3, 5): "2015-09-13", (3, 6): "2016-12-23",
            (3, 7): "2018-06-27", (3, 8): "2019-10-14", (3, 9): "2020-10-05",
            (3, 10): "2021-10-04", (3, 11): "2022-10-24", (3, 12): "2023-10-02",
            (3, 13): "2024-10-07", (3, 14): "2025-10-07"}
SUPPORT_CATCHES_UP = timedelta(days=180)

_VERSION_PROBE = "import sys; print('%d.%d.%d' % sys.version_info[:3])"


@dataclass(frozen=True, order=True)
class Interpreter:
    version: tuple[int, int, int]
    path: str

    @property
    def short(self) -> str:
        return f"{self.version[0]}.{self.version[1]}"

    @property
    def full(self) -> str:
        return ".".join(map(str, self.version))


def pyenv_root() -> Path | None:
    root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    return Path(root) if Path(root, "versions").is_dir() else None


@functools.lru_cache(maxsize=1)
def discover() -> tuple[Interpreter, ...]:
    """Every distinct CPython found, newest patch release per minor version."""
    found: dict[tuple[int, int], Interpreter] = {}
    for path in _candidate_paths():
        version = _version_of(path)
        if version is None:
            continue
        key = version[:2]
        if key not in found or version > found[key].version:
            found[key] = Interpreter(version, path)
    return tuple(sorted(found.values()))


def _candidate_paths() -> list[str]:
    paths: list[str] = []
    root = pyenv_root()
    if root:
        for version_dir in sorted((root / "versions").iterdir()):
            if re.fullmatch(r"\d+\.\d+\.\d+", version_dir.name):
                major_minor = ".".join(version_dir.name.split(".")[:2])
                paths.append(str(version_dir / "bin" / f"python{major_minor}"))
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if not directory or "shims" in Path(directory).parts:
            continue
        for name in ["python3", "python2.7"] + [f"python3.{m}" for m in range(6, 16)]:
            candidate = Path(directory, name)
            if candidate.is_file() and os.access(candidate, os.X_OK):
                paths.append(str(candidate))
    return paths


def _version_of(path: str) -> tuple[int, int, int] | None:
    if not os.access(path, os.X_OK):
        return None
    try:
        # -E -s -S: nothing of the environment or of site-packages runs (Python 2.7 has no -I).
        out = subprocess.run([path, "-E", "-s", "-S", "-c", _VERSION_PROBE], capture_output=True,
                             text=True, timeout=20, check=True, cwd="/").stdout
        major, minor, micro = (int(x) for x in out.strip().split("."))
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return (major, minor, micro)


def supported_since(version: tuple[int, int]) -> datetime | None:
    """When the packages of the day had caught up with ``version``; None if not in the table."""
    if version not in RELEASED:
        return None
    released = datetime.fromisoformat(RELEASED[version]).replace(tzinfo=timezone.utc)
    return released + SUPPORT_CATCHES_UP


def of_era(date: str, *, available: tuple[Interpreter, ...] | None = None) -> Interpreter | None:
    """The traceable interpreter here that a project of ``date`` (ISO 8601, UTC) was most
    likely tested on: the newest one its day's packages already supported, else the oldest
    traceable one (a 2013 project: 3.6, the nearest to the 3.3 of its day). None when
    ``date`` cannot be read or no interpreter here is traceable."""
    try:
        moment = datetime.fromisoformat(date.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    pool = [i for i in (discover() if available is None else available)
            if i.version[:2] >= OLDEST_TRACEABLE]
    ready = [i for i in pool
             if (since := supported_since(i.version[:2])) is not None and since <= moment]
    return ready[-1] if ready else (pool[0] if pool else None)


def parse_version(text: str) -> tuple[int, int] | None:
    """'3.11', '3.11.7', 'py311', 'py3.11', 'py27' -> (major, minor); None if not a version."""
    match = re.fullmatch(r"(?:py|python|cpython)?(\d)\.?(\d{1,2})(?:\.\d+)?", text.strip().lower())
    return (int(match.group(1)), int(match.group(2))) if match else None


def choose(wanted: tuple[int, int] | None, *,
           available: tuple[Interpreter, ...] | None = None) -> Interpreter | None:
    """The interpreter for a job wanting ``wanted``: that version, else the nearest newer
    one of the same major version. With no wish, the preferred version or the nearest one."""
    pool = discover() if available is None else available
    if wanted is None:
        wanted = PREFERRED
        newer_or_same = [i for i in pool if i.version[:2] >= wanted and i.version[0] == 3]
        return newer_or_same[0] if newer_or_same else (pool[-1] if pool else None)
    for interpreter in pool:
        if interpreter.version[:2] == wanted:
            return interpreter
    newer = [i for i in pool if i.version[0] == wanted[0] and i.version[:2] > wanted]
    return newer[0] if newer else None


def rank(wanted: tuple[int, int] | None, chosen: Interpreter) -> tuple[int, int]:
    """How good ``chosen`` is for a job wanting ``wanted``, lower first: the exact version
    before a stand-in, then the version nearest the preferred one, newer first, and
    Python 2 after every Python 3."""
    exact = 0 if wanted is None or chosen.version[:2] == wanted else 1
    distance = abs(chosen.version[1] - PREFERRED[1]) * 2
    if chosen.version[:2] < PREFERRED:
        distance += 1
    if chosen.version[0] != PREFERRED[0]:
        distance += 100
    return (exact, distance)
