"""Reading a failed command's output: the telling line, and the cause from a fixed set."""

from __future__ import annotations

import re

from recipes.records import CommandOutcome

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
    """The most telling line of a failed command's output, for a one-line reason."""
    if outcome.timed_out or outcome.verdict == "timeout":
        return f"timed out after {outcome.duration:.0f} s"
    if outcome.verdict in _BOUND_LINES:
        return _BOUND_LINES[outcome.verdict]
    lines = [line.strip() for line in outcome.output_tail.splitlines() if line.strip()]
    for line in reversed(lines):
        if _ERROR_LINE.search(line) and not _SUMMARY_LINE.search(line):
            return line[:300]
    return lines[-1][:300] if lines else default


def cause_of_build_failure(outcome: CommandOutcome) -> str:
    text = outcome.output_tail.lower()
    if outcome.verdict in BOUND_CAUSES:
        return BOUND_CAUSES[outcome.verdict]
    if "could not find python interpreter" in text or "failed to find interpreter" in text:
        return "no_interpreter"
    if "resolutionimpossible" in text or "no matching distribution" in text:
        return "dependency_resolution"
    if "python.h" in text or re.search(r"command '\S*(gcc|cc|clang)' failed", text):
        return "c_extension_build"
    return "install_failed"


def cause_of_test_failure(outcome: CommandOutcome) -> str:
    text = outcome.output_tail.lower()
    if outcome.verdict in BOUND_CAUSES:
        return BOUND_CAUSES[outcome.verdict]
    if "modulenotfounderror" in text or "importerror" in text:
        return "import_error_in_tests"
    if outcome.exit_code == 5 or "ran 0 tests" in text or "no tests ran" in text:
        return "no_tests_found"
    return "tests_failed"
