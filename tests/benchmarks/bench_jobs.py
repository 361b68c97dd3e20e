"""Throughput of ``citrace mine`` with ``--jobs 1`` and ``--jobs 2`` over small projects.

    .venv/bin/python tests/benchmarks/bench_jobs.py [--projects 6] [--jobs 1 2] [--no-sandbox]

Builds PROJECTS tiny real projects (the ones of the batch tests: a package with two
documented functions and a unittest file, built by the fallback recipe), mines them once per
``--jobs`` value into a fresh OUTDIR, and prints projects per minute (wall clock) and
citrace's own overhead per project: everything but the build and test stages, from the
``timings`` of ``repos.jsonl`` (``total`` is the project's wall time as the executor saw it,
worker start-up and result hand-over included).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

OTHER_STAGES = ("acquire", "plan", "trace", "emit", "validate")
REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.miners.batchkit import project_list  # noqa: E402 - after the path is set


def main() -> int:
    args = _arguments()
    with tempfile.TemporaryDirectory(prefix="citrace-bench-") as scratch:
        root = Path(scratch)
        listing = project_list(root / "projects", args.projects)
        rows = [_bench(listing, root / f"out-j{jobs}", jobs, no_sandbox=args.no_sandbox)
                for jobs in args.jobs]
    print(f"\n{args.projects} tiny projects, {os.cpu_count()} CPUs"
          f"{', no sandbox' if args.no_sandbox else ''}")
    print(f"{'jobs':>4}  {'wall s':>7}  {'projects/min':>12}  {'build s':>8}  {'test s':>7}  "
          f"{'overhead s/project':>18}  {'of which stages':>15}")
    for row in rows:
        print(f"{row['jobs']:>4}  {row['wall']:>7.1f}  {row['per_minute']:>12.1f}  "
              f"{row['build']:>8.2f}  {row['test']:>7.2f}  {row['overhead']:>18.2f}  "
              f"{row['other_stages']:>15.2f}")
    print("overhead = total - build - test per project (mean); 'of which stages' = acquire, "
          "plan, trace, emit, validate; the rest is worker start-up and hand-over")
    print("mean seconds per project in each other stage:")
    for row in rows:
        print(f"  --jobs {row['jobs']}: " + ", ".join(
            f"{stage} {row['stages'][stage]:.2f}" for stage in OTHER_STAGES)
            + f"; outside any stage {row['overhead'] - row['other_stages']:.2f}"
            + f"; overhead median {row['overhead_median']:.2f} (the first project of each job "
              f"also starts its worker cold)")
    return 0 if all(row["ok"] == args.projects for row in rows) else 1


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--projects", type=int, default=6)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--no-sandbox", action="store_true",
                        help="run projects without the sandbox (CITRACE_SANDBOX=none)")
    return parser.parse_args()


def _bench(listing: Path, out: Path, jobs: int, *, no_sandbox: bool) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    unsafe = []
    if no_sandbox:
        env.update(CITRACE_SANDBOX="none")
        unsafe = ["--unsafe-no-sandbox"]
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "miners.cli.main", "mine", str(listing), "-o",
                           str(out), "--jobs", str(jobs), *unsafe], env=env, cwd=REPO,
                          capture_output=True, text=True)
    wall = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"citrace mine --jobs {jobs} failed:\n{done.stderr}")
    repos = [json.loads(line) for line in (out / "repos.jsonl").read_text().splitlines()]
    timings = [r["timings"] for r in repos]
    build = statistics.mean(t.get("build", 0.0) for t in timings)
    test = statistics.mean(t.get("test", 0.0) for t in timings)
    total = statistics.mean(t.get("total", 0.0) for t in timings)
    stages = statistics.mean(sum(v for k, v in t.items() if k not in ("build", "test", "total"))
                             for t in timings)
    per_stage = {stage: statistics.mean(t.get(stage, 0.0) for t in timings)
                 for stage in OTHER_STAGES}
    overhead_median = statistics.median(t.get("total", 0.0) - t.get("build", 0.0)
                                        - t.get("test", 0.0) for t in timings)
    print(f"--jobs {jobs}: {len(repos)} projects in {wall:.1f} s "
          f"({sum(r['status'] == 'ok' for r in repos)} ok)", file=sys.stderr)
    for failed in (r for r in repos if r["status"] != "ok"):
        print(f"  {failed['spec']}: failed at {failed['stage']} ({failed['cause']}): "
              f"{failed['reason']}", file=sys.stderr)
    return {"jobs": jobs, "wall": wall, "per_minute": len(repos) / wall * 60, "build": build,
            "test": test, "overhead": total - build - test, "other_stages": stages,
            "ok": sum(r["status"] == "ok" for r in repos), "stages": per_stage,
            "overhead_median": overhead_median}


if __name__ == "__main__":
    sys.exit(main())
