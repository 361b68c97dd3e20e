"""What ``citrace report OUTDIR`` shows, gathered from a run's outputs.

The source of truth is ``run.sqlite`` when OUTDIR has one (a run in progress, finished, or
merged: it knows the SPECs not done yet, and which problem lines a finished project vouched
for); otherwise ``repos.jsonl`` and ``problems.jsonl`` alone (an OUTDIR copied without its
database). Nothing here writes to OUTDIR, so it is safe beside a live run.

The funnel follows each finished project through the stages: a project that failed at a
stage passed every stage before it; one that is ``ok`` passed them all.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from miners.reports.funnel import COUNT_STEPS, PASSED, TIMED_STEPS
from miners.reports.status import is_live
from miners.reports.strength import Strength, strength_of
from miners.run import finalize, outputs
from miners.run.state import STATE_FILE, RunState
from recipes.errors import CitraceError
from recipes.records import STAGES
from tracer.dataset.dedup import EXACT, NEAR
from tracer.dataset.mutation_filter import NOT_MEASURED, SCORE_BELOW

COUNTS = COUNT_STEPS
CONTAMINATED = "dropped_contaminated"  # a project's count: left out as overlapping a benchmark
# A project's counts: left out by --min-mutation-score (tracer.dataset.mutation_filter).
WEAK_TESTS = {f"dropped_{SCORE_BELOW}": "mutation score under --min-mutation-score",
              f"dropped_{NOT_MEASURED}": "mutation score not measured (--min-mutation-score)"}
NAMES_SHOWN = 200  # task ids listed per project; the rest are counted


class NotAnOutdir(CitraceError):
    """The directory holds no citrace run."""


@dataclass(frozen=True)
class ProjectLine:
    """One SPEC of the run, as far as it got."""

    index: int
    spec: str
    status: str  # ok | failed | running | pending
    stage: str
    cause: str = ""
    reason: str = ""
    name: str = ""
    version: str = ""
    log: str = ""  # relative to OUTDIR
    timings: dict[str, float] = dataclasses.field(default_factory=dict)
    cpu: dict[str, float] = dataclasses.field(default_factory=dict)  # CPU seconds per stage
    counts: dict[str, int] = dataclasses.field(default_factory=dict)
    task_ids: tuple[str, ...] = ()  # its problems in problems.jsonl

    @property
    def done(self) -> bool:
        return self.status in ("ok", "failed")

    def passed(self, stage: str) -> bool:
        if self.status == "ok":
            return True
        if self.status != "failed" or self.stage not in STAGES:
            return False
        return STAGES.index(stage) < STAGES.index(self.stage)

    @classmethod
    def from_result(cls, index: int, result: dict[str, Any],
                    task_ids: tuple[str, ...]) -> ProjectLine:
        names = {f.name for f in dataclasses.fields(cls)}
        known = {k: v for k, v in result.items() if k in names and k != "task_ids"}
        return cls(index=index, task_ids=task_ids, **{
            "spec": "", "status": "failed", "stage": "", **known})

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "task_ids": list(self.task_ids)}


@dataclass(frozen=True)
class StageTime:
    stage: str
    projects: int  # projects that spent time in it
    total: float  # seconds, summed over projects
    median: float
    longest: float
    cpu: float = 0.0  # CPU seconds, summed over the projects that recorded it


@dataclass(frozen=True)
class ReportData:
    out_dir: str
    source: str  # run.sqlite or repos.jsonl
    live: bool  # a citrace process is mining into OUTDIR now
    shard: str
    generated_at: float
    projects: tuple[ProjectLine, ...]
    asserts: tuple[int, ...]  # per problem in problems.jsonl
    # dedup.json (``finalize``): written by the final rewrite; {} before it
    dedup: dict[str, Any] = dataclasses.field(default_factory=dict)
    # mutation-score buckets and asserts of the problems in problems.jsonl
    strength: Strength = dataclasses.field(default_factory=Strength)

    @property
    def done(self) -> list[ProjectLine]:
        return [p for p in self.projects if p.done]

    @property
    def problems(self) -> int:
        return len(self.asserts)

    def funnel(self) -> list[tuple[str, int]]:
        done = self.done
        steps = [("projects listed", len(self.projects)), ("finished", len(done))]
        steps += [(PASSED[stage], sum(p.passed(stage) for p in done)) for stage in STAGES]
        steps.append(("with problems in problems.jsonl", sum(bool(p.task_ids) for p in done)))
        return steps

    def count_funnel(self) -> list[tuple[str, int]]:
        """Calls to problems. A project's ``problems`` count is what decontamination kept;
        dedup (``dedup.json``) runs over the whole run once every SPEC is done."""
        totals = self.count_totals()
        weak = sum(totals[key] for key in WEAK_TESTS)
        steps = [(label, totals[key]) for key, label in COUNTS]
        steps += [("problems validated", totals["problems"] + totals[CONTAMINATED] + weak),
                  ("not overlapping HumanEval or MBPP", totals["problems"] + weak)]
        if weak:
            steps.append(("with a test strong enough (--min-mutation-score)",
                          totals["problems"]))
        if self.dedup:
            steps.append(("problems before dedup",
                          int(self.dedup.get("problems_before_dedup", 0))))
        return [*steps, ("problems in problems.jsonl (after dedup)", self.problems)]

    def left_out(self) -> list[tuple[str, int]]:
        """Validated problems that did not reach problems.jsonl, by why (the dedup rows only
        once the run has had its final rewrite)."""
        totals = self.count_totals()
        rows = [("overlapping HumanEval or MBPP (decontamination)", totals[CONTAMINATED])]
        rows += [(label, totals[key]) for key, label in WEAK_TESTS.items() if totals[key]]
        if self.dedup:
            before = int(self.dedup.get("problems_before_dedup", 0))
            rows += [("same task id as an earlier SPEC of the list",
                      max(0, totals["problems"] - before)),
                     ("exact duplicates (dedup)", int(self.dedup.get(f"dropped_{EXACT}", 0))),
                     ("near duplicates (dedup)", int(self.dedup.get(f"dropped_{NEAR}", 0)))]
        return rows

    def count_totals(self) -> Counter[str]:
        totals: Counter[str] = Counter()
        for project in self.done:
            totals.update({k: int(v) for k, v in project.counts.items()})
        return totals

    def drops(self) -> list[tuple[str, int]]:
        """Why functions and candidates were left out, most frequent first."""
        totals = self.count_totals()
        found = Counter({k.removeprefix("dropped_"): n for k, n in totals.items()
                         if k.startswith("dropped_") and n})
        return found.most_common()

    def failed(self) -> list[ProjectLine]:
        return [p for p in self.projects if p.status == "failed"]

    def failures_by(self, attribute: str) -> list[tuple[str, int]]:
        found = Counter(getattr(p, attribute) or "unknown" for p in self.failed())
        if attribute == "stage":  # in pipeline order, not by frequency
            return sorted(found.items(), key=lambda item: _stage_order(item[0]))
        return found.most_common()

    def failures_by_stage_and_cause(self) -> list[tuple[str, str, int]]:
        found = Counter((p.stage or "unknown", p.cause or "unknown") for p in self.failed())
        return sorted(((s, c, n) for (s, c), n in found.items()),
                      key=lambda row: (_stage_order(row[0]), -row[2], row[1]))

    def top_causes(self, *, examples: int = 3) -> list[tuple[str, int, list[ProjectLine]]]:
        """Each cause of failure, most frequent first, with a few of its projects (those
        that got furthest, then in list order): where to look first."""
        by_cause: dict[str, list[ProjectLine]] = {}
        for project in self.failed():
            by_cause.setdefault(project.cause or "unknown", []).append(project)
        ranked = sorted(by_cause.items(), key=lambda item: (-len(item[1]), item[0]))
        return [(cause, len(projects), sorted(
            projects, key=lambda p: (-_stage_order(p.stage), p.index))[:examples])
            for cause, projects in ranked]

    def slowest(self, count: int = 10) -> list[ProjectLine]:
        """The projects that took longest (their whole wall time), longest first."""
        timed = [p for p in self.done if "total" in p.timings]
        return sorted(timed, key=lambda p: (-float(p.timings["total"]), p.index))[:count]

    def stage_times(self) -> list[StageTime]:
        rows = []
        for stage in TIMED_STEPS:
            seconds = [float(p.timings[stage]) for p in self.done if stage in p.timings]
            if seconds:
                cpu = sum(float(p.cpu.get(stage, 0.0)) for p in self.done)
                if stage == "total":
                    cpu = sum(sum(float(v) for v in p.cpu.values()) for p in self.done)
                rows.append(StageTime(stage, len(seconds), round(sum(seconds), 3),
                                      round(statistics.median(seconds), 3),
                                      round(max(seconds), 3), round(cpu, 3)))
        return rows


def gather(out_dir: Path) -> ReportData:
    """Read OUTDIR; ``NotAnOutdir`` when it holds neither ``run.sqlite`` nor ``repos.jsonl``."""
    if not out_dir.is_dir():
        raise NotAnOutdir(f"{out_dir} is not a directory; give the OUTDIR of a citrace mine or "
                          f"citrace merge run")
    if (out_dir / STATE_FILE).is_file():
        return _from_state(out_dir)
    if (out_dir / outputs.REPOS).is_file():
        return _from_files(out_dir)
    raise NotAnOutdir(f"{out_dir} is not a citrace OUTDIR: it has neither {STATE_FILE} nor "
                      f"{outputs.REPOS}; give the -o directory of a citrace mine or citrace "
                      f"merge run")


def _from_state(out_dir: Path) -> ReportData:
    with RunState(out_dir / STATE_FILE, readonly=True) as state:
        if state.identity() is None:
            raise NotAnOutdir(f"{out_dir / STATE_FILE} holds no run yet (it was just created, "
                              f"or is not citrace's); try again once citrace mine has started")
        problems = [json.loads(p.line) for p in
                    outputs.vouched_lines(out_dir / outputs.PROBLEMS, state.claim)]
        by_spec = _task_ids_by_spec(problems)
        projects = []
        for row in state.rows():
            if row["result"]:
                result = json.loads(row["result"])
                projects.append(ProjectLine.from_result(
                    int(row["idx"]), result, by_spec.get(str(result.get("spec")), ())))
            else:  # pending or running: what the database knows so far
                projects.append(ProjectLine(int(row["idx"]), str(row["raw"]),
                                            str(row["status"]), str(row["stage"])))
        shard = state.get_meta("shard")
    return ReportData(str(out_dir), STATE_FILE, is_live(out_dir), shard, time.time(),
                      tuple(projects), _asserts(problems), finalize.read_summary(out_dir),
                      _strength(problems))


def _from_files(out_dir: Path) -> ReportData:
    results = outputs.json_records(out_dir / outputs.REPOS)
    problems = outputs.json_records(out_dir / outputs.PROBLEMS)
    by_spec = _task_ids_by_spec(problems)
    projects = tuple(ProjectLine.from_result(n, r, by_spec.get(str(r.get("spec")), ()))
                     for n, r in enumerate(results))
    return ReportData(str(out_dir), outputs.REPOS, False, "", time.time(), projects,
                      _asserts(problems), finalize.read_summary(out_dir), _strength(problems))


def _task_ids_by_spec(problems: list[dict[str, Any]]) -> dict[str, tuple[str, ...]]:
    found: dict[str, list[str]] = {}
    for problem in problems:
        source = str((problem.get("meta") or {}).get("source", ""))
        found.setdefault(source, []).append(str(problem.get("task_id", "")))
    return {spec: tuple(ids) for spec, ids in found.items()}


def _asserts(problems: list[dict[str, Any]]) -> tuple[int, ...]:
    return tuple(int((p.get("meta") or {}).get("n_asserts", 0)) for p in problems)


def _strength(problems: list[dict[str, Any]]) -> Strength:
    return strength_of(p.get("meta") or {} for p in problems)


def _stage_order(stage: str) -> int:
    return STAGES.index(stage) if stage in STAGES else len(STAGES)
