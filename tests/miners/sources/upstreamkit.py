"""A small released project whose sdist leaves its tests in the repository (issue 16, item
9): the repository (tag ``v1.0.0``, then a later commit), the sdist built from the tag
without ``tests/``, and the ``insteadOf`` rule that makes ``https://github.com/someone/proj``
that repository."""

from __future__ import annotations

import io
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path

from tests.miners.batchkit import BACKEND
from tests.miners.sourcekit import commit_all, git, write_files

REPOSITORY = "https://github.com/someone/proj"

PYPROJECT = """\
[build-system]
requires = []
build-backend = "_backend"
backend-path = ["."]

[project]
name = "proj"
version = "1.0.0"
"""
MODULE = '''\
def clamp(value, low, high):
    """``value`` held between ``low`` and ``high``."""
    return max(low, min(value, high))


def initials(name):
    """The first letter of each word of ``name``, upper case."""
    return "".join(word[0].upper() for word in name.split())
'''
TESTS = """\
from proj import clamp, initials


def test_clamp():
    assert clamp(5, 0, 3) == 3
    assert clamp(-2, 0, 3) == 0
    assert clamp(2, 0, 3) == 2


def test_initials():
    assert initials("ada king lovelace") == "AKL"
"""
# Added after the release: it tests a function 1.0.0 does not have, so a run of the
# repository's newest tests against the release would fail.
LATER_TESTS = "from proj import triple\n\n\ndef test_triple():\n    assert triple(2) == 6\n"
TOX = ("[tox]\nenvlist = py3\n\n[testenv]\npackage = editable\ndeps = pytest\n"
       "commands = pytest tests\n")


@dataclass(frozen=True)
class Released:
    remote_root: Path  # what https://github.com/ stands for
    repository: Path
    sdist: Path
    tag_commit: str


def released_project(base: Path, *, tag: str = "v1.0.0",
                     pkg_info_urls: tuple[str, ...] = (f"Source, {REPOSITORY}",)) -> Released:
    """The repository at ``base/remote/someone/proj`` and the sdist ``proj-1.0.0.tar.gz``."""
    repository = base / "remote" / "someone" / "proj"
    repository.mkdir(parents=True)
    git(repository, "init", "-q")
    write_files(repository, {"pyproject.toml": PYPROJECT, "proj/__init__.py": MODULE,
                             "tests/test_proj.py": TESTS, "tox.ini": TOX,
                             "README.md": "proj\n"})
    shutil.copyfile(BACKEND, repository / "_backend.py")
    tag_commit = commit_all(repository, "release 1.0.0", "2024-01-02T03:04:05+00:00")
    git(repository, "tag", tag)
    write_files(repository, {"tests/test_later.py": LATER_TESTS})
    commit_all(repository, "a test for what comes next", "2024-02-03T04:05:06+00:00")
    pkg_info = "Metadata-Version: 2.1\nName: proj\nVersion: 1.0.0\n" + "".join(
        f"Project-URL: {line}\n" for line in pkg_info_urls) + "\nA project.\n"
    members = {"PKG-INFO": pkg_info.encode()}
    for name in ("pyproject.toml", "_backend.py", "proj/__init__.py", "README.md"):
        members[name] = (repository / name).read_bytes()
    sdist = base / "dist" / "proj-1.0.0.tar.gz"
    sdist.parent.mkdir(parents=True)
    with tarfile.open(sdist, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(f"proj-1.0.0/{name}")
            info.size, info.mode = len(data), 0o644
            archive.addfile(info, io.BytesIO(data))
    return Released(base / "remote", repository, sdist, tag_commit)


def redirect_github(git_config: Path, remote_root: Path) -> None:
    """``https://github.com/OWNER/REPO`` is ``remote_root/OWNER/REPO``, for git only."""
    with git_config.open("a") as config:
        config.write(f'[url "{remote_root.as_uri()}/"]\n\tinsteadOf = https://github.com/\n')
