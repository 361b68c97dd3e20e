"""Inputs derived from recorded calls, answered by the canonical solution in the checker."""

from __future__ import annotations

import ast
import sys

from tracer.check.run import run_check
from tracer.emit import check_helpers
from tracer.strength.augment import (
    BranchTest,
    Derived,
    augment,
    body_constants,
    branch_tests,
    derived_calls,
    signature_of,
)

PROMPT = 'def shout(word, times=1):\n    """The word in capitals, repeated."""\n'
SOLUTION = "    return word.upper() * times\n"


def canonical(test: str, solution: str = SOLUTION):
    return run_check(prompt=PROMPT, completion=solution, test=test, entry_point="shout",
                     python=sys.executable, timeout=5)


def answered_by(prompt: str, solution: str, entry_point: str):
    """The check augment runs: a test against ``solution`` as the canonical body."""
    return lambda test: run_check(prompt=prompt, completion=solution, test=test,
                                  entry_point=entry_point, python=sys.executable, timeout=5)


def test_calls_are_derived_argument_by_argument_and_never_repeat_a_recorded_one() -> None:
    derived = derived_calls(["    assert candidate('ab', 2) == 'ABAB'\n",
                             "    assert candidate('c', times=3) == 'CCC'\n"])
    assert all(d.setup == () for d in derived)
    calls = [d.expression for d in derived]
    assert "candidate('', 2)" in calls and "candidate('ab', 0)" in calls
    assert "candidate('c', times=-3)" in calls
    assert "candidate('ab', 2)" not in calls
    assert len(calls) == len(set(calls))


def test_blocks_that_are_not_a_returned_value_give_no_input() -> None:
    assert derived_calls(["    assert _raised(lambda: candidate(1)) == 'TypeError'\n",
                          "    assert candidate(1) is None\n"]) == []


def test_the_canonical_solution_answers_each_call_and_a_raise_is_asserted_by_its_name() -> None:
    calls = [Derived((), c) for c in ("candidate('ab', 0)", "candidate('', 2)",
                                      "candidate(None, 2)")]
    found = augment("", calls, canonical)
    assert [a.block for a in found] == [
        "    assert candidate('ab', 0) == ''\n", "    assert candidate('', 2) == ''\n"]
    # An AttributeError says as much about where the code runs (an optional module left as
    # None) as about the code: asserted only when the body raises it by name.
    raising = ("    if word is None:\n        raise AttributeError('no word')\n"
               "    return word.upper() * times\n")
    found = augment("", calls[2:], lambda t: canonical(t, raising), solution=raising)
    assert [a.block for a in found] == [
        "    assert _raised(lambda: candidate(None, 2)) == 'AttributeError'\n"]
    valued = augment("", [Derived((), "candidate('a', None)")], canonical)
    assert [a.block for a in valued] == [
        "    assert _raised(lambda: candidate('a', None)) == 'TypeError'\n"]


def test_a_call_that_raises_differently_in_two_runs_or_ends_its_process_is_not_kept() -> None:
    flaky = ("    import random\n"
             "    raise (KeyError if random.random() < 0.5 else ValueError)(word)\n")
    runs = iter(range(2))
    found = augment("", [Derived((), "candidate('a')")],
                    lambda t: canonical(t, flaky.replace("0.5", str(next(runs)))))
    assert found == []
    leaves = "    raise SystemExit(3)\n"
    assert augment("", [Derived((), "candidate('a')")], lambda t: canonical(t, leaves)) == []


def test_a_batch_the_reference_hangs_in_is_not_run_a_second_time() -> None:
    # An empty word makes the reference wait past its time (a recv nobody answers, say).
    hangs = ("    if not word:\n        import time\n        time.sleep(60)\n"
             "    return word.upper() * times\n")
    runs = []

    def counted(test: str):
        result = run_check(prompt=PROMPT, completion=hangs, test=test, entry_point="shout",
                           python=sys.executable, timeout=1)
        runs.append(result.verdict)
        return result

    assert augment("", [Derived((), "candidate('', 2)")], counted) == []
    assert runs == ["timed out"]
    runs.clear()
    found = augment("", [Derived((), "candidate('ab', 2)")], counted)
    assert [a.block for a in found] == ["    assert candidate('ab', 2) == 'ABAB'\n"]
    assert runs == ["passed", "passed"]  # an answered batch still runs twice


def test_a_call_answered_differently_in_two_runs_is_not_kept() -> None:
    random_solution = "    import random\n    return random.random() < 2 and str(random.random())\n"
    found = augment("", [Derived((), "candidate('a')")], lambda t: canonical(t, random_solution))
    assert found == []


def test_a_result_without_python_source_is_not_kept() -> None:
    objects = "    return object()\n"
    assert augment("", [Derived((), "candidate('a')")], lambda t: canonical(t, objects)) == []


COUNTER = ('class Counter:\n    """Counts up to a limit."""\n\n'
           '    def __init__(self, limit):\n        self.limit, self.count = limit, 0\n\n'
           '    def left(self, step):\n        """How many steps of `step` are left."""\n')


def test_a_method_call_varies_its_arguments_and_its_instance_state() -> None:
    block = ("    obj = _citrace_object(candidate, {'limit': 10, 'count': 4})\n"
             "    assert obj.left(2) == 3\n")
    derived = derived_calls([block])
    assert Derived(("obj = _citrace_object(candidate, {'limit': 10, 'count': 4})",),
                   "obj.left(0)") in derived
    assert Derived(("obj = _citrace_object(candidate, {'limit': 0, 'count': 4})",),
                   "obj.left(2)") in derived
    solution = "        return (self.limit - self.count) // step\n"
    found = augment(check_helpers.preamble({check_helpers.OBJECT}), derived,
                    answered_by(COUNTER, solution, "Counter"))
    blocks = {a.block for a in found}
    assert ("    obj = _citrace_object(candidate, {'limit': 11, 'count': 4})\n"
            "    assert obj.left(2) == 3\n") in blocks
    assert ("    obj = _citrace_object(candidate, {'limit': 10, 'count': 4})\n"
            "    assert _raised(lambda: obj.left(0)) == 'ZeroDivisionError'\n") in blocks


def test_a_method_that_changes_its_instance_is_varied_and_its_new_state_asserted() -> None:
    block = ("    obj = _citrace_object(candidate, {'limit': 10, 'count': 4})\n"
             "    obj.left(2)\n"
             "    assert _citrace_state(obj) == ('Counter', {'limit': 10, 'count': 4}, None)\n")
    derived = derived_calls([block])
    assert Derived(("obj = _citrace_object(candidate, {'limit': 10, 'count': 4})",
                    "obj.left(3)"), "_citrace_state(obj)", acts=True) in derived
    solution = "        self.count += step\n"
    preamble = check_helpers.preamble({check_helpers.OBJECT, check_helpers.STATE})
    found = augment(preamble, derived, answered_by(COUNTER, solution, "Counter"))
    assert ("    obj = _citrace_object(candidate, {'limit': 10, 'count': 4})\n"
            "    obj.left(3)\n"
            "    assert _citrace_state(obj) == ('Counter', {'limit': 10, 'count': 7}, None)\n"
            ) in {a.block for a in found}
    strict = "        if step < 0:\n            raise ValueError(step)\n" + solution
    found = augment(preamble, derived, answered_by(COUNTER, strict, "Counter"))
    # The call that raised is what the assert wraps, not the state it never reached.
    assert ("    obj = _citrace_object(candidate, {'limit': 10, 'count': 4})\n"
            "    assert _raised(lambda: obj.left(-2)) == 'ValueError'\n"
            ) in {a.block for a in found}


def test_a_method_that_returns_its_instance_is_varied_and_the_state_returned_asserted() -> None:
    block = ("    obj = _citrace_object(candidate, {'limit': 10, 'count': 4})\n"
             "    assert _citrace_state(obj.left(2)) == "
             "('Counter', {'limit': 10, 'count': 6}, None)\n")
    derived = derived_calls([block], solution="        if step < 0:\n            pass\n",
                            prompt=COUNTER + '        """Doc."""\n')
    assert Derived(("obj = _citrace_object(candidate, {'limit': 10, 'count': 4})",),
                   "_citrace_state(obj.left(-1))") in derived
    solution = "        if step < 0:\n            raise ValueError(step)\n" \
               "        self.count += step\n        return self\n"
    preamble = check_helpers.preamble({check_helpers.OBJECT, check_helpers.STATE})
    found = augment(preamble, derived, answered_by(COUNTER, solution, "Counter"), solution=solution)
    blocks = {a.block for a in found}
    assert ("    obj = _citrace_object(candidate, {'limit': 10, 'count': 4})\n"
            "    assert _citrace_state(obj.left(0)) == "
            "('Counter', {'limit': 10, 'count': 4}, None)\n") in blocks
    assert ("    obj = _citrace_object(candidate, {'limit': 10, 'count': 4})\n"
            "    assert _raised(lambda: _citrace_state(obj.left(-1))) == 'ValueError'\n") in blocks


def test_a_method_that_returns_its_changed_instance_is_varied_by_what_it_returns() -> None:
    block = ("    obj = _citrace_object(candidate, {'limit': 10, 'count': 4})\n"
             "    assert _citrace_state(obj.left(2)) == "
             "('Counter', {'limit': 10, 'count': 6}, None)\n"
             "    assert _citrace_state(obj) == ('Counter', {'limit': 10, 'count': 6}, None)\n")
    assert Derived(("obj = _citrace_object(candidate, {'limit': 10, 'count': 4})",),
                   "_citrace_state(obj.left(0))") in derived_calls([block])


def test_a_result_of_the_collections_module_is_asserted_as_the_probe_writes_it() -> None:
    solution = ("    counts = collections.defaultdict(list)\n"
                "    for word in words:\n        counts[len(word)].append(word)\n"
                "    counts.default_factory = None\n    return counts\n")
    derived = derived_calls(["    assert candidate(['ab', 'c']) == "
                             "collections.defaultdict(None, {2: ['ab'], 1: ['c']})\n"])
    prompt = "import collections\n\n\ndef by_length(words):\n"
    kept = augment("import collections\n", derived, answered_by(prompt, solution, "by_length"),
                   solution=solution)
    assert "    assert candidate(['c', 'ab']) == collections.defaultdict(None, " \
           "{1: ['c'], 2: ['ab']})\n" in [k.block for k in kept]


def test_a_generator_drawn_by_list_is_varied_and_its_iterator_and_range_arguments_too() -> None:
    derived = derived_calls([
        "    assert list(candidate(iter([1, 2, 3]), 2)) == [1, 2]\n",
        "    assert list(itertools.islice(candidate(range(0, 5, 1)), 10)) == [0, 1, 2, 3, 4]\n"])
    expressions = {d.expression for d in derived}
    assert "list(candidate(iter([]), 2))" in expressions
    assert "list(candidate(iter([1, 2, 3]), 3))" in expressions
    assert "list(candidate([1, 2, 3], 2))" in expressions  # the items, not an iterator
    assert "list(itertools.islice(candidate(range(0, 4, 1)), 10))" in expressions
    assert "list(itertools.islice(candidate(range(0, 0, 1)), 10))" in expressions


def test_a_float_argument_meets_infinity_and_nan_asserted_with_a_tolerance() -> None:
    derived = derived_calls(["    assert _close(candidate(1.5), 3.0)\n"])
    expressions = [d.expression for d in derived]
    # Then None, the last variant of any value.
    assert expressions[-4:] == ["candidate(float('inf'))", "candidate(-float('inf'))",
                                "candidate(float('nan'))", "candidate(None)"]
    solution = "    return x * 2\n"
    kept = augment("", derived[-4:-1], answered_by("def twice(x):\n", solution, "twice"),
                   solution=solution)
    assert kept[-1].block == "    assert _close(candidate(float('nan')), float('nan'))\n"


def test_a_number_argument_meets_the_length_of_a_text_argument_of_the_same_call() -> None:
    derived = derived_calls(["    assert candidate('This is long.', 45) == 'This is long.'\n"],
                            limit=200)
    expressions = [d.expression for d in derived]
    for near in (12, 13, 14):
        assert f"candidate('This is long.', {near})" in expressions


def test_an_argument_the_call_changes_is_varied_where_its_variable_is_assigned() -> None:
    returned = ("    options = {'case': 'upper'}\n"
                "    assert candidate(options) == {'case': 'upper', 'n': 1}\n"
                "    assert options == {'case': 'upper', 'n': 1}\n")
    in_place = "    xs = [3, 1, 2]\n    candidate(xs)\n    assert xs == [1, 2, 3]\n"
    derived = derived_calls([returned, in_place], prompt='def norm(options):\n    """Doc."""\n',
                            solution="    if options.get('case') == 'x':\n        pass\n")
    # What it returned is asserted; for a call that returned nothing, the variable after it.
    assert Derived(("options = {'case': 'x'}",), "candidate(options)") in derived
    assert Derived(("xs = [2, 1, 3]", "candidate(xs)"), "xs", acts=True) in derived
    solution = "    items.sort()\n"
    kept = augment("", [Derived(("xs = [2, 1, 3]", "candidate(xs)"), "xs", acts=True),
                        Derived(("xs = [2, None]", "candidate(xs)"), "xs", acts=True)],
                   answered_by("def order(items):\n", solution, "order"),
                   solution=solution)
    assert [k.block for k in kept] == [
        "    xs = [2, 1, 3]\n    candidate(xs)\n    assert xs == [1, 2, 3]\n",
        "    xs = [2, None]\n    assert _raised(lambda: candidate(xs)) == 'TypeError'\n"]


def test_a_generator_the_test_drew_a_few_values_of_is_drawn_further() -> None:
    derived = derived_calls(
        ["    assert list(itertools.islice(candidate([1, 2, 3], 1), 1)) == [1]\n"])
    # The recorded call itself first, then its variants, all drawn as far as the probe draws.
    assert derived[0] == Derived((), "list(itertools.islice(candidate([1, 2, 3], 1), 10))")
    assert all(d.expression.endswith(", 10))") for d in derived)
    # A test that drew as many as the probe records is not drawn again.
    drawn = ("    assert list(itertools.islice(candidate(2), 10)) == "
             "[2, 4, 6, 8, 10, 12, 14, 16, 18, 20]\n")
    assert Derived((), "list(itertools.islice(candidate(2), 10))") not in derived_calls([drawn])


def test_a_list_argument_is_also_passed_as_an_iterator_over_its_items() -> None:
    derived = derived_calls(["    assert candidate(2, [1, 2, 3]) == 3\n"])
    [as_iterator] = [d for d in derived if d.expression == "candidate(2, iter([1, 2, 3]))"]
    # Answered like any other: the canonical solution draws it in the checker.
    solution = ("    try:\n        return len(items)\n    except TypeError:\n"
                "        return sum(1 for _ in items)\n")
    [kept] = augment("", [as_iterator], answered_by("def sized(n, items):\n", solution, "sized"),
                     solution=solution)
    assert kept.block == "    assert candidate(2, iter([1, 2, 3])) == 3\n"


def test_a_generator_expression_argument_is_varied_over_its_iterable() -> None:
    derived = derived_calls(["    assert candidate((x * 2 for x in [3, 1] if x)) == 8\n"])
    expressions = [d.expression for d in derived]
    assert "candidate((x * 2 for x in [] if x))" in expressions
    assert "candidate((x * 2 for x in [1, 3] if x))" in expressions
    assert not any("in None" in e or "in iter(" in e for e in expressions)
    # Drawn by the checker, answered by the canonical solution like any other.
    solution = "    return sum(values)\n"
    kept = augment("", [d for d in derived if d.expression.endswith("in [] if x))")],
                   answered_by("def total(values):\n", solution, "total"), solution=solution)
    assert [k.block for k in kept] == ["    assert candidate((x * 2 for x in [] if x)) == 0\n"]


def test_a_container_argument_gets_its_first_and_last_item_and_its_first_value_changed() -> None:
    derived = derived_calls(["    assert candidate(['ab', 'cd'], {'n': 2}) == 'x'\n"], limit=200)
    expressions = {d.expression for d in derived}
    assert "candidate(['', 'cd'], {'n': 2})" in expressions
    assert "candidate(['AB', 'cd'], {'n': 2})" in expressions
    assert "candidate(['ab', ''], {'n': 2})" in expressions
    assert "candidate(['ab', 'cd'], {'n': 0})" in expressions
    assert "candidate(['ab', 'cd'], {'n': -1})" in expressions


def test_the_constants_of_the_body_and_their_neighbours_are_variants_of_their_type() -> None:
    solution = ("    if n < 17:\n        return n in {2, 3}\n"
                "    return prefix + 'x' * n if prefix.startswith('#') else None\n")
    assert body_constants(solution)[:6] == [17, 16, 18, '#', 2, 1]  # breadth first
    expressions = {d.expression for d in derived_calls(
        ["    assert candidate(40, '') == None\n", "    assert candidate(4, []) == 'x'\n"],
        limit=500, solution=solution)}
    assert {"candidate(17, '')", "candidate(16, '')", "candidate(18, '')",
            "candidate(40, '#')", "candidate(4, [17])", "candidate(4, [17, 17])"} <= expressions


def test_a_parameter_no_recorded_call_passed_is_given_another_value_than_its_default() -> None:
    prompt = ('def size(n, binary=False, *, unit="B", sep=None):\n'
              '    """n bytes as text."""\n')
    blocks = ["    assert candidate(10) == '10 B'\n",
              "    assert candidate(2048, True) == '2.0 KiB'\n"]
    calls = [d.expression for d in derived_calls(blocks, prompt=prompt, solution="    sep = '-'\n")]
    # binary flipped where the call left it out; unit varied as a string; sep, whose
    # default is None, given the body's constants.
    assert "candidate(10, binary=True)" in calls
    assert "candidate(10, unit='')" in calls and "candidate(2048, True, unit='')" in calls
    assert "candidate(10, sep='-')" in calls
    assert not any("binary=" in c for c in calls if c.startswith("candidate(2048, True"))


def test_the_signature_is_the_prompts_function_or_its_classs_last_method() -> None:
    function = signature_of('def f(a, b=2, *, c=3):\n    """Doc."""\n')
    assert function is not None and not function.method
    assert function.positional == ("a", "b")
    assert [(n, ast.unparse(d)) for n, d in function.defaults] == [("b", "2"), ("c", "3")]
    method = signature_of('class K:\n    def other(self):\n        pass\n\n'
                          '    def m(self, x, strict=False):\n        """Doc."""\n')
    assert method is not None and method.method and method.name == "m"
    assert method.positional == ("x", "strict")
    static = signature_of('class K:\n    @staticmethod\n    def m(x, y=1):\n        """D."""\n')
    assert static is not None and static.positional == ("x", "y")
    variadic = signature_of('def f(a, *rest, key=None, **options):\n    """Doc."""\n')
    assert variadic is not None and variadic.variadic and variadic.positional == ("a",)
    assert function.variadic is False
    assert signature_of("not python (") is None


def test_a_method_call_gets_its_option_too() -> None:
    prompt = ('class Box:\n    def fill(self, item, twice=False):\n'
              '        """Put item in the box."""\n')
    block = ("    obj = _citrace_object(candidate, {'items': []})\n"
             "    assert obj.fill(1) == [1]\n")
    calls = [d.expression for d in derived_calls([block], prompt=prompt)]
    assert "obj.fill(1, twice=True)" in calls


def test_the_bodys_constants_meet_each_option_the_recorded_calls_pass_and_come_early() -> None:
    blocks = ["    assert candidate(3000, False) == '3.0 kB'\n",
              "    assert candidate(-300, False) == '-300 B'\n",
              "    assert candidate(3000, True) == '2.9 KiB'\n"]
    solution = "    base = 1024 if binary else 1000\n    if n < base:\n        return n\n"
    calls = [d.expression for d in derived_calls(blocks, solution=solution)]
    # 1024 first (the body's first constant), with binary both False and True (the second
    # call, -300, False, would repeat the first), three turns to each round of the calls'
    # own variants: the first call's first (0), the second call's second (1).
    assert calls[:5] == ["candidate(1024, False)", "candidate(1024, True)",
                         "candidate(1023, False)", "candidate(0, False)", "candidate(1, False)"]
    assert "candidate(1000, True)" in calls and "candidate(1000, False)" in calls


def test_a_call_validation_already_dropped_is_not_derived_again() -> None:
    # candidate('a') was recorded, and dropped as order-dependent; the body's constant 'a'
    # would derive it back from candidate('b').
    blocks = ["    assert candidate('b') == 0\n"]
    solution = "    return 1 if x == 'a' else 0\n"
    assert "candidate('a')" in [d.expression for d in derived_calls(blocks, solution=solution)]
    again = derived_calls(blocks, solution=solution,
                          known=["    assert candidate('a') == 1\n"])
    assert "candidate('a')" not in [d.expression for d in again]


def test_an_argument_passed_to_a_parameter_with_a_default_is_left_out_too() -> None:
    # Every recorded call passed default=...; the function's own default (a marker that
    # makes an empty input raise) was never reached. *others does not stop it: the
    # keyword is a parameter of its own.
    prompt = ('def minmax(iterable, *others, key=None, default=_marker):\n'
              '    """Smallest and largest."""\n')
    blocks = ["    assert candidate([], key=None, default=[1]) == [1]\n",
              "    assert candidate([2, 1], None, default=0) == (1, 2)\n"]
    calls = [d.expression for d in derived_calls(blocks, prompt=prompt)]
    assert "candidate([], default=[1])" in calls and "candidate([], key=None)" in calls
    assert "candidate([2, 1], default=0)" not in calls  # None went to *others, not key
    assert "candidate([2, 1], None)" in calls
    # With *args or **kwargs no option is added: it could have come through them.
    # (The first call's own key=None is varied like any argument: key=True is one of them.)
    assert not any(c.startswith("candidate([2, 1]") and "key=" in c for c in calls)


def test_the_tests_the_body_makes_on_its_names_are_found_outer_first() -> None:
    solution = ("    if maxlen is None:\n        return 0\n"
                "    if maxlen <= 0:\n        raise ValueError\n"
                "    if len(word) > 3 and lo < hi:\n        pass\n"
                "    if '#' in line or mode in ('r', 'w') or self.depth == 2:\n"
                "        pass\n")
    tests = branch_tests(solution)
    assert tests == [BranchTest("maxlen", values=(None,)),
                     BranchTest("maxlen", values=(0, -1, 1)),
                     BranchTest("word", lengths=(3, 2, 4)),
                     BranchTest("lo", other="hi"), BranchTest("hi", other="lo"),
                     BranchTest("line", values=("#",)),
                     BranchTest("mode", values=("r", "w", "rx")),
                     BranchTest("self.depth", values=(2, 1, 3))]
    assert branch_tests("not python (") == [] and branch_tests("") == []
    assert branch_tests("    if not 1 <= method <= 3:\n        raise ValueError\n") == [
        BranchTest("method", values=(1, 0, 2)), BranchTest("method", values=(3, 2, 4))]


def test_a_parameter_a_branch_tests_is_set_to_meet_it_whatever_its_recorded_type() -> None:
    prompt = 'def running_min(iterable, maxlen=None):\n    """Running minimum."""\n'
    solution = ("    if maxlen is None:\n        return accumulate(iterable, min)\n"
                "    if maxlen <= 0:\n        raise ValueError('positive')\n"
                "    if len(iterable) > 2:\n        return 1\n")
    block = "    assert list(candidate([5, 6], maxlen=None)) == [5, 5]\n"
    calls = [d.expression for d in derived_calls([block], prompt=prompt, solution=solution)]
    # maxlen was None in every recorded call: its boundary 0 and the values next to it,
    # and the list cut and grown to the length the body tests (by its own items), come
    # before the calls' own variants.
    early = calls[:8]
    for call in ("list(candidate([5, 6], maxlen=0))", "list(candidate([5, 6], maxlen=-1))",
                 "list(candidate([5, 6], maxlen=1))",
                 "list(candidate([5, 6, 5], maxlen=None))", "list(candidate([5, 6]))"):
        assert call in early, (call, early)
    assert "list(candidate([5, 6, 5, 6], maxlen=None))" in calls


def test_two_parameters_a_branch_compares_are_given_each_others_value() -> None:
    prompt = 'def between(x, lo, hi):\n    """Whether lo <= x < hi."""\n'
    calls = [d.expression for d in derived_calls(["    assert candidate(5, 1, 9) == True\n"],
                                                 prompt=prompt,
                                                 solution="    return lo <= x < hi and lo < hi\n")]
    assert "candidate(5, 9, 9)" in calls and "candidate(5, 1, 1)" in calls


def test_a_field_of_the_instance_a_branch_tests_is_set_in_its_recorded_state() -> None:
    prompt = ('class Tree:\n    def deeper(self, by):\n        """A level down."""\n')
    block = ("    obj = _citrace_object(candidate, {'depth': 5, 'name': 'a'})\n"
             "    assert obj.deeper(1) == 6\n")
    calls = [d.setup[0] for d in derived_calls(
        [block], prompt=prompt, solution="        if self.depth >= 10:\n            return 0\n")]
    assert "obj = _citrace_object(candidate, {'depth': 10, 'name': 'a'})" in calls[:3]


def test_an_item_of_a_dict_parameter_the_body_tests_is_set_the_rest_kept() -> None:
    # sqlparse's validate_options: locals read from the options dict, checked against the
    # values allowed; one value that is none of them reaches the raise.
    solution = ("    case = options.get('keyword_case')\n"
                "    if case not in [None, 'upper', 'lower']:\n        raise ValueError(case)\n"
                "    if options['width'] <= 1:\n        raise ValueError('width')\n"
                "    return options\n")
    assert branch_tests(solution) == [
        BranchTest("options", values=(None, "upper", "lower", "upperx"), key=("keyword_case",)),
        BranchTest("options", values=(1, 0, 2), key=("width",))]
    prompt = 'def validate(options):\n    """The options, checked."""\n'
    block = "    assert candidate({'keyword_case': 'upper', 'width': 4}) == 4\n"
    calls = [d.expression for d in derived_calls([block], prompt=prompt, solution=solution)]
    for call in ("candidate({'keyword_case': 'upperx', 'width': 4})",
                 "candidate({'keyword_case': None, 'width': 4})",
                 "candidate({'keyword_case': 'upper', 'width': 1})"):
        assert call in calls[:9], (call, calls[:9])
    # Not a dict where the body reads an item: nothing is set.
    other = "    assert candidate(['a']) == 4\n"
    assert not any("'keyword_case'" in c for c in (
        d.expression for d in derived_calls([other], prompt=prompt, solution=solution)))


def test_a_result_holding_iterators_is_varied_and_answered_drawn() -> None:
    prompt = 'def divide(n, items):\n    """items in n parts."""\n'
    solution = ("    if n < 1:\n        raise ValueError('n')\n    q, r = divmod(len(items), n)\n"
                "    parts, stop = [], 0\n    for i in range(1, n + 1):\n"
                "        start = stop\n        stop += q + 1 if i <= r else q\n"
                "        parts.append(iter(items[start:stop]))\n    return parts\n")
    preamble = check_helpers.preamble({check_helpers.DRAINED})
    block = "    assert _drained(candidate(2, [1, 2, 3])) == [[1, 2], [3]]\n"
    calls = derived_calls([block], prompt=prompt, solution=solution)
    assert "_drained(candidate(1, [1, 2, 3]))" in [d.expression for d in calls]

    def check(test: str):
        return run_check(prompt=prompt, completion=solution, test=test, entry_point="divide",
                         python=sys.executable, timeout=10)
    kept = {a.call.expression: a.block for a in augment(preamble, calls, check)}
    assert kept["_drained(candidate(1, [1, 2, 3]))"] == (
        "    assert _drained(candidate(1, [1, 2, 3])) == [[1, 2, 3]]\n")
    assert kept["_drained(candidate(0, [1, 2, 3]))"] == (
        "    assert _raised(lambda: _drained(candidate(0, [1, 2, 3]))) == 'ValueError'\n")


def test_a_date_or_a_decimal_the_canonical_solution_returns_is_asserted_when_imported() -> None:
    prompt = 'def shifted(day, weeks=1):\n    """The day so many weeks later."""\n'
    solution = ("    import datetime, decimal\n"
                "    if weeks < 0:\n        return decimal.Decimal('-1.5')\n"
                "    return day + datetime.timedelta(days=7 * weeks)\n")

    def check(test: str):
        return run_check(prompt=prompt, completion=solution, test=test, entry_point="shifted",
                         python=sys.executable, timeout=10)
    calls = [Derived((), "candidate(datetime.date(2020, 1, 1), 2)"),
             Derived((), "candidate(datetime.date(2020, 1, 1), -1)")]
    preamble = "import datetime\nimport decimal\n\n\n"
    assert [a.block for a in augment(preamble, calls, check)] == [
        "    assert candidate(datetime.date(2020, 1, 1), 2) == datetime.date(2020, 1, 15)\n",
        "    assert candidate(datetime.date(2020, 1, 1), -1) == decimal.Decimal('-1.5')\n"]
    # A test that does not import decimal cannot name the value: that call is not kept.
    assert [a.call for a in augment("import datetime\n\n\n", calls, check)] == calls[:1]


def test_an_option_left_none_is_set_as_a_flag_and_to_zero() -> None:
    # click's style(text, ..., reverse=None): no recorded call set `reverse`.
    derived = derived_calls(["    assert candidate('x', None) == 'x'\n"])
    expressions = {d.expression for d in derived}
    assert {"candidate('x', True)", "candidate('x', False)", "candidate('x', 0)"} <= expressions
    solution = "    return text[::-1] if reverse else text\n"
    [kept] = augment("", [d for d in derived if d.expression == "candidate('x', True)"],
                     answered_by("def style(text, reverse=None):\n", solution, "style"),
                     solution=solution)
    assert kept.block == "    assert candidate('x', True) == 'x'\n"


def test_a_text_argument_is_also_doubled() -> None:
    # natsort's fast_float('$'): its `len(x) == 1` branch needs a longer text.
    derived = derived_calls(["    assert candidate('$') == '$'\n"])
    assert "candidate('$$')" in {d.expression for d in derived}


SEPARATOR = ('class Separator:\n    """Splits on one character."""\n\n'
             '    def __init__(self, sep=None):\n        """sep: one character, or None."""\n')


def test_a_class_made_by_its_constructor_is_varied_and_the_new_state_asserted() -> None:
    block = ("    obj = candidate('T')\n"
             "    assert _citrace_state(obj) == ('Separator', {'sep': 'T'}, None)\n")
    derived = derived_calls([block])
    assert Derived((), "_citrace_state(candidate(''))") in derived
    solution = ("        if sep is not None and len(sep) != 1:\n"
                "            raise ValueError(sep)\n        self.sep = sep\n")
    preamble = check_helpers.preamble({check_helpers.STATE})
    blocks = {a.block for a in augment(preamble, derived,
                                       answered_by(SEPARATOR, solution, "Separator"),
                                       solution=solution)}
    assert "    assert _raised(lambda: _citrace_state(candidate(''))) == 'ValueError'\n" in blocks
    assert ("    assert _citrace_state(candidate('a')) == ('Separator', {'sep': 'a'}, None)\n"
            in blocks)
