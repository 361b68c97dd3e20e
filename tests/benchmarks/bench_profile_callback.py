"""Micro-benchmark of the setprofile probe's callback on a call-heavy, generator-heavy loop.

The more-itertools benchmark (bench_tracer.py) takes minutes and its ratios drift with the
machine's load; this one isolates what the callback itself costs per profiler event, which
is what the probe's hot path is tuned for. It runs one workload (a traced package whose
generators are resumed millions of times from a loop that also calls C functions) three
ways, interleaved: untraced, under a profile function that does nothing (the floor of the
mechanism), and under the probe (setprofile backend), and prints CPU times and ratios.

With ``--instructions`` it also counts machine instructions with valgrind's callgrind
(deterministic, unlike times on a shared machine) on a smaller workload, and prints the
instructions per profiler event the probe adds above the floor.

    .venv/bin/python tests/benchmarks/bench_profile_callback.py [--python python3.11]
        [--size N] [--repeat N] [--instructions] [--compare OLD_PROBE.py]

``--compare`` measures a second probe file side by side, e.g. an earlier version:
``git show REV:tracer/probe.py > /tmp/old_probe.py``.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROBE = REPO / "tracer" / "probe.py"

# The traced package: generators driving generators, as in itertools-style libraries.
PACKAGE = textwrap.dedent("""\
    def naturals(start, step):
        value = start
        while True:
            yield value
            value += step

    def multiples(k, limit):
        for value in naturals(k, k):
            if value >= limit:
                return
            yield value

    def total_of_multiples(k, limit):
        return sum(multiples(k, limit))

    def label(i):
        return str(i) + ":" + str(len(str(i)))
    """)

# Run as `python runner.py MODE SIZE WORK`: MODE is untraced, floor, probe or count.
RUNNER = textwrap.dedent("""\
    import importlib.util, sys, time
    mode, size, work = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    sys.path.insert(0, work)
    import busy

    def workload():
        total = 0
        for k in range(1, size + 1):
            total += busy.total_of_multiples(k, size * 40)
        for i in range(size * 40):
            total += len(busy.label(i))
        return total

    events = {}
    def count(frame, event, arg):
        events[event] = events.get(event, 0) + 1
    def nothing(frame, event, arg):
        pass

    if mode == "probe":
        spec = importlib.util.spec_from_file_location("_citrace_probe", sys.argv[4])
        probe = importlib.util.module_from_spec(spec)
        sys.modules["_citrace_probe"] = probe
        spec.loader.exec_module(probe)
        probe.start({"out_dir": work + "/trace", "roots": [work], "backend": "setprofile"})
    elif mode in ("floor", "count"):
        sys.setprofile(nothing if mode == "floor" else count)
    started = time.process_time()
    result = workload()
    elapsed = time.process_time() - started
    sys.setprofile(None)
    print(elapsed, result, sum(events.values()))
    """)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=_default_python(),
                        help="the interpreter to measure (default: python3.11 if found)")
    parser.add_argument("--size", type=int, default=1200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--instructions", action="store_true",
                        help="also count instructions with valgrind (a smaller workload)")
    parser.add_argument("--compare", type=Path,
                        help="another probe.py to measure side by side (e.g. an older one)")
    args = parser.parse_args()
    probes = {"probe": PROBE}
    if args.compare is not None:
        probes["compared"] = args.compare.resolve()
    with tempfile.TemporaryDirectory(prefix="citrace-callback-") as work:
        (Path(work) / "busy.py").write_text(PACKAGE)
        (Path(work) / "trace").mkdir()
        runner = Path(work) / "runner.py"
        runner.write_text(RUNNER)
        run = Runner(args.python, runner, work)
        events = run.events(args.size)
        print(f"{args.python}: {events:,} profiler events per run (size {args.size})")
        labels = ["untraced", "floor", *probes]
        best: dict[str, float] = {}
        results = set()
        for _ in range(args.repeat):
            for label in labels:
                elapsed, result = run.timed(label, probes.get(label, PROBE), args.size)
                results.add(result)
                best[label] = min(best.get(label, float("inf")), elapsed)
        if len(results) != 1:
            print(f"the workload's result changed under tracing: {sorted(results)}")
            return 1
        print(f"{'run':<10} {'cpu s':>7} {'ratio':>6}  ns/event above the floor "
              f"(best of {args.repeat})")
        for label in labels:
            line = f"{label:<10} {best[label]:>7.2f} {best[label] / best['untraced']:>6.2f}"
            if label in probes:
                line += f"  {(best[label] - best['floor']) / events * 1e9:.0f}"
            print(line)
        if args.instructions:
            _instructions(run, probes, max(args.size // 4, 50))
    return 0


class Runner:
    """Runs the workload in a fresh interpreter, one way (a label) at a time."""

    def __init__(self, python: str, runner: Path, work: str) -> None:
        self.python, self.runner, self.work = python, runner, work

    def command(self, label: str, probe: Path, size: int) -> list[str]:
        mode = "probe" if label not in ("untraced", "floor", "count") else label
        return [self.python, str(self.runner), mode, str(size), self.work, str(probe)]

    def events(self, size: int) -> int:
        return int(self._output(self.command("count", PROBE, size))[2])

    def timed(self, label: str, probe: Path, size: int) -> tuple[float, str]:
        elapsed, result, _ = self._output(self.command(label, probe, size))
        return float(elapsed), result

    def _output(self, command: list[str]) -> list[str]:
        return subprocess.run(command, capture_output=True, text=True,
                              check=True).stdout.split()


def _instructions(run: Runner, probes: dict[str, Path], size: int) -> None:
    """Instructions per event, start-up excluded: the difference between runs of two sizes."""
    if shutil.which("valgrind") is None:
        print("--instructions: valgrind is not installed (apt-get install valgrind)")
        return
    sizes = (size, 2 * size)
    added = run.events(sizes[1]) - run.events(sizes[0])
    per_event = {}
    for label in ("untraced", "floor", *probes):
        counts = []
        for n in sizes:
            done = subprocess.run(["valgrind", "--tool=callgrind",
                                   "--callgrind-out-file=/dev/null",
                                   *run.command(label, probes.get(label, PROBE), n)],
                                  capture_output=True, text=True, check=True)
            counts.append(int(re.search(r"Collected : (\d+)", done.stderr)[1]))
        per_event[label] = (counts[1] - counts[0]) / added
    print(f"instructions per profiler event (callgrind, sizes {sizes[0]} and {sizes[1]}, "
          f"the difference of {added:,} events):")
    print(f"  a profile function that does nothing: "
          f"{per_event['floor'] - per_event['untraced']:.0f}")
    for label in probes:
        print(f"  {label}, above that: {per_event[label] - per_event['floor']:.0f}")


def _default_python() -> str:
    for candidate in sorted(Path.home().glob(".pyenv/versions/3.11.*/bin/python3.11")):
        return str(candidate)
    return shutil.which("python3.11") or sys.executable


if __name__ == "__main__":
    sys.exit(main())
