"""Static and class methods lifted out of their class, as top-level functions.

HumanEval's ``entry_point`` names a top-level callable of ``prompt + completion``, so a
method ``Cls.name`` becomes ``def name(...)`` at column zero: its decorator dropped, its
lines moved left by the class body's indentation, and for a class method its first
parameter (``cls``) removed. That is only sound when the body does not need its class:
``cls`` unused, and (checked while building the context) the class itself not carried,
since the class's source holds the method's own body.
"""

from __future__ import annotations

import ast
import io
import tokenize
from dataclasses import dataclass
from pathlib import Path

from tracer.emit.drops import (
    METHOD_NAME_CLASH,
    NEEDS_OWN_CLASS,
    NOT_TOPLEVEL,
    UNSUPPORTED_LAYOUT,
    Drop,
)
from tracer.emit.source import FunctionSource, ModuleSource, first_line, locate_function

_KINDS = ("staticmethod", "classmethod")
_BETWEEN = (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT)  # tokens between parameters


@dataclass(frozen=True)
class LiftedMethod:
    function: FunctionSource  # located in a module of its own text, at column zero
    class_index: int  # the class's unit in the original module: never carried
    drops_first_arg: bool  # a class method: its recorded calls lose `cls`


def lift_method(module: ModuleSource, qualname: str, line: int) -> LiftedMethod:
    """The static or class method ``qualname`` (``Cls.name``) of a top-level class."""
    class_name, _, name = qualname.partition(".")
    found = _find(module, class_name, name, line)
    if found is None:
        raise Drop(NOT_TOPLEVEL, qualname)  # an instance method, a nested function...
    class_index, node, kind = found
    if name in module.bindings:
        raise Drop(METHOD_NAME_CLASH, name)
    text = _dedented(module.lines, node)
    drops_first_arg = kind == "classmethod"
    if drops_first_arg:
        text = _without_first_parameter(text, node)
    lifted = ModuleSource.parse(Path(module.path), text)
    return LiftedMethod(locate_function(lifted, name, 1), class_index, drops_first_arg)


def _find(module: ModuleSource, class_name: str, name: str,
          line: int) -> tuple[int, ast.FunctionDef, str] | None:
    for unit in module.units:
        if not (isinstance(unit.node, ast.ClassDef) and unit.node.name == class_name):
            continue
        for node in unit.node.body:
            if (isinstance(node, ast.FunctionDef) and node.name == name
                    and first_line(node) == line and len(node.decorator_list) == 1):
                decorator = node.decorator_list[0]
                if isinstance(decorator, ast.Name) and decorator.id in _KINDS:
                    return unit.index, node, decorator.id
    return None


def _dedented(lines: tuple[str, ...], node: ast.FunctionDef) -> str:
    """The method from its `def` line to its end, moved to column zero."""
    indent = lines[node.lineno - 1][:node.col_offset]
    strings = [n for n in ast.walk(node) if isinstance(n, ast.Constant)
               and isinstance(n.value, (str, bytes)) and (n.end_lineno or n.lineno) > n.lineno]
    if strings[1:] or (strings and strings[0] is not _docstring_node(node)):
        # Moving lines left would change the text of a multi-line string in the body.
        raise Drop(UNSUPPORTED_LAYOUT, "multi-line string in a method body")
    moved = []
    for text in lines[node.lineno - 1:node.end_lineno]:
        if text.strip() and not text.startswith(indent):
            raise Drop(UNSUPPORTED_LAYOUT, "a line left of the method's indentation")
        moved.append(text[len(indent):] if text.startswith(indent) else text.lstrip(" \t"))
    return "\n".join(moved) + "\n"


def _docstring_node(node: ast.FunctionDef) -> ast.expr | None:
    first = node.body[0] if node.body else None
    return first.value if isinstance(first, ast.Expr) else None


def _without_first_parameter(text: str, node: ast.FunctionDef) -> str:
    """`def name(cls, x):` as `def name(x):`; NEEDS_OWN_CLASS when the body uses `cls`."""
    positional = [*node.args.posonlyargs, *node.args.args]
    if not positional:
        raise Drop(NEEDS_OWN_CLASS, "a class method without a first parameter")
    cls = positional[0].arg
    if any(isinstance(n, ast.Name) and n.id == cls for stmt in node.body for n in ast.walk(stmt)):
        raise Drop(NEEDS_OWN_CLASS, f"uses {cls}")
    tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    start = next(i for i, t in enumerate(tokens) if t.string == "(") + 1
    while tokens[start].type in _BETWEEN:
        start += 1
    end = start + 1
    if tokens[end].string == ",":
        end += 1
        while tokens[end].type in _BETWEEN:
            end += 1
    elif tokens[end].string != ")":
        raise Drop(UNSUPPORTED_LAYOUT, f"annotated or defaulted {cls}")
    lines = text.split("\n")
    (row1, col1), (row2, col2) = tokens[start].start, tokens[end].start
    before, after = lines[row1 - 1][:col1], lines[row2 - 1][col2:]
    return "\n".join([*lines[:row1 - 1], before + after, *lines[row2:]])
