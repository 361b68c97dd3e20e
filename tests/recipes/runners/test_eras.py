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
