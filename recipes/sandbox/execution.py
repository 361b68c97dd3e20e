"""Starting one prepared command through an isolation backend and following it to its end:
its output (logged up to a limit, the last lines kept), its standard input, its time limit,
and the verdict on how it ended."""

from __future__ import annotations

import contextlib
import os
import re
import select
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from recipes.records import CommandOutcome, Verdict
from recipes.sandbox import isolation
from recipes.sandbox.confinement import Request

KiB = 1 << 10
GONE_GRACE = 5.0  # seconds to wait for output after the command's processes are gone
STALL_POLL = 5.0  # seconds between two looks at a watched command's progress


@dataclass(frozen=True)
class Stall:
    """Stop a command that makes no progress for ``after`` seconds: it printed nothing and
    the files in ``watch`` (directories, not searched below) neither grew nor appeared.
    A test waiting forever on a socket would otherwise hold its worker until the timeout."""

    watch: tuple[str, ...]
    after: float

    def progress(self, printed: int) -> tuple[int, frozenset[tuple[str, int, int]]]:
        """What changes whenever the command does something we can see: the bytes it
        printed, and each watched file's name, size and time of change (a file rewritten
        with as many bytes, such as the name of the test running, is progress too)."""
        files = set()
        for directory in self.watch:
            try:
                with os.scandir(directory) as entries:
                    for entry in entries:
                        with contextlib.suppress(OSError):
                            facts = entry.stat(follow_symlinks=False)
                            files.add((entry.name, facts.st_size, facts.st_mtime_ns))
            except OSError:
                continue
        return printed, frozenset(files)


@dataclass
class _Log:
    """The command's log file (if any), opened for appending."""

    path: str | Path | None
    argv: Sequence[str]
    file: IO[bytes] | None = None

    def __enter__(self) -> _Log:
        if self.path:
            self.file = open(self.path, "ab")  # noqa: SIM115 - closed in __exit__
            self.file.write(f"\n$ {' '.join(self.argv)}\n".encode())
            self.file.flush()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.file:
            self.file.close()


def log_line(path: str | Path | None, text: str) -> None:
    if path:
        with open(path, "a", encoding="utf-8") as log:
            log.write(text)


@dataclass
class _Pump:
    """Copies the command's output to the log up to a limit, keeping the last lines; past
    the limit it stops the command."""

    log: IO[bytes] | None
    tail: deque[str]
    limit: int
    on_limit: Callable[[], None]
    written: int = 0
    limited: bool = False
    tail_bytes: int = 0
    _thread: threading.Thread | None = field(default=None, repr=False)

    def start(self, stream: IO[bytes]) -> None:
        self._thread = threading.Thread(target=self._copy, args=(stream,), daemon=True)
        self._thread.start()

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _copy(self, stream: IO[bytes]) -> None:
        while True:
            chunk = stream.readline(64 * KiB)  # bounded: a line without end is cut up
            if not chunk:
                break
            self.tail.append(chunk.decode("utf-8", "replace").rstrip("\n"))
            if self.limited:
                continue  # stopping: drain what is left in the pipe
            self.written += len(chunk)
            if self.log:
                self.log.write(chunk[:max(0, self.limit - self.written + len(chunk))])
            if self.written > self.limit:
                self.limited = True
                if self.log:
                    self.log.write(b"\n[citrace: output limit reached, command stopped]\n")
                self.on_limit()


def execute(backend: isolation.Backend, request: Request, *, timeout: float,
            log_path: str | Path | None, limit: int, tail_lines: int, started: float,
            stdin_data: bytes | None, stall: Stall | None = None) -> CommandOutcome:
    """Start the request's command through the backend and follow it to its end."""
    with _Log(log_path, request.shown_argv or request.argv) as log:
        return _follow(backend, request, timeout=timeout, log=log, limit=limit,
                       tail_lines=tail_lines, started=started, stdin_data=stdin_data,
                       stall=stall)


def _follow(backend: isolation.Backend, request: Request, *, timeout: float, log: _Log,
            limit: int, tail_lines: int, started: float,
            stdin_data: bytes | None, stall: Stall | None = None) -> CommandOutcome:
    with backend.launch(request) as launch:
        try:
            proc = subprocess.Popen(
                launch.argv, cwd=launch.cwd, env=launch.env, pass_fds=launch.pass_fds,
                stdin=subprocess.DEVNULL if stdin_data is None else subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            return CommandOutcome(request.shown_argv or request.argv, 127,
                                  time.monotonic() - started,
                                  output_tail=f"cannot start {launch.argv[0]}: {exc}",
                                  verdict="error")
        launch.after_spawn()
        assert proc.stdout is not None
        pump = _Pump(log.file, deque(maxlen=tail_lines), limit, lambda: _kill_group(proc.pid))
        pump.start(proc.stdout)
        if stdin_data is not None:
            _feed(proc, stdin_data)
        timed_out = False
        try:
            timed_out = not (_wait(proc, timeout) if stall is None
                             else _wait_watching(proc, timeout, stall, pump))
        finally:
            _kill_group(proc.pid)
            proc.wait()
            backend.finish(launch)
            pump.join(timeout=GONE_GRACE)
            proc.stdout.close()
    exit_code = _exit_code(proc.returncode, backend)
    tail = "\n".join(pump.tail)
    verdict = _verdict(exit_code, tail, timed_out=timed_out, limited=pump.limited,
                       started=launch.started)
    return CommandOutcome(request.shown_argv or request.argv, exit_code,
                          time.monotonic() - started,
                          timed_out=timed_out, output_tail=tail, verdict=verdict)


def _wait(proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """Wait for the process to end; False if ``timeout`` passed first. (Popen.wait with a
    timeout polls with sleeps of up to 50 ms; a pidfd wakes us the moment it ends.)"""
    try:
        pidfd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        try:
            proc.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            return False
    try:
        ready, _, _ = select.select([pidfd], [], [], max(0.0, timeout))
    finally:
        os.close(pidfd)
    if ready:
        proc.wait()
    return bool(ready)


def _wait_watching(proc: subprocess.Popen[bytes], timeout: float, stall: Stall,
                   pump: _Pump) -> bool:
    """``_wait``, looking at the command's progress every STALL_POLL seconds; False (and a
    line in the log and the tail saying why) when it made none for ``stall.after``."""
    deadline = time.monotonic() + timeout
    seen, since = stall.progress(pump.written), time.monotonic()
    while True:
        now = time.monotonic()
        if now >= deadline:
            return False
        if _wait(proc, min(STALL_POLL, stall.after / 4, deadline - now)):
            return True
        progress = stall.progress(pump.written)
        if progress != seen:
            seen, since = progress, time.monotonic()
        elif time.monotonic() - since >= stall.after:
            note = (f"[citrace: no progress for {stall.after:.0f} s (no output, no trace "
                    f"written): command stopped]")
            pump.tail.append(note)
            if pump.log:
                pump.log.write(f"\n{note}\n".encode())
            return False


def _feed(proc: subprocess.Popen[bytes], data: bytes) -> None:
    """Write ``data`` to the command's standard input, then close it: at once what the pipe
    takes without blocking, the rest from a thread (the command may never read it all)."""
    assert proc.stdin is not None
    stdin = proc.stdin
    written = 0
    try:
        os.set_blocking(stdin.fileno(), False)
        written = os.write(stdin.fileno(), data)
    except BlockingIOError:
        pass
    except OSError:
        written = len(data)  # it is gone: nothing more to write
    if written >= len(data):
        with contextlib.suppress(OSError):
            stdin.close()
        return

    def write_rest() -> None:
        try:
            os.set_blocking(stdin.fileno(), True)
            stdin.write(data[written:])
        except OSError:
            pass  # it stopped reading, or is gone
        finally:
            with contextlib.suppress(OSError):
                stdin.close()

    threading.Thread(target=write_rest, daemon=True).start()


def _exit_code(returncode: int, backend: isolation.Backend) -> int:
    # Sandboxes report a command killed by signal N as 128+N, the way shells do.
    if backend.isolated and 128 < returncode <= 128 + 64:
        return -(returncode - 128)
    return returncode


_MEMORY = re.compile(r"^(MemoryError\b|.*\b(Cannot allocate memory|std::bad_alloc|out of memory)"
                     r")", re.IGNORECASE | re.MULTILINE)
_SPACE = re.compile(r"\[Errno (27|28)\] (File too large|No space left on device)")


def _verdict(exit_code: int, tail: str, *, timed_out: bool, limited: bool,
             started: bool) -> Verdict:
    if limited:
        return "output_limit"
    if timed_out or exit_code == -signal.SIGXCPU:
        return "timeout"
    if exit_code == 0:
        return "ok"
    if not started:
        return "error"
    last_lines = "\n".join(tail.strip().splitlines()[-5:])  # where a fatal error is told
    if exit_code == -signal.SIGXFSZ or _SPACE.search(last_lines):
        return "file_limit"
    if exit_code == -signal.SIGKILL or _MEMORY.search(last_lines):
        return "oom"  # nothing of ours sent that SIGKILL: the kernel's OOM killer did
    return "failed"


def _kill_group(pgid: int) -> None:
    # The sandbox (or, without one, the command) leads its own session: killing its group
    # ends the sandbox, and the kernel then ends every process in its pid namespace.
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
