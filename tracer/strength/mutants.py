"""Mutants of a canonical solution: small wrong versions of the function's body, for
measuring how strong a problem's test is (the share of mutants it rejects).

Operators (``Mutant.operator``): ``compare`` (``<`` <-> ``<=``, ``<`` <-> ``>``, ``==`` <->
``!=`` ...), ``membership`` (``in`` <-> ``not in``), ``identity`` (``is`` <-> ``is not``),
``arith`` (``+`` <-> ``-``, ``*`` -> ``/``, ``//`` -> ``/``, ``%`` -> ``//``, augmented
assignments too, ``-x`` -> ``x``), ``boolop`` (``and`` <-> ``or``), ``constant`` (a number
plus one, ``True`` <-> ``False``), ``negate`` (``not x`` -> ``x``, a condition -> ``not``),
``builtin`` (``min`` <-> ``max``, ``any`` <-> ``all``), ``delete`` (a statement -> ``pass``),
``return-constant`` (``return <expr>`` -> a constant of its obvious type, else ``None``),
``loop`` (``break`` <-> ``continue``), ``slice`` (``a[i:j]`` -> ``a[i + 1:j]``, ``a[i:j -
1]``), ``range`` (``range(n)`` -> ``range(n - 1)``, ``range(n + 1)``, a start plus one) and
``swap-args`` (neighbouring positional arguments of the module's own functions and methods).

Only the body is mutated (the function whose body the canonical solution is, found by
parsing ``prompt + canonical_solution``), by replacing source segments at ast positions, so
comments and layout survive; the docstring, in the prompt, is never touched. Every mutant
parses, and its function's ast differs from the original's and from every other mutant's.

Equivalent mutants (which no test can reject) are avoided where the text shows them:
``x + 0`` / ``x - 0``, ``x * 1`` / ``x / 1``, ``x and x``, ``f(a, a)`` swapped, a loop body's
last ``continue`` deleted, ``return None`` made ``None``. The rest cannot be told apart
from weak tests by looking: they count as survivors, and the survivors' list (operator,
line, description) lets a reader see them for what they are.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from tracer.strength.expressions import expression_edits
from tracer.strength.source import Body, Edit
from tracer.strength.statements import statement_edits


@dataclass(frozen=True)
class Mutant:
    operator: str  # compare, arith, boolop, membership, identity, constant, negate, ...
    line: int  # 1-based line in canonical_solution
    description: str  # short: "< -> <=", "delete `x += 1`", "`range(n)` -> `range(n - 1)`"
    completion: str  # the mutated canonical solution, to append to the prompt


def mutants(prompt: str, canonical_solution: str, *, limit: int = 40) -> list[Mutant]:
    """At most ``limit`` mutants of ``canonical_solution`` in source order; none when the
    text does not parse (an old Python's syntax) or holds no function body. Over the limit,
    the choice is spread over operators and, within each, over the body (deterministic)."""
    body = Body.locate(prompt, canonical_solution)
    if body is None or limit <= 0:
        return []
    edits = _distinct(body, [*expression_edits(body), *statement_edits(body)])
    chosen = _spread(edits, limit)
    return [Mutant(edit.operator, body.solution_line(edit.start), edit.description,
                   body.apply(edit)[len(prompt):]) for edit in chosen]


def _distinct(body: Body, edits: list[Edit]) -> list[Edit]:
    """The edits that stay inside the solution, parse, and change the function into
    something no earlier edit did."""
    seen = {body.original_dump}
    kept = []
    for edit in edits:
        if edit.start < len(body.prompt) or edit.end < edit.start:
            continue
        dump = body.edited_dump(edit)
        if dump is None or dump in seen:
            continue
        seen.add(dump)
        kept.append(edit)
    return kept


def _spread(edits: list[Edit], limit: int) -> list[Edit]:
    """Up to ``limit`` edits: each operator gets an equal share (what one cannot use goes to
    the others), taken evenly across its sites; then back in source order."""
    by_operator: dict[str, list[Edit]] = defaultdict(list)
    for edit in edits:
        by_operator[edit.operator].append(edit)
    quota = dict.fromkeys(by_operator, 0)
    left = min(limit, len(edits))
    while left:
        for operator, found in by_operator.items():
            if left and quota[operator] < len(found):
                quota[operator] += 1
                left -= 1
    chosen = [found[_evenly(index, quota[operator], len(found))]
              for operator, found in by_operator.items() for index in range(quota[operator])]
    order = {id(edit): position for position, edit in enumerate(edits)}
    return sorted(chosen, key=lambda edit: (edit.start, order[id(edit)]))


def _evenly(index: int, count: int, total: int) -> int:
    """The ``index``-th of ``count`` positions spread evenly over ``total`` (distinct)."""
    return (2 * index + 1) * total // (2 * count)
