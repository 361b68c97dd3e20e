"""``--min-mutation-score``: one rule (``tracer.dataset.mutation_filter``) for ``citrace
export`` and ``citrace mine``; unmeasured problems are dropped and counted apart."""

from __future__ import annotations

from pathlib import Path

import pytest

from miners.cli.main import main
from tests.tracer.dataset.predictionkit import read_rows, write_run
from tracer.dataset.mutation_filter import (
    NOT_MEASURED,
    SCORE_BELOW,
    drop_reason,
    keep_strong,
    parse_minimum,
)
from tracer.records import MutationScore


def test_the_minimum_is_reached_by_killed_over_mutants_exactly() -> None:
    seven_of_ten = MutationScore(10, 7, 0.7)
    assert drop_reason(seven_of_ten, 0.7) is None  # 0.7 * 10 is 7.000000000000001
    assert drop_reason(seven_of_ten, 0.71) == SCORE_BELOW
    assert drop_reason(MutationScore(3, 1, 1 / 3), 1 / 3) is None
    assert drop_reason(MutationScore(), 0.0) == NOT_MEASURED  # even a minimum of zero


def test_minimums_are_shares_or_percentages() -> None:
    assert parse_minimum("0.7") == pytest.approx(0.7)
    assert parse_minimum("70%") == pytest.approx(0.7)
    for wrong in ("1.5", "-0.1", "120%"):
        with pytest.raises(ValueError):
            parse_minimum(wrong)


def test_without_a_minimum_everything_is_kept() -> None:
    kept, dropped = keep_strong([{"meta": {}}, {"meta": {"mutation": {"mutants": 0}}}], None)
    assert len(kept) == 2 and not dropped


def test_export_keeps_the_problems_whose_tests_kill_enough_mutants(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = write_run(tmp_path / "run")  # scores 0.9, 0.7, 0.5, 1.0 and one unmeasured
    assert main(["export", str(run), "--min-mutation-score", "70%"]) == 0
    kept = read_rows(run / "humaneval.jsonl")
    assert [p["entry_point"] for p in kept] == ["to_roman", "summary", "Counter"]
    assert capsys.readouterr().out.splitlines()[1] == (
        "problems left out: 1 mutation_not_measured, 1 mutation_score_below")
    assert main(["export", str(run), "--format", "output-prediction",
                 "--min-mutation-score", "0.8"]) == 0
    rows = read_rows(run / "output_prediction.jsonl")
    assert {r["meta"]["problem_task_id"] for r in rows} == {"citrace/mini-0.1/mini.to_roman"}


def test_a_minimum_out_of_range_is_a_usage_error(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run")
    with pytest.raises(SystemExit) as exit_:
        main(["export", str(run), "--min-mutation-score", "2"])
    assert exit_.value.code == 2


def test_export_help_says_what_happens_to_unmeasured_problems(
        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "problems whose score was not measured (mutants 0) are dropped too" in text
