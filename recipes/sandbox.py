"""The one place every untrusted command goes through.

Today it gives each command its own process group (so nothing it starts outlives it),
a wall-clock limit, a closed standard input, an environment built from an allow-list
rather than the host's, and a bound on how much output is kept. Filesystem and network
isolation (bubblewrap) will slot in here without changing any caller.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path

from recipes.records import CommandOutcome

# Host variables a build or test legitimately needs. Everything else (tokens, keys,
# the user's own settings) stays out of untrusted processes.
PASSED_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TERM", "SSL_CERT_FILE",
                    "REQUESTS_CA_BUNDLE")
PASSED_PREFIXES = ("PIP_", "UV_", "PYENV_")

DEFAULT_OUTPUT_LIMIT = 50 * 1024 * 1024  # bytes of output written to the log
TAIL_LINES = 40


def base_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k in PASSED_VARIABLES or k.startswith(PASSED_PREFIXES)}
    env.setdefault("LANG", "C.UTF-8")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    env.update(extra or {})
    return env


def run(
    argv: Sequence[str],
    *,
    cwd: str | Path,
    timeout: float,
    env: Mapping[str, str] | None = None,
    log_path: str | Path | None = None,
    output_limit: int = DEFAULT_OUTPUT_LIMIT,
    tail_lines: int = TAIL_LINES,
) -> CommandOutcome:
    """Run ``argv`` to completion or until ``timeout`` seconds, then kill its whole group."""
    started = time.monotonic()
    log = open(log_path, "ab") if log_path else None  # noqa: SIM115 - closed below
    if log:
        log.write(f"\n$ {' '.join(argv)}\n".encode())
        log.flush()
    try:
        proc = subprocess.Popen(
            list(argv), cwd=str(cwd), env=dict(env) if env is not None else base_environment(),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:
        if log:
            log.close()
        return CommandOutcome(tuple(argv), 127, time.monotonic() - started,
                              output_tail=f"cannot start {argv[0]}: {exc}")
    tail: deque[str] = deque(maxlen=tail_lines)
    pump = threading.Thread(target=_pump, args=(proc, log, tail, output_limit), daemon=True)
    pump.start()
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        _kill_group(proc.pid)
        proc.wait()
        pump.join(timeout=5)
        if log:
            log.close()
    return CommandOutcome(tuple(argv), proc.returncode, time.monotonic() - started,
                          timed_out=timed_out, output_tail="\n".join(tail))


def _pump(proc: subprocess.Popen[bytes], log, tail: deque[str], limit: int) -> None:  # type: ignore[no-untyped-def]
    """Copy output to the log up to ``limit`` bytes, always keeping the last lines."""
    written = 0
    assert proc.stdout is not None
    for line in proc.stdout:
        tail.append(line.decode("utf-8", "replace").rstrip("\n"))
        if log and written < limit:
            log.write(line)
            written += len(line)
            if written >= limit:
                log.write(b"\n[citrace: output limit reached, the rest is not logged]\n")


def _kill_group(pgid: int) -> None:
    # The command ran in its own session, so its group id is its pid; killing the group
    # also takes down children it left behind (tox's runners, pytest-xdist workers).
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
