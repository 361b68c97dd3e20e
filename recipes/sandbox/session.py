"""A long-lived confined program with pipes to it: ``sandbox.start``'s ``Session``.

``run`` starts a command and follows it to its end; a session starts one (through the same
backends, with the same confinement) and leaves it running, its standard input and output
pipes to citrace, until ``close``, which ends the sandbox's every process and waits until the
kernel has. Its standard error goes to a file on the host, read back only to say why it
ended early.

bubblewrap's ``--die-with-parent`` ends the sandbox when the *thread* that started it ends
(the parent-death signal is per thread), so every session is started from one thread that
lives as long as citrace does: one started from a worker of a thread pool would otherwise die
with the pool.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from typing import IO

from recipes.sandbox import isolation
from recipes.sandbox.confinement import Request

_STARTER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="citrace-sandbox-starter")


def _new_starter() -> None:
    # A forked child has no thread behind its copy of the executor: give it its own.
    global _STARTER
    _STARTER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="citrace-sandbox-starter")


os.register_at_fork(after_in_child=_new_starter)
STDERR_LIMIT = 64 * 1024


class SessionEnded(OSError):
    """The session's program ended, closed its output, or did not answer in time."""


class Session:
    """A program running in the sandbox, with its standard input and output."""

    def __init__(self, backend: isolation.Backend, request: Request) -> None:
        self.argv = request.shown_argv or request.argv
        self._backend = backend
        self._stack = contextlib.ExitStack()
        self._errors: IO[bytes] = self._stack.enter_context(tempfile.TemporaryFile())
        self._launch = self._stack.enter_context(backend.launch(request))
        try:
            self._proc = _STARTER.submit(self._popen).result()
        except BaseException:
            self._stack.close()
            raise
        self._launch.after_spawn()
        self._closed = False
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self.stdin: IO[bytes] = self._proc.stdin
        self.stdout: IO[bytes] = self._proc.stdout
        os.set_blocking(self.stdin.fileno(), False)  # written with a deadline: see write

    def _popen(self) -> subprocess.Popen[bytes]:
        launch = self._launch
        return subprocess.Popen(launch.argv, cwd=launch.cwd, env=launch.env,
                                pass_fds=launch.pass_fds, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=self._errors, bufsize=0,
                                start_new_session=True)

    @property
    def pid(self) -> int:
        return self._proc.pid

    def alive(self) -> bool:
        return not self._closed and self._proc.poll() is None

    def write(self, data: bytes, *, deadline: float) -> None:
        """All of ``data`` to the program's standard input by ``deadline``
        (time.monotonic()); SessionEnded if it is gone or stopped reading."""
        view = memoryview(data)
        try:
            fd = self.stdin.fileno()
            while view:
                try:
                    view = view[os.write(fd, view):]
                    continue
                except BlockingIOError:
                    pass
                remaining = deadline - time.monotonic()
                _, ready, _ = select.select([], [fd], [], max(0.0, remaining))
                if not ready:
                    raise SessionEnded("the program did not read its input in time")
        except (BrokenPipeError, ValueError, OSError) as exc:
            if isinstance(exc, SessionEnded):
                raise
            raise SessionEnded(f"the program stopped reading: {exc}") from exc

    def read_exactly(self, size: int, *, deadline: float) -> bytes:
        """``size`` bytes of its standard output, by ``deadline`` (time.monotonic());
        SessionEnded if it ended, closed its output, or was too slow."""
        chunks, wanted = [], size
        if self._closed:
            raise SessionEnded("the session was closed")
        fd = self.stdout.fileno()
        while wanted:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(0.0, remaining))
            if not ready:
                raise SessionEnded("the program did not answer in time")
            chunk = os.read(fd, min(wanted, 1 << 20))
            if not chunk:
                raise SessionEnded(f"the program ended: {self.errors()}")
            chunks.append(chunk)
            wanted -= len(chunk)
        return b"".join(chunks)

    def errors(self) -> str:
        """The last of what it wrote on standard error."""
        try:
            size = os.fstat(self._errors.fileno()).st_size
            self._errors.seek(max(0, size - STDERR_LIMIT))
            return self._errors.read(STDERR_LIMIT).decode("utf-8", "replace").strip()
        except (OSError, ValueError):
            return ""

    def close(self) -> None:
        """End every process of the sandbox and wait until they are gone."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, signal.SIGKILL)
        self._proc.wait()
        for stream in (self.stdin, self.stdout):
            with contextlib.suppress(OSError):
                stream.close()
        try:
            self._backend.finish(self._launch)
        finally:
            self._stack.close()

    def forget(self) -> None:
        """In a child forked from citrace: let go of the pipes without touching the
        program, which belongs to the parent."""
        self._closed = True
        for stream in (self.stdin, self.stdout, self._errors):
            with contextlib.suppress(OSError):
                stream.close()
