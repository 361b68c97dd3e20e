"""``problems.jsonl`` and ``repos.jsonl``, written so that a crash at any moment leaves them
valid.

Lines are appended whole, flushed and synced; files are only ever replaced whole (a temporary
file renamed over them). The state database vouches for lines: a problem line is kept when
the ``tasks`` table says its SPEC (``meta.source``) wrote that task id and that SPEC is done.
``repair`` applies that rule when a run starts, which drops a torn last line and the lines of
a project whose results were appended but not yet committed when the process died;
``finalize`` applies it in list order (SPEC index, then the project's own order) when the
run is complete, so the final file does not depend on which project finished first.
``repos.jsonl`` is rebuilt from the database, which holds every line of it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from miners.run.state import Claim, RunState

PROBLEMS = "problems.jsonl"
REPOS = "repos.jsonl"


class Appender:
    """Append whole JSON lines; each ``write`` is flushed and synced before it returns."""

    def __init__(self, path: Path) -> None:
        self._file: IO[bytes] = open(path, "ab")  # closed in close()

    def write(self, records: Iterable[dict[str, Any]]) -> None:
        data = b"".join(json_line(r) for r in records)
        if data:
            self._file.write(data)
            self._file.flush()
            os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


def json_line(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")


def atomic_write(path: Path, chunks: Iterable[bytes]) -> None:
    """Replace ``path`` with ``chunks``: readers and crashes see the old file or the new one."""
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, _FILE_MODE)  # mkstemp makes it private; outputs are ordinary files
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        os.unlink(temp)
        raise
    _sync_directory(path.parent)


def _file_mode() -> int:
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


_FILE_MODE = _file_mode()


def _sync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def complete_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """``(offset, line)`` of each newline-terminated line; a torn last line is left out."""
    if not path.exists():
        return
    with open(path, "rb") as stream:
        offset = 0
        for line in stream:
            if not line.endswith(b"\n"):
                return
            yield offset, line
            offset += len(line)


@dataclass(frozen=True)
class Placed:
    """A problem line vouched for by a claim: where it is and whose it is."""

    offset: int
    line: bytes
    task_id: str
    claim: Claim


@dataclass
class Scan:
    lines: int = 0
    dropped: int = 0
    kept_by_key: Counter[str] = field(default_factory=Counter)


def vouched_lines(path: Path, claim_of: Callable[[str], Claim | None],
                  scan: Scan | None = None) -> Iterator[Placed]:
    """The problem lines the claims vouch for, in file order, each task id once."""
    scan = scan if scan is not None else Scan()
    kept: set[str] = set()
    for offset, line in complete_lines(path):
        scan.lines += 1
        task_id, source = _identity(line)
        claim = claim_of(task_id) if task_id else None
        if claim is None or claim.raw != source or task_id in kept:
            scan.dropped += 1
            continue
        kept.add(task_id)
        scan.kept_by_key[claim.key] += 1
        yield Placed(offset, line, task_id, claim)


def json_records(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a ``.jsonl`` file citrace wrote: its complete lines only (a line
    torn by a crash, or anything else than an object, is left out)."""
    found = []
    for _, line in complete_lines(path):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            found.append(record)
    return found


def _identity(line: bytes) -> tuple[str, str]:
    try:
        record = json.loads(line)
        return str(record["task_id"]), str(record["meta"]["source"])
    except (ValueError, KeyError, TypeError):
        return "", ""


@dataclass(frozen=True)
class Repair:
    dropped_lines: int  # torn, or written by a project whose result was never committed
    requeued: int  # projects whose committed lines had gone missing: they run again


def repair(out_dir: Path, state: RunState) -> Repair:
    """Make the outputs agree with the database before a run (re)starts."""
    path = out_dir / PROBLEMS
    scan = Scan()
    for _ in vouched_lines(path, state.claim, scan):
        pass
    expected = state.claims_by_key()
    missing = {key for key, n in expected.items() if scan.kept_by_key[key] != n}
    if missing:
        # Requeue first: should we die before the rewrite, their lines are unclaimed anyway.
        state.requeue(missing)
    torn = path.exists() and path.stat().st_size != _complete_size(path)
    if scan.dropped or missing or torn or not path.exists():
        atomic_write(path, (p.line for p in vouched_lines(path, state.claim)))
        state.set_meta("finalized", "")  # in file order now, no longer in list order
    write_repos(out_dir, state)
    return Repair(dropped_lines=scan.dropped + (1 if torn else 0), requeued=len(missing))


def _complete_size(path: Path) -> int:
    size = 0
    for _, line in complete_lines(path):
        size += len(line)
    return size


def write_repos(out_dir: Path, state: RunState) -> None:
    atomic_write(out_dir / REPOS, (json_line(r) for r in state.results()))


@dataclass(frozen=True)
class Winner:
    task_id: str
    key: str
    pos: int
    source: int
    offset: int
    length: int


class OrderedPlacement:
    """Problem lines from one or more files, ordered by (SPEC index, position) on disk
    (a temporary SQLite table) rather than in memory, keeping the first of each task id."""

    def __enter__(self) -> OrderedPlacement:
        self._db = sqlite3.connect("")  # "" = a private temporary database on disk
        self._db.execute("CREATE TABLE placed (task_id TEXT, key TEXT, idx INTEGER, "
                         "pos INTEGER, source INTEGER, offset INTEGER, length INTEGER)")
        return self

    def __exit__(self, *exc: object) -> None:
        self._db.close()

    def add(self, source: int, placed: Placed) -> None:
        self._db.execute("INSERT INTO placed VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (placed.task_id, placed.claim.key, placed.claim.idx, placed.claim.pos,
                          source, placed.offset, len(placed.line)))

    def winners(self) -> Iterator[Winner]:
        """The first line of each task id, in list order."""
        rows = self._db.execute(
            "SELECT task_id, key, pos, source, offset, length FROM ("
            " SELECT *, ROW_NUMBER() OVER (PARTITION BY task_id ORDER BY idx, pos, source)"
            " AS rank FROM placed) WHERE rank = 1 ORDER BY idx, pos, source")
        for task_id, key, pos, source, offset, length in rows:
            yield Winner(str(task_id), str(key), int(pos), int(source), int(offset),
                         int(length))

    def lines_in_order(self, files: dict[int, Path],
                       on_line: Callable[[Winner], None] | None = None) -> Iterator[bytes]:
        streams = {source: open(path, "rb") for source, path in files.items()}
        try:
            for winner in self.winners():
                if on_line:
                    on_line(winner)
                stream = streams[winner.source]
                stream.seek(winner.offset)
                yield stream.read(winner.length)
        finally:
            for stream in streams.values():
                stream.close()
