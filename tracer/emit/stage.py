"""Emission, one entry point: a project's traces to its decontaminated problems.

``emit`` runs, in order, the Codex paper's file filters, candidate building, validation in
the sandbox, the problems' records, and decontamination against HumanEval and MBPP, and
answers with an ``EmitResult``: the problems, every count of the funnel (``dropped_<reason>``
for each thing left out), the time each step took, and the ``Failure`` when nothing was
left. The caller (``miners.pipeline``) only records what it is told.
"""

from __future__ import annotations

import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from recipes.records import Failure, Stage, cpu_seconds
from recipes.sandbox import SandboxSettings
from tracer import roots
from tracer.dataset.benchmarks import load_benchmarks
from tracer.dataset.decontaminate import decontaminate
from tracer.dataset.export import to_problem
from tracer.emit.candidates import build_candidates
from tracer.emit.drops import internal
from tracer.emit.file_filters import filter_traces
from tracer.emit.validate import Strengthening, validate_all
from tracer.records import Candidate, Problem, TraceSet


@dataclass(frozen=True)
class Origin:
    """Where the traces come from, as the problems' records tell it."""

    checkout: Path  # the project's source tree
    site_packages: Path  # of the environment the tests ran in
    interpreter: str  # the host interpreter of that Python, to validate with
    python: str  # its version, "3.11.7"
    project: str
    version: str
    source_spec: str  # the SPEC as the user wrote it
    ci_file: str  # the recipe the tests ran by, "tox.ini:py311"
    license: str = ""
    unsafe_no_sandbox: bool = False


@dataclass(frozen=True)
class EmitSettings:
    max_asserts: int = 10
    validate_timeout: float = 10.0
    keep_contaminated: bool = False  # keep (flagged) problems that overlap a benchmark
    sandbox: SandboxSettings = SandboxSettings()
    augment: bool = True  # derive inputs from the recorded ones (tracer.strength.augment)


@dataclass
class EmitResult:
    problems: list[Problem] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    timings: dict[str, float] = field(default_factory=dict)  # emit, validate, decontaminate
    cpu: dict[str, float] = field(default_factory=dict)  # the same steps' CPU seconds
    failure: Failure | None = None  # no_candidates at emit, none_valid at validate
    notes: list[str] = field(default_factory=list)  # for the project's log


def emit(traces: TraceSet, origin: Origin, settings: EmitSettings, *, work_dir: Path,
         on_stage: Callable[[Stage], None] | None = None) -> EmitResult:
    """The problems of one project's traces (see the module docstring)."""
    result = EmitResult()
    timed = _Timer(result, on_stage)
    with timed("emit"):
        candidates = _candidates(traces, origin, settings, result)
    if result.failure is not None:
        return result
    with timed("validate"):
        kept, dropped = validate_all(candidates, python=origin.interpreter,
                                     work_dir=work_dir / "validate",
                                     timeout=settings.validate_timeout,
                                     settings=settings.sandbox, errors=result.notes,
                                     strength=Strengthening(max_asserts=settings.max_asserts,
                                                            augment=settings.augment))
        problems = _problems(kept, origin, dropped, result.notes)
        _count_drops(result.counts, dropped)
        result.counts["problems"] = len(problems)
        if not problems:
            result.failure = Failure("validate", "none_valid",
                                     drop_summary(dropped, "candidate"))
            return result
    with timed("decontaminate"):
        result.problems = _decontaminated(problems, settings, result)
    return result


def _candidates(traces: TraceSet, origin: Origin, settings: EmitSettings,
                result: EmitResult) -> list[Candidate]:
    packages = roots.project_packages(origin.checkout)
    trace_roots = roots.trace_roots(origin.checkout, origin.site_packages, packages)
    # The Codex paper's file filters: generated files, long lines, little text.
    traces, by_file = filter_traces(traces, within=(origin.checkout, *trace_roots))
    _count_drops(result.counts, by_file)
    report = build_candidates(traces, checkout=origin.checkout, roots=trace_roots,
                              project_packages=packages, max_asserts=settings.max_asserts)
    result.notes += report.errors
    if report.opaque:  # what the probe could not write, most calls first
        result.notes.append("citrace: calls dropped for values without source: " + ", ".join(
            f"{count} {what}" for what, count in report.opaque.most_common(8)))
    result.counts["functions_traced"] = report.functions_traced + sum(by_file.values())
    result.counts["candidates"] = len(report.candidates)
    _count_drops(result.counts, report.dropped)
    for reason, count in report.calls_dropped.items():  # calls that made no assert
        result.counts[f"calls_dropped_{reason}"] += count
    if not report.candidates:
        result.failure = Failure("emit", "no_candidates",
                                 drop_summary(report.dropped, "function"))
    return list(report.candidates)


def _problems(kept: list[Candidate], origin: Origin, dropped: Counter[str],
              errors: list[str]) -> list[Problem]:
    """The validated candidates' records; one that cannot be made is dropped alone."""
    problems = []
    for candidate in kept:
        try:
            problems.append(_problem(candidate, origin))
        except Exception as exc:  # noqa: BLE001 -- one function never costs the project
            dropped[internal("problem", exc)] += 1
            errors.append(f"citrace: recording {candidate.function.qualname} "
                          f"({candidate.path}) failed:\n{traceback.format_exc()}")
    return problems


def _problem(candidate: Candidate, origin: Origin) -> Problem:
    return to_problem(candidate, project=origin.project, version=origin.version,
                      source_spec=origin.source_spec, python=origin.python,
                      ci_file=origin.ci_file, unsafe_no_sandbox=origin.unsafe_no_sandbox,
                      license=origin.license)


def _decontaminated(problems: list[Problem], settings: EmitSettings,
                    result: EmitResult) -> list[Problem]:
    """Problems that overlap HumanEval or MBPP are left out (counted), or kept flagged with
    ``--keep-contaminated``; a benchmark whose data is missing is said in the notes and in
    every problem's meta."""
    found, missing = load_benchmarks()
    result.notes += [f"citrace: decontamination against {benchmark.name} was not done: "
                     f"{benchmark.reason}" for benchmark in missing]
    kept, dropped = decontaminate(problems, keep=settings.keep_contaminated,
                                  benchmarks=found, unavailable=missing)
    if dropped:
        result.counts["dropped_contaminated"] += dropped
        result.counts["problems"] = len(kept)
    return kept


def _count_drops(counts: Counter[str], dropped: Counter[str]) -> None:
    for reason, count in dropped.items():
        counts[f"dropped_{reason}"] += count


def drop_summary(dropped: Counter[str], what: str) -> str:
    """"no function qualified: 12 not_toplevel, 3 no_usable_calls" (most common first)."""
    if not dropped:
        return f"no {what} qualified"
    parts = ", ".join(f"{count} {reason}" for reason, count in dropped.most_common())
    return f"no {what} qualified: {parts}"


class _Timer:
    """``with timed(step):`` adds the step's wall and CPU time to the result, and tells ``on_stage``
    when a pipeline stage begins (decontamination is part of validation for that)."""

    def __init__(self, result: EmitResult, on_stage: Callable[[Stage], None] | None) -> None:
        self.result, self.on_stage = result, on_stage

    @contextmanager
    def __call__(self, step: str) -> Iterator[None]:
        if self.on_stage is not None and step in ("emit", "validate"):
            self.on_stage("emit" if step == "emit" else "validate")
        started, cpu_started = time.monotonic(), cpu_seconds()
        try:
            yield
        finally:
            for spent, took in ((self.result.timings, time.monotonic() - started),
                                (self.result.cpu, cpu_seconds() - cpu_started)):
                spent[step] = round(spent.get(step, 0.0) + took, 3)
