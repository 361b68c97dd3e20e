"""Deduplication: exact duplicates by normalised AST, near duplicates by MinHash + LSH."""

from __future__ import annotations

import random

from tracer.dataset import minhash
from tracer.dataset.dedup import EXACT, NEAR, DedupInput, deduplicate, fingerprint


def problem(task_id: str, header: str, body: str, entry_point: str) -> DedupInput:
    return DedupInput(task_id, header, body, entry_point)


ADD = problem("p/add", 'def add(x, y):\n    """Add two numbers."""\n',
              "    total = x + y\n    return total\n", "add")
# The same function: other name, other docstring, other local names, a comment, other layout.
PLUS = problem("q/plus", 'def plus(a, b):\n    """Sum them up, carefully."""\n',
               "    # the sum\n    s = (a +\n         b)\n    return s\n", "plus")
SUB = problem("p/sub", 'def sub(x, y):\n    """Subtract."""\n',
              "    total = x - y\n    return total\n", "sub")

LONG_BODY = """\
    result = []
    for index, item in enumerate(items):
        if item is None:
            continue
        if isinstance(item, str):
            result.append(item.strip().lower())
        elif isinstance(item, bytes):
            result.append(item.decode("utf-8").strip().lower())
        else:
            result.append(str(item))
    result.sort(key=len)
    return [entry for entry in result if entry]
"""


def test_renamed_and_reformatted_copies_are_exact_duplicates_of_the_first() -> None:
    decisions = deduplicate([ADD, PLUS, SUB])
    assert [(d.task_id, d.cluster, d.size, d.reason) for d in decisions] == [
        ("p/add", "p/add", 2, ""), ("q/plus", "p/add", 2, EXACT), ("p/sub", "p/sub", 1, "")]


def test_a_different_operator_or_global_name_is_not_an_exact_duplicate() -> None:
    uses_len = problem("a", "def f(x):\n", "    return len(x)\n", "f")
    uses_sum = problem("b", "def f(x):\n", "    return sum(x)\n", "f")
    assert fingerprint(uses_len).exact != fingerprint(uses_sum).exact
    assert fingerprint(ADD).exact != fingerprint(SUB).exact


def test_a_lightly_edited_copy_is_a_near_duplicate() -> None:
    original = problem("p/clean", "def clean(items):\n    \"\"\"Clean.\"\"\"\n", LONG_BODY, "clean")
    edited = problem("q/clean", "def clean(items):\n    \"\"\"Clean up.\"\"\"\n",
                     LONG_BODY.replace("result.sort(key=len)\n", "result.sort(key=len)\n"
                                       "    result.reverse()\n"), "clean")
    decisions = deduplicate([original, edited])
    assert decisions[0].kept and decisions[0].size == 2
    assert decisions[1].reason == NEAR and decisions[1].cluster == "p/clean"
    assert 0.7 <= decisions[1].similarity < 1.0


def test_unrelated_functions_are_all_kept() -> None:
    rng = random.Random(7)
    problems = []
    for n in range(40):
        names = [f"name{rng.randrange(1000)}" for _ in range(12)]
        body = "".join(f"    {a} = {b} + {n}\n" for a, b in zip(names, names[1:], strict=False))
        problems.append(problem(f"t/{n}", f"def f{n}(x):\n", body + "    return x\n", f"f{n}"))
    assert all(d.kept and d.size == 1 for d in deduplicate(problems))


def test_the_same_input_gives_the_same_decisions() -> None:
    items = [ADD, SUB, PLUS, ADD]
    assert deduplicate(items) == deduplicate(list(items))


def test_minhash_estimates_jaccard_similarity() -> None:
    first = minhash.shingles([f"t{i}" for i in range(200)])
    second = minhash.shingles([f"t{i}" for i in range(40, 240)])
    exact = len(first & second) / len(first | second)
    estimate = minhash.jaccard_estimate(minhash.signature(first), minhash.signature(second))
    assert abs(estimate - exact) < 0.1
    assert minhash.signature(first) == minhash.signature(set(first))


def test_lsh_bands_centre_on_the_threshold_and_find_only_similar_sets() -> None:
    bands, rows = minhash.bands_for(0.7)
    assert bands * rows <= minhash.NUM_PERM
    assert 0.6 < (1 / bands) ** (1 / rows) < 0.8
    index = minhash.LshIndex(0.7)
    base = [f"t{i}" for i in range(300)]
    index.add(0, minhash.signature(minhash.shingles(base)))
    index.add(1, minhash.signature(minhash.shingles([f"u{i}" for i in range(300)])))
    near = base[:290] + [f"v{i}" for i in range(10)]
    assert index.query(minhash.signature(minhash.shingles(near))) == [0]


def test_unparsable_problems_fall_back_on_their_text() -> None:
    broken = problem("x/1", "def f(:\n", "    return 1\n", "f")
    again = problem("x/2", "def f(:\n", "    return   1\n", "f")
    decisions = deduplicate([broken, again])
    assert decisions[1].reason == EXACT


def test_methods_of_one_class_are_compared_by_their_own_code() -> None:
    cls = ("class Shelf:\n    \"\"\"Items on a shelf.\"\"\"\n\n" + "".join(
        f"    def m{n}(self):\n        \"\"\"Method {n}.\"\"\"\n"
        f"        return {n} * len(self.items)\n\n"
        for n in range(12)))
    first = problem("p/Shelf.count", cls + "    def count(self):\n        \"\"\"How many.\"\"\"\n",
                    "        return len(self.items)\n", "Shelf")
    second = problem("p/Shelf.names", cls + "    def names(self):\n        \"\"\"Names.\"\"\"\n",
                     "        found = [item.name for item in self.items if item]\n"
                     "        return sorted(found)\n", "Shelf")
    # Another class holding the very method `count` is: an exact duplicate of it.
    again = problem("q/Box.size", "class Box:\n    def size(self):\n        \"\"\"Size.\"\"\"\n",
                    "        return len(self.items)\n", "Box")
    decisions = deduplicate([first, second, again])
    assert [d.reason for d in decisions] == ["", "", EXACT]
