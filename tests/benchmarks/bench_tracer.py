"""Benchmark of the probe on a real suite: more-itertools 11.2.1's own tests.

Downloads the sdist, then for each CPython asked for runs ``python -m unittest -v`` in the
unpacked directory untraced, under ``citrace trace`` (each backend asked for) and under
MonkeyType (``monkeytype run -m unittest -v`` from a scratch virtualenv; once per version,
it is slow), and prints wall and CPU time ratios, trace sizes, functions covered, and
whether every test had the same outcome as untraced.

    .venv/bin/python tests/benchmarks/bench_tracer.py [--versions 3.11,3.12,3.13]
        [--backends auto,setprofile] [--skip-monkeytype] [--floor] [--repeat N] [--work DIR]
        [--baseline /path/to/older/checkout/.venv/bin/citrace]

``--baseline`` runs another citrace (an older checkout's, installed in its own virtualenv)
beside this one in every round, and prints this one's time over the baseline's, round by
round: how much a change of the probe costs, measured side by side.

Timings on a shared machine are noisy: ``--repeat`` runs the untraced and traced suites
N times, interleaved, and keeps the fastest; CPU time (user + system of the children) is
printed beside wall time because it suffers less from other load.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tracer.traces import read_traces  # noqa: E402

PROJECT, VERSION, PACKAGE = "more-itertools", "11.2.1", "more_itertools"
CITRACE = [str(Path(sys.executable).with_name("citrace")), "trace"]  # the installed command
# `unittest -v` prints "test_x (tests.test_mod.Class.test_x) ... ok", or the name on a line
# of its own followed by the docstring's first line ("Doctest: more_itertools.more.chunked"
# for a doctest, whose id is only its module) and the dots.
RESULT = re.compile(r"^(\w+ \([\w.]+\))(?:\n(.*?))? \.\.\. "
                    r"(ok|FAIL|ERROR|skipped|expected failure|unexpected success)", re.M)


@dataclass
class Run:
    label: str
    wall: float
    cpu: float
    outcomes: dict[str, str]
    returncode: int
    size: int = 0  # bytes of trace (or MonkeyType database)
    functions: set[tuple[str, str]] = field(default_factory=set)
    note: str = ""


def main() -> int:
    args = _arguments()
    work = args.work.resolve()
    source = acquire(work)
    print(f"{PROJECT} {VERSION}: {source}", flush=True)
    results: list[tuple[str, list[Run]]] = []
    for version in args.versions.split(","):
        python = interpreter(version)
        if python is None:
            print(f"python{version}: not found, skipped", flush=True)
            continue
        runs = bench_version(python, source, work, args)
        results.append((version, runs))
        report([(version, runs)])
    print("\n=== summary ===")
    report(results)
    return 0


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--versions", default="3.11,3.12,3.13")
    parser.add_argument("--backends", default="auto",
                        help="comma-separated citrace backends to run (auto, setprofile, "
                             "monitoring)")
    parser.add_argument("--skip-monkeytype", action="store_true")
    parser.add_argument("--floor", action="store_true",
                        help="also run under a profile function that does nothing: the least "
                             "any setprofile tracer can cost")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--work", type=Path, default=Path("/tmp/citrace-bench"))
    parser.add_argument("--baseline", type=Path,
                        help="the citrace command of another checkout, run beside this one")
    return parser.parse_args()


def acquire(work: Path) -> Path:
    """The unpacked sdist (downloaded once into ``work``)."""
    source = work / f"{PACKAGE}-{VERSION}"
    if (source / PACKAGE).is_dir():
        return source
    work.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary",
                    ":all:", f"{PROJECT}=={VERSION}", "-d", str(work)], check=True)
    [archive] = work.glob(f"{PACKAGE}-{VERSION}.tar.gz")
    with tarfile.open(archive) as tar:
        tar.extractall(work, filter="data")
    return source


def interpreter(version: str) -> Path | None:
    for candidate in sorted(Path.home().glob(f".pyenv/versions/{version}.*/bin/python{version}")):
        return candidate
    found = shutil.which(f"python{version}")
    return Path(found) if found else None


def bench_version(python: Path, source: Path, work: Path, args: argparse.Namespace) -> list[Run]:
    version = subprocess.run([str(python), "-c", "import sys; print(sys.version.split()[0])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    # Compiled once beforehand, so no run pays for writing the .pyc files.
    subprocess.run([str(python), "-m", "compileall", "-q", PACKAGE, "tests"], cwd=source,
                   check=True)
    suite = [str(python), "-m", "unittest", "-v"]
    best: dict[str, Run] = {}
    for _ in range(args.repeat):
        untraced = timed("untraced", suite, source)
        _keep_fastest(best, untraced)
        if args.floor:
            _keep_fastest(best, timed("setprofile floor", suite, source,
                                      env={"PYTHONPATH": str(_floor_dir(work))}))
        for backend in args.backends.split(","):
            out = work / f"trace-{version}-{backend}"
            shutil.rmtree(out, ignore_errors=True)
            command = [*CITRACE, "--root", str(source), "--out", str(out), "--backend",
                       backend, "-q", "--", *suite]
            run = timed(f"citrace {backend}", command, source)
            _describe_trace(run, out)
            _keep_fastest(best, run)
            if args.baseline is not None:
                command = [str(args.baseline), "trace", *command[len(CITRACE):]]
                shutil.rmtree(out, ignore_errors=True)
                base = timed(f"baseline {backend}", command, source)
                _describe_trace(base, out)
                _keep_fastest(best, base)
                print(f"    this round, {backend} over baseline: {run.wall / base.wall:.2f}x "
                      f"wall, {run.cpu / base.cpu:.2f}x cpu", flush=True)
            # Beside the best-of figures: this round's ratio, to show how much load moved it.
            print(f"    this round: {run.wall / untraced.wall:.2f}x wall, "
                  f"{run.cpu / untraced.cpu:.2f}x cpu", flush=True)
    runs = list(best.values())
    if not args.skip_monkeytype:
        runs.append(monkeytype(python, version, source, work))
    for run in runs:
        run.label = f"{version} {run.label}"
    return runs


def _floor_dir(work: Path) -> Path:
    """A sitecustomize that sets a profile function doing nothing, in every thread."""
    directory = work / "floor"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sitecustomize.py").write_text(
        "import sys, threading\n\ndef _nothing(frame, event, arg):\n    pass\n\n"
        "threading.setprofile(_nothing)\nsys.setprofile(_nothing)\n")
    return directory


def _keep_fastest(best: dict[str, Run], run: Run) -> None:
    if run.label not in best or run.wall < best[run.label].wall:
        best[run.label] = run
    print(f"  {run.label}: {run.wall:.1f} s wall, {run.cpu:.1f} s cpu", flush=True)


def timed(label: str, command: list[str], cwd: Path, env: dict[str, str] | None = None) -> Run:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    outcomes = {f"{match[1]} {match[2] or ''}".strip(): match[3]
                for match in RESULT.finditer(done.stderr)}
    return Run(label, wall, cpu, outcomes, done.returncode)


def _describe_trace(run: Run, out: Path) -> None:
    traces = read_traces(out)
    run.size = sum(path.stat().st_size for path in out.glob("trace-*.jsonl"))
    run.functions = {(c.function.module, c.function.qualname) for c in traces.calls
                     if c.function.module.startswith(PACKAGE)}
    backends = set()
    for path in out.glob("trace-*.jsonl"):
        with path.open() as stream:
            backends.add(json.loads(stream.readline()).get("backend", "?"))
    run.note = f"backend {'/'.join(sorted(backends))}, {len(traces.calls)} calls, " \
               f"errors {traces.stats.get('errors', 0)}"


def monkeytype(python: Path, version: str, source: Path, work: Path) -> Run:
    venv = work / f"monkeytype-venv-{version}"
    if not (venv / "bin" / "monkeytype").exists():
        subprocess.run([str(python), "-m", "venv", str(venv)], check=True)
        installed = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                                    "monkeytype"], capture_output=True, text=True, check=False)
        if installed.returncode != 0:
            last = (installed.stderr.strip().splitlines() or ["?"])[-1]
            return Run("monkeytype", 0, 0, {}, -1, note=f"not installed: {last}")
    database = work / f"monkeytype-{version}.sqlite3"
    database.unlink(missing_ok=True)
    run = timed("monkeytype", [str(venv / "bin" / "monkeytype"), "run", "-m", "unittest", "-v"],
                source, env={"MT_DB_PATH": str(database)})
    print(f"  {run.label}: {run.wall:.1f} s wall, {run.cpu:.1f} s cpu", flush=True)
    if database.exists():
        run.size = database.stat().st_size
        with sqlite3.connect(database) as db:
            rows = db.execute("SELECT DISTINCT module, qualname FROM monkeytype_call_traces")
            run.functions = {(m, q) for m, q in rows if m.startswith(PACKAGE)}
    run.note = f"monkeytype exit {run.returncode}"
    return run


def report(results: list[tuple[str, list[Run]]]) -> None:
    print(f"{'run':<30} {'wall s':>8} {'ratio':>6} {'cpu s':>8} {'ratio':>6} "
          f"{'tests':>6} {'same':>5} {'MB':>7} {'funcs':>6}  notes")
    for _version, runs in results:
        base = next(run for run in runs if run.label.endswith("untraced"))
        for run in runs:
            same = "yes" if run.outcomes == base.outcomes else _differences(run, base)
            ratio = run.wall / base.wall if base.wall else 0
            cpu_ratio = run.cpu / base.cpu if base.cpu else 0
            print(f"{run.label:<30} {run.wall:>8.1f} {ratio:>6.2f} {run.cpu:>8.1f} "
                  f"{cpu_ratio:>6.2f} {len(run.outcomes):>6} {same:>5} {run.size / 1e6:>7.1f} "
                  f"{len(run.functions):>6}  {run.note}")
        mt = next((run for run in runs if run.label.endswith("monkeytype")), None)
        for run in runs:
            if mt is not None and mt.functions and run.label.split()[1] == "citrace":
                missing = sorted(".".join(f) for f in mt.functions - run.functions)
                extra = len(run.functions - mt.functions)
                print(f"  {run.label}: of {len(mt.functions)} functions MonkeyType recorded, "
                      f"{len(missing)} missing{': ' + ', '.join(missing) if missing else ''}; "
                      f"{extra} recorded that MonkeyType did not")


def _differences(run: Run, base: Run) -> str:
    changed = [test for test in base.outcomes if run.outcomes.get(test) != base.outcomes[test]]
    extra = [test for test in run.outcomes if test not in base.outcomes]
    if changed or extra:
        print(f"  {run.label}: outcomes differ: {(changed + extra)[:10]}")
    return f"NO({len(changed) + len(extra)})"


if __name__ == "__main__":
    sys.exit(main())
