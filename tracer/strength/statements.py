"""Mutation operators on statements and calls: a statement replaced by ``pass``
(``delete``), ``return <expr>`` -> a constant (``return-constant``), ``break`` <->
``continue`` (``loop``), boundaries of slices (``slice``) and of ``range`` (``range``), and
swapped positional arguments of the program's own functions (``swap-args``)."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from tracer.strength.source import Body, Edit
from tracer.strength.text import constant_value, is_atomic, short

# Statements whose deletion says nothing: definitions and imports fail loudly on their first
# use, ``global``/``nonlocal`` change scoping rules, ``pass`` is already nothing, and a
# ``return`` has its own operator.
_NOT_DELETED = (ast.Pass, ast.Return, ast.Global, ast.Nonlocal, ast.FunctionDef,
                ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)
_LOOPS = (ast.For, ast.AsyncFor, ast.While)


def statement_edits(body: Body) -> Iterator[Edit]:
    """Every statement operator's candidate edits, one family after another."""
    for operator in (_deletions, _return_constants, _loop_jumps, _slice_bounds,
                     _range_bounds, _swapped_arguments):
        yield from operator(body)


def _deletions(body: Body) -> Iterator[Edit]:
    only = body.function.body[-1] if len(_own_statements(body)) == 1 else None
    for node in body.statements:
        if isinstance(node, _NOT_DELETED) or node is only or _is_ellipsis(node):
            continue
        if body.source.startswith("elif", body.start(node)):
            continue  # an elif's If begins at its keyword: it cannot become ``pass``
        if isinstance(node, ast.Continue) and _ends_loop_body(body, node):
            continue  # the loop continues anyway: an equivalent mutant
        first_line = body.text(node).split("\n", 1)[0]
        yield Edit("delete", body.start(node), body.end(node), "pass",
                   f"delete `{short(first_line)}`")


def _own_statements(body: Body) -> list[ast.stmt]:
    return [node for node in body.function.body if body.in_solution(node)]


def _is_ellipsis(node: ast.stmt) -> bool:
    return (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
            and node.value.value is Ellipsis)


def _ends_loop_body(body: Body, node: ast.stmt) -> bool:
    """Whether nothing of the loop's body runs after ``node``: it ends its block, and each
    ``if`` around it ends its own, up to the loop."""
    while True:
        parent = body.parents.get(id(node))
        if isinstance(parent, _LOOPS):
            return parent.body[-1] is node
        if not isinstance(parent, ast.If) or node not in (parent.body[-1:] + parent.orelse[-1:]):
            return False
        node = parent


def _return_constants(body: Body) -> Iterator[Edit]:
    """``return <expr>`` -> a constant of the expression's obvious type (both booleans for
    a condition), else ``None``. A literal's return is left to the ``constant`` operator
    (a number's, a boolean's) or gets ``None``."""
    for node in body.statements:
        if not isinstance(node, ast.Return) or node.value is None:
            continue
        value = node.value
        if isinstance(value, ast.Constant) and value.value is None:
            continue
        if constant_value(value) is not None:
            continue
        old = body.text(value)
        for new in _constants_like(value):
            if ast.dump(ast.parse(new, mode="eval").body) == ast.dump(value):
                new = "None"  # ``return []`` is its own empty constant
            yield Edit("return-constant", body.start(value), body.end(value), new,
                       f"`return {short(old, 30)}` -> `return {new}`")


_BOOLEAN_CALLS = frozenset({"isinstance", "issubclass", "callable", "hasattr", "any", "all",
                            "bool", "startswith", "endswith", "isdigit", "isalpha",
                            "isalnum", "isspace", "isupper", "islower", "exists"})
_TYPED_CALLS = {"len": "0", "int": "0", "sum": "0", "ord": "0", "float": "0.0",
                "str": "''", "repr": "''", "join": "''", "format": "''", "lower": "''",
                "upper": "''", "strip": "''", "replace": "''", "list": "[]",
                "sorted": "[]", "tuple": "()", "dict": "{}", "set": "set()"}
_TYPED_NODES: dict[type[ast.expr], str] = {
    ast.List: "[]", ast.ListComp: "[]", ast.Tuple: "()", ast.Dict: "{}",
    ast.DictComp: "{}", ast.Set: "set()", ast.SetComp: "set()", ast.JoinedStr: "''",
}


def _constants_like(value: ast.expr) -> tuple[str, ...]:
    if _is_boolean(value):
        return ("True", "False")
    called = _called_name(value)
    if called in _TYPED_CALLS:
        return (_TYPED_CALLS[called],)
    if isinstance(value, ast.Constant) and isinstance(value.value, (str, bytes)):
        return ("''",) if isinstance(value.value, str) else ("b''",)
    return (_TYPED_NODES.get(type(value), "None"),)


def _is_boolean(value: ast.expr) -> bool:
    if isinstance(value, ast.Compare):
        return True
    if isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.Not):
        return True
    if isinstance(value, ast.BoolOp):
        return all(_is_boolean(inner) for inner in value.values)
    return _called_name(value) in _BOOLEAN_CALLS


def _called_name(value: ast.expr) -> str:
    if not isinstance(value, ast.Call):
        return ""
    if isinstance(value.func, ast.Name):
        return value.func.id
    return value.func.attr if isinstance(value.func, ast.Attribute) else ""


def _loop_jumps(body: Body) -> Iterator[Edit]:
    for node in body.statements:
        if isinstance(node, (ast.Break, ast.Continue)):
            old, new = ("break", "continue") if isinstance(node, ast.Break) else (
                "continue", "break")
            yield Edit("loop", body.start(node), body.end(node), new, f"{old} -> {new}")


def _slice_bounds(body: Body) -> Iterator[Edit]:
    """``a[i:j]`` -> ``a[i + 1:j]`` and ``a[i:j - 1]``."""
    for node in body.expressions:
        if not (isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice)):
            continue
        for bound, by in ((node.slice.lower, 1), (node.slice.upper, -1)):
            if bound is not None:
                yield _bound_edit(body, "slice", node, bound, by)


def _range_bounds(body: Body) -> Iterator[Edit]:
    """``range(n)`` -> ``range(n - 1)``, ``range(n + 1)``; a start -> one more."""
    for node in body.expressions:
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == "range" and "range" not in body.bound_names
                and not node.keywords and 1 <= len(node.args) <= 3
                and not any(isinstance(arg, ast.Starred) for arg in node.args)):
            continue
        stop = node.args[0] if len(node.args) == 1 else node.args[1]
        if len(node.args) > 1:
            yield _bound_edit(body, "range", node, node.args[0], 1)
        yield _bound_edit(body, "range", node, stop, -1)
        yield _bound_edit(body, "range", node, stop, 1)


def _bound_edit(body: Body, operator: str, whole: ast.expr, bound: ast.expr, by: int) -> Edit:
    new = _shifted(body, bound, by)
    start, end = body.start(bound), body.end(bound)
    after = body.source[body.start(whole):start] + new + body.source[end:body.end(whole)]
    return Edit(operator, start, end, new,
                f"`{short(body.text(whole), 30)}` -> `{short(after, 30)}`")


def _shifted(body: Body, node: ast.expr, by: int) -> str:
    """The source of ``node`` plus ``by``: a literal's new value (``2`` for ``1``), an
    offset's new offset (``n`` for ``n - 1``), else ``n + 1`` / ``(a or b) - 1``."""
    value = constant_value(node)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value + by)
    offset = _offset(body, node)
    if offset is not None:
        base, old = offset
        total = old + by
        return base if total == 0 else f"{base} + {total}" if total > 0 else f"{base} - {-total}"
    text = body.text(node)
    operand = text if is_atomic(node) else f"({text})"
    return f"{operand} + {by}" if by > 0 else f"{operand} - {-by}"


def _offset(body: Body, node: ast.expr) -> tuple[str, int] | None:
    """``("len(a)", -1)`` for ``len(a) - 1``: an expression plus or minus a whole number,
    written plainly (no comment, no bracket around the number)."""
    if not (isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub))
            and isinstance(node.right, ast.Constant) and type(node.right.value) is int):
        return None
    head = body.source[body.start(node):body.start(node.right)].rstrip()
    gap = body.source[body.end(node.left):body.start(node.right)]
    if "#" in gap or "\\" in gap or not head.endswith(("+", "-")):
        return None
    number = node.right.value if isinstance(node.op, ast.Add) else -node.right.value
    return head[:-1].rstrip(), number


def _swapped_arguments(body: Body) -> Iterator[Edit]:
    """Neighbouring positional arguments swapped, in calls of the functions the module
    defines (the target itself too) and of its classes' methods through ``self``, ``cls``
    or the class."""
    functions, methods, classes = _own_callables(body.module)
    for node in body.expressions:
        if not isinstance(node, ast.Call) or any(isinstance(a, ast.Starred) for a in node.args):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in functions:
            name = func.id
        elif (isinstance(func, ast.Attribute) and func.attr in methods
              and isinstance(func.value, ast.Name)
              and func.value.id in classes | {"self", "cls"}):
            name = func.attr
        else:
            continue
        for left, right in zip(node.args, node.args[1:], strict=False):
            if ast.dump(left) == ast.dump(right):
                continue  # f(x, x): nothing to swap
            between = body.source[body.end(left):body.start(right)]
            yield Edit("swap-args", body.start(left), body.end(right),
                       body.text(right) + between + body.text(left),
                       f"{name}(): swap `{short(body.text(left), 20)}` "
                       f"and `{short(body.text(right), 20)}`")


def _own_callables(module: ast.Module) -> tuple[set[str], set[str], set[str]]:
    """The names of the module's functions (nested ones too), methods and classes."""
    functions: set[str] = set()
    methods: set[str] = set()
    classes: set[str] = set()
    for node in ast.walk(module):
        if isinstance(node, ast.ClassDef):
            classes.add(node.name)
            methods.update(item.name for item in node.body
                           if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)))
    for node in ast.walk(module):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name not in methods:
            functions.add(node.name)
    return functions, methods, classes
