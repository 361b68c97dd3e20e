"""``--shard K/N``: a deterministic share of the SPEC list for one of N batch jobs.

SPEC number ``i`` of the (deduplicated) list belongs to shard ``i % N``: the N shards cover
the list exactly once, each gets every N-th SPEC (so a list sorted by size spreads evenly),
and every job computes the same split from the same list without talking to the others.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

_FORM = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"shard {self.index}/{self.count}: need 0 <= K < N")

    @classmethod
    def parse(cls, text: str) -> Shard:
        match = _FORM.match(text)
        if not match:
            raise ValueError(f"{text!r} is not K/N (for example 0/4: the first of four shards)")
        return cls(int(match[1]), int(match[2]))

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def owns(self, position: int) -> bool:
        return position % self.count == self.index

    def select(self, items: Sequence[T]) -> list[tuple[int, T]]:
        """``(position in the whole list, item)`` for the items of this shard."""
        return [(i, item) for i, item in enumerate(items) if self.owns(i)]
