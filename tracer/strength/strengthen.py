"""Making a validated test as strong as its inputs allow, and saying how strong it is.

Given the blocks validation kept (recorded calls, ranked by the emitter) and the canonical
solution: make its mutants (``mutants``), derive new inputs answered by the canonical
solution (``augment``, function problems only), find which block kills which mutant
(``kills``), keep at most ``limit`` blocks chosen by kills (``select``). The validator then
checks the chosen blocks as it checks any (alone, in both orders, against stubs, in a
changed world) and asks ``Strength.score`` for the final test's mutation score.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from tracer.check.run import CheckResult
from tracer.emit import check_helpers
from tracer.records import MutationScore, Survivor
from tracer.strength.augment import (
    FIRST_CALLS,
    MAX_CALLS,
    Derived,
    augment,
    derived_calls,
    expected_value,
)
from tracer.strength.kills import MutantKills, kill_matrix
from tracer.strength.mutants import Mutant, mutants
from tracer.strength.select import AUGMENTED, RECORDED, Pooled, select

MAX_SURVIVORS = 10  # listed in meta; the count is in the score

# (completion, test, timeout) -> the check's result
Check = Callable[[str, str, float], CheckResult]


@dataclass(frozen=True)
class Strength:
    """The blocks chosen and where each came from; what is needed to score the final test."""

    blocks: tuple[str, ...]
    sources: tuple[str, ...]
    mutants: tuple[Mutant, ...] = ()
    pool: tuple[str, ...] = ()
    kills: tuple[MutantKills, ...] = ()
    augmented_tried: int = 0

    def score(self, final: Sequence[str], rerun: Callable[[Mutant], bool]) -> MutationScore:
        """The mutation score of a test made of the blocks ``final`` (a subset of the pool):
        a mutant is killed when a kept block failed against it in the matrix; one the matrix
        cannot tell about (it stopped before a kept block ran) is run against the final test
        (``rerun``: True when the test fails it)."""
        if not self.mutants:
            return MutationScore()
        kept = frozenset(self.pool.index(block) for block in final if block in self.pool)
        survivors = []
        for mutant, found in zip(self.mutants, self.kills, strict=True):
            killed = found.kills_test_of(kept)
            if killed is None:
                killed = rerun(mutant)
            if not killed:
                survivors.append(mutant)
        count, killed_count = len(self.mutants), len(self.mutants) - len(survivors)
        return MutationScore(
            mutants=count, killed=killed_count, score=round(killed_count / count, 3),
            survivors=tuple(Survivor(m.operator, m.line, m.description)
                            for m in survivors[:MAX_SURVIVORS]))


def strengthen(*, prompt: str, canonical: str, preamble: str, blocks: Sequence[str],
               returns: Sequence[bool], limit: int, max_chars: int, base_chars: int,
               check: Check, timeout: float, mutant_timeout: float,
               augment_inputs: bool, known: Sequence[str] = ()) -> Strength:
    """The strongest test of at most ``limit`` blocks out of ``blocks`` (and augmented ones
    when ``augment_inputs``). ``returns[i]``: block i asserts a function's returned value,
    what its generator yields or the state it left (the calls augmentation derives from).

    Augmentation runs in rounds, each only when some mutant survives every block so far,
    its blocks checked against the survivors only: ``FIRST_CALLS`` calls derived from the
    recorded ones; the rest of ``MAX_CALLS`` of them; calls derived from the derived ones
    (two inputs changed at once). ``known``: recorded blocks validation dropped
    (order-dependent, failing alone): their calls are not derived again."""
    made = mutants(prompt, canonical)
    if not made:
        kept = _first_fitting(blocks, limit, max_chars - base_chars)
        return Strength(tuple(kept), (RECORDED,) * len(kept))
    completions = [m.completion for m in made]

    def matrix_of(pool: Sequence[str], which: Sequence[str]) -> list[MutantKills]:
        return kill_matrix(check_helpers.preamble_for(preamble, pool), pool, which,
                           lambda completion, test: check(completion, test, mutant_timeout))

    def answered(calls: Sequence[Derived], known: Collection[str]) -> list[str]:
        found = augment(preamble, calls, lambda test: check(canonical, test, timeout),
                        solution=canonical)
        return [a.block for a in found if a.block not in known]

    tried: list[Derived] = []
    extra: list[str] = []
    returning = [b for b, r in zip(blocks, returns, strict=True) if r]
    if augment_inputs:
        tried = derived_calls(returning, limit=FIRST_CALLS, solution=canonical,
                              prompt=prompt, known=known)
        extra = answered(tried, set(blocks))
    pool = [*blocks, *extra]
    matrix = matrix_of(pool, completions)

    def grown(calls: Sequence[Derived]) -> None:
        """Grows the pool by the blocks of ``calls`` the canonical solution answers, and the
        matrix by their rows, run against the mutants that survive the pool so far only."""
        nonlocal pool, matrix
        survivors = _survivors(matrix)
        more = answered(calls, set(pool))
        if more and survivors:
            second = matrix_of(more, [completions[m] for m in survivors])
            matrix = _joined(matrix, dict(zip(survivors, second, strict=True)), len(more))
            pool = [*pool, *more]

    if augment_inputs and _survivors(matrix):
        # Most problems lose every mutant to the first calls; the others get the rest of
        # the budget, from the same recorded calls (tabulate's ``_format`` met a coloured
        # number only after the first hundred).
        again = derived_calls(returning, limit=MAX_CALLS - FIRST_CALLS, tried=tried,
                              solution=canonical, prompt=prompt, known=known)
        tried += again
        grown(again)
    extra = pool[len(blocks):]
    if augment_inputs and extra and _survivors(matrix):
        again = derived_calls(extra, tried=tried, solution=canonical, prompt=prompt,
                              known=[*blocks, *known])
        tried += again
        grown(again)
    pooled = [Pooled(text, RECORDED if index < len(blocks) else AUGMENTED,
                     frozenset(m for m, found in enumerate(matrix) if index in found.known),
                     expected_value(text))
              for index, text in enumerate(pool)]
    chosen = select(pooled, limit=limit, max_chars=max_chars, base_chars=base_chars)
    return Strength(tuple(pool[i] for i in chosen), tuple(pooled[i].source for i in chosen),
                    tuple(made), tuple(pool), tuple(matrix), len(tried))


def _survivors(matrix: Sequence[MutantKills]) -> list[int]:
    """The mutants no block of the pool is known to kill (those the matrix can tell of)."""
    return [m for m, found in enumerate(matrix) if found.determined and not found.known]


def _joined(first: Sequence[MutantKills], second: dict[int, MutantKills],
            added: int) -> list[MutantKills]:
    """The matrix of a pool grown by ``added`` blocks: ``second`` holds the new blocks' row
    of the mutants that ran against them (all of the first blocks ran and passed against
    those); for the others the new blocks are blocks that never ran."""
    joined = []
    for index, row in enumerate(first):
        more = second.get(index)
        if more is None:
            joined.append(MutantKills(row.known, row.ran, row.total + added, row.result))
        else:
            joined.append(MutantKills(frozenset(row.total + k for k in more.known),
                                      row.total + more.ran, row.total + added, more.result))
    return joined


def _first_fitting(blocks: Sequence[str], limit: int, room: int) -> list[str]:
    kept: list[str] = []
    for block in blocks:
        if len(kept) >= limit:
            break
        if len(block) <= room:
            kept.append(block)
            room -= len(block)
    return kept
