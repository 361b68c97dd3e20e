"""Which blocks a problem's test keeps: those that kill the most mutants first.

Greedy set cover over the kill matrix (``kills``), first with recorded blocks, then with
augmented ones for what is left: each round takes the block that kills the most mutants not
yet killed; a tie goes to the block ranked first (the emitter's order, today's diversity
order, ``tracer.emit.choose``), so the same matrix always gives the same test. When the
recorded blocks alone fill the test, a cover with both kinds (at least half the places
recorded) is taken instead if it kills more. When no
block adds a kill, the places left (up to ``limit``) go to recorded blocks in rank order:
more real examples make a better problem even where mutants say nothing. An augmented block
is kept for a kill no recorded block makes, or to bring a test of fewer than
``MIN_ASSERTS`` recorded blocks up to that many with results the test does not show yet:
our mutants are not every wrong program, and one or two examples say little of a function
even when they kill every mutant made.
A test keeps at least one recorded block that asserts a result (issue 15: recorded behaviour
stays the core; a test of raises alone passes a body that raises), and stays under
``max_chars``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

RECORDED, AUGMENTED = "recorded", "augmented"
MIN_ASSERTS = 3  # fewer recorded blocks than this are topped up with augmented ones


@dataclass(frozen=True)
class Pooled:
    """One block of the pool: its text, where its expected value came from, the mutants it
    kills (indices into the mutants)."""

    text: str
    source: str  # RECORDED or AUGMENTED
    kills: frozenset[int]
    expected: str = ""  # the value the block asserts, as written ("" when not one value)

    @property
    def raises(self) -> bool:
        """The block asserts that a call raises (``_raised(...) == 'E'``)."""
        return "assert _raised(" in self.text


def select(pool: Sequence[Pooled], *, limit: int, max_chars: int,
           base_chars: int = 0) -> list[int]:
    """Indices into ``pool`` of the blocks kept, in pool order. ``base_chars``: the test's
    length without blocks (its preamble and header)."""
    picking = _Picking(pool, limit, max_chars - base_chars)
    picking.cover(RECORDED)
    if len(picking.chosen) >= limit:
        # Recorded blocks alone filled the test, each killing a few more (dateutil's
        # easter: twenty years, all with method 3), and a derived block that kills many
        # (method 2) got no place. Cover with both kinds, ties to recorded blocks, at least
        # half the places kept for recorded ones; take it when it kills more.
        recorded = sum(1 for block in pool if block.source == RECORDED)
        joint = _Picking(pool, limit, max_chars - base_chars)
        joint.cover(None, max_derived=limit - min(recorded, (limit + 1) // 2))
        if len(joint.killed) > len(picking.killed):
            picking = joint
    picking.cover(AUGMENTED)  # only what no recorded block kills is left to kill
    for index, block in enumerate(pool):
        if block.source == RECORDED:
            picking.take(index)
    for index, block in enumerate(pool):  # a test of one or two examples is thin
        if len(picking.chosen) >= min(MIN_ASSERTS, limit):
            break
        if block.expected not in {pool[i].expected for i in picking.chosen}:
            picking.take(index)  # another result: another behaviour shown
    return sorted(_with_a_recorded_block(pool, picking.chosen, limit))


class _Picking:
    """Blocks taken so far, the mutants they kill, the room left."""

    def __init__(self, pool: Sequence[Pooled], limit: int, room: int) -> None:
        self.pool, self.limit, self.room = pool, limit, room
        self.chosen: list[int] = []
        self.killed: set[int] = set()

    def take(self, index: int) -> bool:
        block = self.pool[index]
        if (len(self.chosen) >= self.limit or index in self.chosen
                or len(block.text) > self.room):
            return False
        self.chosen.append(index)
        self.killed |= block.kills
        self.room -= len(block.text)
        return True

    def cover(self, source: str | None, max_derived: int | None = None) -> None:
        """Greedy set cover with the blocks from ``source`` (None: both kinds, at most
        ``max_derived`` augmented blocks): the most new kills first; on a tie a recorded
        block, then the first ranked."""
        while len(self.chosen) < self.limit:
            derived = sum(1 for i in self.chosen if self.pool[i].source == AUGMENTED)
            gains = [(len(b.kills - self.killed), b.source == RECORDED, -i)
                     for i, b in enumerate(self.pool)
                     if (source is None or b.source == source) and i not in self.chosen
                     and len(b.text) <= self.room
                     and not (b.source == AUGMENTED and max_derived is not None
                              and derived >= max_derived)]
            best = max(gains, default=(0, False, 0))
            if best[0] == 0:
                return
            self.take(-best[2])


def _with_a_recorded_block(pool: Sequence[Pooled], chosen: list[int],
                           limit: int) -> list[int]:
    """``chosen``, with the first recorded block that asserts a result (not a raise) added,
    or swapped in for its last block when full, when it has none: a test of derived inputs
    alone would not be the project's behaviour, and one of raises alone would pass a body
    that raises."""
    def core(index: int) -> bool:
        return pool[index].source == RECORDED and not pool[index].raises

    if any(core(i) for i in chosen):
        return chosen
    first = next((i for i in range(len(pool)) if core(i)), None)
    if first is None:
        first = next((i for i, b in enumerate(pool) if b.source == RECORDED), None)
        if first is None or first in chosen:
            return chosen
    return [*chosen, first] if len(chosen) < limit else [*chosen[:-1], first]
