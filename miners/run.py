"""A run over a list of SPECs: each project mined in turn, results appended as they come.

Outputs in OUTDIR: ``problems.jsonl`` (HumanEval fields plus ``meta``), ``repos.jsonl``
(one line per SPEC), ``logs/`` (one build-and-test log per project). Each line is written
whole and flushed to disk before the next project starts, so a crash loses at most the
project that was running.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tqdm import tqdm

from miners.pipeline import Settings, mine_project
from miners.records import ProjectResult, Spec
from tracer.records import Problem

log = logging.getLogger("citrace")


@dataclass
class RunSummary:
    projects: int = 0
    ok: int = 0
    failed: int = 0
    problems: int = 0
    duplicate_tasks: int = 0


class JsonlAppender:
    """Append whole JSON lines, flushed and synced, so a crash never leaves a torn line."""

    def __init__(self, path: Path) -> None:
        self._file: IO[str] = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def write(self, record: dict[str, Any]) -> None:
        self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


def mine_all(specs: Sequence[Spec], out_dir: Path, settings: Settings, *,
             on_result: Callable[[ProjectResult], None] | None = None) -> RunSummary:
    out_dir.mkdir(parents=True, exist_ok=True)
    problems_out = JsonlAppender(out_dir / "problems.jsonl")
    repos_out = JsonlAppender(out_dir / "repos.jsonl")
    summary = RunSummary()
    seen_tasks: set[str] = set()
    bar = tqdm(total=len(specs), unit="project", disable=not sys.stderr.isatty(), file=sys.stderr)
    try:
        for spec in specs:
            bar.set_description(spec.raw[-40:])
            started = time.monotonic()
            result, problems = mine_project(spec, settings)
            fresh = [p for p in problems if p.task_id not in seen_tasks]
            summary.duplicate_tasks += len(problems) - len(fresh)
            for problem in fresh:
                seen_tasks.add(problem.task_id)
                problems_out.write(problem.to_dict())
            repos_out.write(result.to_dict())
            _tally(summary, result, fresh)
            bar.update(1)
            bar.set_postfix(ok=summary.ok, failed=summary.failed, problems=summary.problems)
            if bar.disable:
                _log_result(result, time.monotonic() - started, summary, len(specs))
            if on_result:
                on_result(result)
    finally:
        bar.close()
        problems_out.close()
        repos_out.close()
    return summary


def _tally(summary: RunSummary, result: ProjectResult, problems: list[Problem]) -> None:
    summary.projects += 1
    summary.problems += len(problems)
    if result.status == "ok":
        summary.ok += 1
    else:
        summary.failed += 1


def _log_result(result: ProjectResult, seconds: float, summary: RunSummary, total: int) -> None:
    where = f"[{summary.projects}/{total}]"
    if result.status == "ok":
        log.info("%s %s: ok, %d problems (%.0f s)", where, result.spec,
                 result.counts.get("problems", 0), seconds)
    else:
        log.info("%s %s: failed at %s (%s): %s (%.0f s)", where, result.spec, result.stage,
                 result.cause, result.reason, seconds)
