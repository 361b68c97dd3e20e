"""The checks' fork server under attack: each hostile sample fails (or is contained), and the
next check on the same server (or, when the sample killed it, on a new one) is unaffected.
Runs under every isolating backend that works here."""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from recipes.sandbox import SandboxSettings, isolation
from tests.recipes.sandbox.evil import available_backends
from tracer.check import servers
from tracer.check.run import DEFAULT_WORLD, CheckResult, World, run_check

BACKENDS = available_backends()
pytestmark = pytest.mark.skipif(not BACKENDS, reason="no sandbox works on this machine")
PYTHON = os.path.realpath(sys.executable)
PROMPT = 'def double(x):\n    """Twice x."""\n'
TEST = "def check(candidate):\n    assert candidate(2) == 4\n    assert candidate(3) == 6\n"
CORRECT = "    return 2 * x\n"


@pytest.fixture(params=BACKENDS or ["none"])
def backend(request, monkeypatch) -> Iterator[str]:
    monkeypatch.setenv(isolation.BACKEND_ENV, request.param)
    isolation.reset()
    servers.POOL.close()  # servers of another backend stay out of this test
    yield request.param
    servers.POOL.close()
    isolation.reset()


def check(body: str, *, prompt: str = PROMPT, test: str = TEST, timeout: float = 3.0,
          world: World = DEFAULT_WORLD, isolation: str | None = None) -> CheckResult:
    return run_check(prompt=prompt, completion=textwrap.indent(textwrap.dedent(body), "    "),
                     test=test, entry_point="double", python=PYTHON, timeout=timeout,
                     world=world, isolation=isolation)


def attack_then_check(attack: str, follow_up: str = CORRECT, *,
                      timeout: float = 3.0) -> tuple[CheckResult, CheckResult, int]:
    """The attack's result, the next check's, and how many servers were started for both."""
    assert check(CORRECT).passed  # a server is running
    before = servers.POOL.started
    attacked = check(attack, timeout=timeout)
    after = check(follow_up)
    return attacked, after, servers.POOL.started - before


@pytest.mark.parametrize("attack", [
    "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n",  # the checker
    "import os, signal\nos.kill(-1, signal.SIGKILL)\n",  # every process it may signal
    "import os, signal\nos.kill(os.getpgid(0) and 2, signal.SIGKILL)\nreturn 2 * x\n",
])
def test_killing_the_checker_or_the_server_fails_and_the_next_check_passes(
        backend: str, attack: str) -> None:
    attacked, after, started = attack_then_check(attack)
    assert attacked.verdict == "failed", attacked
    assert after.passed, after
    assert started <= 1  # the server, if killed, was replaced once


def test_a_server_stopped_by_its_check_fails_it_and_is_replaced(backend: str,
                                                                  monkeypatch) -> None:
    from tracer.check import run

    monkeypatch.setattr(run, "REPLY_GRACE", 1.0)  # wait less for the answer that never comes
    attacked, after, started = attack_then_check(
        "import os, signal\nos.kill(2, signal.SIGSTOP)\nreturn 2 * x\n", timeout=0.5)
    assert attacked.verdict == "failed", attacked
    assert "did not answer in time" in attacked.result
    assert after.passed and started == 1


def test_signals_sent_to_the_server_change_nothing(backend: str) -> None:
    attacked, after, started = attack_then_check("""
        import os, signal
        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1,
                       signal.SIGALRM, signal.SIGPIPE, signal.SIGCHLD, signal.SIGSEGV):
            os.kill(2, number)
        return 2 * x
    """)
    assert attacked.passed, attacked  # the answer is right; the signals did nothing
    assert after.passed and started == 0


@pytest.mark.parametrize("isolation", ["fork", "strict"])
def test_a_check_gets_the_signals_of_a_plain_interpreter(backend: str, isolation: str) -> None:
    # The server blocks every signal it can; its checks must not inherit that (a blocked
    # SIGALRM or SIGINT would change what a completion's own timeout or handler does). Nor
    # what citrace's own parent ignored (nohup, a shell's background job): ignoring outlives
    # exec, into the sandbox. Here citrace itself ignores two when the server starts.
    import signal

    probe = """
        import signal
        return (sorted(signal.pthread_sigmask(signal.SIG_BLOCK, [])),
                [signal.getsignal(n) == signal.SIG_DFL
                 for n in (signal.SIGTERM, signal.SIGALRM, signal.SIGCHLD, signal.SIGUSR1)],
                signal.getsignal(signal.SIGINT) is signal.default_int_handler)
    """
    test = ("def check(candidate):\n"
            "    assert candidate(0) == ([], [True, True, True, True], True)\n")
    ignored = {number: signal.signal(number, signal.SIG_IGN)
               for number in (signal.SIGUSR1, signal.SIGINT)}
    try:
        for _ in range(2):  # the second on a server that has already run a check
            result = check(probe, test=test, isolation=isolation)
            assert result.passed, result
    finally:
        for number, handler in ignored.items():
            signal.signal(number, handler)


OPEN_DESCRIPTORS = """
def open_descriptors():
    import os
    found = []
    for fd in range(3, 1024):
        try:
            os.fstat(fd)
        except OSError:
            continue
        found.append(fd)
    return found
"""


def test_a_checks_processes_hold_only_their_own_pipes(backend: str) -> None:
    # The server's pipes to the host (and every other descriptor of its) are closed in the
    # check's process: the checker keeps its two pipes to the completion, the completion
    # its two ends of them.
    test = OPEN_DESCRIPTORS + textwrap.dedent("""
        def check(candidate):
            assert len(open_descriptors()) == 2, open_descriptors()
            assert len(candidate(0)) == 2, candidate(0)
    """)
    body = textwrap.indent(OPEN_DESCRIPTORS, "    ") + "    return open_descriptors()\n"
    for _ in range(2):  # the second on a server that has already run a check
        result = check(body, test=test)
        assert result.passed, result


def test_without_close_range_the_descriptors_are_closed_one_by_one() -> None:
    # Kernels before 5.9 have no close_range, and its number is known for two architectures
    # only: the server then closes what /proc lists.
    from tracer.check import forkserver

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        forkserver.CLOSE_RANGE = {}  # as on a machine whose number it does not know
        forkserver.close_others()
        still = [fd for fd in (read_end, write_end) if _is_open(fd)]
        os._exit(10 + len(still))
    os.close(write_end)
    _, status = os.waitpid(pid, 0)
    os.close(read_end)
    assert os.waitstatus_to_exitcode(status) == 10


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def test_a_setsid_daemon_is_gone_before_the_next_check(backend: str) -> None:
    attacked, after, started = attack_then_check("""
        import os, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                for _ in range(100):
                    time.sleep(0.05)
                    open("/tmp/planted", "w").write("from the daemon")
            os._exit(0)
        time.sleep(0.2)
        return x
    """, """
        import os, time
        time.sleep(0.5)  # the daemon, were it alive, would have written by now
        pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
        print("processes", pids, "planted", os.path.exists("/tmp/planted"))
        # init, the server, the checker and this process: nothing else
        return 2 * x if len(pids) == 4 and not os.path.exists("/tmp/planted") else -1
    """)
    assert attacked.verdict == "failed"
    assert after.passed, after.output
    assert started == 0


def test_files_left_in_tmp_and_shm_and_ipc_are_gone_for_the_next_check(backend: str) -> None:
    attacked, after, started = attack_then_check("""
        import ctypes, os
        for path in ("/tmp/left", "/dev/shm/left", "left-in-cwd"):
            open(path, "w").write("answer: 4")
        os.makedirs("/tmp/locked/inner")
        open("/tmp/locked/inner/file", "w").write("4")
        os.chmod("/tmp/locked/inner", 0)
        os.chmod("/tmp/locked", 0)
        libc = ctypes.CDLL(None, use_errno=True)
        assert libc.shmget(0x4242, 4096, 0o1600) >= 0, "shmget"
        return x
    """, """
        import ctypes, os
        # What the attack made (the sandbox's own mount points may sit in /tmp too, when
        # citrace itself lives there).
        made = ("left", "locked", "left-in-cwd")
        left = [n for d in ("/tmp", "/dev/shm", ".") for n in os.listdir(d) if n in made]
        shared = ctypes.CDLL(None).shmget(0x4242, 0, 0)
        print("left", left, "shm", shared)
        return 2 * x if not left and shared == -1 else -1
    """)
    assert attacked.verdict == "failed"
    assert after.passed, after.output
    assert started == 0


KEYCTL = textwrap.dedent("""
    import ctypes, os
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    number = {"x86_64": (248, 250), "aarch64": (217, 219)}[os.uname().machine]
    def keyctl(*args):
        return libc.syscall(number[1], *(ctypes.c_long(a) if isinstance(a, int) else a
                                         for a in args))
    persistent = keyctl(22, -1, -2)  # the user's persistent keyring, linked to the process's
""")


def test_keys_left_in_the_users_keyrings_are_gone_for_the_next_check(backend: str) -> None:
    attacked, after, started = attack_then_check(KEYCTL + textwrap.dedent("""
        for keyring in (-4, -5, -3, persistent):
            made = libc.syscall(number[0], b"user", b"citrace-left", b"4", 1,
                                ctypes.c_long(keyring))
            print("added", keyring, made, ctypes.get_errno())
        return x
    """), KEYCTL + textwrap.dedent("""
        found = [keyctl(10, keyring, b"user", b"citrace-left", 0)
                 for keyring in (-4, -5, -3, persistent)]
        print("found", found)
        return 2 * x if found == [-1] * 4 else -1
    """))
    assert attacked.verdict == "failed"
    assert "added -4" in attacked.output and "added -4 -1" not in attacked.output
    assert after.passed, after.output
    assert started == 0


def test_writing_a_forged_reply_to_inherited_descriptors_fails(backend: str) -> None:
    attacked, after, started = attack_then_check("""
        import os
        forged = b"0 0 0 0.0 0 1"  # a passing check's reply: forkserver.format_reply
        frame = len(forged).to_bytes(8, "little") + forged
        written = []
        for fd in range(3, 256):
            try:
                os.write(fd, frame)
                written.append(fd)
            except OSError:
                pass
        print("written to", written)
        return 2 * x
    """)
    # Its only descriptors beyond 0-2 are its pipes to the checker: the forgery garbles them.
    assert attacked.verdict == "failed", attacked
    assert after.passed and started == 0


def test_the_server_and_the_checker_cannot_be_read_through_proc_or_ptrace(backend: str) -> None:
    attacked, after, started = attack_then_check("""
        import os
        for pid in (2, os.getppid()):
            for path in ("mem", "environ", "fd", "fd/0", "fd/1", "maps", "root/tmp"):
                full = "/proc/%d/%s" % (pid, path)
                try:
                    if os.path.isdir(full):
                        print("OPENED", full, os.listdir(full))
                    else:
                        with open(full, "rb") as opened:
                            print("OPENED", full, opened.read(64))
                except OSError as exc:
                    print("refused", full, exc.strerror)
            import ctypes
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.ptrace(16, pid, 0, 0) == 0:  # PTRACE_ATTACH
                print("OPENED by ptrace", pid)
        return x
    """)
    assert attacked.verdict == "failed"
    assert "refused /proc/2/mem" in attacked.output
    assert "OPENED" not in attacked.output, attacked.output
    assert after.passed and started == 0


def test_a_completion_that_ignores_signals_and_blocks_times_out(backend: str) -> None:
    attacked, after, started = attack_then_check("""
        import os, signal, time
        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGXCPU):
            signal.signal(number, signal.SIG_IGN)
        if os.fork() == 0:
            while True:
                time.sleep(0.1)
        while True:
            time.sleep(0.1)
    """, timeout=1.0)
    assert attacked.verdict == "timed out", attacked
    assert after.passed and started == 0


def test_a_prompt_that_patches_builtins_and_os_does_not_reach_the_next_problem(
        backend: str) -> None:
    hostile = ("import builtins, os\nbuiltins.len = lambda value: 0\n"
               "os.getcwd = lambda: '/evil'\nbuiltins.AssertionError = KeyError\n" + PROMPT)
    # It breaks the checker itself (which counts with len): the same verdict either way.
    assert check(CORRECT, prompt=hostile).verdict == "failed"
    assert check(CORRECT, prompt=hostile, isolation="strict").verdict == "failed"
    before = servers.POOL.started
    honest = TEST + "    assert len([1, 2]) == 2 and __import__('os').getcwd() == '/tmp'\n"
    result = check("import os\nassert len('ab') == 2 and os.getcwd() == '/tmp'\nreturn 2 * x\n",
                   test=honest)
    assert result.passed, result
    assert servers.POOL.started == before


@pytest.mark.parametrize(("body", "verdict"), [
    ("import os\nos._exit(0)\n", "failed"),
    ("import sys\nreturn sys._getframe(1).f_locals\n", "failed"),
    ("import gc\nreturn [o for o in gc.get_objects() if isinstance(o, str) and 'candidate(3)'"
     " in o][:1] or x\n", "failed"),
])
def test_exits_and_frame_tricks_still_fail(backend: str, body: str, verdict: str) -> None:
    result = check(body)
    assert result.verdict == verdict, result


MARKER = "the-expected-value-marker"
# Looks for MARKER in every writable mapping of the completion's process, without ever holding
# it: each byte of the needle is one more than MARKER's, and so is each byte of the memory read.
SCAN = """
    needle = NEEDLE
    shifted = bytes((b + 1) % 256 for b in range(256))
    found = False
    import ctypes
    ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)  # dumpable again: its /proc/self/mem is its own
    memory = open("/proc/self/mem", "rb", 0)  # a mapping gone since: an error, not a crash
    for line in open("/proc/self/maps").read().splitlines():
        fields = line.split()
        name = fields[5] if len(fields) > 5 else ""
        if not fields[1].startswith("rw") or name.startswith("[v"):
            continue
        start, end = (int(part, 16) for part in fields[0].split("-"))
        try:
            memory.seek(start)
            found = found or needle in memory.read(end - start).translate(shifted)
        except OSError:
            pass
    print("found", found)
    return 2 * x if not found else -1
""".replace("NEEDLE", repr(bytes((b + 1) % 256 for b in MARKER.encode())))


def test_the_test_of_an_earlier_check_is_not_in_the_next_ones_memory(backend: str) -> None:
    assert check(CORRECT, test=TEST + f"    assert candidate(7) == 14  # {MARKER}\n").passed
    result = check(SCAN)
    assert result.passed, result.output
    # The scan does find what is in its memory: a prompt is.
    shown = check(SCAN, prompt=f"# {MARKER}\n" + PROMPT)
    assert "found True" in shown.output, shown.output


def test_a_changed_world_is_seen_by_the_check_under_both_isolations(backend: str) -> None:
    world = World.of({"TZ": "Asia/Tokyo", "USER": "somebody", "LOGNAME": "somebody",
                      "LANG": "fr_FR.UTF-8"}, hostname="elsewhere", workdir="project")
    body = """
        import os, socket
        seen = [os.environ.get(k) for k in ("TZ", "USER", "LOGNAME", "LANG", "TMPDIR")]
        seen += [socket.gethostname(), os.getcwd()]
        print("seen", seen)
        return 2 * x if seen == ["Asia/Tokyo", "somebody", "somebody", "fr_FR.UTF-8",
                                 "/tmp/project", "elsewhere", "/tmp/project"] else -1
    """
    for chosen in ("fork", "strict"):
        result = check(body, world=world, isolation=chosen)
        assert result.passed, (chosen, result.output)
    default = """
        import os, socket
        print("seen", os.getcwd(), os.environ.get("TMPDIR"), os.environ.get("USER"),
              os.environ.get("TZ"), socket.gethostname())
        return 2 * x if (os.getcwd(), os.environ.get("USER")) == ("/tmp", "citrace") else -1
    """
    fork, strict = check(default), check(default, isolation="strict")
    assert fork.passed and strict.passed, (fork.output, strict.output)
    assert fork.output.splitlines()[-2] == strict.output.splitlines()[-2]


def test_checks_of_one_server_share_its_hash_seed_and_strict_ones_do_not(backend: str) -> None:
    body = "print('hash', hash('citrace'))\nreturn 2 * x\n"
    forked = {check(body).output.splitlines()[0] for _ in range(3)}
    strict = {check(body, isolation="strict").output.splitlines()[0] for _ in range(3)}
    assert len(forked) == 1
    assert len(strict) > 1


def test_strict_isolation_starts_no_server(backend: str) -> None:
    before = servers.POOL.started
    assert check(CORRECT, isolation="strict").passed
    assert not check("return x\n", isolation="strict").passed
    assert servers.POOL.started == before


def test_without_a_sandbox_checks_are_strict_and_no_server_starts(monkeypatch) -> None:
    monkeypatch.setenv(isolation.BACKEND_ENV, "none")
    isolation.reset()
    try:
        before = servers.POOL.started
        result = run_check(prompt=PROMPT, completion=CORRECT, test=TEST, entry_point="double",
                           python=PYTHON, timeout=3.0,
                           settings=SandboxSettings(unsafe_no_sandbox=True))
        assert result.passed
        assert servers.POOL.started == before
    finally:
        isolation.reset()


def test_a_requests_and_a_replys_fields_go_in_their_order() -> None:
    from tracer.check import forkserver

    assert forkserver.format_reply(0, False, False, 0.0, 0, True) == b"0 0 0 0.0 0 1"
    assert forkserver.format_reply(-9, True, True, 12.5, 65536, False) == \
        b"-9 1 1 12.5 65536 0"
    assert forkserver.parse_request(b"4 0 5.5 1048576 912") == {
        "cpu_seconds": 4, "memory_bytes": 0, "wall_seconds": 5.5, "output_limit": 1048576,
        "payload_bytes": 912}
    for malformed in (b"", b"4 0 5.5 1048576", b"4 0 5.5 1048576 912 7", b"a 0 5.5 1 2"):
        with pytest.raises(ValueError):
            forkserver.parse_request(malformed)


def test_the_server_imports_only_the_standard_library_and_parses_on_the_oldest_python() -> None:
    import ast
    import subprocess

    from recipes import interpreters
    from tracer.check import forkserver

    source = Path(forkserver.__file__).read_text(encoding="utf-8")
    imported = {alias.name.partition(".")[0] for node in ast.walk(ast.parse(source))
                if isinstance(node, ast.Import | ast.ImportFrom)
                for alias in (node.names if isinstance(node, ast.Import)
                              else [ast.alias(node.module or "")])}
    assert imported <= sys.stdlib_module_names, imported - sys.stdlib_module_names
    oldest = interpreters.choose((3, 6))
    if oldest is None or oldest.version[:2] != (3, 6):
        pytest.skip("no CPython 3.6 here")
    compiled = subprocess.run([oldest.path, "-I", "-S", "-c",
                               "import sys; compile(sys.stdin.read(), 'forkserver', 'exec')"],
                              input=source, text=True, capture_output=True, check=False)
    assert compiled.returncode == 0, compiled.stderr


def test_a_server_runs_checks_on_the_oldest_python(backend: str) -> None:
    from recipes import interpreters

    oldest = interpreters.choose((3, 6))
    if oldest is None or oldest.version[:2] != (3, 6):
        pytest.skip("no CPython 3.6 here")
    before = servers.POOL.started
    results = [run_check(prompt=PROMPT, completion=body, test=TEST, entry_point="double",
                         python=oldest.path, timeout=3.0)
               for body in (CORRECT, "    return x\n", "    import os\n    os.kill(-1, 9)\n",
                            CORRECT)]
    assert [r.verdict for r in results] == ["passed", "failed", "failed", "passed"]
    assert servers.POOL.started - before == 2  # the kill(-1) took the first one down


def test_the_command_line_chooses_the_isolation(backend: str, tmp_path: Path, capsys) -> None:
    import json

    from miners.cli import main as cli

    problems = tmp_path / "problems.jsonl"
    problems.write_text(json.dumps({"task_id": "toy/double", "prompt": PROMPT, "test": TEST,
                                    "entry_point": "double"}) + "\n")
    samples = tmp_path / "samples.jsonl"
    samples.write_text(json.dumps({"task_id": "toy/double", "completion": CORRECT}) + "\n")
    args = ["evaluate", "--problems", str(problems), "--samples", str(samples), "-k", "1"]
    for isolation_flag, new_servers in (("strict", 0), ("fork", 1)):
        before = servers.POOL.started
        assert cli.main([*args, "--isolation", isolation_flag]) == 0
        assert json.loads(capsys.readouterr().out)["pass@1"] == 1.0
        assert servers.POOL.started - before == new_servers
    mine = cli._parser().parse_args(["mine", "--check-isolation", "strict", "x"])
    assert mine.check_isolation == "strict"
    assert cli._parser().parse_args(["mine", "x"]).check_isolation == "fork"


@pytest.mark.parametrize("name", ["", "a/b", "..", ".", "x\0y"])
def test_a_world_names_a_directory_of_tmp_only(name: str) -> None:
    with pytest.raises(ValueError):
        World.of(workdir=name)
    assert World.of({"TZ": "UTC"}, workdir="ok").environment("/tmp")["CITRACE_CHECK_DIR"] == \
        "/tmp/ok"
