"""What ``citrace evaluate`` has checked so far, kept on disk as each check ends, so that an
evaluation that is interrupted, killed or crashes resumes where it stopped instead of from
the first sample.

The journal is ``RESULTS.jsonl.partial`` beside the results: a first line naming the
evaluation (``evaluation_key``: the problems and samples files' bytes, the settings that
change a verdict, the checker's own code), then one line per finished check, in the order
they finish, each flushed as it is written. A journal of another evaluation is not used; a
last line cut short by a crash is ignored. Once the results are written the journal goes.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

from tracer.check import forkserver, harness
from tracer.check.run import VERDICTS, CheckResult

SUFFIX = ".partial"
FORMAT = "citrace-evaluate-journal/1"


def evaluation_key(files: Iterable[Path], settings: Mapping[str, Any]) -> str:
    """What makes two evaluations the same: the bytes of their input files, the settings
    that can change a verdict, and the code that checks."""
    digest = hashlib.sha256()
    for path in files:
        with path.open("rb") as data:
            digest.update(_file_digest(data))
    digest.update(json.dumps(dict(settings), sort_keys=True, default=str).encode())
    for module in (harness, forkserver):
        digest.update(Path(module.__file__ or "").read_bytes())
    return digest.hexdigest()


def _file_digest(data: IO[bytes]) -> bytes:
    # hashlib.file_digest does this from 3.11 on; citrace runs on 3.10 too.
    digest = hashlib.sha256()
    while chunk := data.read(1 << 20):  # samples files can be large: a MiB at a time
        digest.update(chunk)
    return digest.digest()


def path_for(results: Path) -> Path:
    return results.with_name(results.name + SUFFIX)


def read(path: Path, key: str) -> dict[int, CheckResult]:
    """The checks a journal holds, by the sample's position; nothing when there is no
    journal there, or it is another evaluation's."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return {}
    if not lines or _loads(lines[0]) != {"journal": FORMAT, "key": key}:
        return {}
    done = {}
    for line in lines[1:]:
        record = _loads(line)
        if (isinstance(record, dict) and isinstance(record.get("index"), int)
                and record.get("verdict") in VERDICTS and isinstance(record.get("result"), str)
                and isinstance(record.get("duration"), (int, float))):
            done[record["index"]] = CheckResult(record["verdict"], record["result"],
                                                float(record["duration"]))
    return done


def _loads(line: str) -> Any:
    try:
        return json.loads(line)
    except ValueError:
        return None  # a line the crash cut short


class Journal:
    """Appends finished checks; safe to call from the threads that run them."""

    def __init__(self, path: Path, key: str, done: Mapping[int, CheckResult]) -> None:
        """Start the journal afresh with ``done`` (what an earlier one held) in it: written
        beside it and renamed over it, so that a crash now loses nothing either (and a line
        an earlier crash cut short is not appended to)."""
        self.path = path
        self._lock = threading.Lock()
        fresh = path.with_name(path.name + ".new")
        self._file: IO[str] | None = fresh.open("w", encoding="utf-8")
        self._write({"journal": FORMAT, "key": key})
        for index, check in sorted(done.items()):
            self.record(index, check)
        os.replace(fresh, path)  # the open file goes on appending to the journal

    def record(self, index: int, check: CheckResult) -> None:
        self._write({"index": index, "verdict": check.verdict, "result": check.result,
                     "duration": round(check.duration, 3)})

    def _write(self, record: dict[str, Any]) -> None:
        with self._lock:
            if self._file is not None:
                self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
                self._file.flush()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def remove(self) -> None:
        """The results are written: the journal has served."""
        self.close()
        self.path.unlink(missing_ok=True)
