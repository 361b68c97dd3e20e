"""What a function's prompt must carry from its module so that it runs on its own.

Starting from the names the function uses, every top-level statement that binds one of them
is carried (imports, constants, classes, helpers), then the names those use, and so on; the
result is copied from the source in its original order. The names a statement uses come from
``symtable`` (the compiler's own scope analysis), so locals, comprehension variables and
class-body names are told apart from module globals without re-implementing Python's scoping.
"""

from __future__ import annotations

import ast
import builtins
import copy
import symtable
import sys
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from tracer.emit.drops import (
    CONTEXT_NAME_CLASH,
    CONTEXT_USES_FUNCTION,
    NEEDS_OWN_CLASS,
    NEEDS_PROJECT_MODULE,
    NEEDS_THIRD_PARTY,
    PROMPT_TOO_LONG,
    UNPARSABLE_SOURCE,
    UNRESOLVED_NAME,
    Drop,
)
from tracer.emit.source import FunctionSource, ModuleSource, Unit, alias_binding

MAX_CONTEXT_CHARS = 4000
# Names every module can use without defining them (`len`, `ValueError`, `__name__`...).
BUILTIN_NAMES = frozenset(dir(builtins)) | {"__builtins__"}
# Python 2's builtins, named by the other branch of version checks a 2012-2020 project
# carries (`if PY2: text_type = unicode`). A prompt that names one where it runs fails its
# validation; one that names it in a branch it never takes runs as written.
PYTHON2_BUILTINS = frozenset({"unicode", "basestring", "long", "xrange", "unichr",
                              "raw_input", "file", "cmp", "execfile", "buffer", "reload",
                              "apply", "intern", "coerce", "reduce"})


@dataclass(frozen=True)
class ImportPolicy:
    """Which imports a self-contained prompt may keep: the standard library's only."""

    project_packages: frozenset[str]  # top-level names of the project's own modules

    def check(self, module: str, level: int, *, optional: bool = False) -> None:
        """Drop unless ``module`` may be imported; an optional import (one with an
        ImportError fallback) may name a third-party module, never the project's."""
        if level > 0:
            raise Drop(NEEDS_PROJECT_MODULE, "." * level + module)
        top = module.partition(".")[0]
        # Project first: a project may ship a module named like a stdlib one (`enum.py`).
        if top in self.project_packages:
            raise Drop(NEEDS_PROJECT_MODULE, module)
        if top not in sys.stdlib_module_names and not optional:
            raise Drop(NEEDS_THIRD_PARTY, module)


@dataclass(frozen=True)
class UnitNames:
    """The module-level names one statement refers to."""

    hard: frozenset[str]  # needed when it runs (or when its functions run)
    soft: frozenset[str]  # only in annotations never evaluated (future annotations)
    local: frozenset[str]  # names the compiler binds in the statement itself
    immediate: frozenset[str]  # hard names used as the statement runs, not later in calls


def build_context(module: ModuleSource, function: FunctionSource, *, policy: ImportPolicy,
                  max_chars: int = MAX_CONTEXT_CHARS, own_class: int | None = None,
                  resolver: Resolver | None = None, extra_names: Iterable[str] = ()) -> str:
    """The source the prompt carries before the function: "" when it needs nothing.

    ``own_class`` is the unit of the class a lifted method came from (``methods.py``): it
    holds the method's own body, so a function that needs it is dropped. With a
    ``resolver``, names imported from other modules of the project (``from .util import
    f``) are carried too, their definitions copied from those modules, dependencies first.
    ``extra_names``: module-level names the test needs besides (the classes of the objects
    its values make)."""
    shared = _Shared(resolver, policy) if resolver is not None else None
    closure = _Closure(module, function.unit, policy, shared=shared)
    if shared is not None:
        shared.closures[module.path] = closure
    closure.run(sorted(extra_names))
    if own_class is not None and own_class in closure.needed:
        raise Drop(NEEDS_OWN_CLASS, f"line {module.units[own_class].node.lineno}")
    text = shared.render(closure) if shared is not None else render_context(module,
                                                                             closure.needed)
    if len(text) > max_chars:
        raise Drop(PROMPT_TOO_LONG, f"{len(text)} characters of context")
    return text


def render_context(module: ModuleSource, needed: dict[int, set[str]], *,
                   futures: bool = True) -> str:
    """Future imports first, then the needed statements in source order, PEP 8 spacing."""
    picked = [(u, u.text) for u in module.units if u.is_future_import and futures]
    picked += [(module.units[i], _unit_source(module.units[i], needed[i])) for i in sorted(needed)
               if not module.units[i].is_future_import]
    parts: list[str] = []
    for position, (unit, text) in enumerate(picked):
        if position:
            parts.append(_separator(picked[position - 1][0], unit))
        parts.append(text.rstrip())
    return "".join(parts) + "\n" if parts else ""


def unit_names(node: ast.stmt, *, future_annotations: bool) -> UnitNames:
    return _unit_names(node, future_annotations)


# Keyed by the node itself (ast nodes hash by identity): a module's helpers are looked at
# once for all the functions that use them.
@lru_cache(maxsize=4096)
def _unit_names(node: ast.stmt, future_annotations: bool) -> UnitNames:
    analysed, soft = node, frozenset[str]()
    if future_annotations:
        analysed, soft = _strip_annotations(node), _annotation_names(node)
    try:
        table = symtable.symtable(ast.unparse(analysed), "<unit>", "exec")
    except (SyntaxError, ValueError, RecursionError) as exc:  # valid in place, not alone
        raise Drop(UNPARSABLE_SOURCE, f"line {node.lineno}: {exc}") from exc
    referenced = {s.get_name() for s in table.get_symbols() if s.is_referenced()}
    hard, immediate = set(referenced), set(referenced)
    for child in table.get_children():
        hard |= _global_names(child)
        immediate |= _global_names(child, immediate_only=True)
    local = {s.get_name() for s in table.get_symbols() if s.is_assigned() or s.is_imported()}
    return UnitNames(frozenset(hard), frozenset(soft - hard), frozenset(local),
                     frozenset(immediate))


# Scopes whose code runs where they are written; a function's or lambda's runs when called.
_IMMEDIATE_SCOPES = frozenset({"listcomp", "setcomp", "dictcomp", "genexpr"})


def _global_names(table: symtable.SymbolTable, *, immediate_only: bool = False) -> set[str]:
    """Names a nested scope (function, class, lambda, comprehension) takes from the module."""
    if immediate_only and table.get_type() != "class" and table.get_name() not in _IMMEDIATE_SCOPES:
        return set()
    names = {s.get_name() for s in table.get_symbols() if s.is_global()}
    for child in table.get_children():
        names |= _global_names(child, immediate_only=immediate_only)
    return names


def _strip_annotations(node: ast.stmt) -> ast.stmt:
    """A copy without annotations, for modules where they are strings never evaluated."""
    stripped = copy.deepcopy(node)
    for current in ast.walk(stripped):
        if isinstance(current, ast.arg):
            current.annotation = None
        elif isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef)):
            current.returns = None
        for name, value in ast.iter_fields(current):
            if isinstance(value, list):
                setattr(current, name, [_without_annotation(v) for v in value])
    return _without_annotation(stripped)  # type: ignore[return-value]


def _without_annotation(value: object) -> object:
    if not isinstance(value, ast.AnnAssign):
        return value
    if value.value is None:
        return ast.Pass()
    return ast.Assign(targets=[value.target], value=value.value, lineno=value.lineno)


def _annotation_names(node: ast.stmt) -> frozenset[str]:
    names: set[str] = set()
    for current in ast.walk(node):
        annotation: ast.expr | None = None
        if isinstance(current, (ast.arg, ast.AnnAssign)):
            annotation = current.annotation
        elif isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef)):
            annotation = current.returns
        if annotation is not None:
            names.update(n.id for n in ast.walk(annotation) if isinstance(n, ast.Name))
    return frozenset(names)


@dataclass
class _Closure:
    """The statements a function needs, found by following names from statement to statement."""

    module: ModuleSource
    target: Unit
    policy: ImportPolicy
    needed: dict[int, set[str]] = field(default_factory=dict)  # unit -> names it must provide
    soft: set[str] = field(default_factory=set)
    shared: _Shared | None = None  # other modules of the project, when they may be carried
    replaced: set[int] = field(default_factory=set)  # imports replaced by carried definitions

    def run(self, extra_names: Sequence[str] = ()) -> None:
        self._follow(self.target)
        self._require((name, self.target) for name in extra_names)
        # Annotation-only names are carried when that is possible, for the reader's sake,
        # and silently left out when not: the prompt runs either way.
        tried: set[str] = set()
        while pending := sorted(self.soft - tried):
            name = pending[0]
            tried.add(name)
            saved = self._save()
            try:
                self._require([(name, self.target)])
            except Drop:
                self._restore(saved)
                self.soft.add(name)

    def _save(self) -> dict[int, tuple[_Closure, dict[int, set[str]], set[str], set[int]]]:
        """The state of this closure and of the other modules' (when carried from)."""
        closures = [self, *(self.shared.closures.values() if self.shared else ())]
        return {id(c): (c, {i: set(n) for i, n in c.needed.items()}, set(c.soft),
                        set(c.replaced)) for c in closures}

    def _restore(self, saved: dict[int, tuple[_Closure, dict[int, set[str]], set[str],
                                              set[int]]]) -> None:
        for closure, needed, soft, replaced in saved.values():
            closure.needed, closure.soft, closure.replaced = needed, soft, replaced
        if self.shared is not None:  # modules first needed by the failed attempt
            self.shared.closures = {path: c for path, c in self.shared.closures.items()
                                    if id(c) in saved}

    def carried(self) -> dict[int, set[str]]:
        """The statements to copy: those needed, less the imports carried definitions
        replace."""
        return {i: names for i, names in self.needed.items() if i not in self.replaced}

    def _follow(self, unit: Unit) -> None:
        names = unit_names(unit.node, future_annotations=self.module.future_annotations)
        if not unit.is_import:
            self._check_imports_inside(unit)
        self.soft |= names.soft
        self._require((name, unit) for name in sorted(names.hard))

    def _require(self, wanted: Iterable[tuple[str, Unit]]) -> None:
        queue = deque(wanted)
        while queue:
            name, by = queue.popleft()
            if name in self.target.binds:
                continue  # the function itself (recursion), provided by its own `def`
            binders = self.module.bindings.get(name, ())
            if binders:
                for index in (*binders, *self.module.mutators.get(name, ())):
                    queue.extend(self._need(self.module.units[index], name))
            elif (name not in BUILTIN_NAMES and name not in PYTHON2_BUILTINS
                  and name not in self._locals(by)):
                raise Drop(UNRESOLVED_NAME, name)

    def _need(self, unit: Unit, name: str) -> list[tuple[str, Unit]]:
        """Mark ``unit`` as carried for ``name``; the names it newly brings in."""
        if unit.is_future_import:
            return []  # always carried at the top
        first_time = unit.index not in self.needed
        provided = self.needed.setdefault(unit.index, set())
        if unit.is_import:
            if name not in provided:
                if self.shared is not None and self.shared.is_project_import(unit.node):
                    self.shared.carry(self, unit, name)
                else:
                    self._check_import(unit.node, name)
                provided.add(name)
            return []
        provided.add(name)
        if not first_time:
            return []
        names = unit_names(unit.node, future_annotations=self.module.future_annotations)
        if self.target.binds & names.immediate:  # `log = initlog` after `def initlog`
            raise Drop(CONTEXT_USES_FUNCTION, f"line {unit.node.lineno}")
        self._check_imports_inside(unit)
        self.soft |= names.soft
        return [(n, unit) for n in sorted(names.hard)]

    def _locals(self, unit: Unit) -> frozenset[str]:
        # Since 3.12 comprehensions are inlined and their variables show up as module-level
        # references of the statement that holds them; they are that statement's own.
        return unit_names(unit.node, future_annotations=self.module.future_annotations).local

    def _check_import(self, node: ast.stmt, name: str) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias_binding(alias) == name:
                    self.policy.check(alias.name, 0)
        elif isinstance(node, ast.ImportFrom):
            self.policy.check(node.module or "", node.level)

    def _check_imports_inside(self, unit: Unit) -> None:
        """Imports nested in a carried statement (a helper's lazy `import x`) must be
        allowed too."""
        for module, level, optional in _nested_imports(unit.node):
            self.policy.check(module, level, optional=optional)


@lru_cache(maxsize=4096)
def _nested_imports(node: ast.stmt) -> tuple[tuple[str, int, bool], ...]:
    """(module, level, optional) of every import in a statement. Optional imports have an
    ImportError fallback (`try: import simplejson as json` / `except ImportError:`)."""
    optional = {id(statement) for current in ast.walk(node)
                if isinstance(current, ast.Try) and _catches_import_error(current)
                for statement in current.body}
    found: list[tuple[str, int, bool]] = []
    for current in ast.walk(node):
        if isinstance(current, ast.Import):
            found += [(alias.name, 0, id(current) in optional) for alias in current.names]
        elif isinstance(current, ast.ImportFrom) and current.module != "__future__":
            found.append((current.module or "", current.level, id(current) in optional))
    return tuple(found)


def _catches_import_error(node: ast.Try) -> bool:
    caught = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}
    for handler in node.handlers:
        if handler.type is None:
            return True
        types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        if any(isinstance(t, ast.Name) and t.id in caught for t in types):
            return True
    return False


def _unit_source(unit: Unit, names: set[str]) -> str:
    """A carried statement's text; an import keeps only the names that are used."""
    node = unit.node
    if not isinstance(node, (ast.Import, ast.ImportFrom)):
        return unit.text
    kept = [alias for alias in node.names if alias_binding(alias) in names]
    if len(kept) == len(node.names):
        return unit.text
    if isinstance(node, ast.Import):
        return ast.unparse(ast.Import(names=kept))
    return ast.unparse(ast.ImportFrom(module=node.module, names=kept, level=node.level))


def _separator(before: Unit, after: Unit) -> str:
    """The author's spacing, widened to PEP 8's where statements in between were left out:
    two blank lines around definitions, one after the imports."""
    blank_lines = min(after.gap, 2)
    if after.index != before.index + 1 or before.is_future_import:
        blank_lines = max(blank_lines, _pep8_blank_lines(before, after))
    return "\n" * (blank_lines + 1)


def _pep8_blank_lines(before: Unit, after: Unit) -> int:
    if _is_block(before) or _is_block(after):
        return 2
    if before.is_import != after.is_import or before.is_future_import != after.is_future_import:
        return 1
    return 0


def _is_block(unit: Unit) -> bool:
    # def, class, if, try...; a one-line `class Error(Exception): pass` reads as a statement.
    node = unit.node
    return hasattr(node, "body") and (node.end_lineno or node.lineno) > node.lineno


class Resolver(Protocol):
    def __call__(self, importer: Path, module: str, level: int) -> ModuleSource | None:
        """The module ``from <module> import ...`` names (``level`` dots) in ``importer``'s
        package, when it is a file of the project; None otherwise."""


class _Shared:
    """The closures of every module a function's context draws from."""

    def __init__(self, resolver: Resolver, policy: ImportPolicy) -> None:
        self.resolver, self.policy = resolver, policy
        self.closures: dict[Path, _Closure] = {}  # in the order they were first needed
        # (module, name) being carried right now: meeting one again means the name is only
        # ever imported, round a cycle (`from pkg import sub` in pkg/__init__.py binds a
        # submodule): no statement of the project defines it.
        self.carrying: set[tuple[Path, str]] = set()

    def is_project_import(self, node: ast.stmt) -> bool:
        return isinstance(node, ast.ImportFrom) and (
            node.level > 0 or (node.module or "").partition(".")[0] in self.policy.project_packages)

    def carry(self, importer: _Closure, unit: Unit, name: str) -> None:
        """``from .mod import name``: carry ``name``'s definition from ``mod`` instead."""
        node = unit.node
        assert isinstance(node, ast.ImportFrom)
        alias = next(a for a in node.names if alias_binding(a) == name)
        where = "." * node.level + (node.module or "")
        if alias.asname not in (None, alias.name):
            raise Drop(NEEDS_PROJECT_MODULE, f"{where}: {alias.name} as {alias.asname}")
        module = self.resolver(importer.module.path, node.module or "", node.level)
        if module is None or alias.name not in module.bindings:
            raise Drop(NEEDS_PROJECT_MODULE, f"{where}.{alias.name}")
        key = (module.path, alias.name)
        if key in self.carrying:
            raise Drop(NEEDS_PROJECT_MODULE, f"{where}.{alias.name}: defined by no statement "
                                             "(a submodule, or an import cycle)")
        closure = self.closures.get(module.path)
        if closure is None:
            closure = self.closures[module.path] = _Closure(
                module, _NOTHING, self.policy, shared=self)
        importer.replaced.add(unit.index)
        self.carrying.add(key)
        try:
            closure._require([(alias.name, _NOTHING)])
        finally:
            self.carrying.discard(key)

    def render(self, main: _Closure) -> str:
        """Every module's carried statements, the modules needed by others first."""
        ordered = [c for c in reversed(self.closures.values())
                   if c is not main and c.carried()] + [main]
        self._check_clashes(ordered, main.target)
        if len(ordered) == 1:
            return render_context(main.module, main.carried())
        futures = dict.fromkeys(u.text for c in ordered for u in c.module.units
                                if u.is_future_import)
        parts = ["\n".join(futures) + "\n"] if futures else []
        for closure in ordered:
            text = render_context(closure.module, closure.carried(), futures=False)
            if text:
                parts.append(text)
        return "\n\n".join(parts)

    @staticmethod
    def _check_clashes(closures: list[_Closure], target: Unit) -> None:
        """Two modules' carried statements must not bind one name to different things (the
        same import in both is the same thing)."""
        bound: dict[str, tuple[str, ...]] = {name: ("target",) for name in target.binds}
        for closure in closures:
            for index, names in closure.needed.items():
                unit = closure.module.units[index]
                if index in closure.replaced or unit.is_future_import:
                    continue
                for name in (names if unit.is_import else unit.binds):
                    key = _binding_key(closure.module, unit, name)
                    if bound.setdefault(name, key) != key:
                        raise Drop(CONTEXT_NAME_CLASH, name)


def _binding_key(module: ModuleSource, unit: Unit, name: str) -> tuple[str, ...]:
    """What binds ``name``: an import by what it imports, anything else by its module."""
    node = unit.node
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        alias = next((a for a in node.names if alias_binding(a) == name), None)
        source = node.module if isinstance(node, ast.ImportFrom) else ""
        return ("import", str(source), alias.name if alias else name)
    return ("module", str(module.path))


# What a module carried for another stands in for: a statement that binds and needs nothing.
_NOTHING = Unit(-1, ast.Pass(), "", frozenset(), 0)
