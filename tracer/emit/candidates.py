"""Traces to candidates: every traced function either becomes a ``Candidate`` or is counted
under the reason it was dropped."""

from __future__ import annotations

import ast
import dataclasses
import traceback
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tracer.emit.asserts import FUNCTION_SUBJECT, MAX_ASSERTS, build_check, judge_calls
from tracer.emit.context import ImportPolicy, Resolver, build_context
from tracer.emit.drops import (
    CONDITIONAL_DEFINITION,
    DECORATED,
    DUPLICATE,
    NESTED_CLASS,
    NESTED_FUNCTION,
    NOT_TOPLEVEL,
    OUTSIDE_PROJECT,
    Drop,
    internal,
)
from tracer.emit.methods import LiftedMethod, PlacedMethod, method_of
from tracer.emit.source import FunctionSource, ModuleSource, first_line, locate_function
from tracer.records import CallRecord, Candidate, FunctionId, TraceSet


@dataclass
class EmitReport:
    candidates: list[Candidate] = field(default_factory=list)
    functions_traced: int = 0
    dropped: Counter[str] = field(default_factory=Counter)  # reason -> functions
    calls_dropped: Counter[str] = field(default_factory=Counter)  # reason -> calls
    opaque: Counter[str] = field(default_factory=Counter)  # "reason: type" -> calls
    errors: list[str] = field(default_factory=list)  # tracebacks of internal_* drops, for the log


@dataclass(frozen=True)
class _Settings:
    checkout: Path
    roots: tuple[Path, ...]
    project_packages: frozenset[str]
    max_asserts: int


def build_candidates(traces: TraceSet, *, checkout: Path, roots: Sequence[Path],
                     project_packages: frozenset[str],
                     max_asserts: int = MAX_ASSERTS) -> EmitReport:
    """The candidates of one traced run, sorted by path and line, and the funnel's counts."""
    settings = _Settings(checkout, tuple(roots), project_packages, max_asserts)
    calls = _calls_by_function(traces.calls)
    functions = sorted(set(traces.functions) | set(calls),
                       key=lambda f: (f.file, f.line, f.qualname, f.module))
    report = EmitReport(functions_traced=len(functions))
    sources = _Sources()
    kept: dict[tuple[str, str], Candidate] = {}
    for function in functions:
        try:
            candidate = _build_one(function, traces.functions.get(function, False),
                                   calls.get(function, []), settings, sources, report)
        except Drop as drop:
            report.dropped[drop.reason] += 1
            continue
        except Exception as exc:  # noqa: BLE001 -- one function never costs the project
            report.dropped[internal("emit", exc)] += 1
            report.errors.append(f"citrace: {function.qualname} ({function.file}) dropped "
                                 f"by an error of citrace's:\n{traceback.format_exc()}")
            continue
        _keep(kept, candidate, report)
    report.candidates = sorted(kept.values(),
                               key=lambda c: (c.path, c.function.line, c.function.qualname))
    return report


def _build_one(function: FunctionId, toplevel: bool, calls: list[CallRecord],
               settings: _Settings, sources: _Sources, report: EmitReport) -> Candidate:
    method = "." in function.qualname
    if "<locals>" in function.qualname:
        raise Drop(NESTED_FUNCTION, function.qualname)
    file = Path(function.file)
    path = relative_path(file, settings.checkout, settings.roots)
    if not _really_inside(file, (settings.checkout, *settings.roots)):
        # Traces are written by the project's own code: a file named there is read only
        # where it truly lies in the project (no "..", no symlink out to the host's files).
        raise Drop(OUTSIDE_PROJECT, str(file))
    module = sources.module(file)
    decorated = False
    if not toplevel and not method:
        reason = _not_bound_reason(module, function)
        # A top-level function under a decorator: the module binds the wrapper, which the
        # test calls; validation tells whether the wrapper gives what the function did.
        decorated = reason == DECORATED_TOPLEVEL
        if not decorated:
            raise Drop(reason, function.qualname)
    own_class, subject, kind, class_name = None, FUNCTION_SUBJECT, "function", ""
    found: LiftedMethod | PlacedMethod | None = None
    if method:
        found = method_of(module, function.module, function.qualname, function.line)
        if isinstance(found, PlacedMethod):  # an instance method, in its class
            module, located, subject = found.module, found.function, found.subject
            kind, class_name = found.kind, located.unit.node.name  # type: ignore[attr-defined]
        else:  # a static or class method, lifted out of its class
            located, own_class = found.function, found.class_index
            kind = "classmethod" if found.drops_first_arg else "staticmethod"
            class_name = function.qualname.partition(".")[0]
            if found.drops_first_arg:
                calls = [_without_first_arg(call) for call in calls]
    else:
        located = locate_function(module, function.qualname, function.line,
                                  decorated=decorated)
        if _is_generator(located):
            kind = "generator"
    policy = ImportPolicy(_own_modules(function, file, settings, sources))
    # Values may hold objects of the module's other classes: the test then names them, and
    # the prompt carries them; where it cannot, the calls that need them are left out.
    subject = dataclasses.replace(subject, module_names=_bound_names(module, function),
                                  subclasses=_subclasses(module, subject.own_class))
    judged = judge_calls(calls, subject)
    try:
        check = build_check(judged, max_asserts=settings.max_asserts)
        try:
            context, located = _context(module, located, found, check.names, own_class,
                                        policy, settings, sources)
        except Drop:
            if not check.names:
                raise
            judged = judge_calls(calls, dataclasses.replace(subject, module_names=frozenset()))
            check = build_check(judged, max_asserts=settings.max_asserts)
            context, located = _context(module, located, found, frozenset(), own_class,
                                        policy, settings, sources)
    finally:  # the calls of the last judgement count, whatever became of the function
        report.calls_dropped.update(judged.dropped)
        report.opaque.update(judged.opaque)
    prompt = f"{context}\n\n{located.header}" if context else located.header
    return Candidate(
        function=function, path=path, entry_point=located.unit.node.name,  # type: ignore[attr-defined]
        prompt=prompt, canonical_solution=located.body, test=check.test,
        n_calls=check.n_calls, n_asserts=check.n_asserts, tests_traced=check.tests_traced,
        blocks=check.blocks, assert_kinds=check.kinds, kind=kind, class_name=class_name,
    )


DECORATED_TOPLEVEL = "decorated_toplevel"  # not a drop: see _build_one


def _subclasses(module: ModuleSource,
                own_class: tuple[str, str] | None) -> frozenset[tuple[str, str]]:
    """The top-level classes of the module that derive from ``own_class`` (a top-level
    class of it), directly or through one another, by the names their bases are written
    with (``class SplitResultString(SplitResult)``)."""
    if own_class is None or "." in own_class[1]:
        return frozenset()
    classes = [u.node for u in module.units if isinstance(u.node, ast.ClassDef)]
    derived: set[str] = set()
    bases = {own_class[1]}
    while True:
        more = {c.name for c in classes if c.name not in derived and c.name != own_class[1]
                and any(isinstance(b, ast.Name) and b.id in bases for b in c.bases)}
        if not more:
            return frozenset((own_class[0], name) for name in derived)
        derived |= more
        bases |= more


def _bound_names(module: ModuleSource, function: FunctionId) -> frozenset[tuple[str, str]]:
    """(name, module it comes from) for each top-level name of the function's module: its
    own module for what it defines, the imported module for `from x import Name`."""
    package = function.module if Path(function.file).name == "__init__.py" else (
        function.module.rpartition(".")[0])
    found: set[tuple[str, str]] = set()
    for name, indexes in module.bindings.items():
        for index in indexes:
            node = module.units[index].node
            if not isinstance(node, ast.ImportFrom):
                found.add((name, function.module))
                continue
            base = package.split(".") if node.level else []
            if node.level > 1:
                base = base[:len(base) - (node.level - 1)]
            source = ".".join([*base, *([node.module] if node.module else [])])
            found.add((name, source))
    return frozenset(found)


def _context(module: ModuleSource, located: FunctionSource,
             found: LiftedMethod | PlacedMethod | None, names: frozenset[str],
             own_class: int | None, policy: ImportPolicy, settings: _Settings,
             sources: _Sources) -> tuple[str, FunctionSource]:
    """The prompt's context, and the function as it then ends the prompt."""
    try:
        return build_context(module, located, policy=policy, own_class=own_class,
                             resolver=_resolver(settings, sources), extra_names=names), located
    except Drop:
        if not (isinstance(found, PlacedMethod) and found.fallback is not None):
            raise
        # Another method of the class needs what the prompt cannot carry: the class with
        # only what the target may use.
        fallback = found.fallback
        return build_context(fallback.module, fallback.function, policy=policy,
                             resolver=_resolver(settings, sources),
                             extra_names=names), fallback.function


def _not_bound_reason(module: ModuleSource, function: FunctionId) -> str:
    """Why a function the probe found under no name of its module's (and, before 3.11,
    under its bare name) is not a problem: where its `def` is."""
    parents: dict[ast.AST, ast.AST] = {}
    for unit in module.units:
        for parent in ast.walk(unit.node):
            for child in ast.iter_child_nodes(parent):
                parents[child] = parent
        for node in ast.walk(unit.node):
            if (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                    and node.name == function.qualname.rpartition(".")[2]
                    and first_line(node) == function.line):
                if node is unit.node:  # bound under another name, or decorated
                    return DECORATED_TOPLEVEL if node.decorator_list else NOT_TOPLEVEL
                enclosing = [parents[node]]
                while enclosing[-1] in parents:
                    enclosing.append(parents[enclosing[-1]])
                if any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                       for n in enclosing):
                    return NESTED_FUNCTION
                if sum(isinstance(n, ast.ClassDef) for n in enclosing) > 1:
                    return NESTED_CLASS
                if not any(isinstance(n, ast.ClassDef) for n in enclosing):
                    return CONDITIONAL_DEFINITION
                # A method the class holds wrapped (`@comparator`): its class has no
                # function with this code.
                return DECORATED if node.decorator_list else NOT_TOPLEVEL
    return NOT_TOPLEVEL


def _is_generator(located: FunctionSource) -> bool:
    node = located.unit.node
    return any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in ast.walk(node))


def _resolver(settings: _Settings, sources: _Sources) -> Resolver:
    """Finds the file of a module the project imports from, among its own files only."""
    bases = (settings.checkout, *settings.roots)

    def resolve(importer: Path, module: str, level: int) -> ModuleSource | None:
        parts = module.split(".") if module else []
        base = importer.parent
        if level:
            for _ in range(level - 1):
                base = base.parent
        else:  # absolute: from the directory holding the importer's top-level package
            while (base / "__init__.py").is_file():
                base = base.parent
        target = base.joinpath(*parts)
        files = [target / "__init__.py"]
        if parts:
            files.insert(0, target.with_name(target.name + ".py"))
        for file in files:
            if file.is_file() and _really_inside(file, bases):
                return sources.module(file)
        return None

    return resolve


def _without_first_arg(call: CallRecord) -> CallRecord:
    """A class method's call as its lifted function sees it: without ``cls``."""
    if not call.args:
        return call
    first = call.args[0].name
    return dataclasses.replace(call, args=call.args[1:],
                               after=tuple(a for a in call.after if a[0] != first))


def relative_path(file: Path, checkout: Path, roots: Sequence[Path]) -> str:
    """``file`` relative to the checkout when under it. An installed copy (a root in
    site-packages is a package directory, or a single module's file) is named by its
    counterpart in the checkout, ``pkg/mod.py``, ``src/pkg/mod.py`` or ``mod.py``, so a
    problem's path is the same however the project was installed."""
    for candidate, parent in ((file, checkout), (file.resolve(), checkout.resolve())):
        if candidate.is_relative_to(parent):
            return candidate.relative_to(parent).as_posix()
    for root in roots:
        for candidate, parent in ((file, root), (file.resolve(), root.resolve())):
            if candidate.is_relative_to(parent):
                # A package directory is named with its package, and a single module's
                # file (a root of its own) by its name; a plain directory of modules
                # (site-packages itself) names its modules alone.
                top = parent.parent if parent.is_file() or (parent / "__init__.py").is_file() \
                    else parent
                in_package = candidate.relative_to(top)
                for layout in (checkout, checkout / "src"):
                    if (layout / in_package).is_file():
                        return (layout / in_package).relative_to(checkout).as_posix()
                return in_package.as_posix()
    raise Drop(OUTSIDE_PROJECT, str(file))


def _own_modules(function: FunctionId, file: Path, settings: _Settings,
                 sources: _Sources) -> frozenset[str]:
    """The project's top-level module names as this function's module sees them.

    Its own top-level package always counts. A top-level module in the checkout (flat
    layout, or a test helper beside a test file) also sees its sibling modules; in
    site-packages the siblings are other distributions, so they do not count there.
    """
    names = set(settings.project_packages) | {function.module.partition(".")[0]}
    if "." not in function.module and _under(file, settings.checkout):
        names |= sources.modules_in(file.parent)
    return frozenset(names)


def _really_inside(file: Path, bases: Sequence[Path]) -> bool:
    real = file.resolve()
    return any(real.is_relative_to(base.resolve()) for base in bases)


def _under(file: Path, base: Path) -> bool:
    return file.is_relative_to(base) or file.resolve().is_relative_to(base.resolve())


def _keep(kept: dict[tuple[str, str], Candidate], candidate: Candidate,
          report: EmitReport) -> None:
    """One candidate per file and function; the one with more asserts wins a tie-break."""
    key = (candidate.path, candidate.function.qualname)
    other = kept.get(key)
    if other is not None:
        report.dropped[DUPLICATE] += 1
        if other.n_asserts >= candidate.n_asserts:
            return
    kept[key] = candidate


def _calls_by_function(calls: Sequence[CallRecord]) -> dict[FunctionId, list[CallRecord]]:
    grouped: dict[FunctionId, list[CallRecord]] = {}
    for call in calls:
        grouped.setdefault(call.function, []).append(call)
    return grouped


class _Sources:
    """Each module read and parsed once (its failure remembered too), each directory
    listed once."""

    def __init__(self) -> None:
        self._modules: dict[Path, ModuleSource | Drop] = {}
        self._directories: dict[Path, frozenset[str]] = {}

    def module(self, path: Path) -> ModuleSource:
        if path not in self._modules:
            try:
                self._modules[path] = ModuleSource.read(path)
            except Drop as drop:
                self._modules[path] = drop
        found = self._modules[path]
        if isinstance(found, Drop):
            raise Drop(found.reason, found.detail)
        return found

    def modules_in(self, directory: Path) -> frozenset[str]:
        """The importable names a directory holds: `x.py` files and `x/__init__.py` packages."""
        if directory not in self._directories:
            self._directories[directory] = frozenset(
                entry.name.removesuffix(".py") for entry in directory.iterdir()
                if entry.suffix == ".py" or (entry / "__init__.py").is_file())
        return self._directories[directory]
