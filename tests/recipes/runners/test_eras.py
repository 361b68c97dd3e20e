"""Which removed pytest API a failed run shows, and which older pytest to run it again with.
(The second run itself, in a real environment: tests/e2e/test_test_era.py.)"""

from __future__ import annotations

import re

from recipes.records import CommandOutcome
from recipes.runners.diagnose import cause_of_test_failure
from recipes.runners.eras import REMOVALS, RUNS_UP_TO, pin_for, removed_apis

# What pytest 9.2 printed for a conftest of 2021 (tests/e2e/era_project.py).
HOOK_REFUSED = """\
pluggy._manager.PluginValidationError: Plugin '/s/tests/conftest.py' for hook 'pytest_collect_file'
hookimpl definition: pytest_collect_file(parent, path)
Argument(s) {'path'} are declared in the hookimpl but can not be found in the hookspec
"""
# A suite of 2013: its collector built directly, and a skip with msg=.
DIRECT = ("E   Failed: Direct construction of YamlFile has been deprecated, please use "
          "YamlFile.from_parent.\n")
SKIP_MSG = "E   TypeError: skip() got an unexpected keyword argument 'msg'\n"
# pytest 2.9.2 on 3.7 (hyperlink 17.3.1): its own hook wrapper's StopIteration, under PEP 479.
TOO_OLD = """\
../env0/py37/lib/python3.7/site-packages/_pytest/vendored_packages/pluggy.py:249: in _wrapped_call
    wrap_controller.send(call_outcome)
E   RuntimeError: generator raised StopIteration
"""


def test_the_removal_is_read_from_the_output() -> None:
    [removal] = removed_apis(HOOK_REFUSED)
    assert removal.removed_in == "9" and "py.path" in removal.what
    assert removed_apis("E   AttributeError: 'Function' object has no attribute "
                        "'get_marker'")[0].removed_in == "4"
    assert removed_apis("3 passed in 0.1s") == []
    # Matched against the lowered output: no upper case but in escapes (\S).
    assert all(re.sub(r"\\[A-Za-z]", "", r.pattern).islower() for r in REMOVALS)


def test_the_pin_is_below_the_oldest_removal_shown() -> None:
    assert pin_for(HOOK_REFUSED, "3.11.7") == (
        "pytest<9", "the tests use py.path arguments of hooks (pytest_collect_file(path, "
                    "parent)), which pytest 9 removed")
    assert pin_for(HOOK_REFUSED + SKIP_MSG, "3.11.7")[0] == "pytest<8"  # type: ignore[index]
    assert pin_for("1 failed in 0.2s", "3.11.7") is None


def test_no_pin_when_no_pytest_that_old_runs_on_the_python() -> None:
    # pytest 5.4.3, the newest before direct construction failed, breaks on 3.10.
    assert pin_for(DIRECT, "3.9.18") == (
        "pytest<6", "the tests use direct construction of collection nodes "
                    "(SomeFile(path, parent)), which pytest 6 removed")
    assert pin_for(DIRECT, "3.11.7") is None
    assert RUNS_UP_TO["6"] < (3, 10)
    assert pin_for(HOOK_REFUSED, "3.15.0") is None  # newer than any pytest was checked on


def test_a_removed_api_is_an_incompatible_test_runner() -> None:
    outcome = CommandOutcome(argv=("pytest",), exit_code=1, duration=1.0,
                             output_tail=HOOK_REFUSED)
    assert cause_of_test_failure(outcome) == "test_runner_incompatible"


def test_a_pytest_too_old_for_its_python_is_replaced_by_one_that_runs_there() -> None:
    assert pin_for(TOO_OLD, "3.7.16") == (
        "pytest>=3.5,<5", "the tests' pytest is older than Python 3.7 and fails there")
    assert pin_for(TOO_OLD, "3.11.7")[0] == "pytest>=6.2,<7"  # type: ignore[index]
    assert pin_for(TOO_OLD, "3.6.15") is None  # nothing newer runs there: 3.6 is no cause
    # The project's own generator, not pytest's: no pin.
    own = ("mypkg/walk.py:12: in walk\n    yield next(it)\n"
           "E   RuntimeError: generator raised StopIteration\n")
    assert pin_for(own, "3.7.16") is None
