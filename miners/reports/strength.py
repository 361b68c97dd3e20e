"""How strong the kept problems' tests are, said once for ``citrace stats`` and the HTML
report: the distribution of mutation scores (``meta.mutation``), in buckets, and of asserts
per problem (``meta.n_asserts``)."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

UNMEASURED = "unmeasured"
# (label, lowest score in it); a bucket holds scores from its bound up to the next one's.
MUTATION_BUCKETS = (("0-50%", 0.0), ("50-70%", 0.5), ("70-90%", 0.7), ("90-100%", 0.9))
BUCKET_LABELS = (*(label for label, _ in MUTATION_BUCKETS), UNMEASURED)
FEW_ASSERTS = 3  # a test with fewer asserts than this says little about a function


def mutation_bucket(meta: dict[str, Any]) -> str:
    """The bucket of a problem's ``meta`` (a line of problems.jsonl)."""
    mutation = meta.get("mutation")
    if not isinstance(mutation, dict) or not int(mutation.get("mutants") or 0):
        return UNMEASURED
    score = int(mutation.get("killed") or 0) / int(mutation["mutants"])
    return next(label for label, low in reversed(MUTATION_BUCKETS) if score >= low - 1e-9)


@dataclass
class Strength:
    """Mutation-score buckets and asserts per problem, over the problems read."""

    buckets: Counter[str] = field(default_factory=Counter)
    asserts: list[int] = field(default_factory=list)

    def add(self, meta: dict[str, Any]) -> None:
        self.buckets[mutation_bucket(meta)] += 1
        self.asserts.append(int(meta.get("n_asserts") or 0))

    def bucket_rows(self) -> list[tuple[str, int]]:
        """Every bucket, in score order, the unmeasured last."""
        return [(label, self.buckets[label]) for label in BUCKET_LABELS]

    def median_asserts(self) -> float:
        return float(statistics.median(self.asserts)) if self.asserts else 0.0

    def share_few_asserts(self) -> float:
        """The share of problems with fewer than ``FEW_ASSERTS`` asserts (0.0 when none)."""
        if not self.asserts:
            return 0.0
        return sum(n < FEW_ASSERTS for n in self.asserts) / len(self.asserts)

    def to_dict(self) -> dict[str, Any]:
        return {"mutation_scores": dict(self.bucket_rows()),
                "asserts_per_problem": {"problems": len(self.asserts),
                                        "median": self.median_asserts(),
                                        f"share_under_{FEW_ASSERTS}":
                                            round(self.share_few_asserts(), 4)}}

    def render(self) -> list[str]:
        """Lines for ``citrace stats``."""
        total = sum(self.buckets.values())
        lines = ["mutation score of the problems kept:"]
        lines += [f"  {label:<10} {count:>8}  {_percent(count, total)}"
                  for label, count in self.bucket_rows()]
        lines.append(f"asserts per problem: median {self.median_asserts():g}, "
                     f"{_percent(sum(n < FEW_ASSERTS for n in self.asserts), len(self.asserts))}"
                     f" with fewer than {FEW_ASSERTS}")
        return lines


def strength_of(metas: Iterable[dict[str, Any]]) -> Strength:
    strength = Strength()
    for meta in metas:
        strength.add(meta)
    return strength


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"
