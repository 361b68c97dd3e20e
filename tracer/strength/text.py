"""Small pieces of source text that several operators need: a literal's value, whether an
expression needs brackets, and a short form of code for a mutant's description."""

from __future__ import annotations

import ast

# Expressions that need no brackets as an operand of + or - (or after ``not``).
_ATOMIC = (ast.Name, ast.Constant, ast.Attribute, ast.Call, ast.Subscript, ast.List,
           ast.Tuple, ast.Dict, ast.Set, ast.ListComp, ast.SetComp, ast.DictComp)


def constant_value(node: ast.AST) -> int | float | None:
    """The number or boolean a literal is (``-1`` included), None for anything else."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = constant_value(node.operand)
        if inner is None or isinstance(inner, bool):
            return None
        return -inner
    if isinstance(node, ast.Constant) and isinstance(node.value, (bool, int, float)):
        return node.value
    return None


def is_atomic(node: ast.AST) -> bool:
    return isinstance(node, _ATOMIC) and not (
        isinstance(node, ast.Constant) and isinstance(node.value, (int, float))
        and not isinstance(node.value, bool) and node.value < 0)


def short(code: str, width: int = 40) -> str:
    """``code`` on one line, cut to ``width`` characters."""
    flat = " ".join(code.split())
    return flat if len(flat) <= width else flat[:width - 3] + "..."
