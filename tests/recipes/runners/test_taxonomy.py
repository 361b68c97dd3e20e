"""The failure taxonomy: every cause the code can record is in the documented set, and
failed commands' output is read into the right cause, counts and one-line reason."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from miners.pipeline import LOG_TAIL_LINES, keep_log_tail
from recipes.records import CommandOutcome
from recipes.runners.diagnose import (
    BOUND_CAUSES,
    CAUSES,
    cause_of_build_failure,
    cause_of_test_failure,
    failure_line,
    suite_counts,
)

ROOT = Path(__file__).resolve().parents[3]
# Literal causes in the code: StageError("stage", "cause", ...), Failure(stage, "cause", ...),
# and the strings the diagnose functions return.
_RAISED = re.compile(r"(?:StageError|Failure)\(\s*[\w.\"]+,\s*\"(\w+)\"")
_RETURNED = re.compile(r"^\s+return \"(\w+)\"$", re.MULTILINE)


def _causes_in_code() -> set[str]:
    found: set[str] = set()
    for package in ("recipes", "miners", "tracer"):
        for path in (ROOT / package).rglob("*.py"):
            found |= set(_RAISED.findall(path.read_text(encoding="utf-8")))
    diagnose = (ROOT / "recipes" / "runners" / "diagnose.py").read_text(encoding="utf-8")
    return found | set(_RETURNED.findall(diagnose)) | set(BOUND_CAUSES.values())


def test_every_cause_the_code_records_is_documented() -> None:
    found = _causes_in_code()
    assert {"python2_only", "tests_failed", "no_interpreter", "timeout"} <= found
    assert found - set(CAUSES) == set()


def _failed(output: str, exit_code: int = 1) -> CommandOutcome:
    return CommandOutcome(argv=("x",), exit_code=exit_code, duration=1.0, output_tail=output)


@pytest.mark.parametrize("output, cause", [
    ("  File \"setup.py\", line 9\n    print 'hello'\nSyntaxError: Missing parentheses in "
     "call to 'print'. Did you mean print(...)?", "python2_only"),
    ("error in old setup command: use_2to3 is invalid.", "python2_only"),
    ("ERROR: No matching distribution found for nosuchthing==9", "dependency_resolution"),
    ("  x No solution found when resolving dependencies:\n  `-> Because demo-dep was not "
     "found in the package registry, we can conclude ...", "dependency_resolution"),  # uv
    ("fatal error: Python.h: No such file or directory", "c_extension_build"),
    ("ERROR: some other trouble", "install_failed"),
])
def test_build_failures_get_their_cause(output: str, cause: str) -> None:
    assert cause_of_build_failure(_failed(output)) == cause


@pytest.mark.parametrize("output, cause", [
    ("E   ModuleNotFoundError: No module named 'urllib2'", "python2_only"),
    # An old example in a docstring of a Python 3 project (dynaconf 3.2.4) is no Python 2.
    ("726             >>> print settings.VALUE\nUNEXPECTED EXCEPTION: SyntaxError(\"Missing "
     "parentheses in call to 'print'.\", ('<doctest dynaconf.base.Settings.fresh[1]>', 1))\n"
     "Traceback (most recent call last):\n  File \"<doctest dynaconf.base.Settings.fresh[1]>"
     "\", line 1\n    print settings.VALUE\nSyntaxError: Missing parentheses in call to "
     "'print'. Did you mean print(...)?\n==== 7 failed, 1 passed in 0.98s ====", "tests_failed"),
    ("E   pytest.PytestRemovedIn10Warning: Passing a non-Collection iterable to "
     "parametrize is deprecated.", "test_runner_incompatible"),
    ("E   ModuleNotFoundError: No module named 'hypothesis'", "import_error_in_tests"),
    ("ERROR: usage: python -m pytest [options] [file_or_dir] [file_or_dir] [...]\n"
     "python -m pytest: error: unrecognized arguments: --cov=parse --cov-branch",
     "test_plugin_missing"),
    ("WARNING: Retrying after connection broken by 'NewConnectionError(... [Errno -3] "
     "Temporary failure in name resolution'\nERROR: No matching distribution found for "
     "setuptools", "network_in_tests"),
    ("\x1b[31m===== 3 failed, 1 passed in 0.20s =====\x1b[0m", "tests_failed"),
    ("Ran 0 tests in 0.000s\n\nOK", "no_tests_found"),
    # Services the tests expect on this machine, as their drivers say so.
    ("FAILED tests/test_a.py::test_x - redis.exceptions.ConnectionError: Error 111 "
     "connecting to localhost:6379. Connection refused.", "needs_service"),
    ("E   psycopg2.OperationalError: could not connect to server: Connection refused\n"
     "E   \tIs the server running on host \"localhost\" (127.0.0.1) and accepting\n",
     "needs_service"),
    ("E   psycopg.OperationalError: connection to server at \"localhost\" (127.0.0.1), port "
     "5432 failed: Connection refused", "needs_service"),
    ("E   pymongo.errors.ServerSelectionTimeoutError: localhost:27017: [Errno 111] "
     "Connection refused", "needs_service"),
    ("E   pymysql.err.OperationalError: (2003, \"Can't connect to MySQL server on "
     "'localhost' ([Errno 111] Connection refused)\")", "needs_service"),
    # A refused connection to another port may be the test's own server: no service.
    ("E   requests.exceptions.ConnectionError: HTTPConnectionPool(host='localhost', "
     "port=8000): Max retries exceeded ([Errno 111] Connection refused)\n"
     "==== 3 failed in 0.5s ====", "tests_failed"),
])
def test_test_failures_get_their_cause(output: str, cause: str) -> None:
    assert cause_of_test_failure(_failed(output)) == cause
    assert cause in CAUSES


def test_the_reason_line_has_no_terminal_colours() -> None:
    # humanize 2.6.0's reason used to be "[31m==== [31m[1m4 errors[0m ..."
    line = failure_line(_failed("\x1b[31m==== \x1b[31m\x1b[1m4 errors\x1b[0m in 7.57s ===="), "")
    assert line == "==== 4 errors in 7.57s ===="


@pytest.mark.parametrize("output, counts, mostly", [
    ("==== 1 failed, 277 passed, 21 skipped, 1 xfailed, 1 error in 51.00s ====", (277, 1, 1),
     True),
    ("1 error in 12.98s", (0, 0, 1), False),
    ("\x1b[32m==== 3 passed in 0.10s ====\x1b[0m", (3, 0, 0), True),
    ("Ran 12 tests in 0.1s\n\nFAILED (failures=2, errors=1, skipped=1)", (8, 2, 1), True),
    ("Ran 4 tests in 0.1s\n\nFAILED (failures=3)", (1, 3, 0), False),
    ("Ran 197 tests in 0.95s\n\nOK (skipped=276)", (197, 0, 0), True),
])
def test_suite_counts_read_pytest_and_unittest_summaries(output: str,
                                                         counts: tuple[int, int, int],
                                                         mostly: bool) -> None:
    found = suite_counts("collecting ...\n" + output + "\npy: commands failed\n")
    assert found is not None
    assert (found.passed, found.failed, found.errors) == counts
    assert found.mostly_passed is mostly


def test_no_summary_means_no_counts() -> None:
    assert suite_counts("Traceback (most recent call last):\nSystemExit: 3\n") is None


def test_a_failed_projects_log_tail_is_kept_beside_the_outputs(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "proj-1234.log"
    log.parent.mkdir()
    log.write_text("".join(f"line {n}\n" for n in range(500)))
    kept = keep_log_tail(log, tmp_path)
    assert kept == "failures/proj-1234.tail.txt"
    lines = (tmp_path / kept).read_text().splitlines()
    assert len(lines) == LOG_TAIL_LINES and lines[-1] == "line 499"
    assert keep_log_tail(tmp_path / "logs" / "missing.log", tmp_path) == ""


def test_suite_counts_add_up_every_suite_a_tox_environment_runs() -> None:
    # natsort 7.0.1: a doctest of its docs (3 of 105 fail here: no en_US locale), then pytest.
    output = ("**********\n1 items had failures:\n   3 of 105 in howitworks.rst\n"
              "***Test Failed*** 3 failures.\npy38: exit 1\n"
              "py38: commands[1]> pytest\n===== 250 passed, 2 skipped in 9.10s =====\n"
              "Ran 5 tests in 0.01s\n\nOK (skipped=1)\n")
    found = suite_counts(output)
    assert found is not None
    assert (found.passed, found.failed, found.errors) == (102 + 250 + 4, 3, 0)
    assert found.mostly_passed


def test_a_failed_run_without_a_test_summary_failed_before_its_tests() -> None:
    output = "Building package\nTypeError: canonicalize_version() got an unexpected keyword\n"
    assert cause_of_test_failure(_failed(output), counted=False) == "test_command_failed"
    assert cause_of_test_failure(_failed(output)) == "tests_failed"
    # A cause the output names still wins.
    assert cause_of_test_failure(_failed("ModuleNotFoundError: No module named 'x'"),
                                 counted=False) == "import_error_in_tests"
