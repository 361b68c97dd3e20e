"""What one check costs through the fork server: the time of a check whose test makes no
call, and the time of one call from the test to the completion (a test of N calls against a
test of one, both of the same problem), for this tree and, side by side in the same run, for
other citrace trees (``--against DIR``: a checkout or ``git worktree`` of another commit).

    .venv/bin/python tests/benchmarks/bench_check_cost.py [--against DIR] [--rounds 5]

Each round runs every tree once, in turn, in a process of its own (the machine's speed drifts:
alternating keeps the comparison fair); each line is one round, then the medians and the
ratios to this tree. Sandbox on (the default backend; CITRACE_SANDBOX picks another).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Run in the tree measured: its own run_check, the best of a few repetitions of each.
MEASURE = r"""
import json, os, sys, time
sys.path.insert(0, sys.argv[1])
from tracer.check.run import run_check

def best(calls, repeat=5):
    test = "def check(candidate):\n"
    test += ("    for _ in range(%d):\n        assert candidate(3, 'ab') == (3, 'ab')\n" % calls
             if calls else "    pass\n")
    kw = dict(prompt="def pair(x, y):\n    '''Both.'''\n", completion="    return (x, y)\n",
              test=test, entry_point="pair", python=os.path.realpath(sys.executable), timeout=30)
    assert run_check(**kw).passed
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        assert run_check(**kw).passed
        times.append(time.perf_counter() - started)
    return min(times)

empty, one, many = best(0, 20), best(1), best(1001)
print(json.dumps({"check_ms": empty * 1000, "call_us": (many - one) / 1000 * 1e6}))
"""


def measure(tree: Path) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", MEASURE, str(tree)], capture_output=True,
                          text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", action="append", type=Path, default=[],
                        help="another citrace tree to measure in the same run")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    trees = [ROOT, *args.against]
    figures: dict[Path, list[dict[str, float]]] = {tree: [] for tree in trees}
    for number in range(1, args.rounds + 1):
        for tree in trees:
            got = measure(tree)
            figures[tree].append(got)
            print(f"round {number}: {tree}: a check {got['check_ms']:.2f} ms, "
                  f"a call {got['call_us']:.1f} us")
    medians = {tree: {key: statistics.median(f[key] for f in found) for key in found[0]}
               for tree, found in figures.items()}
    for tree, median in medians.items():
        line = (f"median: {tree}: a check {median['check_ms']:.2f} ms, "
                f"a call {median['call_us']:.1f} us")
        if tree != ROOT:
            mine = medians[ROOT]
            line += (f"; this tree / it: check {mine['check_ms'] / median['check_ms']:.2f},"
                     f" call {mine['call_us'] / median['call_us']:.2f}")
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
