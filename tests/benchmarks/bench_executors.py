"""What each executor costs per project, beyond the project's own work.

Mines lists of projects that end at once (their metadata says Python 2 only: they fail at
``plan``, before any build), so a run's wall time is nearly all the executor's own: starting
workers, handing projects over, collecting results. Each executor mines a short and a long
list; the difference of the two wall times over the difference of their lengths is the
marginal cost of one project, which leaves out what a run pays once (Ray's start-up).

    .venv/bin/python tests/benchmarks/bench_executors.py [--rounds 2] [--compare OTHER_CHECKOUT]

With ``--compare``, the same is measured, interleaved, with the citrace of another checkout
(its own ``.venv``), so that a change is measured against its parent in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SETUP = ("from setuptools import setup\n"
         "setup(name='old{n}', version='1.0', classifiers=[\n"
         "    'Programming Language :: Python :: 2.7',\n"
         "    'Programming Language :: Python :: 2 :: Only'])\n")


def _projects(root: Path, count: int) -> Path:
    listing = root / f"list-{count}.txt"
    lines = []
    for n in range(count):
        project = root / f"p{count}-{n}"
        project.mkdir(parents=True)
        (project / "setup.py").write_text(SETUP.format(n=n))
        lines.append(str(project))
    listing.write_text("\n".join(lines) + "\n")
    return listing


def _wall(checkout: Path, listing: Path, out: Path, executor: list[str]) -> float:
    python = checkout / ".venv" / "bin" / "python"
    main = "miners.cli.main" if (checkout / "miners" / "cli" / "main.py").exists() \
        else "miners.cli"
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    started = time.monotonic()
    done = subprocess.run([str(python), "-m", main, "mine", str(listing), "-o", str(out),
                           *executor], env=env, cwd=checkout, capture_output=True, text=True)
    wall = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"citrace mine failed in {checkout}:\n{done.stderr[-2000:]}")
    causes = {json.loads(line)["cause"] for line in (out / "repos.jsonl").open()}
    if causes != {"python2_only"}:
        sys.exit(f"unexpected outcomes {causes} in {out}")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", type=int, default=6)
    parser.add_argument("--long", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--compare", type=Path, help="another checkout, with its .venv")
    parser.add_argument("--executors", default="local,ray", help="which: local, ray or both")
    args = parser.parse_args()
    known = {"local": ("local --jobs 2", ["--jobs", "2"]), "ray": ("ray", ["--executor", "ray"])}
    executors = dict(known[name] for name in args.executors.split(","))
    trees = {"this": REPO, **({"other": args.compare.resolve()} if args.compare else {})}
    with tempfile.TemporaryDirectory(prefix="citrace-bench-executors-") as scratch:
        root = Path(scratch)
        lists = {n: _projects(root, n) for n in (args.short, args.long)}
        print(f"marginal seconds per project ({args.short} and {args.long} projects, "
              f"each ending at plan); per round:")
        for label, flags in executors.items():
            for round_ in range(1, args.rounds + 1):
                row = []
                for tree, checkout in trees.items():
                    walls = {n: _wall(checkout, listing, root / f"out-{tree}-{label}-{round_}-{n}"
                                      .replace(" ", "_"), flags)
                             for n, listing in lists.items()}
                    per = (walls[args.long] - walls[args.short]) / (args.long - args.short)
                    row.append(f"{tree}: {per:.3f} s (walls {walls[args.short]:.1f} s, "
                               f"{walls[args.long]:.1f} s)")
                print(f"  {label:<15} round {round_}: " + "; ".join(row))


if __name__ == "__main__":
    main()
