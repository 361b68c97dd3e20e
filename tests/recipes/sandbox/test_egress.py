"""The egress proxy builds go out through: which hosts it lets through, and what it does with
real requests, on real sockets (a local HTTP server stands in for the index)."""

from __future__ import annotations

import http.server
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from recipes.sandbox.egress import PYPI_HOSTS, EgressProxy, index_hosts


def _env(**values: str) -> dict[str, str]:
    return {"XDG_CONFIG_DIRS": "/nonexistent", **values}


def test_pypi_is_allowed_while_pip_or_uv_uses_it() -> None:
    assert index_hosts(_env()) >= set(PYPI_HOSTS)
    # pip has a mirror, uv does not: uv still goes to PyPI.
    mirrored = index_hosts(_env(PIP_INDEX_URL="https://mirror.example/simple"))
    assert ("mirror.example", 443) in mirrored and set(PYPI_HOSTS) <= mirrored
    both = index_hosts(_env(PIP_INDEX_URL="https://mirror.example/simple",
                            UV_DEFAULT_INDEX="http://10.0.0.5:3141/root/pypi"))
    assert both == {("mirror.example", 443), ("10.0.0.5", 3141)}


def test_extra_indexes_find_links_and_named_indexes_are_allowed() -> None:
    hosts = index_hosts(_env(
        PIP_INDEX_URL="https://a.example/simple", UV_INDEX_URL="https://a.example/simple",
        PIP_EXTRA_INDEX_URL="https://b.example/simple http://c.example:8080/simple",
        PIP_FIND_LINKS="/opt/wheels https://d.example/links",
        UV_INDEX="internal=https://e.example/simple https://f.example/simple",
        CITRACE_PYPI_URL="https://g.example/pypi"))
    assert hosts == {("a.example", 443), ("b.example", 443), ("c.example", 8080),
                     ("d.example", 443), ("e.example", 443), ("f.example", 443),
                     ("g.example", 443)}


def test_hosts_the_user_adds() -> None:
    hosts = index_hosts(_env(CITRACE_ALLOWED_HOSTS="cdn.example, git.example:8443"))
    assert {("cdn.example", 443), ("cdn.example", 80), ("git.example", 8443)} <= hosts


def test_the_configuration_files_a_sandboxed_installer_reads(tmp_path: Path) -> None:
    (tmp_path / "pip").mkdir()
    (tmp_path / "pip" / "pip.conf").write_text(
        "[global]\nindex-url = https://pip-conf.example/simple\n"
        "[install]\nextra-index-url = https://pip-extra.example/simple\n")
    (tmp_path / "uv").mkdir()
    (tmp_path / "uv" / "uv.toml").write_text(
        '[[index]]\nurl = "https://uv-default.example/simple"\ndefault = true\n\n'
        '[[index]]\nurl = "https://uv-extra.example/simple"\n')
    hosts = index_hosts({"XDG_CONFIG_DIRS": str(tmp_path)})
    assert hosts == {("pip-conf.example", 443), ("pip-extra.example", 443),
                     ("uv-default.example", 443), ("uv-extra.example", 443)}


@contextmanager
def _origin() -> Iterator[int]:
    """An HTTP server on 127.0.0.1 that answers every GET with the path it was asked."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            body = f"you asked for {self.path}".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def _ask(proxy: EgressProxy, request: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(10)
        client.connect(str(proxy.socket_path))
        client.sendall(request)
        chunks = []
        while chunk := client.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def test_plain_http_to_the_index_goes_through_and_is_counted() -> None:
    with _origin() as port, EgressProxy([("127.0.0.1", port)]) as proxy:
        answer = _ask(proxy, f"GET http://127.0.0.1:{port}/simple/six/?x=1 HTTP/1.1\r\n"
                             f"Host: 127.0.0.1:{port}\r\nProxy-Connection: keep-alive\r\n\r\n"
                      .encode())
    used = proxy.usage()  # counted once its connections are done: stopping waits for them
    assert answer.startswith(b"HTTP/1.0 200")
    assert answer.endswith(b"you asked for /simple/six/?x=1")
    assert used.refused == {} and used.reached[f"127.0.0.1:{port}"] > len(answer)


def test_a_tunnel_to_the_index_carries_bytes_both_ways() -> None:
    with socket.create_server(("127.0.0.1", 0)) as upstream:
        port = upstream.getsockname()[1]

        def echo() -> None:
            peer, _ = upstream.accept()
            with peer:
                peer.sendall(peer.recv(100).upper())

        threading.Thread(target=echo, daemon=True).start()
        with EgressProxy([("127.0.0.1", port)]) as proxy:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
                client.settimeout(10)
                client.connect(str(proxy.socket_path))
                client.sendall(f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\n\r\n".encode())
                assert client.recv(100) == b"HTTP/1.1 200 Connection established\r\n\r\n"
                client.sendall(b"tls would go here")
                assert client.recv(100) == b"TLS WOULD GO HERE"


@pytest.mark.parametrize("request_line", [
    "CONNECT 127.0.0.1:{other} HTTP/1.1",  # the host's loopback, another port
    "CONNECT 169.254.169.254:80 HTTP/1.1",  # a cloud metadata endpoint
    "GET http://127.0.0.1:{other}/ HTTP/1.1",
    "GET http://example.org/ HTTP/1.1",
])
def test_everything_else_is_refused_and_counted(request_line: str) -> None:
    with _origin() as port, _origin() as other, EgressProxy([("127.0.0.1", port)]) as proxy:
        line = request_line.format(other=other)
        answer = _ask(proxy, f"{line}\r\nHost: x\r\n\r\n".encode())
    used = proxy.usage()
    assert answer.startswith(b"HTTP/1.1 403 Forbidden")
    assert b"only the package index" in answer and used.reached == {}
    assert list(used.refused.values()) == [1]


def test_what_is_not_a_proxy_request_gets_a_400() -> None:
    with EgressProxy([]) as proxy:
        assert _ask(proxy, b"HELLO\r\n\r\n").startswith(b"HTTP/1.1 400")
        assert _ask(proxy, b"GET /relative HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 400")
        assert proxy.usage().refused == {}
    assert not proxy.directory.exists()  # its socket goes with it


def test_the_directories_of_proxies_whose_process_died_are_swept(tmp_path: Path) -> None:
    import subprocess
    import sys

    from recipes.sandbox.egress import DIRECTORY_PREFIX, sweep_stale_directories

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    stale = tmp_path / f"{DIRECTORY_PREFIX}{gone}-abc"
    stale.mkdir()
    (stale / "forwarder.py").write_text("# left by a killed worker\n")
    live = tmp_path / f"{DIRECTORY_PREFIX}{os.getpid()}-def"
    live.mkdir()
    other = tmp_path / f"{DIRECTORY_PREFIX}notapid"
    other.mkdir()
    assert sweep_stale_directories(str(tmp_path)) == [stale]
    assert not stale.exists() and live.exists() and other.exists()
    # A proxy starting sweeps its temporary directory's; its own carries its pid.
    with EgressProxy([]) as proxy:
        assert proxy.directory.name.startswith(f"{DIRECTORY_PREFIX}{os.getpid()}-")
