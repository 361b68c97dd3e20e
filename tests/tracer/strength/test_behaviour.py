"""Mutants really behave differently: each is run (in this process: the fixtures are ours)
against the original on inputs that exercise the whole body, and the ones no input tells
apart are exactly the equivalent mutants we expect."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import Any

from tracer.strength.mutants import Mutant, mutants

RUN_LENGTH = ('def run_length(text):\n'
              '    """Each run of one character in ``text``, as (character, length)."""\n',
              '    runs = []\n'
              '    for char in text:\n'
              '        if runs and runs[-1][0] == char:  # the run goes on\n'
              '            runs[-1][1] += 1\n'
              '        else:\n'
              '            runs.append([char, 1])\n'
              '    return [tuple(run) for run in runs]\n')
WINDOWS = ('def _total(values, start, stop):\n'
           '    return sum(values[start:stop])\n'
           '\n'
           '\n'
           'def windows(xs, size):\n'
           '    """The sums of each ``size`` neighbours of ``xs``, or None if there are none."""\n',
           '    if size < 1 or not xs:\n'
           '        return None\n'
           '    sums = [_total(xs, start, start + size) for start in range(len(xs) - size + 1)]\n'
           '    return sums if len(sums) > 1 else sums[0] * 1.5\n')
STACK = ('class Stack:\n'
         '    """A stack with a limit."""\n'
         '\n'
         '    def __init__(self, limit):\n'
         '        self.items, self.limit = [], limit\n'
         '\n'
         '    def _fits(self, count, extra):\n'
         '        return count + extra <= self.limit\n'
         '\n'
         '    def push_all(self, values):\n'
         '        """Push what fits of ``values``; return how many were pushed."""\n',
         '        pushed = 0\n'
         '        for value in values:\n'
         '            if not self._fits(len(self.items), 1):\n'
         '                break\n'
         '            self.items.append(value)\n'
         '            pushed += 1\n'
         '        return pushed\n')


def _raise_timeout(signum: int, frame: FrameType | None) -> None:
    raise TimeoutError


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    previous = signal.signal(signal.SIGALRM, _raise_timeout)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def outcome(source: str, call: Callable[[dict[str, Any]], Any]) -> object:
    """What ``call`` gives on the module ``source``: its value or the exception's type."""
    namespace: dict[str, Any] = {}
    try:
        with time_limit(1.0):
            exec(compile(source, "<mutant>", "exec"), namespace)
            return call(namespace)
    except Exception as exc:  # a mutant may fail any way: that is a difference
        return type(exc)


def survivors(prompt: str, solution: str, calls: Sequence[Callable[[dict[str, Any]], Any]]
              ) -> list[Mutant]:
    expected = [outcome(prompt + solution, call) for call in calls]
    made = mutants(prompt, solution, limit=1000)
    assert made
    return [m for m in made
            if [outcome(prompt + m.completion, call) for call in calls] == expected]


def test_every_mutant_of_run_length_changes_its_results() -> None:
    calls = [lambda ns, text=text: ns["run_length"](text)
             for text in ("", "a", "aab", "abba", "aaab")]
    assert survivors(*RUN_LENGTH, calls) == []


def test_every_mutant_of_windows_changes_its_results() -> None:
    calls = [lambda ns, xs=xs, size=size: ns["windows"](xs, size)
             for xs, size in (([1, 2, 3], 2), ([1, 2, 3], 1), ([4, 5], 2), ([1], 0),
                              ([], 1), ([2, 3, 4], 3), ([1, 2, 3, 4], 3))]
    assert survivors(*WINDOWS, calls) == []


def test_every_mutant_of_a_method_but_two_equivalent_ones_changes_what_it_does() -> None:
    def pushing(limit: int, values: list[int]) -> Callable[[dict[str, Any]], Any]:
        def call(ns: dict[str, Any]) -> Any:
            stack = ns["Stack"](limit)
            return stack.push_all(values), stack.items
        return call

    calls = [pushing(2, [7, 8, 9]), pushing(5, [1, 2]), pushing(0, [1])]
    left = survivors(*STACK, calls)
    # Two equivalent mutants, which no input can tell apart: ``_fits`` adds its arguments
    # (the order does not matter), and once a value does not fit, none after it will (the
    # stack does not shrink), so ``break`` and ``continue`` push the same. They survive, and
    # the survivors' list names them.
    assert [(m.operator, m.line, m.description) for m in left] == [
        ("swap-args", 3, "_fits(): swap `len(self.items)` and `1`"),
        ("loop", 4, "break -> continue")]
