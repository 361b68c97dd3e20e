"""``citrace stats OUTDIR``: the funnel, every drop reason counted, text and JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from miners.cli.main import main

REPOS = [
    {"spec": "a", "status": "ok", "stage": "validate", "reason": "", "cause": "",
     "counts": {"calls_recorded": 120, "functions_traced": 30, "candidates": 8, "problems": 5,
                "dropped_not_toplevel": 12, "dropped_no_docstring": 10,
                "dropped_stub_passes": 2, "dropped_contaminated": 1,
                "calls_dropped_opaque_self": 7, "calls_dropped_returns_none": 2}},
    {"spec": "b", "status": "ok", "stage": "validate", "reason": "", "cause": "",
     "counts": {"calls_recorded": 30, "functions_traced": 6, "candidates": 3, "problems": 3,
                "dropped_not_toplevel": 3, "calls_dropped_returns_none": 1}},
    {"spec": "c", "status": "failed", "stage": "build", "reason": "no", "cause": "install_failed",
     "counts": {}},
]


def write_run(out: Path, *, kept: int, dedup: dict | None) -> None:
    out.mkdir()
    (out / "repos.jsonl").write_text("".join(json.dumps(r) + "\n" for r in REPOS))
    meta = {"decontaminated_against": ["HumanEval"], "not_decontaminated_against": ["MBPP"]}
    (out / "problems.jsonl").write_text(
        "".join(json.dumps({"task_id": f"t{n}", "meta": meta}) + "\n" for n in range(kept)))
    if dedup is not None:
        (out / "dedup.json").write_text(json.dumps(dedup))


def test_the_funnel_counts_every_drop_reason(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    write_run(tmp_path / "out", kept=6, dedup={"problems_before_dedup": 8, "problems": 6,
                                               "dropped_duplicate_exact": 1,
                                               "dropped_duplicate_near": 1})
    assert main(["stats", str(tmp_path / "out"), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["projects"] == {"total": 3, "ok": 2, "failed": 1,
                                 "failed_at": {"build: install_failed": 1}}
    assert stats["funnel"] == [{"step": "calls_recorded", "count": 150},
                               {"step": "functions_traced", "count": 36},
                               {"step": "candidates", "count": 11},
                               {"step": "problems", "count": 8},
                               {"step": "problems_kept", "count": 6}]
    assert stats["dropped"] == {"not_toplevel": 15, "no_docstring": 10, "stub_passes": 2,
                                "contaminated": 1, "duplicate_exact": 1, "duplicate_near": 1}
    assert stats["calls_dropped"] == {"opaque_self": 7, "returns_none": 3}
    assert stats["decontamination"] == {"checked": ["HumanEval"], "not_checked": ["MBPP"]}
    assert main(["stats", str(tmp_path / "out")]) == 0
    text = capsys.readouterr().out
    assert "functions traced           36" in text
    assert "problems kept               6  (after dedup: 8 before)" in text
    assert "  not_toplevel          15" in text
    assert "calls that made no assert, by reason:\n  opaque_self         7\n" in text
    assert "NOT decontaminated against (data unavailable, see the logs): MBPP" in text


def test_a_run_in_progress_says_it_is_not_deduplicated_yet(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_run(tmp_path / "out", kept=8, dedup=None)
    assert main(["stats", str(tmp_path / "out")]) == 0
    assert "not deduplicated yet" in capsys.readouterr().out


def test_stats_of_a_directory_that_is_no_run_is_a_usage_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", str(tmp_path)]) == 2
    assert "citrace mine" in capsys.readouterr().err
