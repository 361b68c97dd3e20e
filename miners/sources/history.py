"""When a git checkout's tests last changed: the era of its test tools.

A repository's newest commit may be years younger than its tests (a 2013 ``conftest.py``
in a project whose last commit, in 2025, touched only the package). The pytest of 2025
refuses what the pytest of 2013 accepted, so the test tools are resolved as of the newest
commit that touched a test file, a test configuration or the CI (``TEST_PATHS``), while the
project's other dependencies keep the checkout's date (``recipes.runners.installers``).

``setup.cfg`` and ``pyproject.toml`` are left out although they may hold pytest's
settings: every release changes them (a version, a dependency), so they would date the
tests to the last release. Changes to the CI files say that someone ran the suite then.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import git

# git pathspecs (``:(glob)``: ``**/`` matches any depth, the top too).
TEST_PATHS = tuple(f":(glob){pattern}" for pattern in (
    "**/test/**", "**/tests/**", "**/testing/**", "**/test_*.py", "**/*_test.py",
    "**/*_tests.py", "**/tests.py", "**/conftest.py", "**/pytest.ini", "**/tox.ini",
    "**/noxfile.py", ".travis.yml", ".github/workflows/**", "**/*requirements*test*",
    "**/*test*requirements*",
))
# How deep a shallow clone is made, step by step, to reach the last change of its tests.
# Past the last step the oldest commit fetched bounds the date: the tests are older still.
DEEPEN_STEPS = (50, 500)

Deepen = Callable[[int], bool]  # fetch this many more commits of history; False if it failed


def tests_date(repo: Path, *, deepen: Deepen | None = None) -> str:
    """The commit date (ISO 8601) of the newest commit of HEAD's history that touched a
    test path; "" when none did. In a shallow clone the oldest commit fetched seems to add
    every file, so its date is only a bound: ``deepen`` (when given) fetches more history,
    by ``DEEPEN_STEPS``, until a commit past the boundary is found."""
    try:
        found = _newest_touching(repo)
        for step in (*DEEPEN_STEPS, 0):
            if found is None or found[0] not in _boundary(repo):
                break
            if not step or deepen is None or not deepen(step):
                break  # the boundary's date: the tests are at least that old
            found = _newest_touching(repo)
    except (git.GitError, ValueError, OSError):  # not a repository, no HEAD
        return ""
    return found[1] if found else ""


def _newest_touching(repo: Path) -> tuple[str, str] | None:
    """(sha, commit date) of the newest commit touching ``TEST_PATHS``, or None."""
    line = git.Repo(repo).git.log("-1", "--format=%H %cI", "HEAD", "--", *TEST_PATHS)
    if not line.strip():
        return None
    sha, _, date = line.strip().partition(" ")
    return sha, date


def _boundary(repo: Path) -> set[str]:
    """The commits a shallow clone holds without their parents (none in a full clone)."""
    shallow = Path(git.Repo(repo).git_dir) / "shallow"
    try:
        return set(shallow.read_text(encoding="ascii").split())
    except FileNotFoundError:
        return set()
