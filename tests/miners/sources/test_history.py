"""The date of a git checkout's tests: the newest commit that touched them, found in a
shallow clone by fetching more of its history."""

from __future__ import annotations

from pathlib import Path

import pytest

from miners.sources import history
from miners.sources.git import acquire_git
from miners.specs import parse_spec
from tests.miners.sourcekit import commit_all, git, write_files

TESTS_WRITTEN = "2014-05-06T07:08:09+00:00"
CI_TOUCHED = "2016-01-01T00:00:00+00:00"


def _upstream(root: Path, *, package_commits: int) -> Path:
    """Tests written in 2014, the CI touched in 2016, then only the package, up to 2025."""
    repo = write_files(root / "remote", {
        "pyproject.toml": '[project]\nname = "era"\n', "era.py": "X = 0\n",
        "tests/conftest.py": "", "tests/test_era.py": "def test_x():\n    pass\n"})
    git(repo, "init", "-q")
    commit_all(repo, "tests", TESTS_WRITTEN)
    write_files(repo, {".travis.yml": "language: python\n"})
    commit_all(repo, "ci", CI_TOUCHED)
    for number in range(package_commits):
        write_files(repo, {"era.py": f"X = {number + 1}\n"})
        commit_all(repo, f"package {number}", f"2025-01-{number + 1:02d}T00:00:00+00:00")
    return repo


def test_a_shallow_clone_is_deepened_to_the_last_change_of_the_tests(tmp_path: Path) -> None:
    remote = _upstream(tmp_path, package_commits=3)
    checkout = acquire_git(parse_spec(remote.as_uri()), tmp_path / "src")
    assert checkout.date == "2025-01-03T00:00:00+00:00"
    assert checkout.tests_date == CI_TOUCHED
    full = acquire_git(parse_spec(f"{remote.as_uri()}@{checkout.version}"), tmp_path / "full")
    assert full.tests_date == CI_TOUCHED


def test_tests_unchanged_past_the_last_step_are_dated_by_the_oldest_commit_fetched(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(history, "DEEPEN_STEPS", (1,))
    checkout = acquire_git(parse_spec(_upstream(tmp_path, package_commits=4).as_uri()),
                           tmp_path / "src")
    # HEAD and one commit more: the tests are at least as old as the second newest.
    assert checkout.tests_date == "2025-01-03T00:00:00+00:00"
    assert git(tmp_path / "src", "rev-list", "--count", "HEAD") == "2"


def test_a_project_without_tests_has_no_tests_date(tmp_path: Path) -> None:
    repo = write_files(tmp_path / "remote", {"setup.py": "", "pkg/__init__.py": ""})
    git(repo, "init", "-q")
    commit_all(repo, "only code", "2020-01-01T00:00:00+00:00")
    checkout = acquire_git(parse_spec(repo.as_uri()), tmp_path / "src")
    assert (checkout.date, checkout.tests_date) == ("2020-01-01T00:00:00+00:00", "")


def test_a_failed_fetch_leaves_the_boundarys_date(tmp_path: Path) -> None:
    remote = _upstream(tmp_path, package_commits=2)
    git(tmp_path, "clone", "-q", "--depth=1", remote.as_uri(), "shallow")
    assert history.tests_date(tmp_path / "shallow",
                              deepen=lambda commits: False) == "2025-01-02T00:00:00+00:00"
    assert history.tests_date(tmp_path / "nowhere") == ""  # not a repository
