"""Whether two runs gave the same dataset for the projects of a list, project by project.

    python tests/benchmarks/same_dataset.py LIST RUN_A RUN_B

For each SPEC of LIST: the same status, stage and cause in both ``repos.jsonl``, and the
same problems (task id, prompt, canonical solution, test, entry point) in both
``problems.jsonl``. Used for the resume test at scale: a run killed and resumed against an
uninterrupted run of the same slice (another executor, another machine). Prints each
difference and a count; exits 1 when any project differs. The comparison is per project,
so a run whose file was not yet deduplicated across its whole list compares as well; a
run deduplicated across a longer list may lack problems that duplicate another project's.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def _load(run: Path) -> tuple[dict[str, dict], dict[str, dict[str, tuple]]]:
    repos = {}
    for line in (run / "repos.jsonl").open(encoding="utf-8"):
        row = json.loads(line)
        repos[row["spec"]] = row
    problems: dict[str, dict[str, tuple]] = {}
    for line in (run / "problems.jsonl").open(encoding="utf-8"):
        problem = json.loads(line)
        # meta.source is the list's spec ("pypi:ecdsa==0.13"), as repos.jsonl's "spec".
        problems.setdefault(problem["meta"]["source"], {})[problem["task_id"]] = (
            problem["prompt"], problem["canonical_solution"], problem["test"],
            problem["entry_point"])
    return repos, problems


def main() -> int:
    listing, run_a, run_b = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    specs = [line.strip() for line in open(listing, encoding="utf-8")
             if line.strip() and not line.lstrip().startswith("#")]
    repos_a, problems_a = _load(run_a)
    repos_b, problems_b = _load(run_b)
    different = compared = 0
    for spec in specs:
        a, b = repos_a.get(spec), repos_b.get(spec)
        if a is None or b is None:
            print(f"not done in {run_a if a is None else run_b}: {spec}")
            different += 1
            continue
        tasks_a, tasks_b = problems_a.get(spec, {}), problems_b.get(spec, {})
        compared += len(tasks_a)
        outcome_a, outcome_b = ((r["status"], r["stage"], r["cause"]) for r in (a, b))
        if outcome_a == outcome_b and tasks_a == tasks_b:
            continue
        different += 1
        changed = sorted(t for t in set(tasks_a) & set(tasks_b) if tasks_a[t] != tasks_b[t])
        print(f"{spec}: {outcome_a} vs {outcome_b}; {len(tasks_a)} vs {len(tasks_b)} problems; "
              f"only in A {sorted(set(tasks_a) - set(tasks_b))[:3]}, only in B "
              f"{sorted(set(tasks_b) - set(tasks_a))[:3]}, changed {changed[:3]}")
    print(f"{len(specs) - different} same, {different} different, of {len(specs)} "
          f"({compared} problems of the first run compared)")
    return 1 if different else 0


if __name__ == "__main__":
    sys.exit(main())
