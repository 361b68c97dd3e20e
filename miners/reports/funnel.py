"""The funnel's words, said once: what a project has done once it passed each stage, and
the counts from calls recorded to candidates. ``reports.gather`` (status, the HTML report)
and ``reports.stats`` (``citrace stats``) both show them."""

from __future__ import annotations

from recipes.records import STAGES, Stage

PASSED: dict[Stage, str] = {
    "acquire": "acquired", "plan": "planned", "build": "built", "test": "tests passed",
    "trace": "traced (calls recorded)", "emit": "with candidates",
    "validate": "with validated problems"}
# A project's ``counts`` keys, in funnel order, with their labels.
COUNT_STEPS = (("calls_recorded", "calls recorded"), ("functions_traced", "functions traced"),
               ("candidates", "candidates"))
# A project's ``timings`` keys, in the order the work happens: its stages, decontamination
# (timed apart from validation, after it), and the project's whole wall time.
TIMED_STEPS = (*STAGES, "decontaminate", "total")

assert tuple(PASSED) == STAGES, "a label for every stage, in order"
