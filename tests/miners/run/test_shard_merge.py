"""``--shard K/N`` covers the list exactly once, and ``citrace merge`` of the shards gives
what a single run gives."""

from __future__ import annotations

from pathlib import Path

import pytest

import miners.run.batch
from miners.cli.main import main
from miners.run.shard import Shard
from tests.miners.batchkit import (
    FakeExecutor,
    fake_list,
    read_jsonl,
    read_problems,
    start_citrace,
)

NAMES = [f"p{n}" for n in range(7)]


def test_shards_cover_the_list_exactly_once() -> None:
    items = list(range(23))
    for count in (1, 2, 3, 5, 30):
        taken = [i for k in range(count) for i, _ in Shard(k, count).select(items)]
        assert sorted(taken) == items
    assert Shard.parse(" 1/4 ") == Shard(1, 4) and str(Shard(1, 4)) == "1/4"
    for bad in ("4/4", "-1/2", "1", "a/b", "0/0"):
        with pytest.raises(ValueError):
            Shard.parse(bad)


def test_a_bad_shard_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["mine", str(tmp_path), "--shard", "2/2"])
    assert exit_.value.code == 2


@pytest.fixture
def fake_executor(monkeypatch: pytest.MonkeyPatch) -> None:
    seeds = iter(range(100))
    monkeypatch.setattr(miners.run.batch, "make_executor",
                        lambda options: FakeExecutor(seed=next(seeds)))


def test_merged_shards_equal_a_single_run(tmp_path: Path, fake_executor: None) -> None:
    listing = fake_list(tmp_path / "projects", NAMES)
    # p1 and p4 make the same task ids and fall in different shards of 3: dedup spans shards
    for name in ("p1", "p4"):
        (tmp_path / "projects" / name / "PROJECT").write_text("same")
    (tmp_path / "projects" / "p5" / "FAIL").write_text("")
    assert main(["mine", str(listing), "-o", str(tmp_path / "single")]) == 0
    shards = [tmp_path / f"shard{k}" for k in range(3)]
    for k, out in enumerate(shards):
        assert main(["mine", str(listing), "-o", str(out), "--shard", f"{k}/3"]) == 0
    assert main(["merge", *map(str, reversed(shards)), "-o", str(tmp_path / "merged")]) == 0
    merged, single = tmp_path / "merged", tmp_path / "single"
    assert (merged / "problems.jsonl").read_bytes() == (single / "problems.jsonl").read_bytes()
    assert (merged / "repos.jsonl").read_bytes() == (single / "repos.jsonl").read_bytes()
    # the merge is a whole run: status reads it, and mining the list again has nothing to do
    assert main(["status", str(merged)]) == 0
    assert main(["mine", str(listing), "-o", str(merged)]) == 0
    assert (merged / "problems.jsonl").read_bytes() == (single / "problems.jsonl").read_bytes()


def test_a_merge_missing_a_shard_says_so_and_can_be_finished(
        tmp_path: Path, fake_executor: None, capsys: pytest.CaptureFixture[str]) -> None:
    listing = fake_list(tmp_path / "projects", NAMES)
    assert main(["mine", str(listing), "-o", str(tmp_path / "single")]) == 0
    assert main(["mine", str(listing), "-o", str(tmp_path / "s0"), "--shard", "0/2"]) == 0
    merged = tmp_path / "merged"
    assert main(["merge", str(tmp_path / "s0"), "-o", str(merged)]) == 1
    assert "3 SPEC(s) of the list are done in no input" in capsys.readouterr().err
    assert main(["mine", str(listing), "-o", str(merged)]) == 0
    assert (merged / "problems.jsonl").read_bytes() == \
        (tmp_path / "single" / "problems.jsonl").read_bytes()


def test_runs_of_different_lists_do_not_merge(tmp_path: Path, fake_executor: None,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mine", str(fake_list(tmp_path / "a", NAMES[:2])), "-o",
                 str(tmp_path / "a-out")]) == 0
    assert main(["mine", str(fake_list(tmp_path / "b", NAMES[2:4])), "-o",
                 str(tmp_path / "b-out")]) == 0
    assert main(["merge", str(tmp_path / "a-out"), str(tmp_path / "b-out"), "-o",
                 str(tmp_path / "m")]) == 2
    assert "different SPEC list" in capsys.readouterr().err
    assert main(["merge", str(tmp_path / "a"), "-o", str(tmp_path / "m")]) == 2


@pytest.mark.slow
def test_two_real_shards_merge_into_the_single_run(tmp_path: Path, reference_run: Path) -> None:
    listing = reference_run.parent / "projects" / "list.txt"
    shards = [tmp_path / f"shard{k}" for k in range(2)]
    # two batch jobs at once, as on two machines
    jobs = [start_citrace("mine", str(listing), "-o", str(out), "--shard", f"{k}/2")
            for k, out in enumerate(shards)]
    for job in jobs:
        output = job.communicate(timeout=600)[0].decode()
        assert job.returncode == 0, output
    assert main(["merge", *map(str, shards), "-o", str(tmp_path / "merged")]) == 0
    merged = tmp_path / "merged"
    assert read_problems(merged / "problems.jsonl") == \
        read_problems(reference_run / "problems.jsonl")
    assert [(r["spec"], r["status"]) for r in read_jsonl(merged / "repos.jsonl")] == \
        [(r["spec"], r["status"]) for r in read_jsonl(reference_run / "repos.jsonl")]
    assert all((merged / r["log"]).is_file() for r in read_jsonl(merged / "repos.jsonl"))


def test_a_merge_keeps_the_logs_and_log_tails_its_lines_name(tmp_path: Path) -> None:
    """Real shard runs (projects with no license fail at acquire under --license, in a
    second): every log and log tail a merged repos.jsonl line names is in the merge."""
    listing = fake_list(tmp_path / "projects", NAMES[:4])
    shards = [tmp_path / f"shard{k}" for k in range(2)]
    for k, out in enumerate(shards):
        assert main(["mine", str(listing), "-o", str(out), "--shard", f"{k}/2",
                     "--license", "MIT"]) == 0
    merged = tmp_path / "merged"
    assert main(["merge", *map(str, shards), "-o", str(merged)]) == 0
    repos = read_jsonl(merged / "repos.jsonl")
    assert [(r["status"], r["cause"]) for r in repos] == [("failed", "license_filtered")] * 4
    for line in repos:
        assert line["log_tail"].startswith("failures/"), line
        source = next(s for s in shards if (s / line["log_tail"]).is_file())
        for name in (line["log"], line["log_tail"]):
            assert (merged / name).read_bytes() == (source / name).read_bytes()
    assert len({r["log_tail"] for r in repos}) == 4


def test_a_run_resumed_or_merged_with_another_license_list_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    listing = fake_list(tmp_path / "projects", NAMES[:2])
    mit, none = tmp_path / "mit", tmp_path / "none"
    assert main(["mine", str(listing), "-o", str(mit), "--shard", "0/2",
                 "--license", "MIT"]) == 0
    for other in ([], ["--license", "MIT,Apache-2.0"]):
        assert main(["mine", str(listing), "-o", str(mit), "--shard", "0/2", *other]) == 2
    err = capsys.readouterr().err
    assert "other settings: license MIT (now not set)" in err
    assert "license MIT (now Apache-2.0,MIT)" in err
    # the same list resumes (nothing left to do), and a run without --license merges not
    assert main(["mine", str(listing), "-o", str(mit), "--shard", "0/2", "--license",
                 "MIT"]) == 0
    assert main(["mine", str(listing), "-o", str(none), "--shard", "1/2", "--license",
                 "Apache-2.0"]) == 0
    assert main(["merge", str(mit), str(none), "-o", str(tmp_path / "merged")]) == 2
    assert f"license MIT (in {none}: Apache-2.0)" in capsys.readouterr().err
