"""A suite whose own pytest is older than the Python it runs on (issue 16): a 2016 tox
environment pins pytest 2.9.2, and its ``py34`` runs on 3.7 (the oldest Python tox runs),
where PEP 479 turns pytest 2.9's own ``raise StopIteration`` into an error and no module
with a ``TestCase`` is collected (hyperlink 17.3.1). The tests run again with a pytest that
runs there. A small real project, mined."""

from __future__ import annotations

from pathlib import Path

import pytest

from recipes import interpreters
from tests.e2e.projects import mine_one, write_project
from tests.recipes.tiny_project import pyproject

PACKAGE = '''\
def initials(name):
    """The first letter of each word of ``name``, in capitals."""
    return "".join(word[0].upper() for word in name.split())
'''
# A TestCase: pytest 2.9's hook wrapper raises StopIteration once the unittest plugin has
# made the item (plain test functions still collect).
TESTS = '''\
import unittest

from initials import initials


class InitialsTests(unittest.TestCase):
    def test_two_words(self):
        self.assertEqual(initials("ada lovelace"), "AL")

    def test_one_word(self):
        self.assertEqual(initials("grace"), "G")
'''
TOX_INI = """\
[tox]
envlist = py34

[testenv]
deps = pytest==2.9.2
commands = py.test tests
"""


@pytest.mark.slow
@pytest.mark.skipif(not any(i.version[:2] == (3, 7) for i in interpreters.discover()),
                    reason="needs CPython 3.7")
def test_a_pytest_too_old_for_its_python_is_replaced(tmp_path: Path) -> None:
    project = write_project(tmp_path / "initials", {
        "pyproject.toml": pyproject("initials", modules=("initials",)),
        "initials.py": PACKAGE, "tests/test_initials.py": TESTS, "tox.ini": TOX_INI})
    repo = mine_one(project, tmp_path / "out")
    log = (tmp_path / "out" / repo["log"]).read_text()
    assert "pytest-2.9.2" in log and "generator raised StopIteration" in log
    assert repo["status"] == "ok", (repo, log[-3000:])
    assert repo["recipe"] == "tox.ini:py34" and repo["python"].startswith("3.7")
    assert repo["test_runner_pin"].startswith("pytest>=3.5,<5: the tests' pytest is older")
    assert repo["counts"]["tests_passed"] == 2
