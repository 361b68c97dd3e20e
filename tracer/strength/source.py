"""The function a canonical solution is the body of, located in ``prompt + canonical_solution``,
with what mutating it needs: character offsets of ast positions, the text of a node, and a
cheap check that an edited body still parses (and into what).

Only the target function's own text is re-parsed after an edit (wrapped in ``if 1:`` when it
is indented, a method's case): a citrace prompt can hold a whole module, and parsing it again
for each of a hundred candidate mutants would cost more than everything else together.
"""

from __future__ import annotations

import ast
import warnings
from dataclasses import dataclass
from functools import cached_property

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(frozen=True)
class Edit:
    """One candidate mutant: replace ``source[start:end]`` with ``replacement``."""

    operator: str
    start: int
    end: int
    replacement: str
    description: str


class Body:
    """The target function of ``prompt + solution``; offsets are into that whole text."""

    def __init__(self, prompt: str, solution: str, module: ast.Module,
                 function: FunctionNode) -> None:
        self.prompt, self.source = prompt, prompt + solution
        self.module, self.function = module, function
        self.prompt_lines = prompt.count("\n")
        self._line_starts = _line_starts(self.source)
        first = min([function.lineno] + [d.lineno for d in function.decorator_list])
        self._snippet_start = self._line_starts[first - 1]
        self._snippet_end = self._line_at(function.end_lineno or function.lineno)
        self._indented = self.source[self._snippet_start] in " \t"

    @classmethod
    def locate(cls, prompt: str, solution: str) -> Body | None:
        """The body, or None when the text does not parse or no function's body starts in
        the prompt and runs into the solution."""
        module = _parse(prompt + solution)
        if module is None:
            return None
        split_line = prompt.count("\n") + 1  # the first line of the solution
        found: FunctionNode | None = None
        for node in ast.walk(module):
            if (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                    and node.lineno < split_line <= (node.end_lineno or 0)
                    and (found is None or node.lineno > found.lineno)):
                found = node  # the innermost: a method inside its class
        return cls(prompt, solution, module, found) if found is not None else None

    # Positions.
    def start(self, node: ast.AST) -> int:
        return self.offset(node.lineno, node.col_offset)  # type: ignore[attr-defined]

    def end(self, node: ast.AST) -> int:
        return self.offset(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]

    def offset(self, lineno: int, col_offset: int) -> int:
        """ast columns count UTF-8 bytes; offsets count characters."""
        line_start = self._line_starts[lineno - 1]
        line = self.source[line_start:self._line_at(lineno)]
        return line_start + len(line.encode("utf-8")[:col_offset].decode("utf-8", "replace"))

    def text(self, node: ast.AST) -> str:
        return self.source[self.start(node):self.end(node)]

    def solution_line(self, offset: int) -> int:
        """The 1-based line of the canonical solution that ``offset`` is on."""
        return self.source.count("\n", 0, offset) + 1 - self.prompt_lines

    def in_solution(self, node: ast.AST) -> bool:
        return self.start(node) >= len(self.prompt)

    # The statements and expressions that may be mutated.
    @cached_property
    def statements(self) -> list[ast.stmt]:
        """The function's statements at any depth that lie in the solution, in source order
        (nested functions' own statements included; their docstrings are not: they are
        documentation, like the target's own, which is in the prompt)."""
        found = [node for node in ast.walk(self.function)
                 if isinstance(node, ast.stmt) and node is not self.function
                 and self.in_solution(node) and not _is_docstring(node)]
        return sorted(found, key=lambda node: (node.lineno, node.col_offset))

    @cached_property
    def expressions(self) -> list[ast.expr]:
        """The expressions of those statements, outside f-strings (whose inner positions
        Python 3.11 does not always get right), in source order."""
        inside_fstrings = {id(inner) for node in ast.walk(self.function)
                           if isinstance(node, ast.JoinedStr) for inner in ast.walk(node)}
        found = [node for node in ast.walk(self.function) if isinstance(node, ast.expr)
                 and id(node) not in inside_fstrings and self.in_solution(node)]
        return sorted(found, key=lambda node: (node.lineno, node.col_offset))

    @cached_property
    def parents(self) -> dict[int, ast.AST]:
        """Each node's parent within the function, by the child's ``id``."""
        return {id(child): node for node in ast.walk(self.function)
                for child in ast.iter_child_nodes(node)}

    @cached_property
    def bound_names(self) -> frozenset[str]:
        """Every name the module binds anywhere: a builtin's name is not the builtin then."""
        names: set[str] = set()
        for node in ast.walk(self.module):
            if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
                names.add(node.id)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        return frozenset(names)

    # Applying an edit.
    def apply(self, edit: Edit) -> str:
        return self.source[:edit.start] + edit.replacement + self.source[edit.end:]

    @cached_property
    def original_dump(self) -> str:
        return ast.dump(self.function)

    def edited_dump(self, edit: Edit) -> str | None:
        """The ast dump of the function after ``edit``, None when it no longer parses."""
        snippet = (self.source[self._snippet_start:edit.start] + edit.replacement
                   + self.source[edit.end:self._snippet_end])
        module = _parse("if 1:\n" + snippet if self._indented else snippet)
        if module is None:
            return None
        node = module.body[0]
        if isinstance(node, ast.If):
            node = node.body[0]
        return ast.dump(node)

    def _line_at(self, lineno: int) -> int:
        """The offset where line ``lineno`` (1-based) ends, its newline included."""
        return self._line_starts[lineno] if lineno < len(self._line_starts) else len(self.source)


def _line_starts(source: str) -> list[int]:
    starts, at = [0], source.find("\n")
    while at != -1:
        starts.append(at + 1)
        at = source.find("\n", at + 1)
    return starts


def _parse(source: str) -> ast.Module | None:
    try:
        with warnings.catch_warnings():  # "invalid escape sequence" in old sources
            warnings.simplefilter("ignore")
            return ast.parse(source)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None


def _is_docstring(node: ast.stmt) -> bool:
    return (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str))
