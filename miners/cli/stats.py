"""``citrace stats OUTDIR``: the funnel of a run, from calls recorded to problems kept, with
a count for every reason a function or candidate was left out.

Read from the run's files only (works on a run in progress, a finished one, or a merge):
``repos.jsonl`` (each project's ``counts``, summed), ``dedup.json`` (duplicates dropped at
the final rewrite) and ``problems.jsonl`` (the problems kept, and which benchmarks they were
checked against).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from miners.run import finalize, outputs
from recipes.errors import CitraceError

FUNNEL = (("calls_recorded", "calls recorded"), ("functions_traced", "functions traced"),
          ("candidates", "candidates"), ("problems", "problems validated"))


@dataclass
class RunStats:
    projects: Counter[str] = field(default_factory=Counter)  # ok / failed
    failed_at: Counter[str] = field(default_factory=Counter)  # "stage: cause"
    counts: Counter[str] = field(default_factory=Counter)  # summed over projects
    dedup: dict[str, Any] = field(default_factory=dict)
    kept: int = 0
    checked: set[str] = field(default_factory=set)
    not_checked: set[str] = field(default_factory=set)

    def dropped(self) -> dict[str, int]:
        found = Counter({k.removeprefix("dropped_"): v for k, v in self.counts.items()
                         if k.startswith("dropped_") and v})
        for reason in ("duplicate_exact", "duplicate_near"):
            if self.dedup.get(f"dropped_{reason}"):
                found[reason] += int(self.dedup[f"dropped_{reason}"])
        return dict(sorted(found.items(), key=lambda item: (-item[1], item[0])))

    def to_dict(self) -> dict[str, Any]:
        funnel = [{"step": key, "count": int(self.counts[key])} for key, _ in FUNNEL]
        funnel.append({"step": "problems_kept", "count": self.kept})
        return {"projects": {"total": sum(self.projects.values()), **self.projects,
                             "failed_at": dict(self.failed_at.most_common())},
                "funnel": funnel, "dropped": self.dropped(),
                "deduplicated": bool(self.dedup),
                "decontamination": {"checked": sorted(self.checked),
                                    "not_checked": sorted(self.not_checked)}}


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    stats = commands.add_parser(
        "stats", help="print a run's funnel: calls, functions, candidates, problems, drops",
        description="The funnel of the run in OUTDIR, from functions traced to problems kept, "
                    "with a count for every reason a function or candidate was left out.")
    stats.add_argument("output", type=Path, metavar="OUTDIR")
    stats.add_argument("--json", action="store_true", help="print JSON instead of text")
    stats.set_defaults(handler=_stats)


def _stats(args: argparse.Namespace) -> int:
    out_dir: Path = args.output
    if not (out_dir / outputs.REPOS).is_file():
        raise CitraceError(f"{out_dir} holds no {outputs.REPOS}",
                           hint="give the -o of a citrace mine run")
    stats = read_stats(out_dir)
    print(json.dumps(stats.to_dict(), indent=2) if args.json else render(stats))
    return 0


def read_stats(out_dir: Path) -> RunStats:
    stats = RunStats(dedup=finalize.read_summary(out_dir))
    for line in _json_lines(out_dir / outputs.REPOS):
        stats.projects[str(line.get("status", "?"))] += 1
        if line.get("status") == "failed":
            stats.failed_at[f"{line.get('stage', '?')}: {line.get('cause', '?')}"] += 1
        stats.counts.update({k: int(v) for k, v in (line.get("counts") or {}).items()
                             if isinstance(v, int | float)})
    for problem in _json_lines(out_dir / outputs.PROBLEMS):
        stats.kept += 1
        meta = problem.get("meta") or {}
        stats.checked.update(meta.get("decontaminated_against") or ())
        stats.not_checked.update(meta.get("not_decontaminated_against") or ())
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
    if stats.checked or stats.not_checked:
        lines.append("decontaminated against: " + (", ".join(sorted(stats.checked)) or "none"))
    if stats.not_checked:
        lines.append("NOT decontaminated against (data unavailable, see the logs): "
                     + ", ".join(sorted(stats.not_checked)))
    return "\n".join(lines)


def _json_lines(path: Path) -> list[dict[str, Any]]:
    found = []
    for _, line in outputs.complete_lines(path):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            found.append(record)
    return found
