"""How long loading a large SPEC list takes: 50,000 lines as ``.txt`` and as ``.jsonl``
(half of the lines with per-project settings), against merely reading and splitting the
same file, so the ratio shows what parsing costs over I/O.

    .venv/bin/python tests/benchmarks/bench_specs.py [--lines 50000] [--rounds 5]

Each line is the median of the rounds, in CPU seconds of this process.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from miners.specs import load_specs  # noqa: E402


def spec_text(number: int) -> str:
    if number % 3 == 0:
        return f"gh:owner{number}/repo@v{number}"
    if number % 3 == 1:
        return f"pypi:project-{number}=={number % 7}.{number % 13}"
    return f"https://git.example.org/group/project{number}.git@main"


def write_lists(directory: Path, lines: int) -> tuple[Path, Path]:
    txt = directory / "big.txt"
    txt.write_text("# a big list\n" + "".join(f"{spec_text(i)}\n" for i in range(lines)))
    jsonl = directory / "big.jsonl"
    with jsonl.open("w") as out:
        for i in range(lines):
            item: dict[str, object] = {"spec": spec_text(i)}
            if i % 2:
                item.update(timeout=600 + i % 100, python="3.11")
            out.write(json.dumps(item) + "\n")
    return txt, jsonl


def median_seconds(action: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.process_time()
        action()
        times.append(time.process_time() - started)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        txt, jsonl = write_lists(directory, args.lines)
        for path in (txt, jsonl):
            assert len(load_specs([str(path)], cwd=directory)) == args.lines
            read = median_seconds(lambda p=path: p.read_text().splitlines(), args.rounds)  # type: ignore[misc]
            load = median_seconds(lambda p=path: load_specs([str(p)], cwd=directory),  # type: ignore[misc]
                                  args.rounds)
            print(f"{path.name:10} {args.lines:,} lines: load_specs {load:.3f} s, "
                  f"read+split {read:.4f} s, ratio {load / max(read, 1e-9):.0f}x, "
                  f"{args.lines / load:,.0f} specs/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
