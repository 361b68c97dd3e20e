"""The shapes a problem is exported in: HumanEval rows, Codex-D rows, pytest files.

* ``humaneval``: ``task_id``, ``prompt``, ``canonical_solution``, ``test``, ``entry_point``,
  ``meta`` (every meta field present, with its default when a line of an older citrace
  lacks it).
* ``codex-d`` (docstring generation, as the Codex paper trains Codex-D): ``task_id``,
  ``prompt`` = the prompt's code and the reference solution with the function's docstring
  taken out, ``target`` = the docstring (``inspect.cleandoc``-ed), ``entry_point``, ``meta``.
* ``pytest``: one test module per problem that imports the function from the project
  (``meta.module``) and runs the problem's ``check`` on it.
* ``output-prediction`` (CRUXEval's task, from real code): one row per assert of a
  returned value, ``tracer.dataset.output_prediction`` describes it.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from recipes.errors import CitraceError
from tracer.records import Problem, ProblemMeta

HUMANEVAL_FIELDS = ("task_id", "prompt", "canonical_solution", "test", "entry_point")


class FormatError(CitraceError):
    exit_code = 1  # the run's file is damaged: not a wrong command line
    """A problem cannot be put in the format asked for."""


def humaneval_row(problem: dict[str, Any]) -> dict[str, Any]:
    row = {name: problem[name] for name in HUMANEVAL_FIELDS}
    row["meta"] = ProblemMeta.from_dict(problem.get("meta") or {}).to_dict() \
        if _complete_meta(problem) else problem.get("meta", {})
    return row


def codex_d_row(problem: dict[str, Any]) -> dict[str, Any]:
    code, docstring = split_docstring(problem["prompt"] + problem["canonical_solution"],
                                      problem["entry_point"])
    return {"task_id": problem["task_id"], "prompt": code, "target": docstring,
            "entry_point": problem["entry_point"], "meta": humaneval_row(problem)["meta"]}


def split_docstring(source: str, entry_point: str) -> tuple[str, str]:
    """``source`` without the entry point's docstring, and that docstring (cleaned)."""
    try:
        module = ast.parse(source)
    except SyntaxError as exc:
        raise FormatError(f"{entry_point}: the prompt and solution do not parse: {exc}") from None
    function = next((node for node in reversed(module.body)
                     if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                     and node.name == entry_point), None)
    cls = next((node for node in reversed(module.body)
                if isinstance(node, ast.ClassDef) and node.name == entry_point), None)
    if function is None and cls is not None and isinstance(cls.body[-1], ast.FunctionDef):
        function = cls.body[-1]  # a method problem: its method comes last in its class
    docstring = ast.get_docstring(function) if function is not None else None
    if function is None or docstring is None:
        raise FormatError(f"{entry_point}: no function with a docstring of that name")
    expr = function.body[0]
    assert expr.end_lineno is not None
    lines = source.splitlines(keepends=True)
    return "".join(lines[:expr.lineno - 1] + lines[expr.end_lineno:]), docstring


def pytest_module(problem: Problem) -> str:
    """A test module running the problem's ``check`` on the project's own function."""
    module = problem.meta.module or module_of_path(problem.meta.path)
    if not module:
        raise FormatError(f"{problem.task_id}: the module of the function is unknown")
    name = re.sub(r"\W", "_", problem.entry_point)
    return (f'"""{problem.task_id}: the traced calls of {module}.{problem.entry_point}, '
            f'as asserts."""\n\n'
            f"from {module} import {problem.entry_point} as _function_under_test\n\n\n"
            f"{problem.test.rstrip()}\n\n\n"
            f"def test_{name}():\n    check(_function_under_test)\n")


def module_of_path(path: str) -> str:
    """``src/pkg/mod.py`` -> ``pkg.mod`` (a guess, for lines of citrace before meta.module)."""
    if not path.endswith(".py"):
        return ""
    parts = path[:-3].split("/")
    if parts[0] in ("src", "lib") and len(parts) > 1:
        parts = parts[1:]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _complete_meta(problem: dict[str, Any]) -> bool:
    meta = problem.get("meta")
    required = ("source", "version", "path", "qualname", "line", "python", "ci_file",
                "n_asserts", "n_calls")
    return isinstance(meta, dict) and all(name in meta for name in required)
