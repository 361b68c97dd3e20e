"""Which recorded calls a problem's test keeps: at most K, as different from each other as the
trace allows.

Each call is described by features: what it did (returned, raised which exception, yielded,
changed its arguments), the types of its inputs and result, empty or zero inputs, how big its
inputs are, its result, the test that made it. Calls are then taken greedily, each time the
one adding the most weight of features not yet covered; ties go to the shorter block, then
to the alphabetically first, so the same trace always gives the same test.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from typing import Protocol, TypeVar

MAX_ASSERTS = 10

# A feature's weight by its prefix: what a call did counts most, then the shapes of its
# inputs and result, then the rest.
_WEIGHTS = {"kind": 8, "raises": 6, "result-type": 3, "arg-types": 3, "edge": 3,
            "size": 2, "result": 1, "test": 1}


class Choosable(Protocol):
    @property
    def expression(self) -> str: ...

    @property
    def features(self) -> frozenset[str]: ...


def features(kind: str, args: Sequence[ast.expr], result: str,
             test: str | None) -> frozenset[str]:
    found = {f"kind:{kind}", f"result:{result}",
             f"arg-types:{','.join(_type_name(a) for a in args)}",
             f"size:{_size(args).bit_length()}"}
    if kind == "raises":
        found.add(f"raises:{result}")
    found.add(f"result-type:{_result_type(result)}")
    found |= {f"edge:{edge}" for a in args for edge in _edges(a)}
    if test:
        found.add(f"test:{test}")
    return frozenset(found)


C = TypeVar("C", bound=Choosable)


def choose(calls: Sequence[C], limit: int) -> list[C]:
    """Up to ``limit`` of ``calls`` (given in a stable order), most diverse first."""
    remaining = sorted(calls, key=lambda c: (len(c.expression), c.expression))
    covered: set[str] = set()
    chosen: list[C] = []
    while remaining and len(chosen) < limit:
        best = max(range(len(remaining)),
                   key=lambda i: (_gain(remaining[i].features - covered), -i))
        call = remaining.pop(best)
        chosen.append(call)
        covered |= call.features
    return chosen


def _gain(new: frozenset[str]) -> int:
    return sum(_WEIGHTS.get(feature.partition(":")[0], 1) for feature in new)


def _type_name(node: ast.expr) -> str:
    if isinstance(node, ast.Constant):
        return type(node.value).__name__
    if isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant):
        return type(node.operand.value).__name__  # -1, -0.5
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.func.id  # float('nan'), set(), frozenset({...})
    return type(node).__name__.lower()  # list, tuple, dict, set


def _result_type(result: str) -> str:
    try:
        return _type_name(ast.parse(result, mode="eval").body)
    except (SyntaxError, ValueError):
        return result.partition(" ")[0]  # "raises X", "...; xs=[...]"


def _size(args: Sequence[ast.expr]) -> int:
    """How many items and characters the inputs hold, roughly."""
    total = 0
    for node in args:
        for current in ast.walk(node):
            if isinstance(current, ast.Constant) and isinstance(current.value, (str, bytes)):
                total += len(current.value)
            elif isinstance(current, (ast.List, ast.Tuple, ast.Set)):
                total += len(current.elts)
            elif isinstance(current, ast.Dict):
                total += len(current.keys)
    return total


def _edges(node: ast.expr) -> list[str]:
    """The edge cases an input is: empty, zero, negative, None, a boolean."""
    if isinstance(node, ast.Constant):
        value = node.value
        if value is None or isinstance(value, bool):
            return [repr(value)]
        if isinstance(value, (str, bytes)) and not value:
            return ["empty"]
        if isinstance(value, (int, float)) and value == 0:
            return ["zero"]
        return []
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return ["negative"]
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)) and not node.elts:
        return ["empty"]
    if isinstance(node, ast.Dict) and not node.keys:
        return ["empty"]
    if isinstance(node, ast.Call) and not node.args:  # set(), frozenset()
        return ["empty"]
    return []
