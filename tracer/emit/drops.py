"""Why a function (or one of its calls) did not become a problem.

Every drop has a named reason so the funnel can be read off the counters (datatrove's
``dropped_<reason>`` habit). Function-level reasons are counted once per function in
``EmitReport.dropped``; call-level reasons once per call in ``EmitReport.calls_dropped``.
"""

from __future__ import annotations

# --- function level: where the function is and what its source looks like
NOT_TOPLEVEL = "not_toplevel"  # a method, a nested function, or not bound under its own name
OUTSIDE_PROJECT = "outside_project"  # file under neither the checkout nor a root
SOURCE_NOT_FOUND = "source_not_found"  # file unreadable, or no matching `def` at that line
UNPARSABLE_SOURCE = "unparsable_source"  # the host's `ast` cannot parse the module
CONDITIONAL_DEFINITION = "conditional_definition"  # `def` inside a top-level if/try/...
ASYNC_FUNCTION = "async_function"
GENERATOR = "generator"
DECORATED = "decorated"
NO_DOCSTRING = "no_docstring"
NO_BODY = "no_body"  # nothing after the docstring
UNSUPPORTED_LAYOUT = "unsupported_layout"  # body shares a line with the docstring

# --- function level: what the prompt would have to carry
NEEDS_PROJECT_MODULE = "needs_project_module"
NEEDS_THIRD_PARTY = "needs_third_party"
UNRESOLVED_NAME = "unresolved_name"
PROMPT_TOO_LONG = "prompt_too_long"
# A carried statement uses the function as the module loads (`log = initlog` after its
# def): the prompt, which ends with the function, cannot put it first.
CONTEXT_USES_FUNCTION = "context_uses_function"

# --- function level: what the recorded calls allow
NO_USABLE_CALLS = "no_usable_calls"
NONDETERMINISTIC = "nondeterministic"
DUPLICATE = "duplicate"  # same file and function reached through two traced paths

# --- call level
OPAQUE_VALUE = "opaque_value"  # an argument or the result has no Python source
UNPARSABLE_VALUE = "unparsable_value"  # the recorded source does not parse on the host
RETURNS_NONE = "returns_none"  # a None return looks the same as a raised exception
MUTATES_ARGS = "mutates_args"
FLOAT_RESULT = "float_result"  # exact equality on floats is too brittle for now
LONG_VALUE = "long_value"  # the assert line would be longer than MAX_ASSERT_CHARS

# --- validation
REFERENCE_FAILS = "reference_fails"
TIMEOUT = "timeout"
STUB_PASSES = "stub_passes"


class Drop(Exception):
    """Raised while building a candidate to drop the function for ``reason``."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
