"""Dedup over a whole run: at the final rewrite, across shards in ``citrace merge``, and again
when a finished run is resumed; always the same result as a single run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import miners.run.batch
import tests.miners.batchkit as batchkit
from miners.cli.main import main
from miners.executors import Finished, Task
from miners.records import ProjectResult
from recipes.records import Failure
from tests.miners.batchkit import FakeExecutor, fake_list, read_jsonl
from tracer.records import Problem, ProblemMeta

NAMES = [f"p{n}" for n in range(6)]
LOOP = """\
    out = []
    for item in values:
        if item is None:
            continue
        out.append(str(item).strip().lower())
    out.sort(key=len)
    return [entry for entry in out if entry]
"""


def chain(changed: str = "") -> str:
    """A 20-step chain; ``changed`` rewrites a step near its start (a) or its end (z). a and
    z are each near duplicates of the plain chain; not of each other, as dedup judges them
    (about 0.7 similar, not found by the LSH bands)."""
    steps = [f"    step{i} = compute(step{i - 1}, {i})\n" for i in range(1, 20)]
    if changed:
        at = 2 if changed == "a" else 15
        steps[at] = f"    step{at + 1} = other(step{at}, {changed!r})\n"
    return "    step0 = values\n" + "".join(steps) + "    return step19\n"


# What each project's directory may ask for, in a file named BODY: its second problem's body.
BODIES = {
    "chain": chain(), "chain-a": chain("a"), "chain-z": chain("z"),
    "loop": LOOP,
    "loop-renamed": LOOP.replace("out", "acc").replace("item", "x"),  # exact duplicate
    "loop-edited": LOOP.replace("    out.sort(key=len)\n",
                                "    out.sort(key=len)\n    out.reverse()\n"),  # near
}


def finish(task: Task) -> Finished:
    """Two problems per project: one of its own, and one whose body its BODY file names."""
    directory = Path(task.spec.url)
    if (directory / "FAIL").exists():
        return Finished(task, ProjectResult.failed(task.spec.raw,
                                                   Failure("build", "install_failed", "no")))
    body_file = directory / "BODY"
    bodies = [f"    return {directory.name!r}\n"]
    if body_file.exists():
        bodies.append(BODIES[body_file.read_text().strip()])
    problems = [Problem(task_id=f"citrace/{directory.name}/m.f{n}",
                        prompt=f"def f{n}(values):\n    \"\"\"Doc of {directory.name}.\"\"\"\n",
                        canonical_solution=body, test="def check(candidate):\n    pass\n",
                        entry_point=f"f{n}",
                        meta=ProblemMeta(source=task.spec.raw, version="local", path="m.py",
                                         qualname=f"f{n}", line=1, python="3", ci_file="fake",
                                         n_asserts=1, n_calls=1))
                for n, body in enumerate(bodies)]
    result = ProjectResult(spec=task.spec.raw, status="ok", stage="validate", reason="",
                           name=directory.name, version="local", timings={"total": 1.0},
                           counts={"problems": len(problems)})
    return Finished(task, result, problems)


@pytest.fixture
def fake_executor(monkeypatch: pytest.MonkeyPatch) -> None:
    seeds = iter(range(100))
    monkeypatch.setattr(batchkit, "finish", finish)
    monkeypatch.setattr(miners.run.batch, "make_executor",
                        lambda options: FakeExecutor(seed=next(seeds)))


@pytest.fixture
def listing(tmp_path: Path) -> Path:
    listing = fake_list(tmp_path / "projects", NAMES)
    for name, body in (("p1", "loop"), ("p2", "loop-edited"), ("p4", "loop-renamed")):
        (tmp_path / "projects" / name / "BODY").write_text(body)
    return listing


def ids(out: Path) -> list[str]:
    return [p["task_id"] for p in read_jsonl(out / "problems.jsonl")]


def same_outputs(first: Path, second: Path) -> bool:
    """Same problems, same dedup counts, same problems set aside (their SPEC's finish time,
    which tells a rerun apart, differs from run to run)."""
    def aside(out: Path) -> list[dict[str, object]]:
        return [line["problem"] for line in read_jsonl(out / "duplicates.jsonl")]

    return all((first / name).read_bytes() == (second / name).read_bytes()
               for name in ("problems.jsonl", "dedup.json")) and aside(first) == aside(second)


def test_the_final_rewrite_keeps_the_first_of_each_cluster(
        tmp_path: Path, listing: Path, fake_executor: None,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["mine", str(listing), "-o", str(out)]) == 0
    assert ids(out) == ["citrace/p0/m.f0", "citrace/p1/m.f0", "citrace/p1/m.f1",
                        "citrace/p2/m.f0", "citrace/p3/m.f0", "citrace/p4/m.f0",
                        "citrace/p5/m.f0"]
    clusters = {p["task_id"]: p["meta"]["dedup_cluster"] for p in
                read_jsonl(out / "problems.jsonl")}
    assert clusters["citrace/p1/m.f1"] == {"id": "citrace/p1/m.f1", "size": 3}
    assert clusters["citrace/p0/m.f0"] == {"id": "citrace/p0/m.f0", "size": 1}
    aside = read_jsonl(out / "duplicates.jsonl")
    assert [(a["problem"]["task_id"], a["problem"]["meta"]["dedup_cluster"]) for a in aside] == [
        ("citrace/p2/m.f1", {"id": "citrace/p1/m.f1", "size": 3}),
        ("citrace/p4/m.f1", {"id": "citrace/p1/m.f1", "size": 3})]
    summary = json.loads((out / "dedup.json").read_text())
    assert summary["problems_before_dedup"] == 9 and summary["problems"] == 7
    assert summary["by_spec"] == {"p2": {"dropped_duplicate_near": 1},
                                  "p4": {"dropped_duplicate_exact": 1}}
    capsys.readouterr()
    assert main(["stats", str(out), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["dropped"] == {"duplicate_exact": 1, "duplicate_near": 1}
    # the database agrees: mining again has nothing to repair or redo
    before = (out / "problems.jsonl").read_bytes()
    assert main(["mine", str(listing), "-o", str(out)]) == 0
    assert (out / "problems.jsonl").read_bytes() == before


def test_merged_shards_deduplicate_as_a_single_run(tmp_path: Path, listing: Path,
                                                   fake_executor: None) -> None:
    single = tmp_path / "single"
    assert main(["mine", str(listing), "-o", str(single)]) == 0
    shards = [tmp_path / f"shard{k}" for k in range(2)]
    for k, out in enumerate(shards):
        assert main(["mine", str(listing), "-o", str(out), "--shard", f"{k}/2"]) == 0
    merged = tmp_path / "merged"
    assert main(["merge", *map(str, shards), "-o", str(merged)]) == 0
    assert same_outputs(merged, single)


def test_a_resumed_finished_run_deduplicates_again_as_a_fresh_run_would(
        tmp_path: Path, listing: Path, fake_executor: None) -> None:
    projects = tmp_path / "projects"
    (projects / "p0" / "FAIL").write_text("")
    (projects / "p0" / "BODY").write_text("loop-renamed")
    out = tmp_path / "out"
    assert main(["mine", str(listing), "-o", str(out)]) == 0
    assert "citrace/p1/m.f1" in ids(out)
    (projects / "p0" / "FAIL").unlink()
    assert main(["mine", str(listing), "-o", str(out), "--retry-failed"]) == 0
    fresh = tmp_path / "fresh"
    assert main(["mine", str(listing), "-o", str(fresh)]) == 0
    assert ids(out)[:2] == ["citrace/p0/m.f0", "citrace/p0/m.f1"]
    assert "citrace/p1/m.f1" not in ids(out)
    assert same_outputs(out, fresh)


def test_a_problem_set_aside_comes_back_when_its_cluster_moves(
        tmp_path: Path, listing: Path, fake_executor: None) -> None:
    projects = tmp_path / "projects"
    for name, body in (("p0", "chain-z"), ("p3", "chain"), ("p5", "chain-a")):
        (projects / name / "BODY").write_text(body)
    (projects / "p0" / "FAIL").write_text("")
    out = tmp_path / "out"
    assert main(["mine", str(listing), "-o", str(out)]) == 0
    assert "citrace/p3/m.f1" in ids(out) and "citrace/p5/m.f1" not in ids(out)
    (projects / "p0" / "FAIL").unlink()
    assert main(["mine", str(listing), "-o", str(out), "--retry-failed"]) == 0
    # p0's chain takes p3's away from its cluster; p5's, unlike p3's, is not near p0's
    assert "citrace/p3/m.f1" not in ids(out) and "citrace/p5/m.f1" in ids(out)
    assert main(["mine", str(listing), "-o", str(out)]) == 0  # repair keeps it: claimed
    fresh = tmp_path / "fresh"
    assert main(["mine", str(listing), "-o", str(fresh)]) == 0
    assert same_outputs(out, fresh)
