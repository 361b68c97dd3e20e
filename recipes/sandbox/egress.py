"""The only way out of a build's sandbox: an HTTP proxy on the host that lets through the
package index's hosts and nothing else.

A build runs in a network namespace of its own, whose only interface is its loopback. A
forwarder in it (``forwarder.py``) listens on ``127.0.0.1:FORWARDER_PORT`` and carries
each connection through a Unix socket, bound into the sandbox, to the ``EgressProxy`` here.
pip, uv, tox and git find it through ``HTTPS_PROXY``/``HTTP_PROXY``. The proxy takes
``CONNECT host:port`` (HTTPS) and absolute-form plain HTTP requests, and opens a connection
only when ``host:port`` is one of the index's (``index_hosts``); everything else gets a 403
and is counted as refused. The host's loopback, the machine's other services and the rest
of the internet stay out of reach, whatever a ``setup.py`` tries.

Each ``EgressProxy`` serves one command and keeps its own ``NetworkUse``: the bytes to and
from each host reached, and the refused attempts by host.
"""

from __future__ import annotations

import configparser
import contextlib
import os
import shutil
import socket
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from recipes.records import NetworkUse

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI
    import tomli as tomllib

FORWARDER_SOURCE = Path(__file__).with_name("forwarder.py")
FORWARDER_PORT = 3128  # inside the sandbox's own network namespace: no one else's port
SANDBOX_DIR = "/run/citrace-egress"  # where the sandbox sees the socket and the forwarder
SOCKET_NAME = "proxy.sock"
DIRECTORY_PREFIX = "citrace-egress-"  # then the serving process's pid and a random part
ALLOWED_HOSTS_ENV = "CITRACE_ALLOWED_HOSTS"
# PyPI, and its old name, which 2010s setup.py bootstraps (ez_setup, distribute_setup)
# still fetch setuptools from over plain HTTP (it redirects to pypi.org).
PYPI_HOSTS = (("pypi.org", 443), ("files.pythonhosted.org", 443), ("pypi.python.org", 443),
              ("pypi.python.org", 80))
HEAD_LIMIT = 64 * 1024  # bytes of a request's head
CONNECT_TIMEOUT = 30.0
RELAY_CHUNK = 64 * 1024


class NetworkMeter:
    """Adds up the ``NetworkUse`` of several commands (one project's builds); thread-safe."""

    def __init__(self) -> None:
        self._total = NetworkUse()
        self._lock = threading.Lock()

    def add(self, used: NetworkUse) -> None:
        with self._lock:
            self._total = self._total + used

    @property
    def total(self) -> NetworkUse:
        with self._lock:
            return self._total


# --- which hosts ----------------------------------------------------------------------------

def index_hosts(environ: Mapping[str, str] | None = None) -> frozenset[tuple[str, int]]:
    """The (host, port) pairs builds may reach: the indexes pip and uv are configured with
    (their variables, and the configuration files the sandbox lets them see), PyPI where
    either uses its default, ``CITRACE_PYPI_URL``, and ``CITRACE_ALLOWED_HOSTS``
    (``host[:port]`` separated by commas or spaces; no port allows 443 and 80)."""
    env = os.environ if environ is None else environ
    pip, uv = _pip_settings(env), _uv_settings(env)
    urls = [*pip["extra"], *uv["extra"], env.get("CITRACE_PYPI_URL", "")]
    hosts: set[tuple[str, int]] = set()
    for main in (pip["index"], uv["index"]):
        if main:
            urls.extend(main)
        else:
            hosts.update(PYPI_HOSTS)
    hosts.update(pair for url in urls if (pair := _host_of(url)) is not None)
    hosts.update(_extra_hosts(env.get(ALLOWED_HOSTS_ENV, "")))
    return frozenset(hosts)


def _host_of(url: str) -> tuple[str, int] | None:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None  # a local directory of find-links, or nothing
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    return parts.hostname.lower(), port


def _extra_hosts(text: str) -> set[tuple[str, int]]:
    found: set[tuple[str, int]] = set()
    for item in text.replace(",", " ").split():
        host, _, port = item.rpartition(":") if item.count(":") == 1 else (item, "", "")
        if port.isdigit():
            found.add((host.lower(), int(port)))
        elif item:
            found.update({(item.lower(), 443), (item.lower(), 80)})
    return found


def _pip_settings(env: Mapping[str, str]) -> dict[str, list[str]]:
    """pip's index (empty: PyPI) and extra URLs, from its variables, else from the
    configuration files a sandboxed pip reads (the system's; the user's home is not there)."""
    index, extra = env.get("PIP_INDEX_URL", "").split(), [
        *env.get("PIP_EXTRA_INDEX_URL", "").split(), *env.get("PIP_FIND_LINKS", "").split()]
    config = configparser.RawConfigParser()
    dirs = env.get("XDG_CONFIG_DIRS", "/etc/xdg").split(":")
    files = [*(f"{d}/pip/pip.conf" for d in dirs if d), "/etc/pip.conf",
             env.get("PIP_CONFIG_FILE", "")]
    with contextlib.suppress(configparser.Error, UnicodeDecodeError):
        config.read([f for f in files if f and f != os.devnull], encoding="utf-8")
    for section in ("global", "install", "download"):
        if not config.has_section(section):
            continue
        if not index and config.has_option(section, "index-url"):
            index = config.get(section, "index-url").split()
        for key in ("extra-index-url", "find-links"):
            if config.has_option(section, key):
                extra += config.get(section, key).split()
    return {"index": index, "extra": extra}


def _uv_settings(env: Mapping[str, str]) -> dict[str, list[str]]:
    """uv's default index (empty: PyPI) and other URLs, from its variables and the system's
    ``uv.toml`` (citrace gives every build a ``UV_CONFIG_FILE`` of its own, without indexes)."""
    index = (env.get("UV_DEFAULT_INDEX") or env.get("UV_INDEX_URL") or "").split()
    extra = [*env.get("UV_EXTRA_INDEX_URL", "").split(), *env.get("UV_FIND_LINKS", "").split(),
             *(item.rpartition("=")[2] if "=" in item.split("://")[0] else item
               for item in env.get("UV_INDEX", "").split())]
    dirs = env.get("XDG_CONFIG_DIRS", "/etc/xdg").split(":")
    for path in [*(f"{d}/uv/uv.toml" for d in dirs if d), "/etc/uv/uv.toml"]:
        data = _toml(path)
        if not index and isinstance(data.get("index-url"), str):
            index = [data["index-url"]]
        for key in ("extra-index-url", "find-links"):
            value = data.get(key, [])
            extra += [value] if isinstance(value, str) else [v for v in value if
                                                               isinstance(v, str)]
        for entry in data.get("index", []) if isinstance(data.get("index"), list) else []:
            if isinstance(entry, dict) and isinstance(entry.get("url"), str):
                (index if entry.get("default") and not index else extra).append(entry["url"])
    return {"index": index, "extra": extra}


def _toml(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as stream:
            return tomllib.load(stream)
    except (OSError, tomllib.TOMLDecodeError):
        return {}


# --- the proxy ------------------------------------------------------------------------------

def sweep_stale_directories(root: str | None = None) -> list[Path]:
    """Remove the directories of proxies whose process is gone (a worker killed at its
    project's time limit, or with its run, never reaches ``stop``); those of live processes
    stay. The removed ones."""
    removed: list[Path] = []
    base = Path(root or tempfile.gettempdir())
    try:
        entries = list(base.glob(f"{DIRECTORY_PREFIX}*"))
    except OSError:
        return removed
    for entry in entries:
        pid = entry.name[len(DIRECTORY_PREFIX):].partition("-")[0]
        if not pid.isdigit() or _alive(int(pid)) or not entry.is_dir():
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: alive
        return True
    return True


class EgressProxy:
    """A proxy serving one command on a Unix socket in a fresh directory of its own, which
    the sandbox binds at ``SANDBOX_DIR``; ``usage()`` is what it let through and refused."""

    def __init__(self, allowed: Iterable[tuple[str, int]], *, owner: tuple[int, int] | None
                 = None) -> None:
        self.allowed = frozenset((host.lower(), port) for host, port in allowed)
        sweep_stale_directories()
        self.directory = Path(tempfile.mkdtemp(prefix=f"{DIRECTORY_PREFIX}{os.getpid()}-"))
        self._owner = owner
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._reached: Counter[str] = Counter()
        self._refused: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._serving: list[threading.Thread] = []
        self._stopping = False
        self._thread: threading.Thread | None = None

    @property
    def socket_path(self) -> Path:
        return self.directory / SOCKET_NAME

    def start(self) -> EgressProxy:
        shutil.copyfile(FORWARDER_SOURCE, self.directory / FORWARDER_SOURCE.name)
        self._server.bind(str(self.socket_path))
        self._server.listen(64)
        # Connecting takes write permission on the socket; the directory keeps out everyone
        # but the sandbox's uid (and root).
        os.chmod(self.socket_path, 0o666)
        os.chmod(self.directory, 0o711)
        if self._owner is not None:
            os.chown(self.directory, *self._owner)
        self._thread = threading.Thread(target=self._accept, name="citrace-egress", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, cut every connection still open, and wait until each is counted."""
        with self._lock:
            self._stopping = True
            still_open = list(self._open)
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)
        self._server.close()
        for sock in still_open:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
        for thread in self._serving:
            thread.join(timeout=5)
        shutil.rmtree(self.directory, ignore_errors=True)

    def usage(self) -> NetworkUse:
        with self._lock:
            return NetworkUse(dict(self._reached), dict(self._refused))

    def __enter__(self) -> EgressProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- serving ---

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return  # stopped
            thread = threading.Thread(target=self._serve, args=(client,), daemon=True)
            thread.start()
            self._serving = [t for t in self._serving if t.is_alive()] + [thread]

    def _track(self, sock: socket.socket) -> bool:
        with self._lock:
            if self._stopping:
                return False
            self._open.add(sock)
            return True

    def _untrack(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.discard(sock)
        sock.close()

    def _serve(self, client: socket.socket) -> None:
        if not self._track(client):
            client.close()
            return
        try:
            client.settimeout(CONNECT_TIMEOUT)
            head, rest = _read_head(client)
            request = _Request.parse(head)
            if request is None:
                client.sendall(_answer(400, "citrace: not an HTTP proxy request"))
                return
            self._forward(client, request, rest)
        except OSError:
            pass
        finally:
            self._untrack(client)

    def _forward(self, client: socket.socket, request: _Request, rest: bytes) -> None:
        key = f"{request.host}:{request.port}"
        if (request.host, request.port) not in self.allowed:
            with self._lock:
                self._refused[key] += 1
            client.sendall(_answer(403, f"citrace: builds may reach only the package index; "
                                        f"{key} is not one of its hosts (allow it with "
                                        f"{ALLOWED_HOSTS_ENV})"))
            return
        try:
            upstream = socket.create_connection((request.host, request.port),
                                                timeout=CONNECT_TIMEOUT)
        except OSError as exc:
            client.sendall(_answer(502, f"citrace: cannot reach {key}: {exc}"))
            return
        if not self._track(upstream):
            upstream.close()
            return
        try:
            if request.method == "CONNECT":
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                first = rest
            else:
                first = request.origin_form() + rest
            upstream.sendall(first)
            sent = self._relay(client, upstream)
            with self._lock:
                self._reached[key] += sent + len(first)
        finally:
            self._untrack(upstream)

    def _relay(self, client: socket.socket, upstream: socket.socket) -> int:
        """Copy both ways until both sides are done; the bytes copied."""
        client.settimeout(None)
        upstream.settimeout(None)
        counts = [0, 0]
        back = threading.Thread(target=_copy, args=(upstream, client, counts, 1), daemon=True)
        back.start()
        _copy(client, upstream, counts, 0)
        back.join()
        return counts[0] + counts[1]


def _copy(source: socket.socket, dest: socket.socket, counts: list[int], slot: int) -> None:
    try:
        while True:
            chunk = source.recv(RELAY_CHUNK)
            if not chunk:
                break
            dest.sendall(chunk)
            counts[slot] += len(chunk)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            dest.shutdown(socket.SHUT_WR)


def _read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    """The request's head (up to the blank line) and whatever followed it."""
    data = b""
    while b"\r\n\r\n" not in data:
        if len(data) > HEAD_LIMIT:
            return b"", b""
        chunk = sock.recv(8192)
        if not chunk:
            return b"", b""
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


@dataclass(frozen=True)
class _Request:
    method: str
    host: str
    port: int
    path: str = ""
    version: str = "HTTP/1.1"
    headers: tuple[str, ...] = ()

    @classmethod
    def parse(cls, head: bytes) -> _Request | None:
        try:
            lines = head.decode("latin-1").split("\r\n")
            method, target, version = lines[0].split(" ")
        except ValueError:
            return None
        if method == "CONNECT":
            host, _, number = target.rpartition(":")
            host = host.strip("[]").lower()
            return cls(method, host, int(number)) if host and number.isdigit() else None
        parts = urlsplit(target)
        if parts.scheme != "http" or not parts.hostname:
            return None
        try:
            port = parts.port or 80
        except ValueError:
            return None
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        return cls(method, parts.hostname.lower(), port, path, version, tuple(lines[1:]))

    def origin_form(self) -> bytes:
        """The request as the origin server takes it: its path, no proxy headers, and one
        request per connection (the proxy cannot check where a second one would go)."""
        kept = [h for h in self.headers if h.split(":", 1)[0].strip().lower() not in
                ("proxy-connection", "proxy-authorization", "connection", "keep-alive")]
        lines = [f"{self.method} {self.path} {self.version}", *kept, "Connection: close", "", ""]
        return "\r\n".join(lines).encode("latin-1")


def _answer(status: int, message: str) -> bytes:
    reason = {400: "Bad Request", 403: "Forbidden", 502: "Bad Gateway"}[status]
    body = (message + "\n").encode()
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: "
            f"{len(body)}\r\nConnection: close\r\n\r\n").encode() + body


def proxy_environment() -> dict[str, str]:
    """The variables that send pip, uv, tox and git through the forwarder; nothing bypasses."""
    url = f"http://127.0.0.1:{FORWARDER_PORT}"
    env = {name: url for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")}
    env.update(NO_PROXY="", no_proxy="")
    return env


@contextlib.contextmanager
def serving(allowed: Iterable[tuple[str, int]], *,
            owner: tuple[int, int] | None = None) -> Iterator[EgressProxy]:
    with EgressProxy(allowed, owner=owner) as proxy:
        yield proxy
