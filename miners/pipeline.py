"""One project, from SPEC to validated problems: acquire, plan, build, test, trace, emit,
validate. Every way out of here is a ``ProjectResult``; nothing a project does can raise
past ``mine_project``."""

from __future__ import annotations

import hashlib
import re
import shutil
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from miners.records import Checkout, ProjectResult, Spec
from miners.sources import acquire
from recipes import planner, sandbox
from recipes.diagnose import cause_of_test_failure, failure_line
from recipes.records import Env, Failure, Recipe, StageError
from tracer import inject, roots
from tracer.emit.candidates import build_candidates
from tracer.emit.export import to_problem
from tracer.emit.validate import validate_all
from tracer.records import Problem, TraceSet
from tracer.traces import read_traces


@dataclass(frozen=True)
class Settings:
    """How one run treats each project."""

    work_root: Path
    logs_dir: Path
    keep_work: bool = False
    build_timeout: float = 1200.0
    test_timeout: float = 1800.0
    validate_timeout: float = 10.0
    max_asserts: int = 10
    unsafe_no_sandbox: bool = False  # run untrusted code unisolated when no sandbox works


@dataclass
class _Progress:
    """What a project has reached so far, so a failure can still report it."""

    stage: str = "acquire"
    timings: dict[str, float] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    checkout: Checkout | None = None
    recipe: Recipe | None = None
    python: str = ""
    on_stage: Callable[[str], None] | None = None

    @contextmanager
    def stage_of(self, name: str) -> Iterator[None]:
        self.stage = name
        if self.on_stage is not None:
            self.on_stage(name)
        started = time.monotonic()
        try:
            yield
        finally:
            self.timings[name] = round(time.monotonic() - started, 3)


def slug(text: str) -> str:
    """A file-system name for a SPEC: readable, and distinct for distinct SPECs."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", text.rstrip("/").rsplit("/", 1)[-1]).strip("_.")
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return f"{readable[:60] or 'project'}-{digest}"


def mine_project(spec: Spec, settings: Settings, *,
                 on_stage: Callable[[str], None] | None = None,
                 ) -> tuple[ProjectResult, list[Problem]]:
    """Mine one project; ``on_stage(name)`` is called as each stage begins."""
    name = slug(spec.raw)
    work = settings.work_root / name
    log_path = settings.logs_dir / f"{name}.log"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    progress = _Progress(on_stage=on_stage)
    sandbox.allow_unsafe(settings.unsafe_no_sandbox)
    try:
        problems = _run_stages(spec, work, log_path, settings, progress)
        return _result(spec, progress, status="ok", failure=None, log_path=log_path,
                       settings=settings), problems
    except StageError as exc:
        failure = exc.failure
    except Exception as exc:  # a bug of ours must not stop the run: record it, go on
        with open(log_path, "a", encoding="utf-8") as log:
            log.write(traceback.format_exc())
        failure = Failure(progress.stage, "internal_error", f"{type(exc).__name__}: {exc}")
    finally:
        if not settings.keep_work:
            shutil.rmtree(work, ignore_errors=True)
    return _result(spec, progress, status="failed", failure=failure, log_path=log_path,
                   settings=settings), []


def _run_stages(spec: Spec, work: Path, log_path: Path, settings: Settings,
                progress: _Progress) -> list[Problem]:
    with progress.stage_of("acquire"):
        checkout = progress.checkout = acquire(spec, work / "src")
    source = Path(checkout.path)
    with progress.stage_of("plan"):
        recipes, _skipped = planner.plan(source, log_path=log_path)
    with progress.stage_of("build"):
        env = _build_first(recipes, source, work, log_path, settings, progress)
    traces = _traced_run(env, source, work, log_path, settings, progress)
    with progress.stage_of("emit"):
        packages = roots.project_packages(source)
        trace_roots = roots.trace_roots(source, Path(env.site_packages), packages)
        report = build_candidates(traces, checkout=source, roots=trace_roots,
                                  project_packages=packages, max_asserts=settings.max_asserts)
        progress.counts["functions_traced"] = report.functions_traced
        progress.counts["candidates"] = len(report.candidates)
        _count_drops(progress, report.dropped)
        if not report.candidates:
            raise StageError("emit", "no_candidates", _drop_summary(report.dropped, "function"))
    with progress.stage_of("validate"):
        kept, dropped = validate_all(report.candidates, python=env.recipe.interpreter,
                                     work_dir=work / "validate", timeout=settings.validate_timeout)
        _count_drops(progress, dropped)
        progress.counts["problems"] = len(kept)
        if not kept:
            raise StageError("validate", "none_valid", _drop_summary(dropped, "candidate"))
    return [to_problem(c, project=checkout.name, version=checkout.version, source_spec=spec.raw,
                       python=env.version, ci_file=_recipe_name(env.recipe),
                       unsafe_no_sandbox=sandbox.unsafe_in_effect()) for c in kept]


def _build_first(recipes: list[Recipe], source: Path, work: Path, log_path: Path,
                 settings: Settings, progress: _Progress) -> Env:
    """Build with the best recipe that builds; the fallback gets its turn after tox."""
    failure: StageError | None = None
    for index, recipe in enumerate(recipes):
        progress.recipe = recipe
        try:
            return planner.build(recipe, source, work_dir=work / f"env{index}", log_path=log_path,
                                 timeout=settings.build_timeout)
        except StageError as exc:
            failure = failure or exc
            progress.counts["recipes_failed"] += 1
    assert failure is not None
    raise failure


def _traced_run(env: Env, source: Path, work: Path, log_path: Path, settings: Settings,
                progress: _Progress) -> TraceSet:
    progress.python = env.version
    trace_dir = work / "traces"
    trace_dir.mkdir()
    packages = roots.project_packages(source)
    trace_roots = roots.trace_roots(source, Path(env.site_packages), packages)
    inject.install_probe(Path(env.site_packages), python=env.python)
    config = inject.ProbeConfig(out_dir=str(trace_dir), roots=tuple(str(r) for r in trace_roots))
    config_path = config.write(work / "probe.json")
    with progress.stage_of("test"):
        outcome = planner.run_tests(env, source, extra_env=inject.probe_environment(config_path),
                                    log_path=log_path, timeout=settings.test_timeout)
        if not outcome.ok:
            reason = failure_line(outcome, "tests failed")
            raise StageError("test", cause_of_test_failure(outcome), reason)
    with progress.stage_of("trace"):
        traces = read_traces(trace_dir)
        progress.counts["calls_recorded"] = len(traces.calls)
        if not traces.calls:
            raise StageError("trace", "no_calls",
                             f"the tests ran but no call of the project's own functions was "
                             f"recorded (traced under {', '.join(map(str, trace_roots))})")
    return traces


def _count_drops(progress: _Progress, dropped: Counter[str]) -> None:
    for reason, count in dropped.items():
        progress.counts[f"dropped_{reason}"] += count


def _drop_summary(dropped: Counter[str], what: str) -> str:
    if not dropped:
        return f"no {what} qualified"
    parts = ", ".join(f"{count} {reason}" for reason, count in dropped.most_common())
    return f"no {what} qualified: {parts}"


def _recipe_name(recipe: Recipe) -> str:
    return f"{recipe.source}:{recipe.job}"


def _result(spec: Spec, progress: _Progress, *, status: str, failure: Failure | None,
            log_path: Path, settings: Settings) -> ProjectResult:
    checkout = progress.checkout
    common = dict(
        name=checkout.name if checkout else "",
        version=checkout.version if checkout else "",
        python=progress.python,
        recipe=_recipe_name(progress.recipe) if progress.recipe else "",
        timings=dict(progress.timings),
        counts=dict(progress.counts),
        log=str(log_path.relative_to(settings.logs_dir.parent)) if log_path.exists() else "",
        unsafe_no_sandbox=sandbox.unsafe_in_effect(),
    )
    if failure is not None:
        return ProjectResult.failed(spec.raw, failure, **common)  # type: ignore[arg-type]
    return ProjectResult(spec=spec.raw, status=status, stage="validate", reason="",
                         **common)  # type: ignore[arg-type]
