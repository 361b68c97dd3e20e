"""Which modules a failed run's tests could not import, and what to install for them."""

from __future__ import annotations

from recipes.runners import missing

# pytest 3.1 on 3.6, Markdown 2.5.2's tests (the paths shortened).
PYTEST = """\
ImportError while importing test module '/s/Markdown-2.5.2/tests/test_apis.py'.
Hint: make sure your test modules/packages have valid Python names.
Traceback:
tests/__init__.py:5: in <module>
    import nose
E   ModuleNotFoundError: No module named 'nose'
ImportError while importing test module '/s/Markdown-2.5.2/tests/test_extensions.py'.
E   ModuleNotFoundError: No module named 'nose'
=========================== 2 error in 0.27 seconds ============================
"""
# google-auth 0.5.0: its conftest imports mock, and pytest stops before collecting.
CONFTEST = """\
    import mock
ModuleNotFoundError: No module named 'mock'
ERROR: could not load /s/google-auth-0.5.0/tests/conftest.py
"""
UNITTEST = """\
ERROR: tests.test_clock (unittest.loader._FailedTest)
ImportError: Failed to import test module: tests.test_clock
ModuleNotFoundError: No module named 'freezegun'
ModuleNotFoundError: No module named 'yaml'
"""


def test_the_modules_the_tests_could_not_import_are_read_in_order() -> None:
    assert missing.missing_modules(PYTEST, own=set()) == ["nose"]
    assert missing.missing_modules(CONFTEST, own=set()) == ["mock"]
    assert missing.missing_modules(UNITTEST, own=set()) == ["freezegun", "yaml"]


def test_the_projects_own_modules_and_parts_of_installed_ones_are_not_installed() -> None:
    own = "ERROR collecting tests/test_x.py\nE   ModuleNotFoundError: No module named 'mypkg'\n"
    assert missing.missing_modules(own, own={"mypkg"}) == []
    part = ("ERROR collecting tests/test_x.py\n"
            "E   ModuleNotFoundError: No module named 'OpenSSL.test'\n")
    assert missing.missing_modules(part, own=set()) == []
    # An import error of the project's code at run time, not of a test module: not ours to fix.
    runtime = "E   ModuleNotFoundError: No module named 'mock'\n1 failed in 0.1s\n"
    assert missing.missing_modules(runtime, own=set()) == []


def test_distributions_named_otherwise_are_installed_by_their_name() -> None:
    assert missing.requirements(["yaml", "mock", "dateutil", "msvcrt", "hamcrest"]) == [
        "PyYAML", "mock", "python-dateutil", "PyHamcrest"]


def test_a_suite_cannot_pass_an_option_to_the_installer() -> None:
    # A hostile suite prints what it likes: only plain module names ever reach the install.
    printed = ("ERROR collecting tests/test_x.py\n"
               "ModuleNotFoundError: No module named '--index-url=http://evil.example/'\n"
               "ModuleNotFoundError: No module named 'x y'\n"
               "ModuleNotFoundError: No module named '-e'\n")
    assert all(name.isidentifier() for name in missing.missing_modules(printed, own=set()))
    assert missing.missing_modules(printed, own=set()) == []
