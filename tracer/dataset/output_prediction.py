"""Output prediction (CRUXEval's task) built from real code: given a function and a call,
predict what it returns.

One row per assert of a problem's test that compares the result of a self-contained call
with a value: ``assert candidate(ARGS) == VALUE`` (or ``_close(candidate(ARGS), VALUE)``,
the form for floats). A row holds

* ``code``: the function's code, the problem's prompt and canonical solution;
* ``call``: the call as code, ``candidate`` replaced by the function's name
  (``toRoman(4)``);
* ``setup``: the test's imports the call or the value needs (``import datetime\\n``), to be
  run after ``code`` as the test runs them (HumanEval runs prompt, solution, then test);
* ``expected``: the value's source text, as the probe recorded it; ``predicted_values``
  compares a prediction with it;
* ``task_id`` (the problem's, ``/N``: the assert's position among the test's asserts,
  from 0), ``entry_point``, and ``meta`` (where it comes from; the problem's mutation
  score).

Other asserts are counted, by reason, and left out: an exception (``raises``), the
values a generator yields (``yields``), a call that changes its arguments (``mutation``:
the call names variables the block sets), anything on an instance of a method problem's
class (``method_instance``: the instance is made by citrace's helper without running
``__init__``, so no call in plain code makes it; this leaves out every method, property and
``__init__`` problem, while static and class methods, which problems lift out as
functions, stay), a value that is an object of the project (``project_object``) or that
``predicted_values.read_value`` cannot read (``unreadable_expected``), and any other shape
(``other_assert``).
"""

from __future__ import annotations

import ast
from collections import Counter
from dataclasses import dataclass
from typing import Any

from tracer.dataset.predicted_values import UnreadableValue, read_value
from tracer.records import ProblemMeta

RAISES, YIELDS, MUTATION, METHOD_INSTANCE = "raises", "yields", "mutation", "method_instance"
PROJECT_OBJECT, UNREADABLE, OTHER = "project_object", "unreadable_expected", "other_assert"
UNPARSABLE_TEST = "unparsable_test"  # no `def check(candidate)` the host can parse
SKIP_REASONS = (RAISES, YIELDS, MUTATION, METHOD_INSTANCE, PROJECT_OBJECT, UNREADABLE, OTHER,
                UNPARSABLE_TEST)
ROW_FIELDS = ("task_id", "code", "call", "setup", "expected", "entry_point", "meta")
INSTANCE = "obj"  # tracer.emit.asserts.INSTANCE: the variable a method block's instance is in


@dataclass(frozen=True)
class Rows:
    """A problem's rows, and its asserts left out, by reason."""

    rows: tuple[dict[str, Any], ...]
    skipped: Counter[str]


def prediction_rows(problem: dict[str, Any]) -> Rows:
    """The output-prediction rows of one problem (a line of problems.jsonl)."""
    test, entry_point = str(problem.get("test", "")), str(problem.get("entry_point", ""))
    try:
        module = ast.parse(test)
    except (SyntaxError, ValueError):
        return Rows((), Counter({UNPARSABLE_TEST: 1}))
    check = next((node for node in module.body if isinstance(node, ast.FunctionDef)
                  and node.name == "check"), None)
    if check is None:
        return Rows((), Counter({UNPARSABLE_TEST: 1}))
    imports = _imports(module)
    meta = ProblemMeta.from_dict(problem.get("meta") or {}) if _has_meta(problem) else None
    blocks = _blocks(check.body)
    sources = meta.assert_sources if meta and len(meta.assert_sources) == len(blocks) else ()
    rows, skipped = [], Counter[str]()
    position = 0
    for number, block in enumerate(blocks):
        for statement in block:
            if not isinstance(statement, ast.Assert):
                continue
            found = _row_parts(statement, block, test, entry_point)
            if isinstance(found, str):
                skipped[found] += 1
            else:
                call, expected, names = found
                rows.append(_row(problem, meta, position, call, expected,
                                 "".join(imports[n] for n in sorted(names) if n in imports),
                                 sources[number] if sources else ""))
            position += 1
    return Rows(tuple(rows), skipped)


def _has_meta(problem: dict[str, Any]) -> bool:
    meta = problem.get("meta")
    return isinstance(meta, dict) and all(
        name in meta for name in ("source", "version", "path", "qualname", "line", "python",
                                  "ci_file", "n_asserts", "n_calls"))


def _imports(module: ast.Module) -> dict[str, str]:
    """The test's ``import m`` lines, by the name each binds."""
    found = {}
    for node in module.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                bound = alias.asname or alias.name.partition(".")[0]
                found[bound] = f"import {alias.name}" + (
                    f" as {alias.asname}" if alias.asname else "") + "\n"
    return found


def _blocks(body: list[ast.stmt]) -> list[list[ast.stmt]]:
    """The check's statements, grouped as ``tracer.emit.asserts`` writes blocks: a block
    begins with its assignments (a mutation's arguments, a method's ``obj``), or with the
    statement that calls ``candidate`` when none come before it; the asserts on what the
    call changed follow in the same block."""
    blocks: list[list[ast.stmt]] = []
    previous: ast.stmt | None = None
    for statement in body:
        begins = not isinstance(previous, ast.Assign) and (
            isinstance(statement, ast.Assign) or _names(statement) & {"candidate"})
        if begins or not blocks:
            blocks.append([])
        blocks[-1].append(statement)
        previous = statement
    return blocks


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _row_parts(statement: ast.Assert, block: list[ast.stmt], test: str,
               entry_point: str) -> tuple[str, str, set[str]] | str:
    """(call, expected, names they use) of an assert that makes a row, or why not."""
    names = _names(statement)
    if "_citrace_state" in names or INSTANCE in names:
        return METHOD_INSTANCE
    if "_raised" in names:
        return RAISES
    if any(not isinstance(s, ast.Assert) for s in block):
        return MUTATION
    compared = _compared(statement.test)
    if compared is None:
        return OTHER
    got, want = compared
    if _is_list_of_call(got):
        return YIELDS
    if not _is_candidate_call(got) or "candidate" in _names(want) or sum(
            n == "candidate" for n in _name_list(got)) != 1:
        return OTHER
    expected = ast.get_source_segment(test, want)
    call = ast.get_source_segment(test, got)
    if expected is None or call is None:
        return OTHER
    if "_citrace_object" in _names(want) or "_citrace_class" in _names(want):
        return PROJECT_OBJECT
    try:
        read_value(expected)
    except UnreadableValue:
        return UNREADABLE
    return entry_point + call[len("candidate"):], expected, _names(got) | _names(want)


def _name_list(node: ast.AST) -> list[str]:
    return [n.id for n in ast.walk(node) if isinstance(n, ast.Name)]


def _compared(test: ast.expr) -> tuple[ast.expr, ast.expr] | None:
    """(got, want) of ``got == want`` or ``_close(got, want)``."""
    if (isinstance(test, ast.Compare) and len(test.ops) == 1
            and isinstance(test.ops[0], ast.Eq)):
        return test.left, test.comparators[0]
    if (isinstance(test, ast.Call) and isinstance(test.func, ast.Name)
            and test.func.id == "_close" and len(test.args) == 2 and not test.keywords):
        return test.args[0], test.args[1]
    return None


def _is_candidate_call(node: ast.expr) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id == "candidate")


def _is_list_of_call(node: ast.expr) -> bool:
    """``list(candidate(...))``, ``list(itertools.islice(candidate(...), n))``."""
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id == "list" and "candidate" in _names(node))


def _row(problem: dict[str, Any], meta: ProblemMeta | None, position: int, call: str,
         expected: str, setup: str, assert_source: str) -> dict[str, Any]:
    return {"task_id": f"{problem['task_id']}/{position}",
            "code": str(problem.get("prompt", "")) + str(problem.get("canonical_solution", "")),
            "call": call, "setup": setup, "expected": expected,
            "entry_point": str(problem.get("entry_point", "")),
            "meta": _row_meta(str(problem["task_id"]), meta, position, assert_source)}


def _row_meta(task_id: str, meta: ProblemMeta | None, position: int,
              assert_source: str) -> dict[str, Any]:
    """Where the row comes from; every field one JSON type in every row."""
    known = meta or ProblemMeta("", "", "", "", 0, "", "", 0, 0)
    return {"problem_task_id": task_id, "assert_index": position,
            "assert_source": assert_source, "source": known.source, "version": known.version,
            "path": known.path, "module": known.module, "qualname": known.qualname,
            "kind": known.kind, "python": known.python, "license": known.license,
            "mutation_score": float(known.mutation.score),
            "mutants": int(known.mutation.mutants)}
