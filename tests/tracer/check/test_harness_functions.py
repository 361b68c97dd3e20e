"""A function the test passes to the completion (``key=(lambda v: -v)``): it crosses to the
completion's process as its code, comes back as the checker's own, and nothing the
completion sends is ever made into a function on the checker's side."""

from __future__ import annotations

import sys

import pytest

from tracer.check.run import ISOLATIONS, run_check
from tracer.emit import check_helpers

PROMPT = '''\
def apply(xs, key):
    """key of each x, and the key itself."""
'''
CORRECT = "    return [key(x) for x in xs], key\n"
TEST = '''\
import functools
import math


def check(candidate):
    minus = functools.partial(lambda a, b: a - b, 10)
    assert candidate([1, 4], minus) == ([9, 6], minus)
    assert candidate([2], functools.partial(pow, 3))[0] == [9]
    assert candidate([4.5], lambda x: math.floor(x))[0] == [4]  # the completion lacks math
    key = lambda v: -v
    assert candidate([3, 1], key) == ([-3, -1], key)
    assert candidate(['ab'], lambda s: s.upper())[0] == ['AB']
    assert candidate([], lambda: 1)[0] == []
    above = (lambda limit: lambda v: v > limit)(2)  # its closure crosses as plain values
    assert candidate([1, 3], above) == ([False, True], above)
    assert candidate([4], (lambda f: lambda v: f(v) * 2)(lambda v: -v))[0] == [-8]
'''
# The completion finds the harness's globals and its reply pipe up its stack, and answers
# with a function value of its own: the checker refuses to make it.
FORGED = '''\
    import os, sys
    frame = sys._getframe(1)
    while 'replies' not in frame.f_locals:
        frame = frame.f_back
    g, replies = frame.f_globals, frame.f_locals['replies']
    code = compile("open('/tmp/citrace-forged-function', 'w')", 'x', 'eval')
    import marshal
    value = g['StdlibValue']('code', (0, marshal.dumps(code), ()))
    g['send'](replies, g['encode']((g['_OK'], ([], value))))
    os._exit(0)
'''

SAMPLES = {
    "correct": (CORRECT, "passed", ""),
    "ignores the key": ("    return list(xs), key\n", "failed", "AssertionError"),
    "another key": ("    return [key(x) for x in xs], abs\n", "failed", "AssertionError"),
    "a partial of its own": ("    import functools\n"
                             "    return [key(x) for x in xs], functools.partial(key)\n",
                             "failed", "not a plain value"),
    "a function of its own": ("    return [key(x) for x in xs], lambda v: -v\n", "failed",
                              "not a plain value"),
    "forges a function": (FORGED, "failed", "a function made by the completion"),
}


@pytest.mark.parametrize("isolation", ISOLATIONS)
@pytest.mark.parametrize("name", SAMPLES)
def test_the_test_s_functions_cross_to_the_completion_and_back_as_the_checker_s_own(
        name: str, isolation: str) -> None:
    completion, verdict, said = SAMPLES[name]
    result = run_check(prompt=PROMPT, completion=completion, test=TEST, entry_point="apply",
                       python=sys.executable, timeout=10, isolation=isolation)
    assert result.verdict == verdict, result
    assert said in result.result, result


def test_what_cannot_cross_to_the_completion_is_never_the_call_s_exception() -> None:
    """A value the test passes that is not plain (a function with a default, a generator
    that raises as it is drawn) fails the check: a `_raised` block must not take the
    checker's own TypeError or ZeroDivisionError for the completion's."""
    test = check_helpers.preamble([check_helpers.RAISED]) + (
        "def check(candidate):\n"
        "    assert _raised(lambda: candidate([1], lambda x, y=1: x)) == 'TypeError'\n")
    for completion in ("    raise TypeError\n", "    pass\n"):
        result = run_check(prompt=PROMPT, completion=completion, test=test,
                           entry_point="apply", python=sys.executable, timeout=10)
        assert result.verdict == "failed", result
        assert "cannot be sent" in result.result, result
