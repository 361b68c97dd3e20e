"""A traced function's module read with ``ast``, and the function split into prompt and solution.

``ModuleSource`` holds the module's top-level statements (``Unit``s) with the names each one
binds; ``locate_function`` finds the function the probe saw and cuts it, exactly as written,
into its signature plus docstring (the end of the prompt) and the rest of its body (the
canonical solution), so that ``header + body`` is the function again.
"""

from __future__ import annotations

import ast
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tracer.emit.drops import (
    ASYNC_FUNCTION,
    CONDITIONAL_DEFINITION,
    DECORATED,
    NO_BODY,
    NO_DOCSTRING,
    SOURCE_NOT_FOUND,
    UNPARSABLE_SOURCE,
    UNSUPPORTED_LAYOUT,
    Drop,
)

_FUNCTION_NODES = (ast.FunctionDef, ast.AsyncFunctionDef)
_DEFINITION_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
# Nodes whose insides bind names in a scope of their own, not the module's.
_SCOPE_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda,
                ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


@dataclass(frozen=True)
class Unit:
    """One top-level statement of a module."""

    index: int
    node: ast.stmt
    text: str  # verbatim: its decorators, the comment lines just above, a trailing comment
    binds: frozenset[str]  # module-level names it binds
    gap: int  # lines between the previous statement and this one's text (blank, comments)

    @property
    def is_import(self) -> bool:
        return isinstance(self.node, (ast.Import, ast.ImportFrom))

    @property
    def is_future_import(self) -> bool:
        return isinstance(self.node, ast.ImportFrom) and self.node.module == "__future__"


@dataclass(frozen=True)
class ModuleSource:
    path: Path
    lines: tuple[str, ...]
    units: tuple[Unit, ...]
    bindings: dict[str, tuple[int, ...]]  # name -> the units that bind it, in source order
    mutators: dict[str, tuple[int, ...]]  # name -> statements changing it in place (X[k] = v)
    future_annotations: bool  # `from __future__ import annotations`: annotations never run

    @classmethod
    def read(cls, path: Path) -> ModuleSource:
        try:
            # tokenize.open honours the coding cookie and normalises newlines to "\n".
            with tokenize.open(path) as handle:
                text = handle.read()
        except OSError as exc:
            raise Drop(SOURCE_NOT_FOUND, f"{path}: {exc}") from exc
        except (SyntaxError, UnicodeDecodeError) as exc:
            raise Drop(UNPARSABLE_SOURCE, f"{path}: {exc}") from exc
        return cls.parse(path, text)

    @classmethod
    def parse(cls, path: Path, text: str) -> ModuleSource:
        try:
            tree = ast.parse(text, filename=str(path))
        except (SyntaxError, ValueError) as exc:  # ValueError: null bytes in the source
            raise Drop(UNPARSABLE_SOURCE, f"{path}: {exc}") from exc
        # Not splitlines(): it also splits on \f and \x1c.., which ast does not count as lines.
        lines = tuple(text.split("\n"))
        units = tuple(_make_unit(i, node, lines, tree.body) for i, node in enumerate(tree.body))
        bindings = _index_bindings(units)
        return cls(path, lines, units, bindings, _index_mutators(units, bindings),
                   _has_future_annotations(units))


@dataclass(frozen=True)
class FunctionSource:
    """A located function cut into prompt end and canonical solution."""

    unit: Unit
    header: str  # the `def` line(s) and the docstring, exactly as written, ending in "\n"
    body: str  # the rest of the body, exactly as written, ending in "\n"
    body_indent: str

    @property
    def def_line(self) -> int:
        return self.unit.node.lineno


def locate_function(module: ModuleSource, name: str, line: int, *,
                    decorated: bool = False) -> FunctionSource:
    """The top-level function ``name`` whose code starts at ``line`` (co_firstlineno).
    ``decorated``: the probe saw it bound under no name (its decorator's wrapper is): its
    decorators then stay in the prompt, and the test calls what the module binds."""
    unit = _find_unit(module, name, line)
    node = unit.node
    docstring = ast.get_docstring(node, clean=False)  # type: ignore[arg-type]
    if docstring is None or not docstring.strip():
        raise Drop(NO_DOCSTRING)
    if isinstance(node, ast.AsyncFunctionDef):
        raise Drop(ASYNC_FUNCTION)
    assert isinstance(node, ast.FunctionDef)
    if node.decorator_list and not decorated:
        raise Drop(DECORATED)
    if len(node.body) < 2:
        raise Drop(NO_BODY)
    return _split(module.lines, unit, node)


def first_line(node: ast.stmt) -> int:
    """The line a definition's code object starts on: its first decorator, else its own."""
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno, *(d.lineno for d in decorators)])


def _find_unit(module: ModuleSource, name: str, line: int) -> Unit:
    for unit in module.units:
        node = unit.node
        if isinstance(node, _FUNCTION_NODES) and node.name == name and first_line(node) == line:
            return unit
    for unit in module.units:
        if isinstance(unit.node, _DEFINITION_NODES):
            continue
        nested = _module_level_nodes(unit.node)
        if any(isinstance(n, _FUNCTION_NODES) and n.name == name for n in nested):
            raise Drop(CONDITIONAL_DEFINITION, name)
    raise Drop(SOURCE_NOT_FOUND, f"no top-level def {name} at {module.path}:{line}")


def _split(lines: tuple[str, ...], unit: Unit, node: ast.FunctionDef) -> FunctionSource:
    docstring, first = node.body[0], node.body[1]
    doc_end = docstring.end_lineno or docstring.lineno
    if first.lineno <= doc_end:  # `"""doc"""; return x`: no line to cut at
        raise Drop(UNSUPPORTED_LAYOUT)
    end = node.end_lineno or first.lineno
    header = "\n".join(lines[first_line(node) - 1:doc_end]) + "\n"
    body = "\n".join(lines[doc_end:end]) + "\n"
    start = lines[first.lineno - 1]
    return FunctionSource(unit, header, body, start[:len(start) - len(start.lstrip())])


# --- units ---------------------------------------------------------------------------------

def _make_unit(index: int, node: ast.stmt, lines: tuple[str, ...], body: list[ast.stmt]) -> Unit:
    previous_end = (body[index - 1].end_lineno or 0) if index else 0
    text, start = _unit_text(node, lines, previous_end)
    return Unit(index, node, text, _bound_names(node), max(0, start - previous_end - 1))


def _unit_text(node: ast.stmt, lines: tuple[str, ...], previous_end: int) -> tuple[str, int]:
    """The statement's source and the line it starts on."""
    start_line = first_line(node)
    start_col = 0 if start_line != node.lineno else node.col_offset
    end_line = node.end_lineno or node.lineno
    end_col = node.end_col_offset if node.end_col_offset is not None else len(lines[end_line - 1])
    text = _slice(lines, start_line, start_col, end_line, end_col)
    rest = lines[end_line - 1].encode()[end_col:].decode()
    if rest.strip().startswith("#"):  # `TIMEOUT = 5  # seconds`: the comment belongs to it
        text += rest.rstrip()
    if start_col == 0 and not isinstance(node, (ast.Import, ast.ImportFrom)):
        comments = _comments_above(lines, start_line, previous_end)
        text = comments + text
        start_line -= comments.count("\n")
    return text, start_line


def _slice(lines: tuple[str, ...], line1: int, col1: int, line2: int, col2: int) -> str:
    """Source between two ast positions (1-based lines, columns in UTF-8 bytes)."""
    first = lines[line1 - 1].encode()
    if line1 == line2:
        return first[col1:col2].decode()
    last = lines[line2 - 1].encode()[:col2].decode()
    return "\n".join([first[col1:].decode(), *lines[line1:line2 - 1], last])


def _comments_above(lines: tuple[str, ...], start_line: int, previous_end: int) -> str:
    """The comment lines directly above a statement (no blank line between), oldest first."""
    taken: list[str] = []
    number = start_line - 1  # 1-based number of the line above
    while number > previous_end and lines[number - 1].lstrip().startswith("#"):
        line = lines[number - 1]
        if number <= 2 and (line.startswith("#!") or "coding" in line):  # shebang, cookie
            break
        taken.append(line)
        number -= 1
    return "".join(line + "\n" for line in reversed(taken))


def _module_level_nodes(node: ast.stmt) -> Iterator[ast.AST]:
    """The nodes of a statement that run in module scope, definitions included but not entered."""
    stack: list[ast.AST] = [node]
    while stack:
        current = stack.pop()
        yield current
        if isinstance(current, ast.AnnAssign) and current.value is None:
            continue  # `x: int` binds nothing
        if current is node or not isinstance(current, _SCOPE_NODES):
            stack.extend(reversed(list(ast.iter_child_nodes(current))))


def _bound_names(node: ast.stmt) -> frozenset[str]:
    if isinstance(node, _DEFINITION_NODES):  # its defaults and decorators bind nothing
        return frozenset({node.name})
    names: set[str] = set()
    for current in _module_level_nodes(node):
        if isinstance(current, _DEFINITION_NODES):
            names.add(current.name)
        elif isinstance(current, ast.Name) and isinstance(current.ctx, ast.Store):
            names.add(current.id)
        elif isinstance(current, (ast.Import, ast.ImportFrom)):
            names.update(alias_binding(a) for a in current.names if a.name != "*")
        elif isinstance(current, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and current.name:
            names.add(current.name)
        elif isinstance(current, ast.MatchMapping) and current.rest:
            names.add(current.rest)
    return frozenset(names)


def alias_binding(alias: ast.alias) -> str:
    """The name an import binds: `import a.b` binds `a`, `import a.b as c` binds `c`."""
    return alias.asname or alias.name.partition(".")[0]


def _index_bindings(units: tuple[Unit, ...]) -> dict[str, tuple[int, ...]]:
    found: dict[str, list[int]] = {}
    for unit in units:
        for name in sorted(unit.binds):
            found.setdefault(name, []).append(unit.index)
    return {name: tuple(indexes) for name, indexes in found.items()}


def _index_mutators(units: tuple[Unit, ...],
                    bindings: dict[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
    """Statements like `TABLE["x"] = 1` or `TABLE.update(...)`, keyed by the name they change.

    Only for names a statement of the module creates: `os.environ["X"] = "1"` is not part of
    `os`, and carrying it with every use of `os` would be wrong.
    """
    created = {name for name, indexes in bindings.items()
               if any(not units[i].is_import for i in indexes)}
    found: dict[str, list[int]] = {}
    for unit in units:
        if unit.binds:
            continue
        root = _changed_root(unit.node)
        if root in created:
            found.setdefault(root, []).append(unit.index)
    return {name: tuple(indexes) for name, indexes in found.items()}


def _changed_root(node: ast.stmt) -> str | None:
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
        targets = [node.target]
    elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        targets = [node.value.func]
    roots = {_root_name(t) for t in targets if isinstance(t, (ast.Attribute, ast.Subscript))}
    return roots.pop() if len(roots) == 1 else None


def _root_name(expr: ast.expr) -> str | None:
    while isinstance(expr, (ast.Attribute, ast.Subscript, ast.Call)):
        expr = expr.func if isinstance(expr, ast.Call) else expr.value
    return expr.id if isinstance(expr, ast.Name) else None


def _has_future_annotations(units: tuple[Unit, ...]) -> bool:
    return any(isinstance(unit.node, ast.ImportFrom) and unit.is_future_import
               and any(alias.name == "annotations" for alias in unit.node.names)
               for unit in units)
