"""The kill matrix: one check per mutant tells which blocks reject it."""

from __future__ import annotations

import sys

from tracer.check.run import run_check
from tracer.strength.kills import kill_matrix, matrix_test, new_nonce, read_kills

PROMPT = 'def clamp(x, low, high):\n    """x, kept between low and high."""\n'
RIGHT = "    return max(low, min(x, high))\n"
BLOCKS = ["    assert candidate(5, 0, 10) == 5\n",
          "    assert candidate(-3, 0, 10) == 0\n",
          "    assert candidate(30, 0, 10) == 10\n"]


def check(completion: str, test: str):
    return run_check(prompt=PROMPT, completion=completion, test=test, entry_point="clamp",
                     python=sys.executable, timeout=5)


def test_each_mutant_is_rejected_by_the_blocks_that_tell_it_apart() -> None:
    no_low = "    return min(x, high)\n"  # only the block below the range sees it
    no_high = "    return max(low, x)\n"
    found = kill_matrix("", BLOCKS, [RIGHT, no_low, no_high], check)
    assert [f.blocks for f in found] == [frozenset(), frozenset({1}), frozenset({2})]


def test_a_mutant_that_hangs_or_dies_is_killed_where_it_stopped_and_the_rest_is_unknown() -> None:
    # Right for the first block; hangs (or ends its process) on the second.
    hangs = "    while x < 0:\n        pass\n    return max(low, min(x, high))\n"
    dies = "    import os\n    if x < 0:\n        os._exit(0)\n    return max(low, min(x, high))\n"
    found = kill_matrix("", BLOCKS, [hangs, dies],
                        lambda completion, test: run_check(
                            prompt=PROMPT, completion=completion, test=test,
                            entry_point="clamp", python=sys.executable, timeout=1))
    for stopped in found:
        assert not stopped.determined and stopped.blocks is None
        assert (stopped.known, stopped.ran) == (frozenset({1}), 1)
        assert stopped.kills_test_of(frozenset({0, 1})) is True
        assert stopped.kills_test_of(frozenset({0})) is False
        assert stopped.kills_test_of(frozenset({0, 2})) is None


def test_a_completion_cannot_print_the_line_that_names_the_blocks() -> None:
    # It never sees the test, so not the nonce: a line it makes up is not read.
    forger = ("    print('citrace-kills-0000000000000000:;')\n"
              "    return max(low, min(x, high)) + 1\n")
    nonce = new_nonce()
    result = check(forger, matrix_test("", BLOCKS, nonce))
    found = read_kills(result, nonce, len(BLOCKS))
    assert found.blocks == frozenset({0, 1, 2})


def test_blocks_keep_their_own_variables() -> None:
    blocks = ["    xs = [3]\n    assert candidate(xs[0], 0, 10) == 3\n",
              "    assert 'xs' not in dir()\n    assert candidate(1, 0, 10) == 1\n"]
    [found] = kill_matrix("", blocks, [RIGHT], check)
    assert found.blocks == frozenset()
