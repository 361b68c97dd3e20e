"""A call that returned an iterator object (which the probe records as opaque) is replayed
at validation, in the sandbox, and asserted like a generator's; or dropped, with a reason."""

from __future__ import annotations

import sys
from collections import Counter

import pytest

from tracer.emit import drops
from tracer.emit.candidates import build_candidates
from tracer.emit.replay import source
from tracer.emit.validate import validate_all
from tracer.probe import encode_value
from tracer.records import Candidate

PYTHON = sys.executable

MODULE = '''
import itertools
from functools import partial


def take(n, iterable):
    """The first n items."""
    return list(itertools.islice(iterable, n))


def chunked(iterable, n):
    """Lists of n items of iterable, the last one shorter (more-itertools' own)."""
    return iter(partial(take, n, iter(iterable)), [])


def multiples(step):
    """step, 2 * step, 3 * step... without end."""
    return map(lambda k: k * step, itertools.count(1))


def inverses(numbers):
    """1 / n for each of numbers, lazily."""
    return map(lambda n: 1 / n, numbers)


def boxed(numbers):
    """Each number in a box."""
    return map(Box, numbers)


class Box:
    def __init__(self, value):
        self.value = value
'''

ITERATOR = {"opaque": "builtins.callable_iterator", "why": "type"}
MAP = {"opaque": "builtins.map", "why": "type"}


def candidates_of(project, traces, calls: dict[str, list[tuple[dict, dict]]]) -> list[Candidate]:
    project.write("lazy.py", MODULE)
    for name, recorded in calls.items():
        function = traces.fn("lazy.py", name)
        for args, result in recorded:
            traces.call(function, args, result)
    report = build_candidates(traces.traceset(), checkout=project.root, roots=(),
                              project_packages=frozenset())
    assert report.calls_dropped == Counter()
    return report.candidates


def test_an_iterator_that_stops_within_the_limit_is_asserted_whole(project, traces,
                                                                    tmp_path) -> None:
    emitted = candidates_of(project, traces, {"chunked": [
        ({"iterable": "[1, 2, 3, 4, 5]", "n": "2"}, ITERATOR),
        ({"iterable": "[]", "n": "3"}, ITERATOR)]})
    assert [c.assert_kinds for c in emitted] == [("replay", "replay")]  # the bare calls
    problems, dropped = validate_all(emitted, python=PYTHON, work_dir=tmp_path)
    assert dropped == Counter()
    [problem] = problems
    # The recorded calls first; inputs derived from them follow (``tracer.strength``).
    assert problem.test.startswith(
        "def check(candidate):\n"
        "    assert list(candidate([], 3)) == []\n"
        "    assert list(candidate([1, 2, 3, 4, 5], 2)) == [[1, 2], [3, 4], [5]]\n")
    assert problem.assert_sources[:2] == ("recorded", "recorded")
    assert set(problem.assert_kinds) == {"yields"}
    # Two replays of each call, kept with the problem (its meta's validation_runs).
    replays = [run.kind for run in problem.validation_runs if run.kind.startswith("replay")]
    assert replays == ["replay:1", "replay:1", "replay:2", "replay:2"]


def test_an_unbounded_iterator_is_asserted_through_islice(project, traces, tmp_path) -> None:
    emitted = candidates_of(project, traces, {"multiples": [({"step": "3"}, MAP)]})
    problems, dropped = validate_all(emitted, python=PYTHON, work_dir=tmp_path)
    assert dropped == Counter()
    [problem] = problems
    assert problem.test.startswith(
        "import itertools\n\n\n"
        "def check(candidate):\n"
        "    assert list(itertools.islice(candidate(3), 10)) == "
        "[3, 6, 9, 12, 15, 18, 21, 24, 27, 30]\n")
    # Derived steps are drawn through islice as the recorded one is.
    assert all("list(itertools.islice(candidate(" in block for block in problem.blocks)


def test_floats_drawn_compare_with_a_tolerance(project, traces, tmp_path) -> None:
    emitted = candidates_of(project, traces, {"inverses": [({"numbers": "[4, 8]"}, MAP)]})
    [problem], _ = validate_all(emitted, python=PYTHON, work_dir=tmp_path)
    assert "    assert _close(list(candidate([4, 8])), [0.25, 0.125])\n" in problem.test
    assert "def _close(" in problem.test


def test_a_replay_that_raises_drops_the_call(project, traces, tmp_path) -> None:
    emitted = candidates_of(project, traces, {"inverses": [
        ({"numbers": "[1, 0]"}, MAP),  # 1 / 0 on the second value drawn
        ({"numbers": "[2]"}, MAP)]})
    [problem], dropped = validate_all(emitted, python=PYTHON, work_dir=tmp_path)
    assert dropped == Counter({drops.REPLAY_FAILED: 1})
    assert "    assert _close(list(candidate([2])), [0.5])\n" in problem.test
    assert "candidate([1, 0])" not in problem.test
    assert problem.assert_sources.count("recorded") == 1


def test_a_function_whose_every_replay_fails_is_dropped(project, traces, tmp_path) -> None:
    emitted = candidates_of(project, traces, {"inverses": [({"numbers": "[0]"}, MAP)]})
    problems, dropped = validate_all(emitted, python=PYTHON, work_dir=tmp_path)
    assert problems == []
    assert dropped == Counter({drops.REPLAY_FAILED: 1, drops.NO_ASSERTS_LEFT: 1})


def test_values_that_are_not_literals_drop_the_call(project, traces, tmp_path) -> None:
    emitted = candidates_of(project, traces, {"boxed": [({"numbers": "[1]"}, MAP)]})
    problems, dropped = validate_all(emitted, python=PYTHON, work_dir=tmp_path)
    assert problems == []
    assert dropped == Counter({drops.OPAQUE_VALUE: 1, drops.NO_ASSERTS_LEFT: 1})


def test_a_replay_that_draws_other_values_the_second_time_drops_the_call(project, traces,
                                                                        tmp_path) -> None:
    project.write("clock.py", '''
        import time


        def ticks(n):
            """n readings of the clock."""
            return iter([time.perf_counter_ns()] * n)
        ''')
    traces.call(traces.fn("clock.py", "ticks"), {"n": "2"}, ITERATOR)
    report = build_candidates(traces.traceset(), checkout=project.root, roots=(),
                              project_packages=frozenset())
    problems, dropped = validate_all(report.candidates, python=PYTHON, work_dir=tmp_path)
    assert problems == []
    assert dropped == Counter({drops.REPLAY_FAILED: 1, drops.NO_ASSERTS_LEFT: 1})


@pytest.mark.parametrize("value", [
    None, True, -3, 0.1, float("nan"), float("inf"), -float("inf"), complex(1, -0.5), "é",
    b"\x00", bytearray(b"ab"), [1, (2,)], (), {"b": {3, 1}}, set(), frozenset({"y", "x"}),
    frozenset(), [[1.5, {2: None}]],
])
def test_values_drawn_are_written_as_the_probe_writes_them(value: object) -> None:
    assert source(value) == encode_value(value)["py"]


def test_other_values_have_no_source() -> None:
    assert source(object()) is None
    assert source([1, object()]) is None
    assert source({1: range(2)}) is None
