"""``--min-mutation-score X``: keep the problems whose test kills at least a share X of the
mutants of their solution (``ProblemMeta.mutation``). One rule for ``citrace export`` and
``citrace mine``.

A problem whose score was not measured (``mutants == 0``: no mutant could be made, or it was
mined before mutation scoring) is dropped too, and counted apart: nothing says its test is
strong enough.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any, TypeVar

from tracer.records import MutationScore, Problem

SCORE_BELOW = "mutation_score_below"  # measured, and under the minimum
NOT_MEASURED = "mutation_not_measured"  # mutants == 0: no score to compare
REASONS = (SCORE_BELOW, NOT_MEASURED)

P = TypeVar("P", Problem, dict[str, Any])


def parse_minimum(text: str) -> float:
    """A minimum score from the command line: a share in [0, 1], or a percentage (``70%``)."""
    value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{text}: a mutation score is between 0 and 1 (or 0% and 100%)")
    return value


def drop_reason(mutation: MutationScore, minimum: float) -> str | None:
    """Why a problem of this score does not pass ``minimum``; None when it does."""
    if not mutation.measured:
        return NOT_MEASURED
    # The score is killed / mutants; compared as the fraction itself, so that 7 of 10
    # passes a minimum of 0.7 whatever rounding the recorded float had.
    return None if mutation.killed >= minimum * mutation.mutants - 1e-9 else SCORE_BELOW


def mutation_of(problem: Problem | dict[str, Any]) -> MutationScore:
    """A problem's mutation score, from the record or from a line of problems.jsonl."""
    if isinstance(problem, Problem):
        return problem.meta.mutation
    meta = problem.get("meta")
    found = meta.get("mutation") if isinstance(meta, dict) else None
    return MutationScore.from_dict(found) if isinstance(found, dict) else MutationScore()


def keep_strong(problems: Iterable[P], minimum: float | None) -> tuple[list[P], Counter[str]]:
    """The problems that pass ``minimum`` (all of them when it is None), and how many were
    dropped for each reason of ``REASONS``."""
    kept: list[P] = []
    dropped: Counter[str] = Counter()
    for problem in problems:
        reason = None if minimum is None else drop_reason(mutation_of(problem), minimum)
        if reason is None:
            kept.append(problem)
        else:
            dropped[reason] += 1
    return kept, dropped
