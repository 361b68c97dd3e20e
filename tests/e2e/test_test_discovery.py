"""Projects whose tests the default discovery misses (issue 16, item 4): one with no test
file but docstrings full of examples, one whose tests sit in ``tests/tests.py`` in a folder
that is not a package, one whose test module calls ``unittest.main()`` when imported (ply
3.4, toposort 1.5) and runs its own suite under ``__main__`` (python-mimeparse 0.1.4). All
are mined through the fallback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from miners.cli.main import main
from tests.e2e.projects import write_project
from tests.recipes.tiny_project import pyproject

CALC = '''\
def add(a, b):
    """The sum of two numbers.

    >>> add(1, 2)
    3
    >>> add(-1, 1)
    0
    """
    return a + b


def scale(values, factor):
    """Each value times ``factor``.

    >>> scale([1, 2], 3)
    [3, 6]
    """
    return [value * factor for value in values]
'''
SHAPES = 'def area(width, height):\n    """The area of a rectangle."""\n    return width * height\n'
SHAPES_TESTS = """\
import unittest

from shapes import area


class AreaTests(unittest.TestCase):
    def test_rectangle(self):
        self.assertEqual(area(2, 3), 6)

    def test_square(self):
        self.assertEqual(area(4, 4), 16)
"""

TALLY = 'def tally(words):\n    """How many times each word occurs."""\n    counts = {}\n' \
    '    for word in words:\n        counts[word] = counts.get(word, 0) + 1\n    return counts\n'
# Run as a script from its own folder: it reads its data file by a relative path, and
# ``unittest.main()`` at the top level exits whoever imports it.
TALLY_SCRIPT = """\
import unittest

from tally import tally


class TallyTests(unittest.TestCase):
    def test_words_of_the_data_file(self):
        with open("words.txt") as data:
            self.assertEqual(tally(data.read().split()), {"a": 2, "b": 1})

unittest.main()
"""
# A runner of its own (python-mimeparse 0.1.4): test functions that take their case as
# arguments, which pytest would take for fixtures, and a suite built under ``__main__``.
TALLY_OWN_RUNNER = """\
import unittest
from functools import partial

from tally import tally


def test_tally(words, expected):
    assert tally(words) == expected


if __name__ == "__main__":
    suite = unittest.TestSuite()
    for words, expected in [(["x"], {"x": 1}), (["y", "y", "z"], {"y": 2, "z": 1})]:
        suite.addTest(unittest.FunctionTestCase(partial(test_tally, words, expected)))
    unittest.TextTestRunner(verbosity=1).run(suite)
"""
TALLY_PYTEST = "from tally import tally\n\n\ndef test_empty():\n    assert tally([]) == {}\n"


@pytest.mark.slow
def test_doctests_and_a_tests_folder_that_is_no_package_are_found(tmp_path: Path) -> None:
    calc = write_project(tmp_path / "calc", {
        "pyproject.toml": pyproject("calc", packages=("calc",)),
        "calc/__init__.py": CALC})
    shapes = write_project(tmp_path / "shapes", {
        "pyproject.toml": pyproject("shapes", modules=("shapes",)),
        "shapes.py": SHAPES, "tests/tests.py": SHAPES_TESTS})
    tally = write_project(tmp_path / "tally", {
        "pyproject.toml": pyproject("tally", modules=("tally",)), "tally.py": TALLY,
        "test/testtally.py": TALLY_SCRIPT, "test/words.txt": "a b a\n",
        "test/test_empty.py": TALLY_PYTEST, "tally_test.py": TALLY_OWN_RUNNER})
    out = tmp_path / "out"
    assert main(["mine", str(calc), str(shapes), str(tally), "-o", str(out)]) == 0
    repos = {Path(r["spec"]).name: r for r in map(json.loads, (out / "repos.jsonl").open())}
    problems = {p["entry_point"]: p for p in map(json.loads, (out / "problems.jsonl").open())}
    log = (out / "logs").read_text() if (out / "logs").is_file() else ""
    for name in ("calc", "shapes", "tally"):
        assert repos[name]["status"] == "ok", (repos[name], log)
        assert repos[name]["recipe"] == "fallback:pytest"
    # The doctests ran (three examples in two doctests) and their calls became problems,
    # marked as coming from the docstring's own examples.
    assert repos["calc"]["counts"]["tests_passed"] == 2
    assert problems["add"]["meta"]["from_doctests"] is True
    assert problems["add"]["meta"]["tests"] == ["calc/__init__.py::calc.add"]
    assert problems["scale"]["meta"]["from_doctests"] is True
    # tests/tests.py ran, under pytest's wider pattern; its problem is no doctest's.
    assert repos["shapes"]["counts"]["tests_passed"] == 2
    assert problems["area"]["meta"]["from_doctests"] is False
    assert problems["area"]["meta"]["tests"] == [
        "tests/tests.py::AreaTests::test_rectangle", "tests/tests.py::AreaTests::test_square"]
    # The scripts ran from their folders (the one with a runner of its own ran its two
    # cases), and pytest ran the other module beside them.
    assert repos["tally"]["counts"]["tests_passed"] == 4
    assert problems["tally"]["meta"]["from_doctests"] is False
