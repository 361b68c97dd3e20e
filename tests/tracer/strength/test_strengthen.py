"""Validation makes a test strong: asserts chosen by the mutants they kill, derived inputs
where recorded ones miss a mutant, asserts that hold only where mined dropped."""

from __future__ import annotations

import dataclasses
import sys

from tracer.emit import drops
from tracer.emit.validate import Strengthening, validate_candidate
from tracer.records import Candidate, FunctionId
from tracer.strength import strengthen

PYTHON = sys.executable
SIGN = 'def sign(x):\n    """1, -1 or 0: the sign of x."""\n'
SIGN_BODY = "    if x > 0:\n        return 1\n    if x < 0:\n        return -1\n    return 0\n"


def structured(prompt: str, solution: str, blocks: list[str]) -> Candidate:
    indented = tuple(f"    {block}\n" for block in blocks)
    entry = prompt.split("(")[0].removeprefix("def ")
    return Candidate(FunctionId("m", entry, "/m.py", 1), "m.py", entry, prompt, solution,
                     "def check(candidate):\n" + "".join(indented), len(blocks), len(blocks),
                     blocks=indented, assert_kinds=("returns",) * len(blocks))


def test_a_derived_input_is_kept_for_the_mutant_no_recorded_call_kills(tmp_path) -> None:
    # Recorded: 5 and -3. Nothing tells `x > 0` from `x >= 0`: only sign(0) does.
    candidate = structured(SIGN, SIGN_BODY, ["assert candidate(5) == 1",
                                             "assert candidate(-3) == -1"])
    result = validate_candidate(candidate, python=PYTHON, work_dir=tmp_path)
    kept = result.candidate
    assert kept is not None and kept.mutation is not None
    assert "    assert candidate(0) == 0\n" in kept.blocks
    assert kept.assert_sources[:2] == ("recorded", "recorded")
    assert "augmented" in kept.assert_sources
    assert kept.mutation.score == 1.0 and kept.mutation.killed == kept.mutation.mutants


def test_without_augmentation_the_surviving_mutants_are_listed(tmp_path) -> None:
    candidate = structured(SIGN, SIGN_BODY, ["assert candidate(5) == 1",
                                             "assert candidate(-3) == -1"])
    result = validate_candidate(candidate, python=PYTHON, work_dir=tmp_path,
                                strength=Strengthening(augment=False))
    kept = result.candidate
    assert kept is not None and kept.mutation is not None
    assert kept.assert_sources == ("recorded", "recorded")
    assert kept.mutation.score < 1.0
    assert any(s.description in ("> -> >=", "< -> <=") for s in kept.mutation.survivors)


def test_at_most_max_asserts_are_kept_those_that_kill_first(tmp_path) -> None:
    blocks = [f"assert candidate({n}) == 1" for n in range(1, 8)] + [
        "assert candidate(-2) == -1", "assert candidate(0) == 0"]
    result = validate_candidate(structured(SIGN, SIGN_BODY, blocks), python=PYTHON,
                                work_dir=tmp_path, strength=Strengthening(max_asserts=3))
    kept = result.candidate
    assert kept is not None and kept.n_asserts == 3
    assert {"    assert candidate(-2) == -1\n", "    assert candidate(0) == 0\n"} <= set(
        kept.blocks)


def test_an_assert_on_where_it_runs_is_dropped(tmp_path) -> None:
    prompt = 'def label(name):\n    """The name, with the local time zone."""\n'
    solution = "    import time\n    return name + '@' + time.tzname[0]\n"
    candidate = structured(prompt, solution, ["assert candidate('a') == 'a@UTC'"])
    result = validate_candidate(candidate, python=PYTHON, work_dir=tmp_path)
    assert result.reason == drops.ENVIRONMENT_DEPENDENT


def test_a_function_called_with_no_argument_is_a_constant(tmp_path) -> None:
    prompt = 'def version():\n    """The version."""\n'
    candidate = structured(prompt, "    return '1.2'\n", ["assert candidate() == '1.2'"])
    result = validate_candidate(candidate, python=PYTHON, work_dir=tmp_path)
    assert result.reason == drops.CONSTANT_FUNCTION


def test_code_that_runs_on_its_own_python_only_is_checked_in_a_world_of_that_python(
        tmp_path) -> None:
    # Every block fails on the other Python: that Python is not one the code was written
    # for, so the changed world keeps the traced Python and changes the rest.
    prompt = 'def twice(x):\n    """x twice, on the Python it was written for."""\n'
    solution = (f"    import sys\n    if sys.version_info[:2] != {sys.version_info[:2]!r}:\n"
                "        raise RuntimeError('unsupported')\n    return 2 * x\n")
    candidate = structured(prompt, solution, ["assert candidate(2) == 4",
                                              "assert candidate(-1) == -2"])
    result = validate_candidate(candidate, python=PYTHON, work_dir=tmp_path)
    assert result.reason is None and result.candidate is not None
    worlds = [r for r in result.candidate.validation_runs if r.kind.startswith("world:")]
    assert worlds[-1].kind == "world:timezone"


def test_a_test_longer_than_the_bound_is_dropped(tmp_path) -> None:
    prompt = 'def size(text):\n    """How long text is."""\n'
    blocks = [f"assert candidate({'x' * 900 + str(n)!r}) == {901 + len(str(n)) - 1}"
              for n in range(12)]
    candidate = structured(prompt, "    return len(text)\n", blocks)
    result = validate_candidate(candidate, python=PYTHON, work_dir=tmp_path)
    assert result.candidate is not None and len(result.candidate.test) <= 8000
    assert result.candidate.n_asserts < 12
    huge = structured(prompt, "    return len(text)\n",
                      [f"assert candidate({'y' * 9000!r}) == 9000"])
    assert validate_candidate(huge, python=PYTHON, work_dir=tmp_path).reason == \
        drops.TEST_TOO_LONG


def test_the_rest_of_the_budget_goes_where_a_mutant_outlives_the_first_calls(
        tmp_path, monkeypatch) -> None:
    # No first calls at all: `x > 0` against `x >= 0` is still open after them, so the rest
    # of the derived calls are tried, and sign(0) among them kills it.
    monkeypatch.setattr(strengthen, "FIRST_CALLS", 0)
    candidate = structured(SIGN, SIGN_BODY, ["assert candidate(5) == 1",
                                             "assert candidate(-3) == -1"])
    kept = validate_candidate(candidate, python=PYTHON, work_dir=tmp_path).candidate
    assert kept is not None and kept.mutation is not None
    assert "    assert candidate(0) == 0\n" in kept.blocks
    assert kept.mutation.score == 1.0, kept.mutation.survivors


def test_a_mutant_only_two_changed_inputs_kill_is_killed_by_the_second_round(tmp_path) -> None:
    # Recorded: both(3, 4). One input changed never reaches the first return; both do.
    prompt = 'def both(a, b):\n    """Whether a and b are both zero, in words."""\n'
    body = "    if a == 0 and b == 0:\n        return 'both'\n    return 'no'\n"
    result = validate_candidate(structured(prompt, body, ["assert candidate(3, 4) == 'no'"]),
                                python=PYTHON, work_dir=tmp_path)
    kept = result.candidate
    assert kept is not None and kept.mutation is not None
    assert "    assert candidate(0, 0) == 'both'\n" in kept.blocks
    assert kept.mutation.score == 1.0, kept.mutation.survivors


def test_a_generator_is_given_derived_inputs_too(tmp_path) -> None:
    prompt = 'def evens(items):\n    """The items at even positions."""\n'
    body = "    for index, item in enumerate(items):\n        if index % 2 == 0:\n" \
           "            yield item\n"
    candidate = structured(prompt, body, ["assert list(candidate([1, 2, 3, 4])) == [1, 3]"])
    candidate = dataclasses.replace(candidate, assert_kinds=("yields",))
    kept = validate_candidate(candidate, python=PYTHON, work_dir=tmp_path).candidate
    assert kept is not None and kept.mutation is not None
    assert "augmented" in kept.assert_sources and kept.n_asserts >= 3
    assert set(kept.assert_kinds) == {"yields"}


def test_the_boundary_a_body_names_is_tried_where_no_recorded_call_came_near(tmp_path) -> None:
    prompt = 'def size(n):\n    """Whether n is small (under 17) or big."""\n'
    body = "    if n < 17:\n        return 'small'\n    return 'big'\n"
    blocks = ["assert candidate(3) == 'small'", "assert candidate(400) == 'big'"]
    kept = validate_candidate(structured(prompt, body, blocks), python=PYTHON,
                              work_dir=tmp_path).candidate
    assert kept is not None and kept.mutation is not None
    assert "    assert candidate(17) == 'big'\n" in kept.blocks  # kills `<=` and `18`
    assert kept.mutation.score == 1.0, kept.mutation.survivors


def test_an_option_no_recorded_call_passed_is_tried(tmp_path) -> None:
    prompt = 'def label(n, loud=False):\n    """n as a word; in capitals when loud."""\n'
    body = ("    word = 'one' if n == 1 else 'many'\n"
            "    if loud:\n        return word.upper()\n    return word\n")
    blocks = ["assert candidate(1) == 'one'", "assert candidate(5) == 'many'"]
    kept = validate_candidate(structured(prompt, body, blocks), python=PYTHON,
                              work_dir=tmp_path).candidate
    assert kept is not None and kept.mutation is not None
    assert any("loud=True" in block for block in kept.blocks), kept.blocks
    assert kept.mutation.score == 1.0, kept.mutation.survivors


def test_a_problem_whose_canonical_fails_as_one_program_is_dropped(tmp_path) -> None:
    # toolz 0.10.0's partition: a default compared with `is`. The checker passes the test's
    # '__none__' to the completion as a new string; in one program it is the interned one.
    prompt = ('NONE = "__none__"\n\n\n'
              'def fill(value, pad=NONE):\n    """value, or pad when it is given."""\n')
    body = "    if pad is NONE:\n        return value\n    return pad\n"
    blocks = ["assert candidate(1, '__none__') == '__none__'", "assert candidate(1, 2) == 2",
              "assert candidate(3, 'x') == 'x'"]
    def fill(given: list[str]) -> Candidate:
        return dataclasses.replace(structured(prompt, body, given), entry_point="fill")

    result = validate_candidate(fill(blocks), python=PYTHON, work_dir=tmp_path,
                                strength=Strengthening(mutation=False))
    assert result.candidate is None and result.reason == drops.FAILS_AS_ONE_PROGRAM
    kept = validate_candidate(fill(blocks[1:]), python=PYTHON, work_dir=tmp_path,
                              strength=Strengthening(mutation=False))
    assert kept.candidate is not None
    assert ("one program", True) in {(r.kind, r.passed) for r in kept.candidate.validation_runs}
