"""Helpers for the evil-program suite: running a hostile script in the sandbox, and checking
the host afterwards."""

from __future__ import annotations

import os
import secrets
import socket
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from recipes.records import CommandOutcome
from recipes.sandbox import MiB, Policy, confinement, isolation, run

PYTHON = os.path.realpath(sys.executable)
# Small bounds, so that every case ends in a second or two.
EVIL_POLICY = dict(memory_bytes=256 * MiB, max_processes=16, max_file_bytes=1 * MiB,
                   tmp_bytes=4 * MiB)


@dataclass
class Evil:
    """A hostile script, run with a token in its command line so that every process it
    starts can be found on the host afterwards."""

    work: Path
    token: str = field(default_factory=lambda: f"evil-{secrets.token_hex(6)}")

    def run(self, code: str, *args: str, timeout: float = 5.0, output_limit: int = 64 * 1024,
            **policy: object) -> CommandOutcome:
        script = self.work / "evil.py"
        script.write_text(textwrap.dedent(code), encoding="utf-8")
        limits = {**EVIL_POLICY, **policy}
        chosen = Policy(writable=(self.work,), **limits)  # type: ignore[arg-type]
        return run([PYTHON, str(script), self.token, *args], cwd=self.work, timeout=timeout,
                   output_limit=output_limit, log_path=self.work.parent / "evil.log",
                   policy=chosen)

    def leftovers(self, wait: float = 2.0) -> list[int]:
        """Live host processes still carrying the token (waiting a little for the kernel)."""
        deadline = time.monotonic() + wait
        while True:
            found = [pid for pid in _pids() if self.token.encode() in _cmdline(pid)
                     and _alive(pid)]
            if not found or time.monotonic() > deadline:
                return found
            time.sleep(0.05)


def _pids() -> Iterator[int]:
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            yield int(entry)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


@dataclass
class Listener:
    """A TCP server on 127.0.0.1 and an abstract unix socket, counting who connects."""

    port: int = 0
    abstract: str = ""
    connections: int = 0
    _sockets: list[socket.socket] = field(default_factory=list)


@contextmanager
def listening() -> Iterator[Listener]:
    listener = Listener()
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.bind(("127.0.0.1", 0))
    tcp.listen()
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.abstract = f"citrace-evil-{secrets.token_hex(4)}"
    unix.bind("\0" + listener.abstract)
    unix.listen()
    listener.port = tcp.getsockname()[1]
    listener._sockets = [tcp, unix]
    stop = threading.Event()

    def accept(server: socket.socket) -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except (TimeoutError, OSError):
                continue
            listener.connections += 1
            conn.close()

    threads = [threading.Thread(target=accept, args=(s,), daemon=True) for s in (tcp, unix)]
    for thread in threads:
        thread.start()
    try:
        yield listener
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        for sock in (tcp, unix):
            sock.close()


def available_backends() -> list[str]:
    """The isolating backends that work on this machine."""
    found = []
    for name in ("bwrap", "unshare"):
        backend, _ = isolation._try(name, confinement.identity())
        if backend is not None:
            found.append(name)
    return found
