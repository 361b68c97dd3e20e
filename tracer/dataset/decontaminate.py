"""Decontamination: flag problems that overlap a public benchmark problem.

Two tests, each against every problem of every benchmark loaded (``tracer.dataset.benchmarks``):

* ``substring``: a benchmark problem's prompt text or solution, whitespace normalised and at
  least ``MIN_SUBSTRING`` characters long, occurs inside our prompt or our solution
  (normalised the same way). Catches copies, including a HumanEval docstring pasted into a
  project's function. Found through an index of each benchmark text's first characters, so
  the cost grows with our text, not with the number of benchmark problems.
* ``10-gram``: our prompt or solution shares a run of ``NGRAM`` consecutive words (``\\w+``,
  lowercased; punctuation and layout ignored) with a benchmark prompt or solution. Catches
  copies that were reformatted or lightly edited. Words rather than code tokens: a run of ten
  code tokens such as ``for i in range(len(x)):`` is common to unrelated code.

A problem with any hit is contaminated; the pipeline leaves it out unless asked to keep it
(``citrace mine --keep-contaminated``), and its ``meta.contamination`` lists the hits.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache

from tracer.dataset.benchmarks import Benchmark, BenchmarkProblem, Unavailable, load_benchmarks
from tracer.records import ContaminationHit, Problem

MIN_SUBSTRING = 50
ANCHOR = 24  # characters indexed at the start of each benchmark text (<= MIN_SUBSTRING)
NGRAM = 10
MATCH_CHARS = 200
SUBSTRING = "substring"
NGRAM_METHOD = f"{NGRAM}-gram"

_WORD = re.compile(r"\w+")


def normalise(text: str) -> str:
    return " ".join(text.split())


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


@dataclass
class Index:
    """What of the benchmarks is looked up: text anchors and word n-grams."""

    names: tuple[str, ...] = ()
    anchors: dict[str, list[tuple[str, BenchmarkProblem]]] = field(default_factory=dict)
    ngrams: dict[tuple[str, ...], BenchmarkProblem] = field(default_factory=dict)


def build_index(benchmarks: Sequence[Benchmark]) -> Index:
    index = Index(names=tuple(b.name for b in benchmarks))
    for benchmark in benchmarks:
        for problem in benchmark.problems:
            for text in (_prompt_text(problem), problem.solution):
                flat = normalise(text)
                if len(flat) >= MIN_SUBSTRING:
                    index.anchors.setdefault(flat[:ANCHOR], []).append((flat, problem))
                for gram in _ngrams(words(text)):
                    index.ngrams.setdefault(gram, problem)  # the first problem to have it
    return index


def find_hits(index: Index, *, prompt: str, solution: str) -> list[ContaminationHit]:
    """Every benchmark problem ``prompt`` or ``solution`` overlaps, at most one hit per
    benchmark problem and test (substring hits first)."""
    hits: dict[tuple[str, str, str], ContaminationHit] = {}
    for name, text in (("prompt", prompt), ("solution", solution)):
        for hit in _substring_hits(index, name, normalise(text)):
            hits.setdefault((hit.benchmark, hit.task_id, hit.method), hit)
    for name, text in (("prompt", prompt), ("solution", solution)):
        for hit in _ngram_hits(index, name, words(text)):
            hits.setdefault((hit.benchmark, hit.task_id, hit.method), hit)
    return list(hits.values())


def _substring_hits(index: Index, name: str, flat: str) -> Iterable[ContaminationHit]:
    if not index.anchors:
        return
    for start in range(max(0, len(flat) - MIN_SUBSTRING + 1)):
        entries = index.anchors.get(flat[start:start + ANCHOR])
        for text, problem in entries or ():
            if flat.startswith(text, start):
                yield ContaminationHit(problem.benchmark, problem.task_id, SUBSTRING, name,
                                       text[:MATCH_CHARS])


def _ngram_hits(index: Index, name: str, tokens: list[str]) -> Iterable[ContaminationHit]:
    for gram in _ngrams(tokens):
        problem = index.ngrams.get(gram)
        if problem is not None:
            yield ContaminationHit(problem.benchmark, problem.task_id, NGRAM_METHOD, name,
                                   " ".join(gram)[:MATCH_CHARS])


def _ngrams(tokens: list[str]) -> Iterable[tuple[str, ...]]:
    for start in range(len(tokens) - NGRAM + 1):
        yield tuple(tokens[start:start + NGRAM])


def _prompt_text(problem: BenchmarkProblem) -> str:
    """The part of a benchmark prompt worth matching: HumanEval's docstring (its imports and
    signature alone are too common), MBPP's whole text."""
    docstrings = re.findall(r'"""(.*?)"""|\'\'\'(.*?)\'\'\'', problem.prompt, flags=re.S)
    if not docstrings:
        return problem.prompt
    return "\n".join(a or b for a, b in docstrings)


def decontaminate(problems: Sequence[Problem], *, keep: bool,
                  benchmarks: Sequence[Benchmark] | None = None,
                  unavailable: Sequence[Unavailable] | None = None,
                  ) -> tuple[list[Problem], int]:
    """The problems to keep, each with its contamination meta filled in, and how many were
    left out as contaminated (none when ``keep``). Benchmarks default to
    ``benchmarks.load_benchmarks()``."""
    if benchmarks is None or unavailable is None:
        benchmarks, unavailable = load_benchmarks()
    index = _index_of(tuple(benchmarks))
    kept: list[Problem] = []
    for problem in problems:
        hits = find_hits(index, prompt=problem.prompt, solution=problem.canonical_solution)
        meta = replace(problem.meta, contamination=tuple(hits),
                       decontaminated_against=index.names,
                       not_decontaminated_against=tuple(u.name for u in unavailable))
        if keep or not hits:
            kept.append(replace(problem, meta=meta))
    return kept, len(problems) - len(kept)


@lru_cache(maxsize=4)
def _index_of(benchmarks: tuple[Benchmark, ...]) -> Index:
    return build_index(benchmarks)
