"""Tests that import a test tool the project never declares (issue 16): its CI installed
``mock`` in a step of its own, or its developers had it (google-auth 0.5.0 and ``mock``,
Markdown 2.5.2 and ``nose`` then ``yaml``). The fallback installs what the test modules
could not import, round by round, and runs them again. A small real project, mined."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.projects import mine_one, write_project
from tests.recipes.tiny_project import pyproject

PACKAGE = '''\
def first_word(text):
    """The first word of ``text``, or '' when it has none."""
    words = text.split()
    return words[0] if words else ""
'''
# ``mock`` (the PyPI backport) first, and, once it imports, ``six``: nothing declares either.
TESTS = '''\
import mock
import six

import fetching


def test_a_sentence():
    assert fetching.first_word("hello big world") == "hello"


def test_nothing_and_a_patch():
    assert fetching.first_word("   ") == ""
    with mock.patch.object(fetching, "first_word", return_value=six.text_type("x")):
        assert fetching.first_word("a b") == "x"
'''


# A backend no index has: it stays missing, and must not keep mock and six out.
OPTIONAL = "import citrace_nowhere_backend_4f1c\n\n\ndef test_backend():\n    pass\n"


@pytest.mark.slow
def test_test_tools_nobody_declared_are_installed_and_the_tests_run(tmp_path: Path) -> None:
    project = write_project(tmp_path / "fetching", {
        "pyproject.toml": pyproject("fetching", modules=("fetching",)),
        "fetching.py": PACKAGE, "tests/test_fetching.py": TESTS,
        "tests/test_optional.py": OPTIONAL})
    repo = mine_one(project, tmp_path / "out")
    log = (tmp_path / "out" / repo["log"]).read_text()
    # Two rounds: six is found missing once mock imports.
    assert "No module named 'mock'" in log and "No module named 'six'" in log
    assert repo["status"] == "ok", (repo, log[-3000:])
    assert repo["recipe"] == "fallback:pytest"
    assert repo["counts"]["tests_passed"] == 2
    assert repo["counts"]["tests_failed"] == 1  # the module that needs the backend
    assert repo["counts"]["problems"] >= 1
