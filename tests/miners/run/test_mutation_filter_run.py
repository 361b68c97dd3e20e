"""``citrace mine --min-mutation-score``: problems whose tests kill too few mutants (or
were not measured) are not written, and the run counts them; ``citrace stats`` and the HTML
report show the mutation scores and asserts of what was kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import miners.run.batch
from miners.cli.main import main
from tests.miners.batchkit import FakeExecutor, fake_list, read_jsonl


@pytest.fixture(autouse=True)
def fake_executor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(miners.run.batch, "make_executor", lambda options: FakeExecutor())


@pytest.fixture
def listing(tmp_path: Path) -> Path:
    """Three projects of two problems: scores 9/10 and 5/10; 7/10 and unmeasured; none
    measured."""
    found = fake_list(tmp_path / "projects", ["p0", "p1", "p2"])
    (tmp_path / "projects" / "p0" / "MUTATION").write_text("10 9\n10 5\n")
    (tmp_path / "projects" / "p1" / "MUTATION").write_text("10 7\n0 0\n")
    return found


def test_weak_tests_are_left_out_and_counted(listing: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["mine", str(listing), "-o", str(out), "--min-mutation-score", "0.7"]) == 0
    problems = read_jsonl(out / "problems.jsonl")
    assert [(p["meta"]["source"], p["meta"]["mutation"]["killed"]) for p in problems] == [
        ("p0", 9), ("p1", 7)]
    counts = {r["spec"]: r["counts"] for r in read_jsonl(out / "repos.jsonl")}
    assert counts["p0"] == {"problems": 1, "dropped_mutation_score_below": 1}
    assert counts["p1"] == {"problems": 1, "dropped_mutation_not_measured": 1}
    assert counts["p2"] == {"problems": 0, "dropped_mutation_not_measured": 2}
    capsys.readouterr()
    assert main(["stats", str(out), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["dropped"] == {"mutation_not_measured": 3, "mutation_score_below": 1}
    assert stats["mutation_scores"] == {"0-50%": 0, "50-70%": 0, "70-90%": 1, "90-100%": 1,
                                        "unmeasured": 0}
    assert stats["asserts_per_problem"] == {"problems": 2, "median": 1.0,
                                            "share_under_3": 1.0}


def test_without_the_option_every_problem_is_written(listing: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["mine", str(listing), "-o", str(out)]) == 0
    assert len(read_jsonl(out / "problems.jsonl")) == 6
    capsys.readouterr()
    assert main(["stats", str(out)]) == 0
    text = capsys.readouterr().out
    assert ("mutation score of the problems kept:\n  0-50%             0  0.0%\n"
            "  50-70%            1  16.7%\n") in text  # 5 of 10: a bucket holds its bound
    assert "  unmeasured        3  50.0%\n" in text
    assert "asserts per problem: median 1, 100.0% with fewer than 3" in text


def test_a_run_cannot_resume_with_another_minimum(listing: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["mine", str(listing), "-o", str(out), "--min-mutation-score", "0.7"]) == 0
    # What the run wrote depends on the minimum: another one is another run.
    assert main(["mine", str(listing), "-o", str(out), "--min-mutation-score", "0.9"]) == 2


def test_the_report_shows_the_scores_and_what_the_minimum_left_out(
        listing: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["mine", str(listing), "-o", str(out), "--min-mutation-score", "0.7"]) == 0
    assert main(["report", str(out), "-o", str(tmp_path / "r.html")]) == 0
    page = (tmp_path / "r.html").read_text()
    assert '<h2 id="mutation">Mutation score per problem</h2>' in page
    assert "<tr><td>70-90%</td><td class=\"n\">1</td></tr>" in page
    assert "<tr><td>unmeasured</td><td class=\"n\">0</td></tr>" in page
    assert "median 1 per problem, 100.0% with fewer than 3." in page
    assert ("<tr><td>mutation score under --min-mutation-score</td>"
            "<td class=\"n\">1</td></tr>") in page
    assert ("<tr><td>with a test strong enough (--min-mutation-score)</td>"
            "<td class=\"n\">2</td></tr>") in page
