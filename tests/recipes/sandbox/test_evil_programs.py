"""Programs that attack the host, run through the sandbox: each is contained, gets the right
verdict, and the host is checked afterwards. Runs under every isolating backend that works
here (bubblewrap, and namespaces through unshare)."""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from recipes.sandbox import isolation, run
from tests.recipes.sandbox.evil import PYTHON, Evil, available_backends, listening

BACKENDS = available_backends()
pytestmark = pytest.mark.skipif(not BACKENDS, reason="no sandbox works on this machine")


@pytest.fixture(params=BACKENDS or ["none"])
def evil(request, tmp_path: Path, monkeypatch) -> Iterator[Evil]:
    monkeypatch.setenv(isolation.BACKEND_ENV, request.param)
    isolation.reset()
    work = tmp_path / "work"
    work.mkdir()
    program = Evil(work)
    yield program
    isolation.reset()
    assert program.leftovers() == [], "a process of the evil program outlived its run"


def test_writing_outside_its_directory_fails(evil: Evil, tmp_path: Path) -> None:
    other = tmp_path / "other-project"
    other.mkdir()
    (other / "setup.py").write_text("# another project's checkout\n")
    outcome = evil.run("""
        import os, sys
        targets = [sys.argv[2], sys.argv[3], os.path.expanduser("~root/.citrace-evil"),
                   "/etc/citrace-evil", "/usr/citrace-evil", sys.argv[4]]
        for target in targets:
            try:
                with open(target, "w") as f:
                    f.write("owned")
                print("wrote", target)
            except OSError as exc:
                print("refused", target, exc.strerror)
        open("/tmp/private-scratch", "w").write("fine: the sandbox's own /tmp")
        raise SystemExit(1 if any(os.path.exists(t) for t in targets) else 0)
    """, str(other / "setup.py"), str(other / "evil.txt"),
        str(Path(__file__).resolve().parent / "citrace-evil.txt"))
    assert outcome.verdict == "ok", outcome.output_tail
    assert "wrote" not in outcome.output_tail
    assert (other / "setup.py").read_text() == "# another project's checkout\n"
    assert not (other / "evil.txt").exists()
    assert not Path("/etc/citrace-evil").exists() and not Path("/tmp/private-scratch").exists()
    assert not (Path(__file__).resolve().parent / "citrace-evil.txt").exists()


def test_a_file_planted_in_the_host_home_cannot_be_read(evil: Evil) -> None:
    secret = secrets.token_hex(16)
    planted = Path.home() / f".citrace-planted-{evil.token}"
    planted.write_text(secret)
    try:
        outcome = evil.run("""
            import os, sys
            path = sys.argv[2]
            for candidate in (path, "/proc/1/root" + path, os.path.expanduser("~/" +
                              os.path.basename(path))):
                try:
                    print(open(candidate).read())
                except OSError as exc:
                    print("cannot read", candidate, exc.strerror)
            print(sorted(os.listdir(os.path.dirname(path))) if os.path.isdir(
                os.path.dirname(path)) else "no home")
            raise SystemExit(3)
        """, str(planted))
        assert outcome.verdict == "failed"
        assert secret not in outcome.output_tail
        listing = outcome.output_tail.splitlines()[-1]
        assert planted.name not in listing  # the home directory is not even listed
    finally:
        planted.unlink()


def test_no_connection_reaches_a_server_on_the_host(evil: Evil) -> None:
    with listening() as server:
        outcome = evil.run("""
            import socket, sys
            for family, address in ((socket.AF_INET, ("127.0.0.1", int(sys.argv[2]))),
                                    (socket.AF_UNIX, "\\0" + sys.argv[3])):
                s = socket.socket(family, socket.SOCK_STREAM)
                s.settimeout(2)
                try:
                    s.connect(address)
                    print("connected to", address)
                except OSError as exc:
                    print("no connection:", exc)
            socket.create_connection(("pypi.org", 443), timeout=2)
        """, str(server.port), server.abstract)
    assert server.connections == 0
    assert "connected to" not in outcome.output_tail
    assert outcome.verdict == "failed"  # and the internet is out of reach too


def test_a_fork_bomb_is_bounded_and_others_keep_running(evil: Evil, tmp_path: Path) -> None:
    neighbour: dict[str, object] = {}

    def run_neighbour() -> None:
        # Another command, started while the bomb runs, has a process budget of its own.
        neighbour["outcome"] = run([PYTHON, "-c", "import subprocess, sys; "
                                    "subprocess.run([sys.executable, '-c', 'pass'], check=True)"],
                                   cwd=tmp_path, timeout=20)

    outcome_holder: dict[str, object] = {}
    bomb = threading.Thread(target=lambda: outcome_holder.update(outcome=evil.run("""
        import os, time
        while True:
            try:
                os.fork()
            except OSError:
                time.sleep(0.01)
    """, timeout=3)))
    bomb.start()
    threading.Event().wait(1.0)
    run_neighbour()
    bomb.join()
    assert outcome_holder["outcome"].verdict == "timeout"  # type: ignore[attr-defined]
    assert neighbour["outcome"].ok, neighbour["outcome"]  # type: ignore[attr-defined]


def test_a_daemon_does_not_outlive_its_run(evil: Evil) -> None:
    outcome = evil.run("""
        import os, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                while True:
                    with open("heartbeat", "a") as f:
                        f.write(".")
                    time.sleep(0.05)
            os._exit(0)
        time.sleep(0.3)
        print("left a daemon behind")
    """)
    assert outcome.verdict == "ok" and "left a daemon behind" in outcome.output_tail
    assert evil.leftovers(wait=0) == []  # gone when run() returned, not a moment later
    beats = (evil.work / "heartbeat").read_text()
    threading.Event().wait(0.3)
    assert (evil.work / "heartbeat").read_text() == beats


def test_allocating_far_beyond_the_limit_is_out_of_memory(evil: Evil) -> None:
    outcome = evil.run("""
        hoard = []
        while True:
            hoard.append(bytearray(32 * 1024 * 1024))
    """)
    assert outcome.verdict == "oom", outcome.output_tail
    huge = evil.run("x = bytearray(64 * 1024 ** 3)")
    assert huge.verdict == "oom", huge.output_tail


def test_filling_the_disk_stops_at_the_bounds(evil: Evil) -> None:
    one_file = evil.run("""
        with open("big", "wb") as f:
            while True:
                f.write(b"x" * 65536)
    """)
    assert one_file.verdict == "file_limit", one_file.output_tail
    assert (evil.work / "big").stat().st_size <= 1024 * 1024
    many_files = evil.run("""
        import itertools
        for n in itertools.count():
            with open("/tmp/fill-%d" % n, "wb") as f:
                f.write(b"x" * 512 * 1024)
    """)
    assert many_files.verdict == "file_limit", many_files.output_tail


def test_printing_without_end_stops_at_the_output_limit(evil: Evil, tmp_path: Path) -> None:
    outcome = evil.run("""
        while True:
            print("spam " * 20)
    """, timeout=20)
    assert outcome.verdict == "output_limit"
    assert outcome.duration < 10
    assert (tmp_path / "evil.log").stat().st_size < 2 * 64 * 1024


def test_closing_its_own_standard_streams(evil: Evil) -> None:
    quiet = evil.run("""
        import os, time
        for fd in (0, 1, 2):
            os.close(fd)
        time.sleep(0.2)
    """)
    assert quiet.verdict == "ok"
    stuck = evil.run("""
        import os, time
        for fd in (0, 1, 2):
            os.close(fd)
        while True:
            time.sleep(1)
    """, timeout=1.5)
    assert stuck.verdict == "timeout" and stuck.duration < 6


def test_blocking_on_standard_input_ends_at_once(evil: Evil) -> None:
    outcome = evil.run("""
        import sys
        print(repr(sys.stdin.read()))
        try:
            open("/dev/tty").read()
        except OSError as exc:
            print("no terminal:", exc.strerror)
        input()
    """, timeout=30)
    assert outcome.verdict == "failed" and "EOFError" in outcome.output_tail
    assert outcome.duration < 10


def test_killing_its_parent_harms_no_one(evil: Evil) -> None:
    outcome = evil.run("""
        import os, signal, sys
        for target in (os.getppid(), int(sys.argv[2]), 1, -1):
            try:
                os.kill(target, signal.SIGKILL)
                print("sent SIGKILL to", target)
            except OSError as exc:
                print("cannot kill", target, exc.strerror)
        print("still here")
    """, str(os.getpid()))
    assert "still here" in outcome.output_tail
    assert outcome.verdict == "ok"
    os.kill(os.getpid(), 0)  # this process (its parent's parent on the host) lives on


def test_a_build_reaches_the_index_only(evil: Evil, monkeypatch) -> None:
    with listening() as host_service, listening() as index:
        monkeypatch.setenv("CITRACE_ALLOWED_HOSTS", f"127.0.0.1:{index.port}")
        outcome = evil.run("""
            import os, socket, sys
            proxy = os.environ["HTTPS_PROXY"].rsplit(":", 1)
            def through_proxy(target):
                with socket.create_connection((proxy[0][7:], int(proxy[1])), timeout=5) as s:
                    s.sendall(b"CONNECT %s HTTP/1.1\\r\\nHost: %s\\r\\n\\r\\n" % (
                        target.encode(), target.encode()))
                    return s.recv(200).split(b"\\r\\n")[0].decode()
            host, index = sys.argv[2], sys.argv[3]
            for target in ("127.0.0.1:" + host, "169.254.169.254:80", "example.org:443",
                           "127.0.0.1:" + index):
                print(target, "->", through_proxy(target))
            for address in (("127.0.0.1", int(host)), ("203.0.113.80", 443)):
                try:
                    socket.create_connection(address, timeout=3)
                    print("direct", address, "connected")
                except OSError as exc:
                    print("direct", address, "failed:", exc.strerror)
        """, str(host_service.port), str(index.port), network="index")
    assert outcome.ok, outcome.output_tail
    said = outcome.output_tail
    assert f"127.0.0.1:{index.port} -> HTTP/1.1 200" in said
    assert f"127.0.0.1:{host_service.port} -> HTTP/1.1 403" in said
    for refused in ("169.254.169.254:80", "example.org:443"):
        assert f"{refused} -> HTTP/1.1 403" in said
    assert "connected" not in said.replace("200 Connection established", "")
    assert host_service.connections == 0
    assert outcome.network is not None
    assert set(outcome.network.refused) == {f"127.0.0.1:{host_service.port}",
                                             "169.254.169.254:80", "example.org:443"}
    assert set(outcome.network.reached) == {f"127.0.0.1:{index.port}"}


def test_tests_serve_and_connect_on_their_own_loopback(evil: Evil) -> None:
    outcome = evil.run("""
        import socket, threading
        server = socket.create_server(("127.0.0.1", 0))
        port = server.getsockname()[1]
        def answer():
            peer, _ = server.accept()
            peer.sendall(peer.recv(100)[::-1])
            peer.close()
        threading.Thread(target=answer).start()
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            client.sendall(b"loopback")
            print(client.recv(100).decode())
    """)
    assert outcome.ok and outcome.output_tail.strip() == "kcabpool", outcome.output_tail
