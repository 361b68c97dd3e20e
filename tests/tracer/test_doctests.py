"""Doctests told from tests by the ids the probe records (issue 16, item 4)."""

from __future__ import annotations

import pytest

from tracer.doctests import is_doctest, only_doctests


@pytest.mark.parametrize("test_id", [
    "pkg/mod.py::pkg.mod.add",  # pytest --doctest-modules
    "README.rst::README.rst",  # pytest --doctest-glob
    "pkg.mod.Thing.method",  # unittest's DocTestSuite
    "README.txt",  # unittest's DocFileSuite
])
def test_doctest_ids(test_id: str) -> None:
    assert is_doctest(test_id)


@pytest.mark.parametrize("test_id", [
    "tests/test_mod.py::test_add",
    "tests/test_mod.py::TestAdd::test_add[1.5-2.5]",
    "tests.test_mod.TestAdd.test_add",
    "tests.test_mod.TestAdd.runTest",
    "check_add",  # unittest.FunctionTestCase
])
def test_test_ids(test_id: str) -> None:
    assert not is_doctest(test_id)


def test_only_doctests_needs_one_id_and_every_id_a_doctest() -> None:
    assert only_doctests(["pkg/mod.py::pkg.mod.add", "pkg/mod.py::pkg.mod.Thing"])
    assert not only_doctests(["pkg/mod.py::pkg.mod.add", "tests/test_mod.py::test_add"])
    assert not only_doctests([])
