"""A size bound on the build caches (pip's and uv's, ``recipes.sandbox.download_cache``),
checked when a run starts (``miners.run.batch.mine_all``).

``$CITRACE_BUILD_CACHE_MAX_BYTES`` (default 20G; 0: no bound) bounds the two together.
Other runs on the machine may be building at that moment, so only what can be removed
safely is removed:

- uv's cache: every uv process holds a shared ``flock`` on ``<cache>/.lock`` while it uses
  the cache (``uv cache prune`` and ``clean`` wait for an exclusive one). citrace takes that
  exclusive lock without waiting; when it gets it, nothing else is in the cache, and it runs
  ``uv cache prune --force`` (entries nothing refers to), then, if still over the bound,
  ``uv cache clean --force`` (everything; ``--force`` because citrace holds the lock uv
  would wait for). Environments never share files with the cache (``UV_LINK_MODE=copy``),
  so no built environment is harmed. When the cache is in use, it is left for a later run.
- pip's cache: pip takes no lock, and a file removed under a running pip can fail its
  build, so it is only measured; when it alone keeps the total over the bound, the log says
  how to clear it while no run is going.

Walking a large cache takes seconds, so it is measured at most once per ``CHECK_SECONDS``
(a stamp file in the cache directory).
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from miners.sources.cache import CacheConfigError, parse_size
from recipes.runners.installers import uv_binary
from recipes.sandbox import (
    Policy,
    SandboxSettings,
    base_environment,
    download_cache,
    run,
    untrusted,
)

log = logging.getLogger("citrace")

MAX_BYTES_VARIABLE = "CITRACE_BUILD_CACHE_MAX_BYTES"
DEFAULT_MAX_BYTES = 20 * 10**9
CHECK_SECONDS = 600.0
STAMP = ".citrace-size-checked"
UV_SECONDS = 600.0  # for one uv cache prune or clean


@dataclass(frozen=True)
class Outcome:
    """What the check found and did (sizes in bytes)."""

    uv_before: int = 0
    uv_after: int = 0
    pip: int = 0
    action: str = "checked"  # skipped | checked | pruned | cleaned | in_use | no_uv


def max_bytes_from_environment() -> int:
    text = os.environ.get(MAX_BYTES_VARIABLE, "")
    if not text.strip():
        return DEFAULT_MAX_BYTES
    try:
        return parse_size(text)
    except CacheConfigError:
        raise CacheConfigError(f"${MAX_BYTES_VARIABLE}={text!r} is not a size; write bytes or "
                               f"a number with K, M, G or T (20G), or 0 for no bound") from None


def bound_build_caches(max_bytes: int, *, force: bool = False,
                       settings: SandboxSettings = SandboxSettings()) -> Outcome:
    """Trim uv's cache when the build caches are over ``max_bytes`` (see the module
    docstring); ``force`` measures even when the last check was recent. uv runs in the
    sandbox under ``settings``: untrusted builds wrote the cache."""
    uv_cache, pip_cache = download_cache("uv"), download_cache("pip")
    if max_bytes <= 0 or not (force or _due(uv_cache)):
        return Outcome(action="skipped")
    uv_size, pip_size = tree_size(uv_cache), tree_size(pip_cache)
    outcome = Outcome(uv_size, uv_size, pip_size)
    if uv_size + pip_size > max_bytes and uv_size:
        outcome = _trim_uv(uv_cache, max_bytes - pip_size, outcome, settings)
    if outcome.uv_after + pip_size > max_bytes and pip_size:
        log.warning("the pip build cache %s holds %s (bound %s, $%s); pip takes no lock, so "
                    "citrace leaves it: remove it while no citrace run is going", pip_cache,
                    _gb(pip_size), _gb(max_bytes), MAX_BYTES_VARIABLE)
    _stamp(uv_cache)
    return outcome


def _trim_uv(cache: Path, room: int, found: Outcome, settings: SandboxSettings) -> Outcome:
    uv = uv_binary()
    if uv is None:
        return Outcome(found.uv_before, found.uv_before, found.pip, "no_uv")
    with _uv_lock(cache) as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("the uv build cache %s holds %s, over the bound; another process is "
                     "using it, so it is left for a later run", cache, _gb(found.uv_before))
            return Outcome(found.uv_before, found.uv_before, found.pip, "in_use")
        action = "pruned"
        _uv_cache(uv, "prune", cache, settings)
        size = tree_size(cache)
        if size > room:
            action = "cleaned"
            _uv_cache(uv, "clean", cache, settings)  # it keeps .lock: ours stays the one
            size = tree_size(cache)
    log.info("the uv build cache %s was over the bound ($%s): %s, now %s (%s)", cache,
             MAX_BYTES_VARIABLE, _gb(found.uv_before), _gb(size),
             "uv cache prune" if action == "pruned" else "uv cache prune, then clean")
    return Outcome(found.uv_before, size, found.pip, action)


def _uv_lock(cache: Path) -> IO[bytes]:
    """uv's lock file, opened; made as uv makes it (writable by all: sandboxed builds may
    run as another user) when uv has not made it yet."""
    path = cache / ".lock"
    existed = path.exists()
    # O_NOFOLLOW: a build may have left a link there, to a file of the host's.
    lock = open(os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666), "r+b")
    if not existed:
        with suppress(OSError):
            os.fchmod(lock.fileno(), 0o666)
    return lock


def _uv_cache(uv: str, command: str, cache: Path, settings: SandboxSettings) -> None:
    """``uv cache COMMAND --force``, in the sandbox, with the whole cache handed to its uid
    (whoever wrote an entry, uv may remove it): citrace holds the lock uv would wait for."""
    policy = Policy(writable=(cache,), unsafe_no_sandbox=settings.unsafe_no_sandbox)
    # Not from inside the cache: uv refuses to run on a cache holding its working directory.
    outcome = run([uv, "cache", command, "--force", "--cache-dir", str(cache)], cwd="/tmp",
                  timeout=UV_SECONDS, env=base_environment(), policy=policy)
    if not outcome.ok:
        log.warning("uv cache %s on %s failed: %s", command, cache,
                    (outcome.output_tail.strip().splitlines() or [outcome.verdict])[-1])


def tree_size(root: Path) -> int:
    """Bytes of the files under ``root`` (0 when it does not exist)."""
    total = 0
    stack = [str(root)]
    while stack:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    else:
                        total += entry.stat(follow_symlinks=False).st_size
        except OSError:
            continue  # removed meanwhile, or unreadable: not ours to count
    return total


def _due(cache: Path) -> bool:
    try:
        return time.time() - (cache / STAMP).stat().st_mtime > CHECK_SECONDS
    except OSError:
        return True


def _stamp(cache: Path) -> None:
    if cache.is_dir():
        untrusted.write_text(cache / STAMP, "")  # never through a link a build left there


def _gb(size: int) -> str:
    return f"{size / 1e9:.1f} GB"
