"""``citrace evaluate --task output-prediction``: predictions scored against exported rows,
pass@k as for completions, no sandbox needed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from miners.cli.main import main
from tests.tracer.dataset.predictionkit import read_rows, write_run


@pytest.fixture
def rows_file(tmp_path: Path) -> Path:
    run = write_run(tmp_path / "run")
    destination = tmp_path / "rows.jsonl"
    assert main(["export", str(run), "--format", "output-prediction", "-o",
                 str(destination)]) == 0
    return destination


def write_samples(path: Path, samples: list[tuple[str, str]]) -> Path:
    path.write_text("".join(json.dumps({"task_id": t, "prediction": p}) + "\n"
                            for t, p in samples))
    return path


def test_predictions_are_scored_with_pass_at_k(
        rows_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    roman, summary_nan = "citrace/mini-0.1/mini.to_roman/0", "citrace/mini-0.1/mini.summary/1"
    samples = write_samples(tmp_path / "s.jsonl", [
        (roman, '"IV"'), (roman, "'iv'"),  # one of two right
        (summary_nan, "(float('nan'), frozenset(), None)"),  # NaN equals NaN
        (summary_nan, "(float('nan'), frozenset(), None"),  # not a value: an error
        ("citrace/nowhere/0", "1"),
    ])
    capsys.readouterr()
    assert main(["evaluate", "--task", "output-prediction", "--problems", str(rows_file),
                 "--samples", str(samples), "-k", "1,2"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["pass@1"] == pytest.approx(0.5)  # 1/2 on each of the two rows
    assert summary["pass@2"] == pytest.approx(1.0)
    assert summary["tasks"] == 2 and summary["samples"] == 5
    assert summary["verdicts"] == {"passed": 2, "failed": 1, "error": 2}
    results = read_rows(Path(summary["results"]))
    assert [(r["passed"], r["verdict"]) for r in results] == [
        (True, "passed"), (False, "failed"), (True, "passed"), (False, "error"),
        (False, "error")]
    assert results[1] == {"task_id": roman, "prediction": "'iv'", "expected": "'IV'",
                          "result": "failed: not the expected value", "passed": False,
                          "verdict": "failed"}
    assert results[3]["result"].startswith("error: the prediction is not a value")
    assert results[4]["result"] == "error: no row 'citrace/nowhere/0'"


def test_problems_that_are_not_rows_are_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = write_run(tmp_path / "run")
    samples = write_samples(tmp_path / "s.jsonl", [("x", "1")])
    assert main(["evaluate", "--task", "output-prediction", "--problems",
                 str(run / "problems.jsonl"), "--samples", str(samples)]) != 0
    assert "citrace export --format output-prediction" in capsys.readouterr().err
