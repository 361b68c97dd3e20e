"""``citrace evaluate`` keeps each check as it ends: interrupted, it resumes."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from miners.cli.main import main
from tests.miners.batchkit import start_citrace
from tests.tracer.check.test_evaluate import DOUBLE, read_jsonl, write_jsonl
from tracer.check import journal
from tracer.check.run import CheckResult

SLOW_RIGHT = "    import time\n    time.sleep(0.2)\n    return 2 * x\n"
WRONG = "    return x\n"


def test_a_journal_gives_back_what_it_kept_and_ignores_a_line_cut_short(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl.partial"
    kept = journal.Journal(path, "key-1", {})
    kept.record(3, CheckResult("passed", "passed", 0.25))
    kept.record(0, CheckResult("failed", "failed: AssertionError (test line 2)", 0.5))
    kept.close()
    with path.open("a") as out:
        out.write('{"index": 1, "verdict": "pas')  # a crash in the middle of a line
    assert journal.read(path, "key-1") == {
        3: CheckResult("passed", "passed", 0.25),
        0: CheckResult("failed", "failed: AssertionError (test line 2)", 0.5)}
    assert journal.read(path, "key-2") == {}  # another evaluation's
    assert journal.read(tmp_path / "none.partial", "key-1") == {}
    # Started again over it: what it held stays, the cut line goes, new checks follow.
    again = journal.Journal(path, "key-1", journal.read(path, "key-1"))
    again.record(1, CheckResult("timed out", "timed out", 3.0))
    again.close()
    assert sorted(journal.read(path, "key-1")) == [0, 1, 3]
    assert not path.with_name(path.name + ".new").exists()


def test_the_key_changes_with_the_inputs_and_the_settings(tmp_path: Path) -> None:
    problems = write_jsonl(tmp_path / "problems.jsonl", [DOUBLE])
    samples = write_jsonl(tmp_path / "samples.jsonl", [{"task_id": "toy/double",
                                                        "completion": WRONG}])
    key = journal.evaluation_key((problems, samples), {"timeout": 3.0})
    assert key == journal.evaluation_key((problems, samples), {"timeout": 3.0})
    assert key != journal.evaluation_key((problems, samples), {"timeout": 5.0})
    write_jsonl(samples, [{"task_id": "toy/double", "completion": SLOW_RIGHT}])
    assert key != journal.evaluation_key((problems, samples), {"timeout": 3.0})


@pytest.mark.slow
def test_an_interrupted_evaluation_resumes_with_only_the_samples_left(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    problems = write_jsonl(tmp_path / "problems.jsonl", [DOUBLE])
    completions = [SLOW_RIGHT if n % 3 else WRONG for n in range(12)]
    samples = write_jsonl(tmp_path / "samples.jsonl", [
        {"task_id": "toy/double", "completion": c} for c in completions])
    results = tmp_path / "results.jsonl"
    partial = journal.path_for(results)
    args = ["evaluate", "--problems", str(problems), "--samples", str(samples),
            "-o", str(results), "--workers", "1", "-k", "1"]
    # Ctrl-C once a few checks are done: they are on disk already.
    process = start_citrace(*args)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (
            not partial.exists() or len(partial.read_text().splitlines()) < 4):
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 130, output
    assert b"run the same command again to resume" in output
    assert not results.exists()
    lines = partial.read_text().splitlines()
    kept = [json.loads(line) for line in lines[1:]]
    assert 3 <= len(kept) < len(completions), lines
    # What the journal holds is taken as it is, not checked again: forge one of its verdicts.
    forged = kept[0]["index"]
    kept[0].update(verdict="error", result="error: from the journal")
    partial.write_text("\n".join([lines[0], *(json.dumps(k) for k in kept)]) + "\n")
    capsys.readouterr()
    assert main(args) == 0
    said = capsys.readouterr()
    assert f"resuming: {len(kept)} of {len(completions)} samples were checked before" in said.err
    lines_out = read_jsonl(results)
    assert len(lines_out) == len(completions) and not partial.exists()
    for number, (line, completion) in enumerate(zip(lines_out, completions, strict=True)):
        assert line["completion"] == completion
        if number == forged:
            assert line["result"] == "error: from the journal"
        else:
            assert line["passed"] == (completion == SLOW_RIGHT), line
    # The same command once more: a fresh evaluation (the journal went with the results),
    # and the forged verdict with it.
    assert main(args) == 0
    assert "resuming" not in capsys.readouterr().err
    assert [r["passed"] for r in read_jsonl(results)] == [c == SLOW_RIGHT for c in completions]


def test_a_journal_of_other_samples_is_not_used(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    problems = write_jsonl(tmp_path / "problems.jsonl", [DOUBLE])
    samples = write_jsonl(tmp_path / "samples.jsonl", [
        {"task_id": "toy/double", "completion": "    return 2 * x\n"}])
    results = tmp_path / "results.jsonl"
    stale = journal.Journal(journal.path_for(results), "an older evaluation's key", {})
    stale.record(0, CheckResult("failed", "failed: stale", 0.1))
    stale.close()
    assert main(["evaluate", "--problems", str(problems), "--samples", str(samples),
                 "-o", str(results), "-k", "1"]) == 0
    assert "resuming" not in capsys.readouterr().err
    assert [r["result"] for r in read_jsonl(results)] == ["passed"]
    assert not journal.path_for(results).exists()
