"""The harness's wire format and how a problem's prompt and test reach the checker: values
round-trip exactly, malformed messages are refused, and a prompt and test compiled by
citrace (same interpreter) behave as the ones the checker compiles itself."""

from __future__ import annotations

import math
import os
import sys

import pytest

from tracer.check import harness, run
from tracer.check.run import ISOLATIONS, run_check

PYTHON = os.path.realpath(sys.executable)
DEEP: list = [1]
for _ in range(harness.MAX_DEPTH - 1):
    DEEP = [DEEP]


@pytest.mark.parametrize("value", [
    None, True, False, 0, -5, -6, 256, 257, -(1 << 70), 1 << 70, 1.5, -0.0, math.inf, 1 - 2j,
    "", "é\ud800", b"\x00\xff", bytearray(b"ab"), (), [], {}, set(), frozenset({1}),
    (1, "a", [2, 3.5], {"k": (None, True)}), {1: 2, "x": [1, {3, 4}]}, list(range(300)),
    {str(i): i for i in range(70)}, DEEP,
], ids=repr)
def test_values_round_trip_exactly(value: object) -> None:
    back = harness.decode(harness.encode(value))
    assert repr(back) == repr(value) and type(back) is type(value)


def test_nan_round_trips() -> None:
    assert math.isnan(harness.decode(harness.encode(math.nan)))


@pytest.mark.parametrize("data", [
    b"", b"x", b"i", b"i1:", b"i-1:", b"s5:ab", b"l1:", b"i1:1junk", b"l-1:", b"s-1:", b"q",
    b"s99999999999999999999999:a",
])
def test_malformed_messages_are_refused(data: bytes) -> None:
    with pytest.raises(ValueError):
        harness.decode(data)


def test_nesting_deeper_than_the_limit_is_refused_both_ways() -> None:
    with pytest.raises(ValueError):
        harness.encode([DEEP])
    with pytest.raises(ValueError):
        harness.decode(b"l1:" * (harness.MAX_DEPTH + 2) + b"N")


PROMPT = ('from __future__ import annotations\n\nimport math\n\n\n'
          'def area(r: Radius) -> float:\n    """The area of a circle of radius r."""\n')
TEST = ("def check(candidate):\n"
        "    def helper(x: NotDefinedAnywhere) -> None:  # fine under the prompt's future\n"
        "        pass\n"
        "    assert candidate(1) == math.pi\n"
        "    assert candidate(2) == 0\n")


@pytest.mark.parametrize("isolation", ISOLATIONS)
@pytest.mark.parametrize("precompiled", [True, False])
def test_a_precompiled_problem_checks_as_a_compiled_one(isolation: str, precompiled: bool,
                                                        monkeypatch) -> None:
    from tracer.check import run

    if not precompiled:  # as on another interpreter: the checker compiles
        monkeypatch.setattr(run, "_is_host_python", lambda python: False)
    payload = run._payload(PROMPT, "    pass\n", TEST, "area", PYTHON)
    size = int.from_bytes(payload[:8], "little")
    first = harness.decode(payload[8:8 + size])
    prompt_code, completion_code = first[3], first[5]
    assert (prompt_code is not None) is precompiled
    assert (completion_code is not None) is precompiled
    result = run_check(prompt=PROMPT, completion="    return math.pi * r * r\n", test=TEST,
                       entry_point="area", python=PYTHON, timeout=5, isolation=isolation)
    # The prompt's future import reached the test; the failure names the test's own line.
    assert result.verdict == "failed" and "test line 5" in result.result, result


@pytest.mark.parametrize("precompiled", [True, False])
def test_a_prompt_that_raises_or_does_not_compile_says_so(precompiled: bool,
                                                          monkeypatch) -> None:
    from tracer.check import run

    if not precompiled:
        monkeypatch.setattr(run, "_is_host_python", lambda python: False)
    raising = run_check(prompt="raise KeyError('boom')\n\ndef f(x):\n", completion="    return x\n",
                        test="def check(candidate):\n    assert candidate(1) == 1\n",
                        entry_point="f", python=PYTHON, timeout=5)
    assert raising.verdict == "error" and "KeyError" in raising.result, raising
    broken_test = run_check(prompt="def f(x):\n", completion="    return x\n",
                            test="def check(candidate:\n", entry_point="f", python=PYTHON,
                            timeout=5)
    assert broken_test.verdict == "error" and "SyntaxError" in broken_test.result, broken_test
    assert harness.precompile("def f(x):\n", "def check(candidate:\n") is None


@pytest.mark.parametrize("nested", [
    "x = " + "-" * 200_000 + "1\n",  # deeper than the parser goes
    "x = " + "+".join(["1"] * 100_000) + "\n",  # deeper than the compiler goes
], ids=["unary", "sum"])
def test_a_prompt_the_compiler_chokes_on_is_left_to_the_checker(nested: str) -> None:
    # A project's text is compiled in citrace's own process: it must come back as
    # "not compiled" (never a crash), and the check, in the sandbox, must say why.
    prompt = nested + "\n\ndef f(x):\n"
    assert harness.precompile(prompt, "def check(candidate):\n    pass\n") is None
    result = run_check(prompt=prompt, completion="    return x\n",
                       test="def check(candidate):\n    assert candidate(1) == 1\n",
                       entry_point="f", python=PYTHON, timeout=10)
    assert not result.passed and result.verdict in ("error", "failed"), result


@pytest.mark.parametrize("nested", [
    "    return " + "-" * 200_000 + "1\n",
    "    return " + "+".join(["1"] * 100_000) + "\n",
    "    return 0\n#" + "x" * run.PRECOMPILED_CHARACTERS + "\n",  # too long: the sandbox's
], ids=["unary", "sum", "large"])
def test_a_completion_the_compiler_chokes_on_is_compiled_in_the_sandbox(nested: str) -> None:
    # A sample is compiled in citrace's own process too (never run there): the same texts
    # must come back uncompiled, and the check fail in the sandbox.
    prompt = "def f(x):\n"
    if len(nested) <= run.PRECOMPILED_CHARACTERS:
        assert harness.precompile_completion(prompt, nested) is None
    size = int.from_bytes(run._payload(prompt, nested, "", "f", PYTHON)[:8], "little")
    assert harness.decode(run._payload(prompt, nested, "", "f", PYTHON)[8:8 + size])[5] is None
    result = run_check(prompt=prompt, completion=nested,
                       test="def check(candidate):\n    assert candidate(1) == 1\n",
                       entry_point="f", python=PYTHON, timeout=10)
    # (CPython's parser says MemoryError of a nesting it cannot hold: "out of memory".)
    assert result.verdict in ("error", "failed", "out of memory"), result


def _reply(completion: str, args: tuple, kwargs: dict | None = None) -> tuple:
    """What the completion's process answers to one call, decoded: (kind, (result, the
    arguments after the call or None, the keyword arguments after it or None))."""
    namespace: dict = {}
    exec(completion, namespace)
    message = harness.encode(("c", harness._sendable(args, kwargs or {})))
    operation, argument = harness.decode(message)
    sent = message[len(harness._CALL_PREFIX):]
    return harness.decode(harness._call(namespace["f"], argument, {}, None, sent))


def test_a_call_that_changes_no_argument_sends_none_back() -> None:
    kind, (result, after, keywords) = _reply("def f(xs, k=None):\n    return sum(xs)\n",
                                             ([1, 2],), {"k": {"a": [{3}]}})
    assert (kind, result, after, keywords) == (harness._OK, 3, None, None)


def test_a_call_that_changes_an_argument_sends_all_of_them_back() -> None:
    kind, (result, after, keywords) = _reply(
        "def f(xs, ys, k=None):\n    xs.append(9)\n    k['b'] = 1\n",
        ([1], [2]), {"k": {"a": 0}})
    assert result is None and after == ([1, 9], [2]) and keywords == {"k": {"a": 0, "b": 1}}


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_arguments_changed_in_place_reach_the_test_and_unchanged_ones_stay_as_they_were(
        isolation: str) -> None:
    completion = ("    if mode == 'sort':\n        xs.sort()\n"
                  "    elif mode == 'add':\n        seen.add(len(xs))\n"
                  "    return len(xs)\n")
    test = ("def check(candidate):\n"
            "    xs, seen = [3, 1, 2], {0}\n"
            "    original = xs\n"
            "    assert candidate(xs, seen, 'sort') == 3\n"
            "    assert xs == [1, 2, 3] and xs is original and seen == {0}\n"
            "    assert candidate(xs, seen, 'add') == 3 and seen == {0, 3}\n"
            "    assert candidate(xs, seen, 'none') == 3 and xs == [1, 2, 3]\n")
    result = run_check(prompt="def f(xs, seen, mode):\n", completion=completion, test=test,
                       entry_point="f", python=PYTHON, timeout=5, isolation=isolation)
    assert result.passed, result


def test_call_messages_are_read_whole_and_what_follows_is_kept_for_the_next() -> None:
    read_end, write_end = os.pipe()
    try:
        big = b"x" * (3 * harness._CALL_READ)  # more than one read takes
        frames = [harness.encode(v) for v in ("first", ["second", 2], big)]
        os.write(write_end, b"".join(len(f).to_bytes(8, "little") + f for f in frames[:2]))
        assert harness.decode(harness.receive_call(read_end)) == "first"
        assert harness.decode(harness.receive_call(read_end)) == ["second", 2]
        pid = os.fork()
        if pid == 0:  # a writer that a pipe's capacity would otherwise block
            os.close(read_end)
            harness.send(write_end, frames[2])
            os.write(write_end, (5).to_bytes(8, "little") + b"ab")  # then a message cut short
            os._exit(0)
        os.close(write_end)
        write_end = -1
        assert harness.decode(harness.receive_call(read_end)) == big
        with pytest.raises(EOFError):
            harness.receive_call(read_end)
        assert harness.receive_call(read_end) is None  # the writer is gone
        os.waitpid(pid, 0)
    finally:
        os.close(read_end)
        if write_end != -1:
            os.close(write_end)
        harness._UNREAD.clear()
