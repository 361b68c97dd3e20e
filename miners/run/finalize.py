"""Deduplication of a run's problems at the final rewrite (``finalize``) and in
``citrace merge``, so both give what a single run gives.

Dedup (``tracer.dataset.dedup``) is a function of the whole list of problems in list order, so
it runs once every SPEC is done, over every problem the run produced: the lines of
``problems.jsonl`` plus those an earlier final rewrite set aside in ``duplicates.jsonl``
(a run resumed with ``--retry-failed`` after finishing, or a merge of finished shards, sees
them again). Kept problems are rewritten with their ``meta.dedup_cluster``; dropped ones go to
``duplicates.jsonl`` (one ``{"key", "pos", "finished_at", "problem"}`` line each, so a SPEC
that runs again invalidates its old lines), and ``dedup.json`` counts the drops per SPEC.

Crash safety, in this order: ``duplicates.jsonl`` is replaced first, then the claims of the
dropped problems are forgotten, then ``problems.jsonl`` is replaced. A crash before the
last step leaves lines that no claim vouches for, which ``outputs.repair`` drops; the next
final rewrite finds them in ``duplicates.jsonl``.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from miners.run import outputs
from miners.run.state import Claim, RunState
from tracer.dataset.dedup import EXACT, NEAR, Decision, DedupInput, Deduplicator
from tracer.records import DedupCluster, ProblemMeta

DUPLICATES = "duplicates.jsonl"
DEDUP = "dedup.json"

Claimer = Callable[[list[tuple[str, str, int]]], None]  # (task_id, spec key, pos) rows


@dataclass
class DedupSummary:
    problems_in: int = 0
    kept: int = 0
    by_spec: dict[str, Counter[str]] = field(default_factory=dict)  # SPEC -> dropped_<why>

    def to_dict(self) -> dict[str, Any]:
        totals: Counter[str] = Counter()
        for counts in self.by_spec.values():
            totals.update(counts)
        return {"format": 1, "problems_before_dedup": self.problems_in, "problems": self.kept,
                "dropped_duplicate_exact": totals[f"dropped_{EXACT}"],
                "dropped_duplicate_near": totals[f"dropped_{NEAR}"],
                "by_spec": {spec: dict(sorted(c.items())) for spec, c in self.by_spec.items()}}


def finalize(out_dir: Path, state: RunState) -> None:
    """Rewrite both files in list order: the same bytes however the run was scheduled.
    Duplicate problems are dropped here, once the whole list is known."""
    finalize_problems(out_dir, state)
    outputs.write_repos(out_dir, state)
    state.set_meta("finalized", "1")


def finalize_problems(out_dir: Path, state: RunState) -> DedupSummary:
    """Rewrite ``problems.jsonl`` in list order without duplicates (``finalize``)."""
    path = out_dir / outputs.PROBLEMS
    rows = state.rows()
    specs = {str(r["key"]): (str(r["raw"]), int(r["idx"])) for r in rows}
    finished = state.finished_at()
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".dedup.") as scratch, \
            outputs.OrderedPlacement() as placement:
        # A copy: duplicates.jsonl is replaced while the old lines are still being read.
        earlier = Path(scratch) / DUPLICATES
        if (out_dir / DUPLICATES).exists():
            shutil.copyfile(out_dir / DUPLICATES, earlier)
        for placed in outputs.vouched_lines(path, state.claim):
            placement.add(0, placed)
        for placed in set_aside_lines(earlier, specs, finished):
            placement.add(1, placed)
        return write_deduplicated(placement, {0: path, 1: earlier}, out_dir,
                                  spec_of={k: raw for k, (raw, _) in specs.items()},
                                  finished_at=finished, forget=state.forget_claims,
                                  revive=(frozenset({1}), state.add_claims))


def set_aside_lines(path: Path, specs: Mapping[str, tuple[str, int]],
                    finished_at: Mapping[str, float]) -> Iterator[outputs.Placed]:
    """The lines of a ``duplicates.jsonl`` still vouched for: their SPEC is done, and
    finished when the line was written (not run again since)."""
    for offset, line in outputs.complete_lines(path):
        try:
            record = json.loads(line)
            key, task_id = str(record["key"]), str(record["problem"]["task_id"])
            when, pos = float(record["finished_at"]), int(record["pos"])
        except (ValueError, KeyError, TypeError):
            continue
        if key in specs and finished_at.get(key) == when:
            raw, idx = specs[key]
            yield outputs.Placed(offset, line, task_id, Claim(key, raw, idx, pos))


def write_deduplicated(placement: outputs.OrderedPlacement, files: dict[int, Path],
                       out_dir: Path, *, spec_of: Mapping[str, str],
                       finished_at: Mapping[str, float],
                       forget: Callable[[list[str]], None] | None = None,
                       on_kept: Callable[[outputs.Winner], None] | None = None,
                       revive: tuple[frozenset[int], Claimer] | None = None,
                       ) -> DedupSummary:
    """Deduplicate the placed lines and write the three files (see the module docstring).
    ``forget`` is told the task ids dropped (to unclaim them), ``on_kept`` each kept line.
    ``revive``: the sources of set-aside lines, and what claims those that are kept now
    (their cluster's first problem went to another cluster), before they are written."""
    decisions = _decide(placement, files)
    dropped = [d.task_id for d in decisions if not d.kept]
    revived: list[tuple[str, str, int]] = []
    kept_count = [0]
    set_aside: list[bytes] = []
    summary = DedupSummary(problems_in=len(decisions))
    for (winner, problem), decision in zip(_problems(placement, files), decisions,
                                           strict=True):
        if decision.kept:
            if revive is not None and winner.source in revive[0]:
                revived.append((winner.task_id, winner.key, winner.pos))
            continue
        problem = _with_cluster(problem, decision)
        spec = spec_of.get(winner.key, winner.key)
        summary.by_spec.setdefault(spec, Counter())[f"dropped_{decision.reason}"] += 1
        set_aside.append(outputs.json_line({"key": winner.key, "pos": winner.pos,
                                            "finished_at": finished_at.get(winner.key, 0.0),
                                            "problem": problem}))
    outputs.atomic_write(out_dir / DUPLICATES, set_aside)
    if forget is not None and dropped:
        forget(dropped)
    if revive is not None and revived:
        revive[1](revived)
    kept = iter(decisions)

    def kept_only() -> Iterator[bytes]:
        for winner, problem in _problems(placement, files):
            decision = next(kept)
            if decision.kept:
                if on_kept is not None:
                    on_kept(winner)
                kept_count[0] += 1
                yield outputs.json_line(_with_cluster(problem, decision))

    outputs.atomic_write(out_dir / outputs.PROBLEMS, kept_only())
    summary.kept = kept_count[0]
    outputs.atomic_write(out_dir / DEDUP, [(json.dumps(summary.to_dict(), indent=1,
                                                       ensure_ascii=False) + "\n").encode()])
    return summary


def read_summary(out_dir: Path) -> dict[str, Any]:
    """``dedup.json`` as written, or {} when the run has not had its final rewrite."""
    try:
        data = json.loads((out_dir / DEDUP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _decide(placement: outputs.OrderedPlacement, files: dict[int, Path]) -> list[Decision]:
    deduplicator = Deduplicator()
    for _, problem in _problems(placement, files):
        deduplicator.add(DedupInput(task_id=str(problem["task_id"]),
                                    prompt=str(problem["prompt"]),
                                    canonical_solution=str(problem["canonical_solution"]),
                                    entry_point=str(problem["entry_point"])))
    return deduplicator.decisions()


def _problems(placement: outputs.OrderedPlacement,
              files: dict[int, Path]) -> Iterator[tuple[outputs.Winner, dict[str, Any]]]:
    """The placed problems in list order, unwrapped from ``duplicates.jsonl`` lines."""
    current: list[outputs.Winner] = []
    present = {n: path for n, path in files.items() if path.exists()}  # nothing set aside yet
    for line in placement.lines_in_order(present, on_line=current.append):
        record = json.loads(line)
        yield current.pop(), record["problem"] if "finished_at" in record else record


def _with_cluster(problem: dict[str, Any], decision: Decision) -> dict[str, Any]:
    meta = ProblemMeta.from_dict(problem.get("meta", {})) if _has_meta(problem) else None
    if meta is None:
        return problem
    meta = replace(meta, dedup_cluster=DedupCluster(id=decision.cluster, size=decision.size))
    return {**problem, "meta": meta.to_dict()}


def _has_meta(problem: dict[str, Any]) -> bool:
    meta = problem.get("meta")
    required = ("source", "version", "path", "qualname", "line", "python", "ci_file",
                "n_asserts", "n_calls")
    return isinstance(meta, dict) and all(name in meta for name in required)
