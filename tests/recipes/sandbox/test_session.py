"""``sandbox.start``: a long-lived program in the sandbox, with pipes to it, ended for good by
``close``; and the sandbox's host name. Under every isolating backend that works here."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from recipes import sandbox
from recipes.sandbox import Policy, SessionEnded, isolation, run
from tests.recipes.sandbox.evil import PYTHON, Evil, available_backends

BACKENDS = available_backends()
pytestmark = pytest.mark.skipif(not BACKENDS, reason="no sandbox works on this machine")

ECHO = textwrap.dedent("""
    import os, socket, subprocess, sys
    # A daemon of its own, which close() must end too.
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", sys.argv[1]],
                     start_new_session=True)
    for line in sys.stdin:
        if line.strip() == "who":
            reply = "%s %s %s" % (socket.gethostname(), os.getcwd(), os.path.exists(sys.argv[2]))
        else:
            reply = line.strip().upper()
        sys.stdout.write(reply + "\\n")
        sys.stdout.flush()
""")


@pytest.fixture(params=BACKENDS or ["none"])
def evil(request, tmp_path: Path, monkeypatch) -> Iterator[Evil]:
    monkeypatch.setenv(isolation.BACKEND_ENV, request.param)
    isolation.reset()
    work = tmp_path / "work"
    work.mkdir()
    program = Evil(work)
    yield program
    isolation.reset()
    assert program.leftovers() == [], "a process of the session outlived close()"


def read_line(session: sandbox.Session) -> str:
    line = b""
    deadline = time.monotonic() + 20
    while not line.endswith(b"\n"):
        line += session.read_exactly(1, deadline=deadline)
    return line.decode().strip()


def test_a_session_answers_until_closed_and_leaves_nothing(evil: Evil) -> None:
    script = evil.work / "echo.py"
    script.write_text(ECHO)
    secret = evil.work.parent / "host-secret"
    secret.write_text("not for the sandbox")
    policy = Policy(readable=(evil.work,), max_processes=16)
    session = sandbox.start([PYTHON, "-I", "-S", str(script), evil.token, str(secret)],
                            cwd="/tmp", policy=policy, hostname="session-host")
    try:
        assert session.alive()
        for word in ("one", "two"):
            session.write(f"{word}\n".encode(), deadline=time.monotonic() + 10)
            assert read_line(session) == word.upper()
        session.write(b"who\n", deadline=time.monotonic() + 10)
        assert read_line(session) == "session-host /tmp False"  # not the host's file
        assert evil.leftovers(wait=0) != []  # it and its daemon run
    finally:
        session.close()
    assert not session.alive()
    with pytest.raises(SessionEnded):
        session.write(b"three\n", deadline=time.monotonic() + 1)


def test_a_session_that_ends_by_itself_is_seen_as_gone(evil: Evil) -> None:
    session = sandbox.start([PYTHON, "-I", "-S", "-c", "print('bye')", evil.token], cwd="/tmp",
                            policy=Policy())
    try:
        assert read_line(session) == "bye"
        with pytest.raises(SessionEnded):
            session.read_exactly(1, deadline=time.monotonic() + 10)
        deadline = time.monotonic() + 10
        while session.alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not session.alive()
    finally:
        session.close()


def test_a_session_cannot_use_the_package_index(evil: Evil) -> None:
    with pytest.raises(ValueError, match="egress"):
        sandbox.start([PYTHON, "-c", "pass"], cwd="/tmp", policy=Policy(network="index"))


def test_run_gives_the_sandbox_the_host_name_asked_for(evil: Evil) -> None:
    outcome = run([PYTHON, "-I", "-S", "-c", "import socket; print(socket.gethostname())",
                   evil.token], cwd=evil.work, timeout=20, hostname="elsewhere")
    assert outcome.verdict == "ok", outcome.output_tail
    assert outcome.output_tail.strip() == "elsewhere"


def test_a_forked_child_can_start_sessions_of_its_own(evil: Evil) -> None:
    import os
    import signal

    def hello() -> bool:
        session = sandbox.start([PYTHON, "-I", "-S", "-c", "print('hi')", evil.token],
                                cwd="/tmp", policy=Policy())
        try:
            return read_line(session) == "hi"
        finally:
            session.close()

    assert hello()  # the parent's starting thread runs
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit status
        try:
            ok = hello()
        except BaseException:  # noqa: B036
            ok = False
        os._exit(0 if ok else 1)
    deadline = time.monotonic() + 30
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    if done[0] == 0:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail("the child's session never started")
    assert os.waitstatus_to_exitcode(done[1]) == 0
