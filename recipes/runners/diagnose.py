"""Reading a failed command's output: the telling line, the cause from a fixed set, and
how many tests passed and failed.

``CAUSES`` is the fixed set every ``Failure.cause`` comes from (the README lists it);
``tests/recipes/runners/test_taxonomy.py`` checks that the code raises no other."""

from __future__ import annotations

import re
from dataclasses import dataclass

from recipes.records import CommandOutcome
from recipes.runners.eras import removed_apis

CAUSES: dict[str, str] = {
    # acquire
    "bad_spec": "the SPEC cannot be understood",
    "not_found": "no such project, release, file or revision",
    "no_sdist": "the PyPI release has no source distribution",
    "network": "the index or repository could not be reached",
    "http_error": "the server answered with an error",
    "bad_response": "the server's answer could not be read",
    "checksum_mismatch": "the download does not match the index's sha256",
    "bad_archive": "the archive cannot be unpacked",
    "unsafe_archive": "the archive has members outside itself (links, absolute paths)",
    "too_large": "the download or archive exceeds citrace's size bounds",
    "bad_destination": "the checkout directory cannot be used",
    "copy_failed": "a local project could not be copied",
    "disk_error": "the disk is full or cannot be written",
    "git_missing": "git is not installed",
    "license_filtered": "the project's license is not one ``--license`` keeps",
    # plan
    "config_unreadable": "the CI configuration is malformed, too big, not UTF-8, or tox "
                         "rejects it",
    "no_interpreter": "no interpreter on this machine suits any job",
    "python2_only": "the project runs only on Python 2, which the tracer cannot trace",
    "no_recipe_for_python": "no recipe runs on the Python its list line asks for",
    # build
    "venv_failed": "the virtualenv could not be created",
    "dependency_resolution": "a dependency cannot be found or the requirements conflict",
    "c_extension_build": "compiling a C extension failed",
    "install_failed": "installing the project or its dependencies failed otherwise",
    "broken_env": "the environment was built but its interpreter does not work",
    "network_refused": "the build needed a host other than the package index's, which the "
                       "sandbox's egress proxy refused (allow it with CITRACE_ALLOWED_HOSTS)",
    # test
    "import_error_in_tests": "the tests cannot import something they need",
    "network_in_tests": "a test command needs the network, which the traced run has not "
                        "(a pip install among tox's commands, a test that downloads)",
    "test_runner_incompatible": "today's test runner rejects the old suite (pytest "
                                "deprecations that are now errors, nose-style tests)",
    "test_plugin_missing": "the project's pytest options need a plugin that is not installed "
                           "(``addopts = --cov`` without pytest-cov)",
    "needs_service": "the tests need a service that is not running here (a database, "
                     "redis, a message broker: connection refused on its port)",
    "no_tests_found": "the test command found no tests to run",
    "no_tests": "the recipe has no test command",
    "tests_failed": "the tests ran and most of them failed",
    "test_command_failed": "the test command failed before any test runner said what it "
                           "ran (a build, a docs or lint step, a task runner in front)",
    # trace, emit, validate
    "probe_install": "the probe could not be put into the built environment",
    "no_calls": "the tests ran but no call of the project's own functions was recorded",
    "no_candidates": "no traced function qualified as a problem (the reasons are counted)",
    "none_valid": "no candidate passed validation",
    # any stage: the sandbox's bounds and the run's own
    "timeout": "a command, or the whole project, ran out of time",
    "out_of_memory": "a command hit the sandbox's memory limit",
    "output_limit": "a command printed more than the sandbox allows",
    "file_limit": "a command wrote more than the sandbox allows",
    "worker_died": "the worker process running the project died",
    "internal_error": "a bug of citrace's (the traceback is in the log)",
}

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# Output of Python 2 code run on Python 3, or of a setup.py only Python 2's setuptools knew.
_PYTHON2 = re.compile(
    r"missing parentheses in call to 'print'|use_2to3 is invalid|"
    r"multiple exception types must be parenthesized|"
    r"no module named '(urllib2|cstringio|stringio|__builtin__|urlparse|"
    r"httplib|cpickle|htmlparser)'", re.IGNORECASE)
# What pip, requests and urllib print when the name of a host cannot be resolved.
_NO_NETWORK = re.compile(r"temporary failure in name resolution|nameresolutionerror|"
                         r"name or service not known|network is unreachable", re.IGNORECASE)
_RUNNER_TOO_NEW = re.compile(
    r"PytestRemovedIn\d+Warning|yield tests were removed|"
    r"Pytest(Deprecation|Unknown)Warning: .*(removed|is no longer supported)|"
    r"has no attribute 'run_setup'|invalid command 'test'|no module named 'nose'",
    re.IGNORECASE)

# A service the tests expect on this machine (PostgreSQL, MySQL, redis, MongoDB, memcached,
# Elasticsearch, RabbitMQ, Kafka, ZooKeeper, Cassandra, CouchDB, Solr) refused the connection,
# as the drivers say it. A refused connection to another port may be the test's own server.
_SERVICE_PORTS = r"(5432|3306|6379|27017|11211|9200|5672|9092|2181|9042|5984|8983)"
_NEEDS_SERVICE = re.compile(
    r"could not connect to server|is the server running on host|"
    r"connection to server at .{0,80}failed|can't connect to (local )?mysql server|"
    r"error 111 connecting to|serverselectiontimeouterror|amqpconnectionerror|"
    r"nohostavailable|"
    rf"(localhost|127\.0\.0\.1|::1)\W{{1,12}}(port\W{{0,3}})?{_SERVICE_PORTS}\b.{{0,120}}"
    r"(connection refused|errno 111)|"
    rf"(connection refused|errno 111).{{0,120}}(localhost|127\.0\.0\.1|::1)\D{{1,12}}"
    rf"{_SERVICE_PORTS}\b", re.IGNORECASE)

# pip's and uv's words for requirements that cannot be met.
_UNRESOLVABLE = re.compile(r"resolutionimpossible|no matching distribution|"
                           r"no solution found when resolving")

_ERROR_LINE = re.compile(r"error|failed|not found|cannot|exception|no module named", re.IGNORECASE)
# tox's own summary lines say that something failed, not what.
_SUMMARY_LINE = re.compile(r"evaluation failed|: FAIL code|congratulations")


# Causes for the sandbox's bounds, whatever the stage.
BOUND_CAUSES = {"timeout": "timeout", "oom": "out_of_memory", "output_limit": "output_limit",
                "file_limit": "file_limit"}
_BOUND_LINES = {
    "oom": "ran out of memory (the sandbox's memory limit)",
    "output_limit": "printed more than the sandbox's output limit and was stopped",
    "file_limit": "wrote a file larger than, or filled, the sandbox's space",
}


def failure_line(outcome: CommandOutcome, default: str) -> str:
    """The most telling line of a failed command's output, for a one-line reason; with the
    hosts the egress proxy refused it, if any."""
    line = _telling_line(outcome, default)
    if outcome.network is not None and outcome.network.refused:
        hosts = ", ".join(sorted(outcome.network.refused))
        line = f"{line[:240]} (the sandbox refused a connection to {hosts}: not the index's)"
    return line


def _telling_line(outcome: CommandOutcome, default: str) -> str:
    if outcome.timed_out or outcome.verdict == "timeout":
        return f"timed out after {outcome.duration:.0f} s"
    if outcome.verdict in _BOUND_LINES:
        return _BOUND_LINES[outcome.verdict]
    lines = [line.strip() for line in plain_text(outcome.output_tail).splitlines()
             if line.strip()]
    service = [line for line in lines if _NEEDS_SERVICE.search(line)]
    if service:  # the service refused says more than "3 failed" after it
        return service[-1][:300]
    for line in reversed(lines):
        if _ERROR_LINE.search(line) and not _SUMMARY_LINE.search(line):
            return line[:300]
    return lines[-1][:300] if lines else default


def plain_text(text: str) -> str:
    """``text`` without terminal colour codes (tox and pytest colour their output)."""
    return _ANSI.sub("", text)


# How far back from a sign of Python 2 a doctest's name is looked for: its traceback's
# ``File "<doctest ...>"`` line comes two lines before the SyntaxError.
_DOCTEST_REACH = 300


def _python2_code(text: str) -> bool:
    """Whether a failed test run shows Python 2 code: a sign of it outside a doctest. A
    docstring's old ``>>> print x`` in a Python 3 project (dynaconf 3.2.4) fails as a
    doctest, and says nothing of the code."""
    return any("<doctest " not in _around(text, found) for found in _PYTHON2.finditer(text))


def _around(text: str, found: re.Match[str]) -> str:
    """The text from ``_DOCTEST_REACH`` characters before a match to the end of its line
    (doctest's ``UNEXPECTED EXCEPTION: SyntaxError(...)`` names the doctest after it)."""
    end = text.find("\n", found.end())
    return text[max(0, found.start() - _DOCTEST_REACH):end if end >= 0 else len(text)]


def cause_of_build_failure(outcome: CommandOutcome) -> str:
    text = plain_text(outcome.output_tail).lower()
    if outcome.verdict in BOUND_CAUSES:
        return BOUND_CAUSES[outcome.verdict]
    if _PYTHON2.search(text):
        return "python2_only"
    if "could not find python interpreter" in text or "failed to find interpreter" in text:
        return "no_interpreter"
    if outcome.network is not None and outcome.network.refused:
        return "network_refused"
    if _UNRESOLVABLE.search(text):
        return "dependency_resolution"
    if "python.h" in text or re.search(r"command '\S*(gcc|cc|clang)' failed", text):
        return "c_extension_build"
    return "install_failed"


def cause_of_test_failure(outcome: CommandOutcome, *, counted: bool = True) -> str:
    """Why a test run failed; ``counted``: whether its output holds a test summary (one
    without, and with no other cause found, failed before any test ran)."""
    text = plain_text(outcome.output_tail).lower()
    if outcome.verdict in BOUND_CAUSES:
        return BOUND_CAUSES[outcome.verdict]
    if _python2_code(text):
        return "python2_only"
    if _RUNNER_TOO_NEW.search(text) or removed_apis(text):
        return "test_runner_incompatible"
    if _NO_NETWORK.search(text):
        return "network_in_tests"
    if re.search(r"pytest(\.py)?: error: unrecognized arguments: --", text):
        return "test_plugin_missing"
    if _NEEDS_SERVICE.search(text):
        return "needs_service"
    if "modulenotfounderror" in text or "importerror" in text:
        return "import_error_in_tests"
    if outcome.exit_code == 5 or "ran 0 tests" in text or "no tests ran" in text:
        return "no_tests_found"
    if not counted:
        return "test_command_failed"
    return "tests_failed"


@dataclass(frozen=True)
class SuiteCounts:
    """What a test run's summary line says: tests passed, failed, and errors."""

    passed: int
    failed: int
    errors: int

    @property
    def ran(self) -> int:
        """Tests that ran, whatever their outcome."""
        return self.passed + self.failed + self.errors

    @property
    def mostly_passed(self) -> bool:
        """More tests passed than failed or erred: the suite ran, and the environment
        mostly works (see ``miners.pipeline`` for why such a run is kept)."""
        return self.passed > self.failed + self.errors


_PYTEST_COUNT = re.compile(r"(\d+) (passed|failed|errors?)\b")
_PYTEST_SUMMARY = re.compile(r"^=*\s*(\d+ \w+.*) in [\d.]+\s*s(econds)?\b")
_UNITTEST_RAN = re.compile(r"^Ran (\d+) tests? in ", re.MULTILINE)
# The line unittest prints after "Ran N tests": "OK", "OK (skipped=2)", "FAILED (errors=1)".
_UNITTEST_VERDICT = re.compile(r"^(?:OK|FAILED)(?: \((.*)\))?\s*$", re.MULTILINE)
# python -m doctest: "   3 of 105 in howitworks.rst" under "1 items had failures:".
_DOCTEST_FAILED = re.compile(r"^\s+(\d+) of\s+(\d+) in \S+$", re.MULTILINE)


def suite_counts(output: str) -> SuiteCounts | None:
    """The counts of every pytest, unittest and doctest summary in ``output``, summed (a tox
    environment may run several suites); None when there is none."""
    text = plain_text(output)
    passed = failed = errors = 0
    found = False
    for line in text.splitlines():
        if _PYTEST_SUMMARY.match(line.strip()):
            found = True
            counts = {kind.rstrip("s"): int(n) for n, kind in _PYTEST_COUNT.findall(line)}
            passed += counts.get("passed", 0)
            failed += counts.get("failed", 0)
            errors += counts.get("error", 0)
    for ran, details in _unittest_runs(text):
        found = True
        bad, erred = int(details.get("failures", 0)), int(details.get("errors", 0))
        skipped = int(details.get("skipped", 0)) + int(details.get("expected_failures", 0))
        # Skipped subtests are counted apart from the tests run (pathspec 1.1.1: "Ran 197
        # tests", "OK (skipped=276)"): then no skip can be told from a pass.
        passed += ran - bad - erred - (skipped if skipped <= ran - bad - erred else 0)
        failed += bad
        errors += erred
    for bad, tried in _DOCTEST_FAILED.findall(text):
        found = True
        passed += int(tried) - int(bad)
        failed += int(bad)
    return SuiteCounts(passed, failed, errors) if found else None


def _unittest_runs(text: str) -> list[tuple[int, dict[str, str]]]:
    """(tests run, {"failures": n, ...}) for each "Ran N tests" and the verdict after it."""
    runs = []
    for match in _UNITTEST_RAN.finditer(text):
        verdict = _UNITTEST_VERDICT.search(text, match.end())
        details = dict(re.findall(r"(\w+)=(\d+)", verdict.group(1) or "")) if verdict else {}
        runs.append((int(match.group(1)), details))
    return runs
