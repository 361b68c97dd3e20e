"""A 2015-era tox configuration: every environment on a Python tox no longer runs (py34,
py35), and a ``setup.py`` that imports its package, which only loads on an old Python. The
environment runs on the oldest Python tox does run (a stand-in), and its package is built on
that Python, not on tox's own. A small real project, mined."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recipes import interpreters
from tests.e2e.projects import mine_one, write_project

PACKAGE = '''\
import sys

if sys.version_info >= (3, 10):  # as `from collections import Sequence` did
    raise ImportError("oldpkg loads on Python 3.9 and older only")

__version__ = "1.0"


def halve(number):
    """Half of ``number``, rounded down."""
    return number // 2
'''
SETUP = '''\
from setuptools import setup

import oldpkg  # the habit of the time: the version read by importing the package

setup(name="oldpkg", version=oldpkg.__version__, packages=["oldpkg"])
'''
TESTS = '''\
from oldpkg import halve


def test_halve_even():
    assert halve(10) == 5


def test_halve_odd():
    assert halve(7) == 3


def test_halve_zero():
    assert halve(0) == 0
'''
TOX_INI = "[tox]\nenvlist = py34, py35\n\n[testenv]\ndeps = pytest\ncommands = pytest -q tests\n"


@pytest.mark.slow
@pytest.mark.skipif(interpreters.choose(interpreters.TOX_OLDEST) is None or
                    interpreters.choose(interpreters.TOX_OLDEST).version[:2] >= (3, 10),
                    reason="needs a Python from 3.7 to 3.9")
def test_environments_on_pythons_tox_no_longer_runs_run_on_a_stand_in(tmp_path: Path) -> None:
    project = write_project(tmp_path / "oldpkg", {
        "oldpkg/__init__.py": PACKAGE, "setup.py": SETUP, "tests/test_halve.py": TESTS,
        "tox.ini": TOX_INI})
    out = tmp_path / "out"
    repo = mine_one(project, out)
    assert repo["status"] == "ok", repo
    assert repo["recipe"] == "tox.ini:py34" and repo["recipes_tried"] == []
    assert repo["python"].startswith("3.7")
    assert repo["counts"]["tests_passed"] == 3
    problems = [json.loads(line) for line in (out / "problems.jsonl").read_text().splitlines()]
    assert [p["entry_point"] for p in problems] == ["halve"]
