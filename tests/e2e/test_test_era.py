"""Tests older than the newest commit (issue 16, item 3): a git repository whose tests were
written in 2021, for the pytest of then, and whose last commit, of 2025, touches only the
package. Today's pytest (9) refuses its ``conftest.py``; citrace runs its tests with the
pytest of their era, found two ways: from the history (the test tools resolved as of the
tests' date), and, where that is not possible (pip resolves no dates), from the failed
run's output (the suite run again with the pytest from before the removal)."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

from miners.cli.main import main
from tests.e2e.era_project import PACKAGE_COMMIT, TESTS_COMMIT
from tests.miners.sourcekit import commit_all, git, write_files

TESTS_WRITTEN = "2021-03-01T12:00:00+00:00"
PACKAGE_CHANGED = "2025-06-01T12:00:00+00:00"


@pytest.fixture
def repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("GIT_AUTHOR", "GIT_COMMITTER"):
        monkeypatch.setenv(f"{name}_NAME", "Era Test")
        monkeypatch.setenv(f"{name}_EMAIL", "era@example.com")
    repo = tmp_path / "shouty"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    write_files(repo, {name: textwrap.dedent(text).lstrip("\n")
                       for name, text in TESTS_COMMIT.items()})
    commit_all(repo, "tests of their day", TESTS_WRITTEN)
    write_files(repo, {name: textwrap.dedent(text).lstrip("\n")
                       for name, text in PACKAGE_COMMIT.items()})
    commit_all(repo, "only the package", PACKAGE_CHANGED)
    return repo


def _mine(repo: Path, out: Path, *options: str) -> tuple[dict[str, Any], str]:
    assert main(["mine", repo.as_uri(), "-o", str(out), *options]) == 0
    [result] = [json.loads(line) for line in (out / "repos.jsonl").read_text().splitlines()]
    log = (out / result["log"]).read_text() if result["log"] else ""
    return result, log


def _pytests_installed(log: str) -> list[tuple[int, ...]]:
    """The pytest versions uv and pip said they installed, in order."""
    found = re.findall(r"(?:\+ pytest==|Successfully installed .*?\bpytest-)(\d+(?:\.\d+)+)",
                       log)
    return [tuple(int(part) for part in version.split(".")) for version in found]


@pytest.mark.slow
def test_the_test_tools_are_resolved_as_of_the_tests(repository: Path, tmp_path: Path) -> None:
    result, log = _mine(repository, tmp_path / "out", "--installer", "uv")
    assert result["status"] == "ok", result
    assert result["as_of"] == "2025-06-01T12:00:00Z"
    # The tests' date, or the day packages caught up with the interpreter when later.
    assert "2021-03-01T12:00:00Z" <= result["tests_as_of"] < result["as_of"]
    assert result["test_runner_pin"] == ""  # it needed no second run
    assert result["counts"]["tests_passed"] == 4 and result["counts"]["calls_recorded"] > 0
    assert _pytests_installed(log) and all(v < (9,) for v in _pytests_installed(log))


@pytest.mark.slow
def test_a_suite_refused_by_todays_pytest_runs_again_with_the_pytest_before(
        repository: Path, tmp_path: Path) -> None:
    result, log = _mine(repository, tmp_path / "out", "--installer", "pip")
    assert result["status"] == "ok", result
    assert result["test_runner_pin"].startswith("pytest<9: the tests use py.path arguments")
    assert "Argument(s) {'path'} are declared in the hookimpl" in log  # the first run
    installed = _pytests_installed(log)
    assert installed[0] >= (9,) and installed[-1] < (9,)
    assert result["counts"]["tests_passed"] == 4 and result["counts"]["calls_recorded"] > 0
    problems = [json.loads(line) for line in (tmp_path / "out" / "problems.jsonl")
                .read_text().splitlines()]
    assert problems and {p["entry_point"] for p in problems} <= {"shout", "whisper"}
