"""Scoring output predictions: each sample's predicted value against its row's ``expected``,
decided by ``predicted_values`` from the two texts (nothing runs, so no sandbox), and pass@k
per row as ``tracer.check.evaluate`` computes it for completions.

Rows are the lines ``citrace export --format output-prediction`` writes; samples are
``{"task_id", "prediction"}`` lines (``completion`` is read when ``prediction`` is absent),
several per row. A sample's verdict is ``passed``, ``failed`` (a value, not the expected
one) or ``error`` (no value could be read from it, or no row has its task id).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tracer.check.evaluate import (
    DEFAULT_KS,
    Evaluation,
    EvaluationError,
    SampleResult,
    TaskScore,
    pass_at_k,
    read_jsonl,
)
from tracer.check.run import ERROR, FAILED, PASSED
from tracer.dataset.predicted_values import UnreadableValue, read_value, same_value


def read_rows(path: Path) -> dict[str, dict[str, Any]]:
    """Output-prediction rows by task id."""
    rows = {}
    for record in read_jsonl(path):
        if not isinstance(record.get("task_id"), str) or not isinstance(
                record.get("expected"), str):
            raise EvaluationError(f"{path}: every row needs a task_id and an expected text "
                                  f"(write them with citrace export --format "
                                  f"output-prediction)")
        rows[record["task_id"]] = record
    return rows


def judge(prediction: str, expected: str) -> tuple[str, str]:
    """(verdict, result text) of one predicted value."""
    try:
        want = read_value(expected)
    except UnreadableValue as exc:  # a row we wrote ourselves: say so, do not guess
        return ERROR, f"error: the row's expected value cannot be read: {exc}"
    try:
        got = read_value(prediction)
    except UnreadableValue as exc:
        return ERROR, f"error: the prediction is not a value: {exc}"
    if same_value(got, want):
        return PASSED, "passed"
    return FAILED, "failed: not the expected value"


def score(rows: Mapping[str, Mapping[str, Any]], samples: Sequence[Mapping[str, Any]], *,
          ks: Sequence[int] = DEFAULT_KS) -> Evaluation:
    """Every sample judged against its row; pass@k per row that has samples."""
    results = []
    seen: Counter[str] = Counter()
    for sample in samples:
        task = str(sample.get("task_id"))
        prediction = sample.get("prediction", sample.get("completion"))
        row = rows.get(task)
        if row is None:
            verdict, result = ERROR, f"error: no row {task!r}"
        elif not isinstance(prediction, str):
            verdict, result = ERROR, "error: the sample has no prediction text"
        else:
            verdict, result = judge(prediction, str(row["expected"]))
        results.append(SampleResult(task, seen[task], str(prediction or ""), verdict, result,
                                    0.0))
        seen[task] += 1
    return Evaluation(tuple(results), _scores(results, rows, ks), tuple(ks),
                      Counter(r.verdict for r in results))


def _scores(results: Sequence[SampleResult], rows: Mapping[str, Any],
            ks: Sequence[int]) -> dict[str, TaskScore]:
    by_task: dict[str, list[bool]] = {}
    for result in results:
        if result.task_id in rows:
            by_task.setdefault(result.task_id, []).append(result.passed)
    return {task: TaskScore(len(passed), sum(passed),
                            {k: pass_at_k(len(passed), sum(passed), k) for k in ks})
            for task, passed in by_task.items()}


def write_judged(path: Path, evaluation: Evaluation,
                 rows: Mapping[str, Mapping[str, Any]]) -> None:
    """One line per sample: ``task_id``, ``prediction``, ``expected``, ``result``,
    ``passed``, ``verdict``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for result in evaluation.results:
            row = rows.get(result.task_id) or {}
            line = {"task_id": result.task_id, "prediction": result.completion,
                    "expected": str(row.get("expected", "")), "result": result.result,
                    "passed": result.passed, "verdict": result.verdict}
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
