"""Problems written the way ``tracer.emit`` writes them (every block kind a test can hold),
with their mutation scores and assert sources set, for the output-prediction and
mutation-filter tests."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tracer.dataset.export import write_problems
from tracer.emit import check_helpers
from tracer.records import MutationScore, Problem, ProblemMeta, Survivor

GOLDEN_DIR = Path(__file__).parent / "golden"
UPDATE_GOLDEN = os.environ.get("CITRACE_UPDATE_GOLDEN") == "1"  # as tests/tracer/emit's

ROMAN_PROMPT = '''\
def to_roman(n):
    """Write n (1..3999) in Roman numerals."""
'''
ROMAN_SOLUTION = '''\
    if not 0 < n < 4000:
        raise ValueError("out of range")
    out = ""
    for value, digits in ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"),
                          (90, "XC"), (50, "L"), (40, "XL"), (10, "X"), (9, "IX"),
                          (5, "V"), (4, "IV"), (1, "I")):
        while n >= value:
            out += digits
            n -= value
    return out
'''
# One block per kind: two returns, a raise (kept out of the rows), the order emit writes.
ROMAN_TEST = check_helpers.preamble({check_helpers.RAISED}) + '''\
def check(candidate):
    assert candidate(4) == 'IV'
    assert candidate(1994) == 'MCMXCIV'
    assert _raised(lambda: candidate(0)) == 'ValueError'
'''

STATS_PROMPT = '''\
import datetime


def summary(values, *, since=None):
    """The mean of values, their distinct ones, and the day after since."""
'''
STATS_SOLUTION = '''\
    mean = sum(values) / len(values) if values else float("nan")
    later = since + datetime.timedelta(days=1) if since else None
    return mean, frozenset(values), later
'''
STATS_TEST = check_helpers.preamble({check_helpers.CLOSE, "import:datetime"}) + (
    "def check(candidate):\n"
    "    assert _close(candidate([1, 2], since=datetime.date(2020, 1, 31)), "
    "(1.5, frozenset({1, 2}), datetime.date(2020, 2, 1)))\n"
    "    assert _close(candidate([]), (float('nan'), frozenset(), None))\n")

SORT_PROMPT = '''\
def sort_in_place(xs):
    """Sort xs, and say how many items it has."""
'''
SORT_SOLUTION = '''\
    xs.sort()
    return len(xs)
'''
# A call that changed its argument: the block's variable, the call, the argument after.
SORT_TEST = '''\
def check(candidate):
    xs = [3, 1, 2]
    assert candidate(xs) == 3
    assert xs == [1, 2, 3]
    assert candidate([]) == 0
'''

COUNTER_PROMPT = '''\
class Counter:
    """Counts."""

    def __init__(self):
        self.n = 0

    def bump(self, by):
        """Add by; return the new count."""
'''
COUNTER_SOLUTION = '''\
        self.n += by
        return self.n
'''
# A method problem: its instance made without __init__, then compared by state.
COUNTER_TEST = check_helpers.preamble({check_helpers.OBJECT, check_helpers.STATE}) + '''\
def check(candidate):
    obj = _citrace_object(candidate, {'n': 1})
    assert obj.bump(2) == 3
    assert _citrace_state(obj) == ('Counter', {'n': 3}, None)
'''

PAIRS_PROMPT = '''\
def pairs(xs):
    """Adjacent pairs of xs."""
'''
PAIRS_SOLUTION = '''\
    for a, b in zip(xs, xs[1:]):
        yield a, b
'''
PAIRS_TEST = '''\
def check(candidate):
    assert list(candidate([1, 2, 3])) == [(1, 2), (2, 3)]
'''


def meta(qualname: str, *, mutants: int, killed: int, kind: str = "function",
         sources: tuple[str, ...] = (), n_asserts: int = 1) -> ProblemMeta:
    survivors = tuple(Survivor("compare", 2, "< -> <=") for _ in range(mutants - killed))
    return ProblemMeta(source="./mini", version="0.1", path="mini.py", qualname=qualname,
                       line=1, python="3.11", ci_file="fallback:pytest", n_asserts=n_asserts,
                       n_calls=n_asserts, module="mini", license="MIT", kind=kind,
                       class_name="Counter" if kind == "method" else "",
                       mutation=MutationScore(mutants, killed,
                                              killed / mutants if mutants else 0.0, survivors),
                       assert_sources=sources)


def problems() -> list[Problem]:
    def problem(name: str, prompt: str, solution: str, test: str, entry: str,
                problem_meta: ProblemMeta) -> Problem:
        return Problem(f"citrace/mini-0.1/mini.{name}", prompt, solution, test, entry,
                       problem_meta)

    return [
        problem("to_roman", ROMAN_PROMPT, ROMAN_SOLUTION, ROMAN_TEST, "to_roman",
                meta("to_roman", mutants=10, killed=9, n_asserts=3,
                     sources=("recorded", "augmented", "recorded"))),
        problem("summary", STATS_PROMPT, STATS_SOLUTION, STATS_TEST, "summary",
                meta("summary", mutants=10, killed=7, n_asserts=2,
                     sources=("recorded", "recorded"))),
        problem("sort_in_place", SORT_PROMPT, SORT_SOLUTION, SORT_TEST, "sort_in_place",
                meta("sort_in_place", mutants=4, killed=2, n_asserts=2)),
        problem("Counter.bump", COUNTER_PROMPT, COUNTER_SOLUTION, COUNTER_TEST, "Counter",
                meta("Counter.bump", mutants=5, killed=5, kind="method")),
        problem("pairs", PAIRS_PROMPT, PAIRS_SOLUTION, PAIRS_TEST, "pairs",
                meta("pairs", mutants=0, killed=0, kind="generator")),
    ]


def write_run(out: Path) -> Path:
    """A run directory whose problems.jsonl holds ``problems()``."""
    write_problems(out / "problems.jsonl", problems())
    return out


def read_rows(path: Path) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def assert_golden(name: str, actual: str) -> None:
    path = GOLDEN_DIR / name
    if UPDATE_GOLDEN:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    if not path.is_file():
        pytest.fail(f"{path} is missing; create it with CITRACE_UPDATE_GOLDEN=1")
    assert path.read_text(encoding="utf-8") == actual, (
        f"{path} differs; rerun with CITRACE_UPDATE_GOLDEN=1 and review the diff")
