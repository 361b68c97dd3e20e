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
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from miners.records import Checkout, ProjectResult, Spec
from miners.sources import acquire, licenses
from recipes import interpreters, planner, sandbox
from recipes.records import (
    STAGES,
    CommandOutcome,
    Env,
    Failure,
    Recipe,
    Stage,
    StageError,
    cpu_seconds,
)
from recipes.runners import addopts, eras, installers, missing
from recipes.runners.diagnose import (
    BOUND_CAUSES,
    SuiteCounts,
    cause_of_test_failure,
    failure_line,
    suite_counts,
)
from recipes.sandbox import SandboxSettings, Stall
from recipes.sandbox.egress import NetworkMeter
from tracer import inject, roots
from tracer.emit.stage import EmitSettings, Origin, emit
from tracer.records import Problem, TraceSet
from tracer.traces import last_test, read_traces, running_test

# Recipes whose tests are run before giving up on a project: each costs a build and a
# traced run of the suite, so a project whose suite fails everywhere stops after this many.
MAX_TEST_RUNS = 3
# Test failures that no other recipe would avoid: the sandbox's bounds, a missing service.
FINAL_TEST_CAUSES = frozenset({*BOUND_CAUSES.values(), "needs_service"})
# A run that ran no test: found none, or failed before any (pydash 4.9.2's ``inv test``
# builds the package first, and that fails the same way in every tox environment).
NO_TEST_RAN = frozenset({"no_tests_found", "test_command_failed"})
# Lines of the log kept beside a failed project's repos.jsonl line (OUTDIR/failures/).
LOG_TAIL_LINES = 50


@dataclass(frozen=True)
class Settings:
    """How one run treats each project."""

    work_root: Path
    logs_dir: Path
    keep_work: bool = False
    build_timeout: float = 1200.0
    test_timeout: float = 1800.0
    # One pytest test may run this long (tracer/timelimit.py); past it, it fails and the
    # session goes on. 0: no limit.
    test_time_limit: float = 300.0
    # A test run that prints nothing and records no call this long is stopped
    # (recipes.sandbox.Stall), its traces kept. 0: wait for test_timeout.
    stall_after: float = 600.0
    validate_timeout: float = 10.0
    max_asserts: int = 10
    # How untrusted commands are isolated (--unsafe-no-sandbox, --unsafe-build-network).
    sandbox: SandboxSettings = SandboxSettings()
    installer: str = ""  # "pip" or "uv"; "" for recipes.runners.installers.default_installer()
    licenses: frozenset[str] = frozenset()  # --license: SPDX ids kept; empty keeps all
    keep_contaminated: bool = False  # keep (flagged) problems that overlap a benchmark
    # --min-mutation-score: problems written only when their test kills this share of the
    # mutants (tracer.dataset.mutation_filter; applied by miners.run.batch as it writes them)
    min_mutation_score: float | None = None
    augment: bool = True  # derive inputs answered by the reference (--no-augment: off)


@dataclass
class _Progress:
    """What a project has reached so far, so a failure can still report it."""

    stage: Stage = "acquire"
    timings: dict[str, float] = field(default_factory=dict)  # wall seconds per stage
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds per stage, see cpu_seconds
    counts: Counter[str] = field(default_factory=Counter)
    checkout: Checkout | None = None
    recipe: Recipe | None = None
    python: str = ""
    on_stage: Callable[[Stage], None] | None = None
    tried: list[str] = field(default_factory=list)  # "recipe (python X.Y): stage cause"
    network: NetworkMeter = field(default_factory=NetworkMeter)  # what its builds reached

    def enter(self, name: Stage) -> None:
        """The project is now at stage ``name`` (a failure from here on names it)."""
        self.stage = name
        if self.on_stage is not None:
            self.on_stage(name)

    @contextmanager
    def stage_of(self, name: Stage) -> Iterator[None]:
        self.enter(name)
        started, cpu_started = time.monotonic(), cpu_seconds()
        try:
            yield
        finally:
            # Summed: each recipe tried builds (and may test) again.
            self.add_time(name, time.monotonic() - started, cpu_seconds() - cpu_started)

    def add_time(self, step: str, wall: float, cpu: float) -> None:
        self.timings[step] = round(self.timings.get(step, 0.0) + wall, 3)
        self.cpu[step] = round(self.cpu.get(step, 0.0) + cpu, 3)


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
    _fresh_directory(work)
    # A tail kept by an earlier, failed attempt at this project (--retry-failed) is stale.
    (settings.logs_dir.parent / "failures" / f"{name}.tail.txt").unlink(missing_ok=True)
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    progress = _Progress(on_stage=on_stage)
    try:
        problems = _run_stages(spec, work, log_path, settings, progress)
        return _result(spec, progress, failure=None, log_path=log_path,
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
    return _result(spec, progress, failure=failure, log_path=log_path,
                   settings=settings), []


def _fresh_directory(work: Path, *, tries: int = 20, pause: float = 0.5) -> None:
    """``work``, empty. A worker of a killed run may still be writing into it for a moment
    (it notices its parent's death within a quarter of a second, later on a loaded
    machine) and recreate what was just removed: try again until it is gone."""
    for attempt in range(tries):
        shutil.rmtree(work, ignore_errors=True)
        try:
            work.mkdir(parents=True)
            return
        except FileExistsError:
            if attempt == tries - 1:
                raise
            time.sleep(pause)


def _run_stages(spec: Spec, work: Path, log_path: Path, settings: Settings,
                progress: _Progress) -> list[Problem]:
    with progress.stage_of("acquire"):
        checkout = progress.checkout = acquire(spec, work / "src")
        if checkout.tests_note:  # an sdist without tests (miners.sources.upstream)
            with open(log_path, "a", encoding="utf-8") as log:
                log.write(f"[citrace: {checkout.tests_note}]\n")
        _check_license(checkout, settings)
    source = Path(checkout.path)
    with progress.stage_of("plan"):
        recipes, _skipped = planner.plan(source, log_path=log_path, settings=settings.sandbox,
                                         date=installers.as_of_date(checkout.date))
        recipes = _for_python(recipes, spec)
    env, traces = _build_and_trace(recipes, source, work, log_path, settings, progress)
    origin = Origin(checkout=source, site_packages=Path(env.site_packages),
                    interpreter=env.recipe.interpreter, python=env.version,
                    project=checkout.name, version=checkout.version, source_spec=spec.raw,
                    ci_file=_recipe_name(env.recipe), license=checkout.license,
                    unsafe_no_sandbox=isolation_fields(settings)["unsafe_no_sandbox"])
    emitted = emit(traces, origin, EmitSettings(
        max_asserts=settings.max_asserts, validate_timeout=settings.validate_timeout,
        keep_contaminated=settings.keep_contaminated, sandbox=settings.sandbox,
        augment=settings.augment),
        work_dir=work, on_stage=progress.enter)
    progress.counts.update(emitted.counts)
    for step, seconds in emitted.timings.items():
        progress.add_time(step, seconds, emitted.cpu.get(step, 0.0))
    if emitted.notes:
        with open(log_path, "a", encoding="utf-8") as log:
            log.writelines(f"{note}\n" for note in emitted.notes)
    if emitted.failure is not None:
        failure = emitted.failure
        raise StageError(failure.stage, failure.cause, failure.message)
    return emitted.problems


def _build_and_trace(recipes: list[Recipe], source: Path, work: Path, log_path: Path,
                     settings: Settings, progress: _Progress) -> tuple[Env, TraceSet]:
    """The environment and traces of the best recipe whose tests run: recipes are tried in
    order while they fail to build, and while their tests fail, for up to MAX_TEST_RUNS
    test runs. When all fail, the failure that got furthest (the first among equals)."""
    failures: list[tuple[StageError, Recipe, str]] = []
    test_runs = 0
    for index, recipe in enumerate(recipes):
        if _tests_failed_before(recipe, failures):
            continue  # the same job on another Python: worth a try only when it did not build
        progress.recipe, progress.python = recipe, ""
        try:
            with progress.stage_of("build"):
                env = planner.build(recipe, source, work_dir=work / f"env{index}",
                                    log_path=log_path, timeout=settings.build_timeout,
                                    options=_build_options(settings, progress))
            progress.recipe = recipe = env.recipe  # as built: with the installer it used
            test_runs += 1
            return env, _traced_run(env, source, work / f"run{index}", log_path, settings,
                                    progress)
        except StageError as exc:
            # As far as it got: a test run again with an older pytest says so.
            failures.append((exc, progress.recipe or recipe, progress.python))
            progress.counts["recipes_failed"] += 1
            progress.tried.append(f"{_recipe_name(recipe)} (python {recipe.python}): "
                                  f"{exc.failure.stage} {exc.failure.cause}")
            # A suite that overran a bound of the sandbox would most likely overrun it again
            # under the next recipe, at the same cost (up to --test-timeout each); one that
            # ran but called nothing we trace would call nothing under the next one either;
            # one that needs a service (a database) finds none under any recipe.
            if test_runs >= MAX_TEST_RUNS or exc.failure.stage == "trace" or (
                    exc.failure.stage == "test" and exc.failure.cause in FINAL_TEST_CAUSES):
                break
    assert failures, "the planner returns at least one recipe"
    furthest = max(STAGES.index(f.failure.stage) for f, _, _ in failures)
    failure, progress.recipe, progress.python = next(
        attempt for attempt in failures if STAGES.index(attempt[0].failure.stage) == furthest)
    raise failure


def _tests_failed_before(recipe: Recipe,
                         failures: list[tuple[StageError, Recipe, str]]) -> bool:
    """True when the same job (on another Python) already got to its tests and failed, or
    when a recipe of the same CI file ran no test (found none, or failed before any): its
    other environments or jobs would most likely run none either (they share its commands),
    and the next CI file or the fallback should get the remaining test runs."""
    return any(((r.kind, r.source, r.job) == (recipe.kind, recipe.source, recipe.job)
                and STAGES.index(f.failure.stage) >= STAGES.index("test"))
               or (r.source == recipe.source and f.failure.cause in NO_TEST_RAN)
               for f, r, _ in failures)


def _check_license(checkout: Checkout, settings: Settings) -> None:
    """``--license``: a project under another license stops here, before any build."""
    if settings.licenses and not licenses.is_allowed(checkout.license, settings.licenses):
        found = checkout.license or "no license found"
        raise StageError("acquire", "license_filtered",
                         f"license {found} ({checkout.license_source or 'no source'}) is not "
                         f"in --license {','.join(sorted(settings.licenses))}")


def _for_python(recipes: list[Recipe], spec: Spec) -> list[Recipe]:
    """The recipes on the Python a .jsonl line asks for (``python``), when it asks."""
    if not spec.python:
        return recipes
    wanted = [r for r in recipes if r.python == spec.python]
    if not wanted:
        found = ", ".join(sorted({r.python for r in recipes})) or "none"
        raise StageError("plan", "no_recipe_for_python",
                         f"no recipe runs on Python {spec.python}, as its list line asks "
                         f"(recipes found for: {found}); change or drop its python setting")
    return wanted


def _build_options(settings: Settings, progress: _Progress) -> installers.BuildOptions:
    """The installer asked for (uv when present, by default), the checkout's date to
    resolve dependencies as of, the run's isolation, and the project's network meter."""
    checkout = progress.checkout
    return installers.BuildOptions(installer=settings.installer or installers.default_installer(),
                                   as_of=installers.as_of_date(checkout.date if checkout else ""),
                                   tests_as_of=installers.as_of_date(
                                       checkout.tests_date if checkout else ""),
                                   sandbox=settings.sandbox, meter=progress.network)


def _traced_run(env: Env, source: Path, work: Path, log_path: Path, settings: Settings,
                progress: _Progress) -> TraceSet:
    """Run the tests traced. A run in which some tests fail is kept when more passed than
    failed: the suite ran in a working environment, and the problems made from its calls
    are validated on their own afterwards, so a failing test cannot make a wrong problem.
    Most real suites have a few tests that fail years later (a changed dependency, a
    network test); refusing those runs would throw away nearly all of the trace."""
    progress.python = env.version
    packages = roots.project_packages(source)
    trace_roots = roots.trace_roots(source, Path(env.site_packages), packages)
    modules = roots.module_names(source, Path(env.site_packages))
    inject.install_probe(Path(env.site_packages), interpreter=_interpreter_of(env),
                         env_dir=Path(env.work_dir), settings=settings.sandbox,
                         log_path=log_path)
    with progress.stage_of("test"):
        # ``work`` is citrace's: the tests cannot replace these directories by links.
        extra: dict[str, str] = {}

        def run_suite(traces: str) -> tuple[Path, CommandOutcome, str]:
            """The suite run (again) on the current ``env``, with the current ``extra``."""
            return _run_suite(env, source, work / traces, trace_roots, modules, log_path,
                              settings, extra=extra)
        trace_dir, outcome, output = run_suite("traces")
        dropped = _refused_options(outcome, output, source)
        if dropped is not None:  # a plugin gone, or one that breaks pytest: run without it
            extra = dropped.environment
            with open(log_path, "a", encoding="utf-8") as log:
                log.write(f"\n[citrace: {dropped.note}]\n")
            env = _repaired(env, dropped.note)
            progress.recipe = env.recipe
            trace_dir, outcome, output = run_suite("traces-addopts")
        counts = suite_counts(output)
        older = _older_pytest(env, source, outcome, output, log_path, settings, progress)
        if older is not None:  # the suite needs a pytest from before a removal: run it again
            env = older
            progress.recipe = older.recipe
            trace_dir, outcome, output = run_suite("traces-older-pytest")
            counts = suite_counts(output)
        installed: set[str] = set()
        for round_ in range(missing.ROUNDS):  # one missing module can hide the next
            completed = _missing_installed(env, source, outcome, output,
                                           packages | modules | installed, log_path, settings,
                                           progress, installed)
            if completed is None:
                break
            env = completed  # the tests import what nobody declared: run them again
            progress.recipe = completed.recipe
            trace_dir, outcome, output = run_suite(f"traces-completed-{round_}")
            counts = suite_counts(output)
        if counts is not None:
            progress.counts["tests_passed"] = counts.passed
            progress.counts["tests_failed"] = counts.failed + counts.errors
        _count_stopped_tests(output, progress)
        hung = _kept_after_a_hang(outcome, trace_dir, log_path, progress)
        if not hung and not outcome.ok and not (
                outcome.verdict == "failed" and counts is not None and counts.mostly_passed):
            reason = failure_line(outcome, "tests failed")
            raise StageError("test", cause_of_test_failure(outcome, counted=counts is not None),
                             reason)
    with progress.stage_of("trace"):
        traces = read_traces(trace_dir)
        progress.counts["calls_recorded"] = len(traces.calls)
        _refuse_a_run_of_no_test(counts, traced=bool(traces.calls))
        if not traces.calls:
            raise StageError("trace", "no_calls",
                             f"the tests ran but no call of the project's own functions was "
                             f"recorded: {roots.imports_told(traces.imported, modules)} "
                             f"(traced under {', '.join(map(str, trace_roots))})")
    return traces


def _run_suite(env: Env, source: Path, trace_dir: Path, trace_roots: list[Path],
               modules: Collection[str], log_path: Path, settings: Settings,
               extra: dict[str, str] | None = None) -> tuple[Path, CommandOutcome, str]:
    """Run the tests traced into ``trace_dir`` (made here); it, the outcome, and the whole
    output the run added to the log. ``extra``: more variables for the tests."""
    trace_dir.mkdir(parents=True)
    config = inject.ProbeConfig(out_dir=str(trace_dir), roots=tuple(str(r) for r in trace_roots),
                                test_time_limit=settings.test_time_limit,
                                modules=tuple(sorted(modules)))
    log_start = log_path.stat().st_size if log_path.exists() else 0
    outcome = planner.run_tests(env, source,
                                extra_env={**inject.probe_environment(config), **(extra or {})},
                                log_path=log_path, timeout=settings.test_timeout,
                                writable=(trace_dir,), sandbox=_watched(settings, trace_dir))
    return trace_dir, outcome, _log_since(log_path, log_start)


def _refused_options(outcome: CommandOutcome, output: str,
                     source: Path) -> addopts.Dropped | None:
    """For a run pytest refused to start because its configuration's ``addopts`` name
    options of plugins that are gone, or died in a plugin setuptools vendors: those options
    left out, or that plugin turned off (``recipes.runners.addopts``)."""
    if outcome.verdict != "failed":
        return None
    return addopts.drop_unknown(output, source) or addopts.drop_vendored_plugin(output)


def _repaired(env: Env, note: str) -> Env:
    return replace(env, recipe=replace(env.recipe, repairs=env.recipe.repairs + (note,)))


def _older_pytest(env: Env, source: Path, outcome: CommandOutcome, output: str,
                  log_path: Path, settings: Settings, progress: _Progress) -> Env | None:
    """For a run that failed, and would not be kept, on a pytest API the installed pytest
    removed: the environment with the pytest from before the removal (recipes.runners.eras).
    The install may use the network, as builds do; it counts as test time."""
    counts = suite_counts(output)
    if outcome.verdict != "failed" or (counts is not None and counts.mostly_passed):
        return None
    return eras.older_pytest(env, source, output, log_path=log_path,
                             timeout=settings.build_timeout,
                             options=_build_options(settings, progress))


def _missing_installed(env: Env, source: Path, outcome: CommandOutcome, output: str,
                       skip: frozenset[str] | set[str], log_path: Path, settings: Settings,
                       progress: _Progress, installed: set[str]) -> Env | None:
    """For a run that failed, and would not be kept, because test modules import what is not
    installed (``mock``, ``nose``): the environment with it installed
    (``recipes.runners.missing``; ``installed`` gains the modules). The install may use the
    network, as builds do. ``skip``: the project's own modules, and those installed before."""
    counts = suite_counts(output)
    if outcome.verdict != "failed" or (counts is not None and counts.mostly_passed):
        return None
    names = missing.missing_modules(output, {*skip, "tests", "test", "testing", "conftest"})
    if not names:
        return None
    installed.update(names)
    return missing.with_missing_installed(env, source, names, log_path=log_path,
                                          timeout=settings.build_timeout,
                                          options=_build_options(settings, progress))


def _refuse_a_run_of_no_test(counts: SuiteCounts | None, *, traced: bool) -> None:
    """A run that executed no test is no run, whatever its exit status: a tox environment
    with no ``commands`` says OK having run nothing. It ends as a test failure, so the next
    recipe (another environment, the Travis or GitHub jobs, the fallback) gets its turn. A
    summary that counts no test settles it; with no summary at all (a runner whose output
    we do not read), a run that recorded calls ran something."""
    if counts is not None and counts.ran == 0:
        raise StageError("test", "no_tests_found",
                         "the recipe's test commands ran no test (their summary counts none)")
    if counts is None and not traced:
        raise StageError("test", "no_tests_found",
                         "the recipe's test commands ran no test: no test runner's summary "
                         "in their output and no call recorded")


def _watched(settings: Settings, trace_dir: Path) -> SandboxSettings:
    """The run's sandbox settings, stopping a test run whose traces and output stall."""
    if not settings.stall_after:
        return settings.sandbox
    return replace(settings.sandbox, stall=Stall(watch=(str(trace_dir),),
                                                 after=settings.stall_after))


# Anywhere in a line: pytest -q prints it after the progress dots of the test.
_STOPPED_TEST = re.compile(r"citrace: test ([^\n]+?) ran over [\d.]+ s and was stopped")


def _count_stopped_tests(output: str, progress: _Progress) -> None:
    """Tests the per-test time limit stopped (tracer/timelimit.py says so in the log)."""
    stopped = sorted(set(_STOPPED_TEST.findall(output)))
    if stopped:
        progress.counts["tests_stopped"] = len(stopped)


def _kept_after_a_hang(outcome: CommandOutcome, trace_dir: Path, log_path: Path,
                       progress: _Progress) -> bool:
    """A run stopped by its timeout or for making no progress keeps the calls it recorded:
    calls made before a test hung are as good as any. True when it did and recorded some;
    either way the log and, when nothing was recorded, the reason name the test that hung
    (the one running, else the last one that recorded a call)."""
    if outcome.verdict != "timeout":
        return False
    running, last = running_test(trace_dir), last_test(trace_dir)
    where = (f"; the test running: {running}" if running else
             f"; the last test that recorded a call: {last}" if last else "")
    stalled = [line for line in outcome.output_tail.splitlines()
               if line.startswith("[citrace: no progress")]
    reason = stalled[0].strip("[]") if stalled else failure_line(outcome, "timed out")
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(f"\n[citrace: the test run was stopped ({reason}){where}]\n")
    if read_traces(trace_dir).calls:
        progress.counts["runs_stopped"] += 1
        return True
    raise StageError("test", "timeout", f"{reason}{where}")


def _interpreter_of(env: Env) -> str:
    """The host interpreter of the environment's version (the one it was made from, unless a
    CI step made it from another): never the environment's own, which its build wrote."""
    wanted = interpreters.parse_version(env.version)
    chosen = interpreters.choose(wanted) if wanted is not None else None
    if chosen is not None and chosen.version[:2] == wanted:
        return chosen.path
    return env.recipe.interpreter


def _log_since(log_path: Path, start: int, limit: int = 4 << 20) -> str:
    """What the log gained from ``start`` on (its last ``limit`` bytes at most): the whole
    output of a test run, whose summaries may be far above its last lines."""
    try:
        with open(log_path, "rb") as log:
            log.seek(0, 2)
            log.seek(max(start, log.tell() - limit))
            return log.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def _recipe_name(recipe: Recipe) -> str:
    return f"{recipe.source}:{recipe.job}"


def _result(spec: Spec, progress: _Progress, *, failure: Failure | None, log_path: Path,
            settings: Settings) -> ProjectResult:
    """The project's line of ``repos.jsonl``: ok, or failed with ``failure``."""
    checkout = progress.checkout
    common = dict(
        name=checkout.name if checkout else "",
        version=checkout.version if checkout else "",
        python=progress.python,
        recipe=_recipe_name(progress.recipe) if progress.recipe else "",
        license=checkout.license if checkout else "",
        license_source=checkout.license_source if checkout else "",
        tests_from=checkout.tests_from if checkout else "",
        tests_note=checkout.tests_note if checkout else "",
        installer=progress.recipe.installer if progress.recipe else "",
        as_of=progress.recipe.as_of if progress.recipe else "",
        tests_as_of=progress.recipe.tests_as_of if progress.recipe else "",
        test_runner_pin=progress.recipe.test_runner_pin if progress.recipe else "",
        installer_fallbacks=list(progress.recipe.installer_fallbacks) if progress.recipe else [],
        timings=dict(progress.timings),
        cpu=dict(progress.cpu),
        counts=dict(progress.counts),
        log=str(log_path.relative_to(settings.logs_dir.parent)) if log_path.exists() else "",
        recipes_tried=list(progress.tried),
        network=progress.network.total.to_dict() if progress.network.total else {},
        **isolation_fields(settings),
    )
    if failure is not None:
        common["log_tail"] = keep_log_tail(log_path, settings.logs_dir.parent)
        return ProjectResult.failed(spec.raw, failure, **common)  # type: ignore[arg-type]
    return ProjectResult(spec=spec.raw, status="ok", stage="validate", reason="",
                         **common)  # type: ignore[arg-type]


def isolation_fields(settings: Settings) -> dict[str, Any]:
    """How this process isolates the project's commands, for its records: the backend, and
    whether that meant running without a sandbox (allowed by --unsafe-no-sandbox only)."""
    backend = sandbox.backend_name()
    return {"sandbox": backend,
            "unsafe_no_sandbox": backend == "none" and settings.sandbox.unsafe_no_sandbox}


def keep_log_tail(log_path: Path, out_dir: Path) -> str:
    """Copy the last LOG_TAIL_LINES lines of a failed project's log to
    ``OUTDIR/failures/<project>.tail.txt``, where the cause can be read at a glance; the
    path relative to OUTDIR, or "" when there is no log."""
    try:
        with open(log_path, "rb") as log:
            log.seek(0, 2)
            log.seek(max(0, log.tell() - 256 * 1024))  # a tail's worth, whatever the log's size
            lines = log.read().decode("utf-8", errors="replace").splitlines()[-LOG_TAIL_LINES:]
        tail = out_dir / "failures" / f"{log_path.stem}.tail.txt"
        tail.parent.mkdir(parents=True, exist_ok=True)
        tail.write_text("\n".join(lines) + "\n", encoding="utf-8")
    except OSError:
        return ""
    return str(tail.relative_to(out_dir))
