"""Mutation operators on expressions: comparisons (``compare``, ``membership``,
``identity``), arithmetic (``arith``), ``and``/``or`` (``boolop``), number and boolean
literals (``constant``), ``not x`` and conditions (``negate``), and ``min``/``max``,
``any``/``all`` (``builtin``).

An operator symbol has no position of its own in the ast: it is found in the text between
its two operands, where nothing but brackets, blanks, comments and the symbol can be.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from tracer.strength.source import Body, Edit
from tracer.strength.text import constant_value, is_atomic, short

_COMPARE_TOKEN = re.compile(r"<=|>=|==|!=|<|>|\bnot\s+in\b|\bis\s+not\b|\bin\b|\bis\b")
_ARITH_TOKEN = re.compile(r"\*\*|//|<<|>>|[-+*/%@&|^]")
_AUGMENTED_TOKEN = re.compile(r"(?:\*\*|//|<<|>>|[-+*/%@&|^])=")
_BOOL_TOKEN = re.compile(r"\band\b|\bor\b")
_COMMENT = re.compile(r"#[^\n]*")

# Each comparison's replacements and the operator family they belong to.
_COMPARE_SWAPS: dict[type[ast.cmpop], tuple[str, tuple[str, ...]]] = {
    ast.Lt: ("compare", ("<=", ">")), ast.LtE: ("compare", ("<", ">=")),
    ast.Gt: ("compare", (">=", "<")), ast.GtE: ("compare", (">", "<=")),
    ast.Eq: ("compare", ("!=",)), ast.NotEq: ("compare", ("==",)),
    ast.In: ("membership", ("not in",)), ast.NotIn: ("membership", ("in",)),
    ast.Is: ("identity", ("is not",)), ast.IsNot: ("identity", ("is",)),
}
_ARITH_SWAPS: dict[type[ast.operator], str] = {
    ast.Add: "-", ast.Sub: "+", ast.Mult: "/", ast.Div: "*", ast.FloorDiv: "/",
    ast.Mod: "//", ast.Pow: "*", ast.LShift: ">>", ast.RShift: "<<",
    ast.BitOr: "&", ast.BitAnd: "|", ast.BitXor: "|",
}
# A right operand that makes the swap an equivalent mutant: x + 0 is x - 0, x * 1 is x ** 1.
_NEUTRAL_RIGHT: dict[type[ast.operator], object] = {
    ast.Add: 0, ast.Sub: 0, ast.BitOr: 0, ast.BitXor: 0, ast.LShift: 0, ast.RShift: 0,
    ast.Mult: 1, ast.Div: 1, ast.Pow: 1,
}
_BUILTIN_SWAPS = {"min": "max", "max": "min", "any": "all", "all": "any"}


def expression_edits(body: Body) -> Iterator[Edit]:
    """Every expression operator's candidate edits, one family after another."""
    for operator in (_comparisons, _arithmetic, _bool_operators, _constants, _negations,
                     _builtins):
        yield from operator(body)


def _token(body: Body, start: int, end: int, pattern: re.Pattern[str]) -> tuple[int, int] | None:
    """Where ``pattern`` first matches in ``body.source[start:end]`` outside comments."""
    gap = _COMMENT.sub(lambda found: " " * len(found.group()), body.source[start:end])
    found = pattern.search(gap)
    return (start + found.start(), start + found.end()) if found else None


def _comparisons(body: Body) -> Iterator[Edit]:
    for node in body.expressions:
        if not isinstance(node, ast.Compare):
            continue
        left = node.left
        for op, right in zip(node.ops, node.comparators, strict=True):
            where = _token(body, body.end(left), body.start(right), _COMPARE_TOKEN)
            family, replacements = _COMPARE_SWAPS[type(op)]
            if where is not None:
                symbol = " ".join(body.source[where[0]:where[1]].split())
                for replacement in replacements:
                    yield Edit(family, where[0], where[1], replacement,
                               f"{symbol} -> {replacement}")
            left = right


def _arithmetic(body: Body) -> Iterator[Edit]:
    for node in body.expressions:
        if isinstance(node, ast.BinOp):
            yield from _swap_operator(body, node.op, node.left, node.right, _ARITH_TOKEN)
        elif (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)
              and constant_value(node) is None):  # -1 is a constant's business
            yield Edit("arith", body.start(node), body.end(node), body.text(node.operand),
                       f"`{short(body.text(node))}` -> `{short(body.text(node.operand))}`")
    for statement in body.statements:
        if isinstance(statement, ast.AugAssign):
            yield from _swap_operator(body, statement.op, statement.target, statement.value,
                                      _AUGMENTED_TOKEN, suffix="=")


def _swap_operator(body: Body, op: ast.operator, left: ast.expr, right: ast.expr,
                   pattern: re.Pattern[str], suffix: str = "") -> Iterator[Edit]:
    replacement = _ARITH_SWAPS.get(type(op))
    if replacement is None:
        return
    if type(op) in _NEUTRAL_RIGHT and constant_value(right) == _NEUTRAL_RIGHT[type(op)]:
        return
    if isinstance(op, ast.Mod) and isinstance(left, (ast.Constant, ast.JoinedStr)) \
            and isinstance(getattr(left, "value", ""), str):
        return  # "%s" % x formats a string: no arithmetic to change
    where = _token(body, body.end(left), body.start(right), pattern)
    if where is not None:
        symbol = body.source[where[0]:where[1]]
        yield Edit("arith", where[0], where[1], replacement + suffix,
                   f"{symbol} -> {replacement + suffix}")


def _bool_operators(body: Body) -> Iterator[Edit]:
    for node in body.expressions:
        if not isinstance(node, ast.BoolOp):
            continue
        if len({ast.dump(value) for value in node.values}) == 1:
            continue  # x and x is x or x
        new, old = ("or", "and") if isinstance(node.op, ast.And) else ("and", "or")
        start, pieces, at = body.start(node), [], body.start(node)
        for left, right in zip(node.values, node.values[1:], strict=False):
            where = _token(body, body.end(left), body.start(right), _BOOL_TOKEN)
            if where is None:
                break
            pieces += [body.source[at:where[0]], new]
            at = where[1]
        else:
            pieces.append(body.source[at:body.end(node)])
            yield Edit("boolop", start, body.end(node), "".join(pieces), f"{old} -> {new}")


def _constants(body: Body) -> Iterator[Edit]:
    """Numbers get one more (0 -> 1, -1 -> 0), booleans their opposite. Bounds of slices
    and ``range`` are left to those operators."""
    for node in body.expressions:
        value = constant_value(node)
        if value is None:
            continue
        parent = body.parents.get(id(node))
        if isinstance(parent, ast.UnaryOp) and isinstance(parent.op, ast.USub):
            continue  # the sign and the number are one constant
        if _is_bound(body, node):
            continue
        old = body.text(node)
        if isinstance(value, bool):
            new = str(not value)
        elif isinstance(value, int):
            new = str(value + 1)
        elif isinstance(value, float):
            new = repr(value + 1.0)
        else:
            continue
        yield Edit("constant", body.start(node), body.end(node), new, f"{short(old)} -> {new}")


def _is_bound(body: Body, node: ast.expr) -> bool:
    parent = body.parents.get(id(node))
    if isinstance(parent, ast.Slice) and node is not parent.step:
        return True
    return (isinstance(parent, ast.Call) and isinstance(parent.func, ast.Name)
            and parent.func.id == "range" and node in parent.args[:2])  # not the step


def _negations(body: Body) -> Iterator[Edit]:
    """``not x`` -> ``x``; and a condition (of ``if``, ``while``, a conditional expression
    or a comprehension's filter) that no comparison operator already reverses -> ``not``."""
    for node in body.expressions:
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            kept = body.source[body.start(node) + len("not"):body.end(node)].lstrip()
            yield Edit("negate", body.start(node), body.end(node), kept,
                       f"`{short(body.text(node))}` -> `{short(kept)}`")
    for test in _conditions(body):
        if isinstance(test, (ast.Compare, ast.Constant)) or (
                isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not)):
            continue
        old = body.text(test)
        new = f"not {old}" if is_atomic(test) else f"not ({old})"
        yield Edit("negate", body.start(test), body.end(test), new,
                   f"`{short(old)}` -> `{short(new)}`")


def _conditions(body: Body) -> list[ast.expr]:
    found: list[ast.expr] = [node.test for node in body.statements
                             if isinstance(node, (ast.If, ast.While))]
    for node in body.expressions:
        if isinstance(node, ast.IfExp):
            found.append(node.test)
        elif isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            found += [test for generator in node.generators for test in generator.ifs]
    return sorted((test for test in found if body.in_solution(test)), key=body.start)


def _builtins(body: Body) -> Iterator[Edit]:
    """min <-> max, any <-> all, where the name is the builtin (nothing in the module binds
    it)."""
    bound = body.bound_names
    for node in body.expressions:
        if (isinstance(node, ast.Name) and node.id in _BUILTIN_SWAPS
                and isinstance(node.ctx, ast.Load) and node.id not in bound):
            new = _BUILTIN_SWAPS[node.id]
            yield Edit("builtin", body.start(node), body.end(node), new, f"{node.id} -> {new}")
