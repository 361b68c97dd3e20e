"""The helpers a test defines: a preamble gains those that derived blocks call."""

from __future__ import annotations

from tracer.emit import check_helpers

RECORDED = "    assert candidate(2) == 4\n"
RAISES = "    assert _raised(lambda: candidate(-1)) == 'ValueError'\n"
FLOAT = "    assert _close(candidate(0.5), 0.25)\n"


def test_a_preamble_that_has_what_the_blocks_use_is_kept_as_it_is() -> None:
    text = check_helpers.preamble({check_helpers.RAISED, check_helpers.module_import("os")})
    assert check_helpers.preamble_for(text, [RECORDED, RAISES]) == text
    assert check_helpers.preamble_for("", [RECORDED]) == ""


def test_helpers_derived_blocks_call_are_added_and_none_it_had_is_lost() -> None:
    text = check_helpers.preamble({check_helpers.OBJECT, check_helpers.module_import("decimal")})
    grown = check_helpers.preamble_for(text, [RAISES, FLOAT])
    assert check_helpers.helpers_in(grown) == {
        check_helpers.OBJECT, check_helpers.RAISED, check_helpers.CLOSE,
        check_helpers.module_import("decimal"), check_helpers.module_import("math")}
    namespace: dict[str, object] = {}
    exec(grown, namespace)  # the preamble defines what the blocks call
    assert namespace["_raised"](lambda: int("x")) == "ValueError"
    assert namespace["_close"](0.1 + 0.2, 0.3)
