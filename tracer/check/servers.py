"""The checks' fork servers, on citrace's side: started, reused, restarted, closed.

A server (``forkserver``, in a sandbox of its own) serves one check at a time, so a pool keeps
several per key (interpreter, policy, world) for the threads that check at once. One that
ended, did not answer in time, or could not make its sandbox clean again is closed, and the
next check gets a new one. A key whose server cannot start at all (an interpreter the server
does not run on, a sandbox that is not a pid namespace of its own) is remembered, and its
checks take the one-sandbox-per-check path (``ServerUnavailable``). Every server is closed
when citrace exits; a process forked from citrace lets go of its parent's.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recipes import sandbox
from tracer.check import forkserver, harness

log = logging.getLogger("citrace")

_SERVER_SOURCE = Path(forkserver.__file__).read_text(encoding="utf-8")
_HARNESS_SOURCE = Path(harness.__file__).read_text(encoding="utf-8")
START_SECONDS = 60.0  # a sandbox and an interpreter importing a few modules, under load
REPLY_GRACE = 10.0  # after the check's own time: killing, reaping and cleaning up
TAIL_LINES = 20
MAX_IDLE = max(4, 2 * (os.cpu_count() or 1))  # idle servers kept, over every key


class ServerUnavailable(Exception):
    """No server can run checks for this key: check them one sandbox each."""


class ServerDied(Exception):
    """The server ended, or did not answer in time, during a check."""


@dataclass(frozen=True)
class ServerKey:
    """What one server's checks share: the interpreter, the sandbox and the world."""

    python: str
    policy: sandbox.Policy
    env: tuple[tuple[str, str], ...]  # the whole environment of the server
    hostname: str | None = None


@dataclass(frozen=True)
class Reply:
    """How a check's process ended, as the server tells it."""

    exit_code: int  # or -signal
    timed_out: bool
    limited: bool  # printed more than the output limit
    duration: float
    output: str  # its last lines
    clean: bool  # the server made its sandbox as it was before the check


class Server:
    """One running fork server."""

    def __init__(self, key: ServerKey) -> None:
        self.key = key
        argv = [key.python, "-I", "-S", "-c", _SERVER_SOURCE]
        try:
            self.session = sandbox.start(argv, cwd="/tmp", policy=key.policy,
                                         env=dict(key.env), confines_itself=True,
                                         hostname=key.hostname)
        except OSError as exc:
            raise ServerUnavailable(f"cannot start the check server: {exc}") from exc
        try:
            deadline = time.monotonic() + START_SECONDS
            self._send({"harness": _HARNESS_SOURCE}, deadline=deadline)
            ready = self._receive(deadline)
        except ServerDied as exc:
            self.close()
            raise ServerUnavailable(f"the check server did not start: {exc}") from exc
        if not ready.get("ready"):
            self.close()
            raise ServerUnavailable(f"the check server refused: {ready.get('error')}")

    def check(self, request: Mapping[str, Any], payload: bytes, *, wait: float) -> Reply:
        """Run one check (``request``'s limits, the harness's ``payload``); ServerDied if the
        server ends or takes more than ``wait`` seconds."""
        deadline = time.monotonic() + wait
        fields = {**request, "payload_bytes": len(payload)}
        header = " ".join(str(fields[name] or 0) for name in forkserver.REQUEST_FIELDS)
        answer = b""
        try:
            self._write(header.encode("ascii"), deadline=deadline)
            self.session.write(payload, deadline=deadline)
            answer = self._read(deadline)
            values = answer.split()
            if len(values) != len(forkserver.REPLY_FIELDS):
                raise ValueError("not a reply")
            reply = dict(zip(forkserver.REPLY_FIELDS, values, strict=True))
            tail = self.session.read_exactly(int(reply["output_bytes"]), deadline=deadline)
            return Reply(int(reply["exit_code"]), reply["timed_out"] == b"1",
                         reply["limited"] == b"1", float(reply["duration"]),
                         _last_lines(tail), reply["clean"] == b"1")
        except sandbox.SessionEnded as exc:
            raise ServerDied(str(exc)) from exc
        except ValueError as exc:
            raise ServerDied(f"the check server answered {answer!r}") from exc

    def alive(self) -> bool:
        return self.session.alive()

    def close(self) -> None:
        self.session.close()

    def _send(self, message: Mapping[str, Any], *, deadline: float) -> None:
        try:
            self._write(json.dumps(message).encode("utf-8"), deadline=deadline)
        except sandbox.SessionEnded as exc:
            raise ServerDied(str(exc)) from exc

    def _receive(self, deadline: float) -> dict[str, Any]:
        try:
            answer = json.loads(self._read(deadline).decode("utf-8"))
        except sandbox.SessionEnded as exc:
            raise ServerDied(str(exc)) from exc
        except ValueError as exc:
            raise ServerDied(f"the check server said something else: {exc}") from exc
        if not isinstance(answer, dict):
            raise ServerDied(f"the check server answered {answer!r}")
        return answer

    def _write(self, data: bytes, *, deadline: float) -> None:
        """One message: its length (8 bytes, little-endian), then ``data``."""
        self.session.write(len(data).to_bytes(8, "little") + data, deadline=deadline)

    def _read(self, deadline: float) -> bytes:
        size = int.from_bytes(self.session.read_exactly(8, deadline=deadline), "little")
        if size > forkserver.MAX_MESSAGE:
            raise ServerDied(f"the check server sent a message of {size} bytes")
        return self.session.read_exactly(size, deadline=deadline)


class Pool:
    """Idle servers by key, the most recently used first to be reused."""

    def __init__(self) -> None:
        self._idle: OrderedDict[int, tuple[ServerKey, Server]] = OrderedDict()
        self._unavailable: dict[ServerKey, str] = {}
        self._lock = threading.Lock()
        self.started = 0  # servers started so far (tests count them)

    def check(self, key: ServerKey, request: Mapping[str, Any], payload: bytes, *,
              wait: float) -> Reply:
        """Run a check on an idle server of ``key``, or a new one. ServerUnavailable when
        none can start; ServerDied when the one running it died (it is then closed)."""
        server = self._take(key) or self._start(key)
        try:
            reply = server.check(request, payload, wait=wait)
        except BaseException:
            server.close()
            raise
        if reply.clean and server.alive():
            self._give_back(server)
        else:
            server.close()
        return reply

    def _take(self, key: ServerKey) -> Server | None:
        while True:
            with self._lock:
                found = next((ident for ident, (k, _) in reversed(self._idle.items())
                              if k == key), None)
                if found is None:
                    return None
                _, server = self._idle.pop(found)
            if server.alive():
                return server
            server.close()

    def _start(self, key: ServerKey) -> Server:
        with self._lock:
            why = self._unavailable.get(key)
        if why is not None:
            raise ServerUnavailable(why)
        try:
            server = Server(key)
        except ServerUnavailable as exc:
            log.warning("checks with %s run one sandbox each: %s", key.python, exc)
            with self._lock:
                self._unavailable[key] = str(exc)
            raise
        with self._lock:
            self.started += 1
        return server

    def _give_back(self, server: Server) -> None:
        with self._lock:
            self._idle[id(server)] = (server.key, server)
            extra = [self._idle.popitem(last=False)[1][1]
                     for _ in range(max(0, len(self._idle) - MAX_IDLE))]
        for old in extra:
            old.close()

    def close(self) -> None:
        """Close every idle server (at exit)."""
        with self._lock:
            servers = [server for _, server in self._idle.values()]
            self._idle.clear()
        for server in servers:
            server.close()

    def forget(self) -> None:
        """In a forked child: the servers are the parent's; drop them untouched."""
        for _, server in self._idle.values():
            server.session.forget()
        self._idle.clear()
        self._lock = threading.Lock()


def _last_lines(output: bytes) -> str:
    return "\n".join(output.decode("utf-8", "replace").splitlines()[-TAIL_LINES:])


POOL = Pool()
atexit.register(POOL.close)
os.register_at_fork(after_in_child=POOL.forget)
