"""A run's progress, in ``OUTDIR/run.sqlite`` (SQLite in WAL mode, so ``citrace status``
can read while the run writes).

One row per SPEC of the run, keyed by a stable spec key: its place in the whole list
(``idx``), status (``pending``, ``running``, ``ok``, ``failed``), the stage it is in or
stopped at, cause, reason, timings, counts and the ``repos.jsonl`` line once done. A
``tasks`` table says which SPEC wrote each problem of ``problems.jsonl`` (and its position
among that SPEC's problems): the claims that crash repair and the final ordering rely on.
``meta`` holds what makes two invocations the same run: the SPEC list, the settings that
change what is emitted, and the shard.

Only the process running the batch writes here; everything else opens it read-only.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from miners.records import ProjectResult, Spec
from recipes.errors import CitraceError

STATE_FILE = "run.sqlite"
DONE = ("ok", "failed")
SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS specs (
    key TEXT PRIMARY KEY,
    idx INTEGER NOT NULL,
    raw TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    stage TEXT NOT NULL DEFAULT '',
    cause TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0,
    started_at REAL,
    finished_at REAL,
    seconds REAL,
    problems INTEGER NOT NULL DEFAULT 0,
    timings TEXT NOT NULL DEFAULT '{}',
    counts TEXT NOT NULL DEFAULT '{}',
    result TEXT,
    worker_pid INTEGER NOT NULL DEFAULT 0,
    worker_started TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS specs_status ON specs (status);
CREATE INDEX IF NOT EXISTS specs_idx ON specs (idx);
CREATE TABLE IF NOT EXISTS tasks (
    task_id TEXT PRIMARY KEY,
    key TEXT NOT NULL,
    pos INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_key ON tasks (key);
"""


class RunMismatch(CitraceError):
    """OUTDIR holds a different run (another SPEC list, other settings, another shard)."""


@dataclass(frozen=True)
class RunIdentity:
    """What makes two invocations of ``citrace mine`` the same run."""

    list_fingerprint: str  # of the whole SPEC list, in order (shards of one list share it)
    settings: str  # JSON of the settings that change what is emitted
    shard: str  # "K/N"
    total: int  # SPECs in the whole list


@dataclass(frozen=True)
class Claim:
    """Which SPEC wrote a problem: the one ``problems.jsonl`` keeps for that task id."""

    key: str
    raw: str
    idx: int
    pos: int


def spec_keys(specs: Sequence[Spec]) -> list[str]:
    """A stable key per SPEC: a hash of its text, numbered when the same text recurs
    (one relative path in two list files), so the same list gives the same keys anywhere."""
    seen: Counter[str] = Counter()
    keys = []
    for spec in specs:
        digest = hashlib.sha256(spec.raw.encode()).hexdigest()[:16]
        seen[digest] += 1
        keys.append(digest if seen[digest] == 1 else f"{digest}-{seen[digest]}")
    return keys


def list_fingerprint(keys: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]


class RunState:
    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        if readonly:
            self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30,
                                       isolation_level=None)
        else:
            self._db = sqlite3.connect(path, timeout=30, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            # Outputs are synced before the row that vouches for them is committed, so a
            # commit lost to a power cut only means that project runs again.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        self._db.row_factory = sqlite3.Row

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> RunState:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- meta ---------------------------------------------------------------------------

    def get_meta(self, name: str, default: str = "") -> str:
        row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return str(row["value"]) if row else default

    def set_meta(self, name: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)",
                         (name, value))

    def identity(self) -> RunIdentity | None:
        if not self.get_meta("list_fingerprint"):
            return None
        return RunIdentity(self.get_meta("list_fingerprint"), self.get_meta("settings"),
                           self.get_meta("shard"), int(self.get_meta("total", "0")))

    def begin(self, identity: RunIdentity, rows: Iterable[tuple[str, int, str]]) -> None:
        """Adopt ``identity`` (or check it is the one stored) and add the SPECs not yet known
        as ``pending``; ``rows`` are ``(key, idx, raw)``."""
        stored = self.identity()
        if stored is not None and stored != identity:
            raise RunMismatch(_difference(stored, identity))
        with self._transaction():
            for name, value in (("schema", SCHEMA_VERSION),
                                ("list_fingerprint", identity.list_fingerprint),
                                ("settings", identity.settings), ("shard", identity.shard),
                                ("total", str(identity.total))):
                self.set_meta(name, value)
            if not self.get_meta("created_at"):
                self.set_meta("created_at", str(time.time()))
            self._db.executemany("INSERT OR IGNORE INTO specs (key, idx, raw) VALUES (?, ?, ?)",
                                 list(rows))

    # --- status changes -----------------------------------------------------------------

    def running_workers(self) -> list[tuple[str, int, str]]:
        """``(key, pid, pid start time)`` of the SPECs marked running."""
        rows = self._db.execute("SELECT key, worker_pid, worker_started FROM specs "
                                "WHERE status = 'running'").fetchall()
        return [(r["key"], int(r["worker_pid"]), str(r["worker_started"])) for r in rows]

    def requeue_running(self) -> int:
        """SPECs left running by a run that died go back to pending."""
        return self._db.execute("UPDATE specs SET status = 'pending', worker_pid = 0, "
                                "worker_started = '' WHERE status = 'running'").rowcount

    def retry_failed(self) -> int:
        with self._transaction():
            self._db.execute("DELETE FROM tasks WHERE key IN "
                             "(SELECT key FROM specs WHERE status = 'failed')")
            count = self._db.execute("UPDATE specs SET status = 'pending', result = NULL "
                                     "WHERE status = 'failed'").rowcount
            self.set_meta("finalized", "")
        return int(count)

    def requeue(self, keys: Iterable[str]) -> None:
        """Back to pending, forgetting results and claims (their lines were lost)."""
        with self._transaction():
            for key in keys:
                self._db.execute("DELETE FROM tasks WHERE key = ?", (key,))
                self._db.execute("UPDATE specs SET status = 'pending', result = NULL, "
                                 "problems = 0 WHERE key = ?", (key,))
            self.set_meta("finalized", "")

    def mark_running(self, key: str, *, pid: int, pid_started: str) -> None:
        self._db.execute("UPDATE specs SET status = 'running', stage = 'acquire', cause = '', "
                         "reason = '', attempts = attempts + 1, started_at = ?, "
                         "worker_pid = ?, worker_started = ? WHERE key = ?",
                         (time.time(), pid, pid_started, key))

    def mark_stage(self, key: str, stage: str) -> None:
        self._db.execute("UPDATE specs SET stage = ? WHERE key = ?", (stage, key))

    def finish(self, key: str, result: ProjectResult, claims: Sequence[tuple[str, int]]) -> None:
        """Record a finished project and the ``(task_id, pos)`` of the problems it wrote,
        in one transaction: after this commit its lines in the outputs are vouched for."""
        with self._transaction():
            self._db.executemany("INSERT OR REPLACE INTO tasks (task_id, key, pos) "
                                 "VALUES (?, ?, ?)", [(t, key, pos) for t, pos in claims])
            self._db.execute(
                "UPDATE specs SET status = ?, stage = ?, cause = ?, reason = ?, "
                "finished_at = ?, seconds = ?, problems = ?, timings = ?, counts = ?, "
                "result = ?, worker_pid = 0, worker_started = '' WHERE key = ?",
                (result.status, result.stage, result.cause, result.reason, time.time(),
                 result.timings.get("total"), len(claims), json.dumps(result.timings),
                 json.dumps(result.counts), json.dumps(result.to_dict(), ensure_ascii=False),
                 key))
            self.set_meta("finalized", "")

    # --- reading ------------------------------------------------------------------------

    def status_of(self, keys: Iterable[str]) -> dict[str, str]:
        statuses = {}
        for key in keys:
            row = self._db.execute("SELECT status FROM specs WHERE key = ?", (key,)).fetchone()
            if row:
                statuses[key] = str(row["status"])
        return statuses

    def counts(self) -> Counter[str]:
        rows = self._db.execute("SELECT status, COUNT(*) AS n FROM specs GROUP BY status")
        return Counter({str(r["status"]): int(r["n"]) for r in rows})

    def problems_written(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM tasks").fetchone()[0])

    def claim(self, task_id: str) -> Claim | None:
        row = self._db.execute(
            "SELECT t.key, s.raw, s.idx, t.pos FROM tasks t JOIN specs s ON s.key = t.key "
            "WHERE t.task_id = ?", (task_id,)).fetchone()
        return Claim(row["key"], row["raw"], int(row["idx"]), int(row["pos"])) if row else None

    def claims_by_key(self) -> Counter[str]:
        rows = self._db.execute("SELECT key, COUNT(*) AS n FROM tasks GROUP BY key")
        return Counter({str(r["key"]): int(r["n"]) for r in rows})

    def all_claims(self) -> Iterator[tuple[str, Claim]]:
        rows = self._db.execute("SELECT t.task_id, t.key, s.raw, s.idx, t.pos FROM tasks t "
                                "JOIN specs s ON s.key = t.key")
        for r in rows:
            yield str(r["task_id"]), Claim(r["key"], r["raw"], int(r["idx"]), int(r["pos"]))

    def results(self) -> Iterator[dict[str, Any]]:
        """The ``repos.jsonl`` lines of finished SPECs, in list order."""
        rows = self._db.execute("SELECT result FROM specs WHERE status IN ('ok', 'failed') "
                                "AND result IS NOT NULL ORDER BY idx")
        for row in rows:
            yield json.loads(row["result"])

    def rows(self, *, status: str | None = None) -> list[sqlite3.Row]:
        if status is None:
            return self._db.execute("SELECT * FROM specs ORDER BY idx").fetchall()
        return self._db.execute("SELECT * FROM specs WHERE status = ? ORDER BY idx",
                                (status,)).fetchall()

    def copy_rows_from(self, rows: Iterable[Mapping[str, object]]) -> None:
        """Insert whole spec rows, column name to value (used by ``merge``)."""
        columns = {r["name"] for r in self._db.execute("PRAGMA table_info(specs)")}
        with self._transaction():
            for row in rows:
                names = [n for n in row if n in columns]
                self._db.execute(f"INSERT OR REPLACE INTO specs ({', '.join(names)}) "
                                 f"VALUES ({', '.join('?' for _ in names)})",
                                 [row[n] for n in names])

    def recount_problems(self) -> None:
        self._db.execute("UPDATE specs SET problems = "
                         "(SELECT COUNT(*) FROM tasks WHERE tasks.key = specs.key)")

    def forget_claims(self, task_ids: Iterable[str]) -> None:
        """No longer vouch for these problems (dropped as duplicates at the final rewrite)."""
        with self._transaction():
            self._db.executemany("DELETE FROM tasks WHERE task_id = ?",
                                 [(t,) for t in task_ids])
            self.recount_problems()

    def finished_at(self) -> dict[str, float]:
        """When each done SPEC finished, by key: tells a rerun from the run that was."""
        rows = self._db.execute("SELECT key, finished_at FROM specs "
                                "WHERE status IN ('ok', 'failed')")
        return {str(r["key"]): float(r["finished_at"] or 0.0) for r in rows}

    def add_claims(self, claims: Iterable[tuple[str, str, int]]) -> None:
        """``(task_id, key, pos)`` rows (used by ``merge``)."""
        with self._transaction():
            self._db.executemany("INSERT OR REPLACE INTO tasks (task_id, key, pos) "
                                 "VALUES (?, ?, ?)", list(claims))

    # --- plumbing -----------------------------------------------------------------------

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on error); nests as a no-op."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._outer = False

    def __enter__(self) -> None:
        self._outer = not self._db.in_transaction
        if self._outer:
            self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if not self._outer:
            return
        self._db.execute("ROLLBACK" if exc_type is not None else "COMMIT")


def _difference(stored: RunIdentity, wanted: RunIdentity) -> str:
    if stored.list_fingerprint != wanted.list_fingerprint:
        return (f"it was started with a different SPEC list ({stored.total} SPECs, now "
                f"{wanted.total})")
    if stored.settings != wanted.settings:
        return (f"it was started with other settings: "
                f"{settings_change(stored.settings, wanted.settings)}")
    return f"it is shard {stored.shard} of the list, not {wanted.shard}"


def settings_change(stored: str, wanted: str, *, now: str = "now") -> str:
    """Which settings differ between two ``RunIdentity.settings``, one by one
    ("license MIT (now not set)"): the user must see which option to give again."""
    try:
        old, new = json.loads(stored), json.loads(wanted)
    except ValueError:
        old = new = None
    if not isinstance(old, dict) or not isinstance(new, dict):
        return f"{stored} ({now} {wanted})"
    return ", ".join(f"{name} {_setting(old.get(name))} ({now} {_setting(new.get(name))})"
                     for name in sorted(old.keys() | new.keys())
                     if old.get(name) != new.get(name))


def _setting(value: object) -> str:
    if value is None:
        return "not set"
    if isinstance(value, list):
        return ",".join(map(str, value))
    return json.dumps(value)
