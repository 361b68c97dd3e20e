"""Each operator family makes the mutant text it should, and leaves alone what it should."""

from __future__ import annotations

from tracer.strength.mutants import Mutant, mutants

PROMPT = 'def target(a, b, xs, flag):\n    """Return something of a, b and xs."""\n'


def made(body: str, prompt: str = PROMPT) -> list[Mutant]:
    return mutants(prompt, body, limit=1000)


def texts(body: str, operator: str, prompt: str = PROMPT) -> list[str]:
    """The mutated solutions ``operator`` made of ``body``."""
    return [m.completion for m in made(body, prompt) if m.operator == operator]


def descriptions(body: str, operator: str, prompt: str = PROMPT) -> list[str]:
    return [m.description for m in made(body, prompt) if m.operator == operator]


def test_comparisons_swap_each_operator_both_ways() -> None:
    body = "    return a < b <= 3 and b == a\n"
    assert texts(body, "compare") == [
        "    return a <= b <= 3 and b == a\n", "    return a > b <= 3 and b == a\n",
        "    return a < b < 3 and b == a\n", "    return a < b >= 3 and b == a\n",
        "    return a < b <= 3 and b != a\n",
    ]
    assert descriptions(body, "compare")[:2] == ["< -> <=", "< -> >"]


def test_comparison_symbols_are_found_past_brackets_and_comments() -> None:
    body = "    return ((a) >  # the bigger\n            (b))\n"
    assert texts(body, "compare") == [
        "    return ((a) >=  # the bigger\n            (b))\n",
        "    return ((a) <  # the bigger\n            (b))\n",
    ]


def test_membership_and_identity() -> None:
    body = "    return a in xs and b not in xs and a is None and b is not None\n"
    assert texts(body, "membership") == [
        "    return a not in xs and b not in xs and a is None and b is not None\n",
        "    return a in xs and b in xs and a is None and b is not None\n",
    ]
    assert descriptions(body, "identity") == ["is -> is not", "is not -> is"]


def test_arithmetic_swaps_binary_and_augmented_operators() -> None:
    body = ("    total = a + b * 2 - a // 3 % b\n"
            "    total += -a\n"
            "    return total\n")
    assert descriptions(body, "arith") == [
        "+ -> -", "* -> /", "- -> +", "// -> /", "% -> //", "+= -> -=", "`-a` -> `a`"]
    assert texts(body, "arith")[0] == body.replace("a + b", "a - b")
    assert texts(body, "arith")[-2] == body.replace("+=", "-=")


def test_arithmetic_leaves_neutral_operands_and_string_formatting_alone() -> None:
    body = "    return '%s' % (a + 0, b * 1, a ** 1)\n"
    assert texts(body, "arith") == []


def test_and_or_swap_all_of_one_expression() -> None:
    body = "    return a and b and flag or xs\n"  # (a and b and flag) or xs
    assert texts(body, "boolop") == ["    return a and b and flag and xs\n",
                                     "    return a or b or flag or xs\n"]
    assert descriptions(body, "boolop") == ["or -> and", "and -> or"]
    assert texts("    return a and a\n", "boolop") == []  # the same either way


def test_constants_count_one_more_and_booleans_flip() -> None:
    body = "    return [0, -1, 2.5, True, 'text', None]\n"
    assert descriptions(body, "constant") == ["0 -> 1", "-1 -> 0", "2.5 -> 3.5", "True -> False"]
    assert "    return [0, 0, 2.5, True, 'text', None]\n" in texts(body, "constant")


def test_negations_remove_not_and_negate_conditions() -> None:
    body = ("    if flag:\n"
            "        return not(a)\n"
            "    return [x for x in xs if x] if a < b else b\n")
    assert texts(body, "negate") == [
        "    if not flag:\n        return not(a)\n"
        "    return [x for x in xs if x] if a < b else b\n",
        "    if flag:\n        return (a)\n    return [x for x in xs if x] if a < b else b\n",
        "    if flag:\n        return not(a)\n"
        "    return [x for x in xs if not x] if a < b else b\n",
    ]  # the conditional expression's ``a < b`` is the comparison operators' business


def test_statements_are_deleted_but_not_the_only_one_nor_an_elif() -> None:
    body = ("    xs.append(a)  # keep a\n"
            "    if a:\n"
            "        b = 1\n"
            "    elif b:\n"
            "        b = 2\n"
            "    return b\n")
    assert descriptions(body, "delete") == [
        "delete `xs.append(a)`", "delete `if a:`", "delete `b = 1`", "delete `b = 2`"]
    assert "    pass  # keep a\n" in texts(body, "delete")[0]
    assert texts("    xs.append(a)\n", "delete") == []


def test_a_loop_bodys_last_continue_is_not_deleted() -> None:
    body = ("    for x in xs:\n"
            "        if x:\n"
            "            b = x\n"
            "        else:\n"
            "            continue\n"
            "    return b\n")
    assert "delete `continue`" not in descriptions(body, "delete")
    assert descriptions(body, "loop") == ["continue -> break"]


def test_returns_become_constants_of_their_obvious_type() -> None:
    cases = {
        "    return a < b\n": ["True", "False"],
        "    return [x for x in xs]\n": ["[]"],
        "    return len(xs)\n": ["0"],
        "    return ', '.join(xs)\n": ["''"],
        "    return []\n": ["None"],
        "    return a.value\n": ["None"],
    }
    for body, expected in cases.items():
        assert texts(body, "return-constant") == [f"    return {e}\n" for e in expected], body
    assert texts("    return None\n", "return-constant") == []
    assert texts("    return 3\n", "return-constant") == []  # the constant operator's


def test_slice_bounds_move_inwards() -> None:
    body = "    return xs[1:a], xs[:b], xs[b - 1:], xs[a * 2:a + 1], xs[::-1]\n"
    assert descriptions(body, "slice") == [
        "`xs[1:a]` -> `xs[2:a]`", "`xs[1:a]` -> `xs[1:a - 1]`", "`xs[:b]` -> `xs[:b - 1]`",
        "`xs[b - 1:]` -> `xs[b:]`", "`xs[a * 2:a + 1]` -> `xs[(a * 2) + 1:a + 1]`",
        "`xs[a * 2:a + 1]` -> `xs[a * 2:a]`"]
    # A bound is the slice operator's; a number inside one and a step are constants.
    assert descriptions(body, "constant") == ["1 -> 2", "2 -> 3", "1 -> 2", "-1 -> 0"]
    assert texts(body, "constant")[0] == body.replace("b - 1", "b - 2")


def test_range_bounds() -> None:
    body = "    return list(range(len(xs))) + list(range(1, b, 2))\n"
    assert descriptions(body, "range") == [
        "`range(len(xs))` -> `range(len(xs) - 1)`", "`range(len(xs))` -> `range(len(xs) + 1)`",
        "`range(1, b, 2)` -> `range(2, b, 2)`", "`range(1, b, 2)` -> `range(1, b - 1, 2)`",
        "`range(1, b, 2)` -> `range(1, b + 1, 2)`"]
    assert descriptions(body, "constant") == ["2 -> 3"]
    # An offset moves (n - 1 -> n), rather than growing into (n - 1) + 1; and n - 2 is the
    # constant operator's mutant already (one mutant, made once).
    body = "    return list(range(len(xs) - 1))\n"
    assert texts(body, "range") == ["    return list(range(len(xs)))\n"]
    assert texts(body, "constant") == ["    return list(range(len(xs) - 2))\n"]


def test_arguments_of_the_programs_own_functions_are_swapped() -> None:
    prompt = "def helper(x, y):\n    return x - y\n\n\n" + PROMPT
    body = "    return helper(a, b) + helper(a, a) + max(a, b) + target(b, a, xs, flag)\n"
    assert descriptions(body, "swap-args", prompt) == [
        "helper(): swap `a` and `b`", "target(): swap `b` and `a`",
        "target(): swap `a` and `xs`", "target(): swap `xs` and `flag`"]
    assert texts(body, "swap-args", prompt)[0] == (
        "    return helper(b, a) + helper(a, a) + max(a, b) + target(b, a, xs, flag)\n")


def test_builtins_min_max_any_all_swap_unless_the_module_binds_them() -> None:
    assert texts("    return min(xs) + any(xs)\n", "builtin") == [
        "    return max(xs) + any(xs)\n", "    return min(xs) + all(xs)\n"]
    prompt = "from mylib import max\n\n\n" + PROMPT
    assert texts("    return max(xs)\n", "builtin", prompt) == []


def test_loops_break_and_continue_swap() -> None:
    body = ("    for x in xs:\n"
            "        if x:\n"
            "            break\n"
            "        b += x\n"
            "    return b\n")
    assert texts(body, "loop") == [body.replace("break", "continue")]
