from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from recipes.records import CommandOutcome
from recipes.runners.diagnose import cause_of_build_failure, cause_of_test_failure, failure_line
from recipes.sandbox import (
    Policy,
    SandboxSettings,
    base_environment,
    build_policy,
    isolation,
    project_dirs,
    run,
    suite_policy,
)
from recipes.sandbox.isolation import SandboxUnavailable
from tests.recipes.sandbox.evil import available_backends


def test_output_tail_and_exit_code_are_reported(tmp_path: Path) -> None:
    outcome = run([sys.executable, "-c", "print('hello'); raise SystemExit(3)"],
                  cwd=tmp_path, timeout=30, log_path=tmp_path / "log")
    assert outcome.exit_code == 3 and not outcome.ok
    assert outcome.output_tail.strip() == "hello"
    assert "hello" in (tmp_path / "log").read_text()


def test_timeout_kills_every_process_the_command_started(tmp_path: Path) -> None:
    token = f"grandchild-{os.getpid()}-{time.monotonic_ns()}"
    script = (
        "import subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', {token!r}])\n"
        "time.sleep(60)\n"
    )
    started = time.monotonic()
    outcome = run([sys.executable, "-c", script, token], cwd=tmp_path, timeout=2)
    assert outcome.timed_out and not outcome.ok and outcome.verdict == "timeout"
    assert time.monotonic() - started < 20
    # The sandbox has its own pid namespace, so the pids it sees mean nothing here: look
    # for the command line instead.
    assert _processes_mentioning(token) == [], "a process started by the command outlived it"


def test_host_secrets_are_not_passed_on(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "hunter2")
    env = base_environment({"EXTRA": "yes"})
    assert "AWS_SECRET_ACCESS_KEY" not in env and env["EXTRA"] == "yes"
    show = "import os; print(os.environ.get('AWS_SECRET_ACCESS_KEY'))"
    outcome = run([sys.executable, "-c", show], cwd=tmp_path, timeout=30, env=env)
    assert outcome.output_tail.strip() == "None"


def test_standard_input_is_closed(tmp_path: Path) -> None:
    outcome = run([sys.executable, "-c", "import sys; print(repr(sys.stdin.read()))"],
                  cwd=tmp_path, timeout=10)
    assert outcome.ok and outcome.output_tail.strip() == "''"


def test_an_editor_or_a_pager_returns_at_once(tmp_path: Path) -> None:
    # python-editor 1.0.4's tests open $VISUAL, else $EDITOR, else /usr/bin/editor.
    opened = "import os, subprocess; print(subprocess.call([os.environ['VISUAL'], 'notes.txt'])," \
        " subprocess.call([os.environ['EDITOR'], 'notes.txt']), os.environ['PAGER'])"
    outcome = run([sys.executable, "-c", opened], cwd=tmp_path, timeout=30,
                  env=base_environment())
    assert outcome.ok and outcome.output_tail.strip() == "0 0 cat", outcome.output_tail


def test_a_missing_program_is_an_outcome_not_an_exception(tmp_path: Path) -> None:
    outcome = run(["/no/such/program"], cwd=tmp_path, timeout=10)
    assert outcome.exit_code == 127 and "cannot start" in outcome.output_tail


def _processes_mentioning(token: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if token.encode() in (entry / "cmdline").read_bytes() and _alive(entry):
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def _alive(proc: Path) -> bool:
    # A zombie has exited: it only waits to be reaped by its (possibly init) parent.
    try:
        return (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


# --- policies ----------------------------------------------------------------------------------

PEEK = "import os, sys; print(os.environ['HOME'], os.environ['TMPDIR'], os.getcwd())"


def test_only_the_writable_paths_can_be_written(tmp_path: Path) -> None:
    mine, shared = tmp_path / "mine", tmp_path / "shared"
    mine.mkdir()
    shared.mkdir()
    (shared / "data.txt").write_text("read me")
    code = ("import sys\nprint(open(sys.argv[2]).read())\nopen(sys.argv[1] + '/out', 'w')\n"
            "open(sys.argv[2], 'a')\n")
    outcome = run([sys.executable, "-c", code, str(mine), str(shared / "data.txt")], cwd=mine,
                  timeout=30, policy=Policy(writable=(mine,), readable=(shared,)))
    assert "read me" in outcome.output_tail
    assert outcome.verdict == "failed"
    assert "Read-only file system" in outcome.output_tail or "Permission denied" in \
        outcome.output_tail
    assert (mine / "out").exists()


def test_home_and_tmpdir_are_the_sandbox_own(tmp_path: Path) -> None:
    outcome = run([sys.executable, "-c", PEEK], cwd=tmp_path, timeout=30)
    assert outcome.output_tail.split() == ["/tmp", "/tmp", str(tmp_path)]
    policy = suite_policy([tmp_path])
    outcome = run([sys.executable, "-c", PEEK], cwd=tmp_path, timeout=30, policy=policy)
    assert outcome.output_tail.split() == [str(tmp_path / ".home"), str(tmp_path / ".tmp"),
                                           str(tmp_path)]


def test_the_host_network_is_given_to_builds_only_when_asked(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        code = f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=5)"
        host = run([sys.executable, "-c", code], cwd=tmp_path, timeout=30,
                   policy=build_policy([tmp_path], settings=SandboxSettings(
                       unsafe_build_network=True)))
        build = run([sys.executable, "-c", code], cwd=tmp_path, timeout=30,
                    policy=build_policy([tmp_path]))
        tests = run([sys.executable, "-c", code], cwd=tmp_path, timeout=30,
                    policy=suite_policy([tmp_path]))
    assert host.ok, host.output_tail
    for outcome in (build, tests):  # their own loopback, where nothing listens on that port
        assert outcome.verdict == "failed" and "Connection refused" in outcome.output_tail


def test_files_the_host_writes_become_writable_to_the_sandbox(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    (private / "state").write_text("host wrote this\n")
    os.chmod(private / "state", 0o600)
    code = "open('state', 'a').write('sandbox appended\\n')"
    outcome = run([sys.executable, "-c", code], cwd=private, timeout=30)
    assert outcome.ok, outcome.output_tail
    assert (private / "state").read_text() == "host wrote this\nsandbox appended\n"


def test_a_process_budget_of_its_own(tmp_path: Path) -> None:
    code = ("import os\nn = 0\ntry:\n    while True:\n        if os.fork() == 0:\n"
            "            import time; time.sleep(5); os._exit(0)\n        n += 1\n"
            "except OSError:\n    print('forked', n)\n")
    outcome = run([sys.executable, "-c", code], cwd=tmp_path, timeout=30,
                  policy=Policy(writable=(tmp_path,), max_processes=10))
    assert outcome.ok, outcome.output_tail
    assert 0 < int(outcome.output_tail.split()[-1]) < 10


def test_without_isolation_run_refuses_unless_allowed(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(isolation.BACKEND_ENV, "none")
    isolation.reset()
    try:
        with pytest.raises(SandboxUnavailable, match="--unsafe-no-sandbox"):
            run([sys.executable, "-c", "print('ran')"], cwd=tmp_path, timeout=30)
        # The permission is the policy's own value: it holds for the commands given it.
        unsafe = suite_policy([tmp_path], settings=SandboxSettings(unsafe_no_sandbox=True))
        outcome = run([sys.executable, "-c", "print('ran')"], cwd=tmp_path, timeout=30,
                      policy=unsafe)
        assert outcome.ok and outcome.output_tail == "ran"
        with pytest.raises(SandboxUnavailable):
            run([sys.executable, "-c", "print('ran')"], cwd=tmp_path, timeout=30,
                policy=suite_policy([tmp_path]))
    finally:
        isolation.reset()


def test_an_unknown_backend_name_isolates_nothing(monkeypatch) -> None:
    monkeypatch.setenv(isolation.BACKEND_ENV, "chroot")
    isolation.reset()
    try:
        backend, reasons = isolation.current()
        assert not backend.isolated and "chroot" in reasons[0]
    finally:
        isolation.reset()


def test_verdicts_of_old_outcomes_are_derived() -> None:
    assert CommandOutcome(("x",), 0, 1.0).verdict == "ok"
    assert CommandOutcome(("x",), 1, 1.0).verdict == "failed"
    assert CommandOutcome(("x",), -9, 1.0, timed_out=True).verdict == "timeout"
    assert CommandOutcome.from_dict({"argv": ["x"], "exit_code": 2, "duration": 0.1}).verdict \
        == "failed"
    limited = CommandOutcome(("x",), -9, 1.0, verdict="output_limit")
    assert not limited.ok and limited.to_dict()["verdict"] == "output_limit"
    with pytest.raises(ValueError):
        CommandOutcome(("x",), 0, 1.0, verdict="fine")


def test_verdicts_map_to_causes() -> None:
    for verdict, cause in (("timeout", "timeout"), ("oom", "out_of_memory"),
                           ("output_limit", "output_limit"), ("file_limit", "file_limit")):
        outcome = CommandOutcome(("x",), 1, 1.0, verdict=verdict)
        assert cause_of_test_failure(outcome) == cause
        assert cause_of_build_failure(outcome) == cause
        assert failure_line(outcome, "default") != "default"


def test_a_project_writes_its_own_directories_never_their_parent(tmp_path: Path) -> None:
    work = tmp_path / "work" / "proj-1234"
    traces = work / "run0" / "traces"
    assert project_dirs(work / "src" / "proj", work / "env0", traces) == (
        work / "env0", work / "src" / "proj", traces)
    # So the directories holding them stay citrace's: a build cannot swap one for a link.
    outcome = run([sys.executable, "-c", "import os, sys; os.rename(sys.argv[1], sys.argv[2])",
                   str(work / "env0"), str(work / "moved")], cwd=tmp_path, timeout=30,
                  policy=build_policy(project_dirs(work / "src" / "proj", work / "env0")))
    assert outcome.verdict == "failed" and (work / "env0").is_dir()
    assert not (work / "moved").exists()


def test_a_program_can_open_a_pseudo_terminal_of_the_sandbox_own(tmp_path: Path) -> None:
    # pexpect-style tests spawn on a pty (pydash 4.9.2's suite); the host's ptys stay unseen.
    code = ("import os, pty\nmain, other = os.openpty()\nos.write(other, b'hi')\n"
            "print(os.read(main, 2), os.ttyname(other), sorted(os.listdir('/dev/pts')))")
    outcome = run([sys.executable, "-c", code], cwd=tmp_path, timeout=30)
    assert outcome.verdict == "ok", outcome.output_tail
    assert "b'hi' /dev/pts/0 ['0', 'ptmx']" in outcome.output_tail


@pytest.fixture(params=[*available_backends(), "none"])
def any_backend(request, monkeypatch) -> Iterator[str]:
    monkeypatch.setenv(isolation.BACKEND_ENV, request.param)
    isolation.reset()
    yield request.param
    isolation.reset()


def test_a_command_gets_no_signal_citrace_s_parent_ignored(any_backend: str,
                                                          tmp_path: Path) -> None:
    # Ignoring outlives exec: under nohup (SIGHUP) or as a shell's background job (SIGINT,
    # SIGQUIT), every sandboxed command would inherit it, and a project's test that
    # interrupts itself would hang. Every backend starts commands with every signal default,
    # the unisolated one (--unsafe-no-sandbox) too.
    import signal

    settings = SandboxSettings(unsafe_no_sandbox=any_backend == "none")
    ignored = {number: signal.signal(number, signal.SIG_IGN)
               for number in (signal.SIGHUP, signal.SIGINT, signal.SIGUSR1)}
    try:
        outcome = run(["grep", "SigIgn", "/proc/self/status"], cwd=tmp_path, timeout=30,
                      policy=suite_policy((tmp_path,), settings=settings))
    finally:
        for number, handler in ignored.items():
            signal.signal(number, handler)
    assert outcome.ok, outcome
    assert int(outcome.output_tail.split()[-1], 16) == 0, outcome.output_tail
