"""The funnel of a run, from calls recorded to problems kept, with
a count for every reason a function or candidate was left out.

Read from the run's files only (works on a run in progress, a finished one, or a merge):
``repos.jsonl`` (each project's ``counts``, summed), ``dedup.json`` (duplicates dropped at
the final rewrite) and ``problems.jsonl`` (the problems kept, which benchmarks they were
checked against, and how strong their tests are: ``miners.reports.strength``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from miners.reports.funnel import COUNT_STEPS
from miners.reports.strength import Strength
from miners.run import finalize, outputs

FUNNEL = (*COUNT_STEPS, ("problems", "problems validated"))


@dataclass
class RunStats:
    projects: Counter[str] = field(default_factory=Counter)  # ok / failed
    failed_at: Counter[str] = field(default_factory=Counter)  # "stage: cause"
    counts: Counter[str] = field(default_factory=Counter)  # summed over projects
    dedup: dict[str, Any] = field(default_factory=dict)
    kept: int = 0
    checked: set[str] = field(default_factory=set)
    not_checked: set[str] = field(default_factory=set)
    strength: Strength = field(default_factory=Strength)  # of the problems kept

    def dropped(self) -> dict[str, int]:
        found = Counter({k.removeprefix("dropped_"): v for k, v in self.counts.items()
                         if k.startswith("dropped_") and v})
        for reason in ("duplicate_exact", "duplicate_near"):
            if self.dedup.get(f"dropped_{reason}"):
                found[reason] += int(self.dedup[f"dropped_{reason}"])
        return dict(sorted(found.items(), key=lambda item: (-item[1], item[0])))

    def calls_dropped(self) -> dict[str, int]:
        """Recorded calls that made no assert, by reason (one function may lose many)."""
        found = {k.removeprefix("calls_dropped_"): v for k, v in self.counts.items()
                 if k.startswith("calls_dropped_") and v}
        return dict(sorted(found.items(), key=lambda item: (-item[1], item[0])))

    def to_dict(self) -> dict[str, Any]:
        funnel = [{"step": key, "count": int(self.counts[key])} for key, _ in FUNNEL]
        funnel.append({"step": "problems_kept", "count": self.kept})
        return {"projects": {"total": sum(self.projects.values()), **self.projects,
                             "failed_at": dict(self.failed_at.most_common())},
                "funnel": funnel, "dropped": self.dropped(),
                "calls_dropped": self.calls_dropped(),
                "deduplicated": bool(self.dedup),
                "decontamination": {"checked": sorted(self.checked),
                                    "not_checked": sorted(self.not_checked)},
                **self.strength.to_dict()}


def read_stats(out_dir: Path) -> RunStats:
    stats = RunStats(dedup=finalize.read_summary(out_dir))
    for line in outputs.json_records(out_dir / outputs.REPOS):
        stats.projects[str(line.get("status", "?"))] += 1
        if line.get("status") == "failed":
            stats.failed_at[f"{line.get('stage', '?')}: {line.get('cause', '?')}"] += 1
        stats.counts.update({k: int(v) for k, v in (line.get("counts") or {}).items()
                             if isinstance(v, int | float)})
    for problem in outputs.json_records(out_dir / outputs.PROBLEMS):
        stats.kept += 1
        meta = problem.get("meta") or {}
        stats.checked.update(meta.get("decontaminated_against") or ())
        stats.not_checked.update(meta.get("not_decontaminated_against") or ())
        stats.strength.add(meta)
    return stats


def render(stats: RunStats) -> str:
    total = sum(stats.projects.values())
    lines = [f"projects             {total:>8}  ({stats.projects['ok']} ok, "
             f"{stats.projects['failed']} failed)"]
    lines += [f"  failed at {where}: {count}" for where, count in stats.failed_at.most_common()]
    for key, label in FUNNEL:
        lines.append(f"{label:<20} {stats.counts[key]:>8}")
    if stats.dedup:
        lines.append(f"{'problems kept':<20} {stats.kept:>8}  (after dedup: "
                     f"{stats.dedup.get('problems_before_dedup', 0)} before)")
    else:
        lines.append(f"{'problems kept':<20} {stats.kept:>8}  (not deduplicated yet: the "
                     f"run is in progress or unfinished)")
    dropped = stats.dropped()
    lines.append("dropped, by reason:" if dropped else "dropped: nothing")
    width = max((len(reason) for reason in dropped), default=0)
    lines += [f"  {reason:<{width}} {count:>8}" for reason, count in dropped.items()]
    calls = stats.calls_dropped()
    if calls:
        lines.append("calls that made no assert, by reason:")
        width = max(len(reason) for reason in calls)
        lines += [f"  {reason:<{width}} {count:>8}" for reason, count in calls.items()]
    if stats.kept:
        lines += stats.strength.render()
    if stats.checked or stats.not_checked:
        lines.append("decontaminated against: " + (", ".join(sorted(stats.checked)) or "none"))
    if stats.not_checked:
        lines.append("NOT decontaminated against (data unavailable, see the logs): "
                     + ", ".join(sorted(stats.not_checked)))
    return "\n".join(lines)
