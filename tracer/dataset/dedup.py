"""Deduplication of problems: exact duplicates by a normalised AST, near duplicates by MinHash.

*Exact*: the entry point's ``def`` (signature and body, parsed from prompt + solution; for a
method problem, the method's, last in its class) with
its docstrings removed, its own name and every parameter and local variable renamed to
placeholders in order of first appearance, dumped without positions (so comments and layout
vanish too), and hashed. Two problems with equal keys are the same function under other
names.

*Near*: MinHash (``tracer.dataset.minhash``) over token 5-grams of the same ``def`` unparsed
without docstrings (names kept), Jaccard threshold 0.7 as in the BigCode pipelines.

Greedy and deterministic: problems are taken in list order; one is dropped when its exact
key was seen, or when its estimated similarity to an earlier *kept* problem reaches the
threshold (the earliest such problem, which becomes its cluster's representative).
Clusters are named by the representative's ``task_id`` and sized by their members.
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from tracer.dataset import minhash

NEAR_THRESHOLD = 0.7
SHINGLE = 5
EXACT = "duplicate_exact"
NEAR = "duplicate_near"


@dataclass(frozen=True)
class DedupInput:
    task_id: str
    prompt: str
    canonical_solution: str
    entry_point: str


@dataclass(frozen=True)
class Decision:
    """What became of one problem: kept (``reason`` empty) or dropped as a duplicate of
    ``cluster`` (the representative's task id). ``size`` is the cluster's final size."""

    task_id: str
    cluster: str
    size: int
    reason: str = ""  # "" | duplicate_exact | duplicate_near
    similarity: float = 1.0

    @property
    def kept(self) -> bool:
        return not self.reason


@dataclass(frozen=True)
class Fingerprint:
    exact: str
    signature: minhash.array[int]


def fingerprint(problem: DedupInput) -> Fingerprint:
    function = _entry_def(problem.prompt + problem.canonical_solution, problem.entry_point)
    if function is None:  # unparsable: fall back on the text, whitespace normalised
        text = " ".join((problem.prompt + problem.canonical_solution).split())
        return Fingerprint(_digest("text:" + text), _signature(text))
    # The tree is ours alone: changed in place, unparsed before the renaming.
    names = _strip_and_collect(function)
    near = _signature(ast.unparse(function))
    _rename(function, names)
    exact = ast.dump(function, annotate_fields=False, include_attributes=False)
    return Fingerprint(_digest("ast:" + exact), near)


def deduplicate(problems: Sequence[DedupInput], *,
                threshold: float = NEAR_THRESHOLD) -> list[Decision]:
    """One decision per problem, in the order given."""
    deduplicator = Deduplicator(threshold=threshold)
    for problem in problems:
        deduplicator.add(problem)
    return deduplicator.decisions()


class Deduplicator:
    """``deduplicate`` one problem at a time, keeping only what later problems are compared
    with (the exact keys and the signatures of kept problems), not the problems' text."""

    def __init__(self, *, threshold: float = NEAR_THRESHOLD) -> None:
        self._threshold = threshold
        self._exact_first: dict[str, int] = {}
        self._index = minhash.LshIndex(threshold)
        self._signatures: dict[int, minhash.array[int]] = {}
        self._task_ids: list[str] = []
        self._owner: list[tuple[int, str, float]] = []  # representative, reason, similarity

    def add(self, problem: DedupInput) -> None:
        number = len(self._task_ids)
        self._task_ids.append(problem.task_id)
        print_ = fingerprint(problem)
        if print_.exact in self._exact_first:
            self._owner.append((self._exact_first[print_.exact], EXACT, 1.0))
            return
        near = _nearest_kept(self._index, self._signatures, print_.signature, self._threshold)
        if near is not None:
            self._owner.append((near[0], NEAR, near[1]))
            return
        self._exact_first[print_.exact] = number
        self._signatures[number] = print_.signature
        self._index.add(number, print_.signature)
        self._owner.append((number, "", 1.0))

    def decisions(self) -> list[Decision]:
        sizes = [0] * len(self._owner)
        for representative, _, _ in self._owner:
            sizes[representative] += 1
        ids = self._task_ids
        return [Decision(task_id=ids[n], cluster=ids[rep], size=sizes[rep], reason=reason,
                         similarity=round(similarity, 3))
                for n, (rep, reason, similarity) in enumerate(self._owner)]


def _nearest_kept(index: minhash.LshIndex, signatures: dict[int, minhash.array[int]],
                  sig: minhash.array[int], threshold: float) -> tuple[int, float] | None:
    for candidate in index.query(sig):  # ascending: the earliest match represents
        similarity = minhash.jaccard_estimate(signatures[candidate], sig)
        if similarity >= threshold:
            return candidate, similarity
    return None


def _signature(text: str) -> minhash.array[int]:
    return minhash.signature(minhash.shingles(minhash.tokens(text), SHINGLE))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


Function = ast.FunctionDef | ast.AsyncFunctionDef


def _entry_def(source: str, entry_point: str) -> Function | None:
    """The last ``def`` of that name: at the top level, else anywhere. For a method problem
    (the entry point is a class), the method: the last statement of its class, so methods
    of one class are compared by their own code, not by the class they share."""
    try:
        module = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    for statement in reversed(module.body):
        if (isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef)
                and statement.name == entry_point):
            return statement
        if (isinstance(statement, ast.ClassDef) and statement.name == entry_point
                and isinstance(statement.body[-1], ast.FunctionDef | ast.AsyncFunctionDef)):
            return statement.body[-1]
    found: Function | None = None
    for node in ast.walk(module):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == entry_point:
            found = node if found is None or node.lineno > found.lineno else found
    return found


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _strip_and_collect(function: Function) -> dict[str, str]:
    """Remove the docstrings of ``function`` and of every def or class inside it (a body left
    empty gets ``pass``), in place; return the placeholders of the names it binds: itself
    ``_f``, then its parameters and every name it assigns, defines or takes as an argument,
    ``_v1``, ``_v2`` ... in order of first appearance. Names it only reads (globals,
    builtins) keep theirs."""
    names: dict[str, str] = {function.name: "_f"}

    def place(name: str) -> None:
        names.setdefault(name, f"_v{len(names)}")

    args = function.args
    for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
        if arg is not None:
            place(arg.arg)
    for node in ast.walk(function):
        if isinstance(node, _SCOPES):
            body = node.body
            if (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)):
                node.body = body[1:] or [ast.Pass()]
            if node is not function:
                place(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            place(node.id)
        elif isinstance(node, ast.arg):
            place(node.arg)
    ast.fix_missing_locations(function)
    return names


def _rename(function: Function, names: dict[str, str]) -> None:
    for node in ast.walk(function):
        if isinstance(node, ast.Name):
            node.id = names.get(node.id, node.id)
        elif isinstance(node, ast.arg):
            node.arg = names.get(node.arg, node.arg)
        elif isinstance(node, _SCOPES):
            node.name = names.get(node.name, node.name)
