"""The download cache every run on this machine shares, keyed by content.

Layout under the cache directory (``$CITRACE_CACHE_DIR``, default
``~/.cache/citrace/downloads``):

- ``archives/<sha256><suffix>``: downloaded sdists, named by the sha256 of their bytes;
- ``git/<commit>/``: a checkout (with its ``.git``) of one commit;
- ``resolved/<key>.json``: small answers worth remembering (a pinned PyPI release's file).

Several workers and several processes use it at once, so every entry is written under a
temporary name in the cache directory and renamed into place (atomic on one filesystem):
a reader sees a whole entry or none. An archive is still re-hashed when used, so an entry
damaged on disk is noticed, dropped and downloaded again. Using an entry touches its
mtime; when the total passes ``$CITRACE_CACHE_MAX_BYTES`` (default 5 GB; 0 turns the cache
off) the least recently used entries are removed, each renamed away first so a reader
either copies it whole or finds it gone (a miss).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recipes.errors import CitraceError

DIR_VARIABLE = "CITRACE_CACHE_DIR"
MAX_BYTES_VARIABLE = "CITRACE_CACHE_MAX_BYTES"
DEFAULT_MAX_BYTES = 5_000_000_000
CHUNK = 1024 * 1024
_SIZE_FILE = ".citrace-size"  # inside a git entry: its size in bytes, counted once
_UNITS = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)B?\s*$", re.IGNORECASE)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_COMMIT = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")


class CacheConfigError(CitraceError, ValueError):
    """``$CITRACE_CACHE_MAX_BYTES`` cannot be read."""


def parse_size(text: str) -> int:
    """``"5G"`` -> 5_000_000_000; plain digits are bytes."""
    match = _SIZE.match(text)
    if not match:
        raise CacheConfigError(f"${MAX_BYTES_VARIABLE}={text!r} is not a size; write bytes "
                               "or a number with K, M, G or T (5G)")
    return int(float(match[1]) * _UNITS[match[2].upper()])


def default_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "citrace" / "downloads"


@dataclass(frozen=True)
class Cache:
    root: Path
    max_bytes: int = DEFAULT_MAX_BYTES

    @classmethod
    def from_environment(cls) -> Cache:
        root = os.environ.get(DIR_VARIABLE) or str(default_dir())
        limit = os.environ.get(MAX_BYTES_VARIABLE, "")
        return cls(Path(root), parse_size(limit) if limit.strip() else DEFAULT_MAX_BYTES)

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    # --- archives ---------------------------------------------------------------------------

    def archive_path(self, sha256: str, suffix: str) -> Path:
        if not _SHA256.match(sha256):
            raise ValueError(f"not a sha256: {sha256!r}")
        return self.root / "archives" / f"{sha256}{suffix}"

    def take_archive(self, sha256: str, suffix: str, target: Path) -> bool:
        """Place the cached archive with this sha256 at ``target``; False on a miss.

        The entry is linked (or copied) first and hashed there, so an entry removed or
        replaced meanwhile cannot change what is checked; a damaged entry is dropped.
        """
        if not self.enabled or not _SHA256.match(sha256):
            return False
        entry = self.archive_path(sha256, suffix)
        try:
            _link_or_copy(entry, target)
        except OSError:
            return False
        if file_sha256(target) != sha256:
            target.unlink(missing_ok=True)
            _discard(entry)
            return False
        _touch(entry)
        return True

    def put_archive(self, source: Path, sha256: str, suffix: str) -> None:
        """Remember ``source`` (whose bytes hash to ``sha256``); failures are not errors."""
        if not self.enabled or not _SHA256.match(sha256):
            return
        entry = self.archive_path(sha256, suffix)
        with suppress(OSError):
            if not entry.exists():
                self._install(entry, lambda temp: shutil.copyfile(source, temp), is_dir=False)
            self.evict()

    # --- git checkouts ----------------------------------------------------------------------

    def take_checkout(self, commit: str, target: Path) -> bool:
        """Copy the cached checkout of ``commit`` to ``target`` (absent); False on a miss."""
        if not self.enabled or not _COMMIT.match(commit):
            return False
        entry = self.root / "git" / commit
        try:
            shutil.copytree(entry, target, symlinks=True,
                            ignore=shutil.ignore_patterns(_SIZE_FILE))
        except (OSError, shutil.Error):
            shutil.rmtree(target, ignore_errors=True)
            return False
        _touch(entry)
        return True

    def put_checkout(self, source: Path, commit: str) -> None:
        if not self.enabled or not _COMMIT.match(commit):
            return
        entry = self.root / "git" / commit

        def fill(temp: Path) -> None:
            shutil.copytree(source, temp, symlinks=True, dirs_exist_ok=True)
            (temp / _SIZE_FILE).write_text(str(_tree_size(temp)))

        with suppress(OSError, shutil.Error):
            if not entry.exists():
                self._install(entry, fill, is_dir=True)
            self.evict()

    # --- small answers ----------------------------------------------------------------------

    def get_json(self, key: str) -> dict[str, Any] | None:
        if not self.enabled:
            return None
        try:
            data = json.loads(self._json_path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def put_json(self, key: str, data: dict[str, Any]) -> None:
        if not self.enabled:
            return
        text = json.dumps(data, sort_keys=True)
        with suppress(OSError):
            self._install(self._json_path(key),
                          lambda temp: temp.write_text(text, encoding="utf-8"), is_dir=False,
                          replace=True)

    def _json_path(self, key: str) -> Path:
        return self.root / "resolved" / f"{hashlib.sha256(key.encode()).hexdigest()}.json"

    # --- writing and evicting ---------------------------------------------------------------

    def _install(self, entry: Path, fill: Callable[[Path], object], *, is_dir: bool,
                 replace: bool = False) -> None:
        """Fill a temporary entry beside ``entry``, then rename it into place."""
        entry.parent.mkdir(parents=True, exist_ok=True)
        if is_dir:
            temp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=entry.parent))
        else:
            handle, name = tempfile.mkstemp(prefix=".tmp-", dir=entry.parent)
            os.close(handle)
            temp = Path(name)
        try:
            fill(temp)
            if not is_dir:
                os.chmod(temp, 0o644)
                with open(temp, "rb") as written:
                    os.fsync(written.fileno())
            if replace or not is_dir:
                os.replace(temp, entry)  # a file: the last writer wins, both are whole
            else:
                os.rename(temp, entry)  # a directory: fails if another process got there
        except OSError:
            pass
        finally:
            if temp.is_dir():
                shutil.rmtree(temp, ignore_errors=True)
            else:
                temp.unlink(missing_ok=True)

    def evict(self) -> int:
        """Remove least recently used entries until the cache fits; the bytes removed."""
        if not self.root.is_dir():
            return 0
        with self._evict_lock() as locked:
            if not locked:
                return 0  # another process is evicting right now
            entries = sorted(self._entries(), key=lambda e: e[1])
            total = sum(size for _path, _used, size in entries)
            removed = 0
            for path, _used, size in entries:
                if total - removed <= self.max_bytes:
                    break
                _discard(path)
                removed += size
            return removed

    def _entries(self) -> Iterator[tuple[Path, float, int]]:
        """(path, last use, bytes) of every archive and checkout."""
        for kind in ("archives", "git"):
            with suppress(OSError):
                for path in (self.root / kind).iterdir():
                    if path.name.startswith("."):
                        continue  # being written, or being removed
                    with suppress(OSError):
                        yield path, path.stat().st_mtime, _entry_size(path)

    @contextmanager
    def _evict_lock(self) -> Iterator[bool]:
        with open(self.root / ".evict.lock", "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True

    def total_bytes(self) -> int:
        return sum(size for _path, _used, size in self._entries())


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _link_or_copy(entry: Path, target: Path) -> None:
    try:
        os.link(entry, target)
    except OSError:
        if not entry.is_file():
            raise
        shutil.copyfile(entry, target)  # another filesystem, or links not allowed


def _touch(entry: Path) -> None:
    with suppress(OSError):
        now = time.time()
        os.utime(entry, (now, now))


def _discard(entry: Path) -> None:
    """Remove an entry: renamed away first, so nobody starts copying a half-removed tree."""
    gone = entry.with_name(f".gone-{entry.name}-{os.getpid()}-{time.monotonic_ns()}")
    try:
        os.rename(entry, gone)
    except OSError:
        return  # already gone
    if gone.is_dir():
        shutil.rmtree(gone, ignore_errors=True)
    else:
        gone.unlink(missing_ok=True)


def _entry_size(path: Path) -> int:
    if not path.is_dir():
        return path.stat().st_size
    try:
        return int((path / _SIZE_FILE).read_text())
    except (OSError, ValueError):
        return _tree_size(path)


def _tree_size(root: Path) -> int:
    total = 0
    for directory, _dirs, files in os.walk(root):
        for name in files:
            with suppress(OSError):
                total += os.lstat(os.path.join(directory, name)).st_size
    return total
