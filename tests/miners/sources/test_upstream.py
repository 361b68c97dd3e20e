"""Releases whose sdist ships no tests get their repository's tests at the release's tag."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from miners.records import Checkout
from miners.sources.pypi import acquire_pypi
from miners.sources.upstream import (
    copy_tests,
    normalise,
    release_tag,
    repository_urls,
    ships_tests,
)
from miners.specs import parse_spec
from tests.miners.sourcekit import FakeIndex, make_sdist, write_files
from tests.miners.sources.upstreamkit import REPOSITORY, redirect_github, released_project

# --- which repository -----------------------------------------------------------------------


@pytest.mark.parametrize("url,expected", [
    ("https://github.com/someone/proj", REPOSITORY),
    ("http://www.github.com/someone/proj/", REPOSITORY),
    ("https://github.com/someone/proj.git", REPOSITORY),
    ("git+https://github.com/someone/proj", REPOSITORY),
    ("https://github.com/someone/proj/tree/main/src#readme", REPOSITORY),
    ("https://github.com/someone/proj/blob/v1.0/README.md?plain=1", REPOSITORY),
    ("https://gitlab.com/group/sub/proj/-/tree/main", "https://gitlab.com/group/sub/proj"),
    ("https://gitlab.com/group/proj", "https://gitlab.com/group/proj"),
    ("https://bitbucket.org/someone/proj/src/master/", "https://bitbucket.org/someone/proj"),
    ("https://codeberg.org/someone/proj/src/branch/main", "https://codeberg.org/someone/proj"),
    ("https://sr.ht/~someone/proj/", "https://git.sr.ht/~someone/proj"),
    ("https://git.sr.ht/~someone/proj/tree", "https://git.sr.ht/~someone/proj"),
    ("https://git.example.org/team/proj.git", "https://git.example.org/team/proj.git"),
    ("https://github.com/someone", ""),  # a user, not a repository
    ("https://proj.readthedocs.io/", ""),  # not a git host
    ("http://git.example.org/team/proj.git", ""),  # .git elsewhere only over https
    ("https://user:token@github.com/someone/proj", ""),  # credentials are not metadata's
    ("ssh://git@github.com/someone/proj", ""),
    ("UNKNOWN", ""),
])
def test_repository_pages_become_clone_urls(url: str, expected: str) -> None:
    assert normalise(url) == expected


def test_source_labels_come_before_home_pages_and_the_sdist_before_the_index() -> None:
    pkg_info = {"Homepage": "https://github.com/someone/home",
                "Source Code": "https://github.com/someone/proj/tree/main",
                "Documentation": "https://github.com/someone/docs"}
    index = {"Repository": "https://gitlab.com/someone/mirror",
             "Bug Tracker": "https://github.com/someone/bugs/issues",
             "Home-page": "https://proj.example.org/",
             "Code": "https://github.com/someone/proj.git"}
    assert repository_urls(pkg_info, index) == [
        REPOSITORY, "https://gitlab.com/someone/mirror", "https://github.com/someone/home"]
    assert repository_urls({"Funding": "https://github.com/sponsors/x"}) == []


# --- which tag ------------------------------------------------------------------------------


@pytest.mark.parametrize("tags,expected", [
    (["0.9.0", "1.0.0", "v1.0.0"], "v1.0.0"),  # "v" first, wherever it is listed
    (["0.9.0", "1.0.0"], "1.0.0"),
    (["acme-proj-0.9", "acme-proj-1.0.0"], "acme-proj-1.0.0"),
    (["Acme_Proj-1.0.0"], "Acme_Proj-1.0.0"),  # the name as PKG-INFO writes it
    (["acme-proj-v1.0.0"], "acme-proj-v1.0.0"),  # canonical
    (["acme_proj_1.0.0"], "acme_proj_1.0.0"),
    (["release-1.0.0"], "release-1.0.0"),
    (["V1.0.0"], "V1.0.0"),  # case is ignored, the tag's own spelling is kept
    (["v1.0", "v1.1"], "v1.0"),  # equal under PEP 440
    (["1.0.0rc1", "v1.0.1", "other-1.0.0", "1.0.0-docs"], ""),  # none is this release
    ([], ""),
])
def test_the_release_tag_is_picked(tags: list[str], expected: str) -> None:
    assert release_tag(tags, ["Acme_Proj", "acme-proj", "acme_proj"], "1.0.0") == expected


def test_a_legacy_version_is_matched_as_written_only() -> None:
    assert release_tag(["1.0", "1.0.x"], ["proj"], "1.0.x") == "1.0.x"  # no PEP 440 version
    assert release_tag(["1.0", "1.0.0"], ["proj"], "1.0.x") == ""


# --- does the sdist ship tests --------------------------------------------------------------


@pytest.mark.parametrize("files,expected", [
    ({"proj/__init__.py": ""}, False),
    ({"proj/__init__.py": '"""\n>>> 1\n1\n"""\n'}, False),  # doctests are not tests shipped
    ({"proj/__init__.py": "", "conftest.py": ""}, False),  # nor a conftest alone
    ({"proj/__init__.py": "", "tests/README": "run pytest"}, False),  # a folder with no Python
    ({"proj/__init__.py": "", "proj/testing.py": ""}, False),  # a helper module
    ({"proj/__init__.py": "", "tests/test_proj.py": ""}, True),
    ({"proj/__init__.py": "", "testing/check_proj.py": ""}, True),
    ({"proj/__init__.py": "", "proj/tests/__init__.py": ""}, True),
    ({"src/proj/__init__.py": "", "src/proj/core_test.py": ""}, True),
    ({"proj.py": "", "tests.py": ""}, True),
    ({"proj/__init__.py": "", "proj/tests.py": ""}, True),  # cssselect 0.9.1
    ({"proj/__init__.py": "", "proj/test.py": ""}, False),  # as often the project's own
    ({"proj/__init__.py": "", "tests/proj.doctest": ">>> 1\n1\n"}, True),  # python-stdnum
])
def test_which_sdists_ship_tests(tmp_path: Path, files: dict[str, str], expected: bool) -> None:
    assert ships_tests(write_files(tmp_path, files)) is expected


# --- copying --------------------------------------------------------------------------------


def test_tests_and_missing_config_are_copied_but_nothing_the_sdist_has(tmp_path: Path) -> None:
    clone = write_files(tmp_path / "clone", {
        "proj/__init__.py": "NEW = 1\n", "proj/tests/test_core.py": "", "tests/test_a.py": "",
        "tests/data/input.txt": "1\n", "conftest.py": "", "tox.ini": "[tox]\n",
        "setup.cfg": "[metadata]\n", ".github/workflows/ci.yml": "on: push\n",
        "requirements-test.txt": "pytest\n", "other/tests/test_b.py": "",
        ".git/config": "", "docs/conf.py": ""})
    os.symlink("/etc/passwd", clone / "tests" / "data" / "secret")
    os.symlink("input.txt", clone / "tests" / "data" / "alias")
    sdist = write_files(tmp_path / "sdist", {"proj/__init__.py": "OLD = 1\n",
                                             "setup.cfg": "[mine]\n", "tox.ini": "[mine]\n"})
    copied = copy_tests(clone, sdist)
    assert copied == [".github/workflows", "conftest.py", "proj/tests", "requirements-test.txt",
                      "tests"]
    assert (sdist / "proj" / "__init__.py").read_text() == "OLD = 1\n"  # the release's code
    assert (sdist / "tox.ini").read_text() == "[mine]\n"
    assert (sdist / "tests" / "data" / "input.txt").read_text() == "1\n"
    assert os.readlink(sdist / "tests" / "data" / "alias") == "input.txt"
    assert not os.path.lexists(sdist / "tests" / "data" / "secret")  # leaves the clone
    assert not (sdist / "other").exists()  # a folder the release does not have
    assert not (sdist / "docs").exists()


def test_config_alone_is_not_copied(tmp_path: Path) -> None:
    clone = write_files(tmp_path / "clone", {"proj/__init__.py": "", "tox.ini": "[tox]\n"})
    sdist = write_files(tmp_path / "sdist", {"proj/__init__.py": ""})
    assert copy_tests(clone, sdist) == []
    assert not (sdist / "tox.ini").exists()


# --- acquisition ----------------------------------------------------------------------------


def fetch(index: FakeIndex, dest: Path) -> Checkout:
    return acquire_pypi(parse_spec("pypi:proj==1.0.0"), dest, index_url=index.url,
                        retry_delay=0.01)


def test_a_release_without_tests_gets_its_repositorys_tests_at_its_tag(
        fake_index: FakeIndex, tmp_path: Path, git_config: Path) -> None:
    released = released_project(tmp_path)
    redirect_github(git_config, released.remote_root)
    fake_index.publish("proj", "1.0.0", released.sdist)
    checkout = fetch(fake_index, tmp_path / "work" / "src")
    root = Path(checkout.path)
    assert checkout.tests_from == f"{REPOSITORY}@v1.0.0"
    assert checkout.tests_note == (
        f"the sdist ships no tests; added tests, tox.ini from {REPOSITORY}@v1.0.0, "
        f"commit {released.tag_commit}")
    assert (root / "tests" / "test_proj.py").read_text() == \
        (released.repository / "tests" / "test_proj.py").read_text()
    assert not (root / "tests" / "test_later.py").exists()  # committed after the tag
    assert not (root / ".git").exists()
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["src"]  # clone removed
    assert sorted(p.name for p in (tmp_path / "work" / "src").iterdir()) == ["proj-1.0.0"]


def test_the_index_project_urls_are_read_when_pkg_info_names_none(
        fake_index: FakeIndex, tmp_path: Path, git_config: Path) -> None:
    released = released_project(tmp_path, tag="proj-1.0.0", pkg_info_urls=())
    redirect_github(git_config, released.remote_root)
    fake_index.publish("proj", "1.0.0", released.sdist, info={
        "project_urls": {"Documentation": "https://proj.readthedocs.io/",
                         "Homepage": f"{REPOSITORY}/tree/main"}})
    checkout = fetch(fake_index, tmp_path / "src")
    assert checkout.tests_from == f"{REPOSITORY}@proj-1.0.0"
    assert (Path(checkout.path) / "tests" / "test_proj.py").is_file()


def test_a_repository_without_the_tag_leaves_the_release_as_it_is(
        fake_index: FakeIndex, tmp_path: Path, git_config: Path) -> None:
    released = released_project(tmp_path, tag="nightly")
    redirect_github(git_config, released.remote_root)
    fake_index.publish("proj", "1.0.0", released.sdist)
    checkout = fetch(fake_index, tmp_path / "src")
    assert checkout.tests_from == ""
    assert checkout.tests_note == (f"the sdist ships no tests; {REPOSITORY} has no tag for "
                                   "version 1.0.0 (1 tags, none like v1.0.0 or 1.0.0)")
    assert not (Path(checkout.path) / "tests").exists()


def test_an_unreachable_repository_is_a_note_not_a_failure(
        fake_index: FakeIndex, tmp_path: Path, git_config: Path) -> None:
    released = released_project(tmp_path)
    redirect_github(git_config, tmp_path / "nowhere")
    fake_index.publish("proj", "1.0.0", released.sdist)
    checkout = fetch(fake_index, tmp_path / "src")
    assert checkout.tests_from == ""
    assert checkout.tests_note.startswith(
        "the sdist ships no tests; the repository of proj 1.0.0: git ls-remote of "
        f"{REPOSITORY} failed (fatal: ")
    assert (checkout.name, checkout.version) == ("proj", "1.0.0")


def test_no_repository_in_the_metadata_is_noted(fake_index: FakeIndex, tmp_path: Path) -> None:
    released = released_project(tmp_path, pkg_info_urls=("Documentation, https://x.org/",))
    fake_index.publish("proj", "1.0.0", released.sdist,
                       info={"home_page": "https://proj.example.org/"})
    checkout = fetch(fake_index, tmp_path / "src")
    assert (checkout.tests_from, checkout.tests_note) == (
        "", "the sdist ships no tests and its metadata names no repository on a known git host")


def test_an_sdist_with_tests_asks_no_repository(fake_index: FakeIndex, tmp_path: Path,
                                                 git_config: Path) -> None:
    redirect_github(git_config, tmp_path / "nowhere")  # a git call would leave a note
    sdist = make_sdist(tmp_path / "dist", "proj", "1.0.0", {
        "PKG-INFO": "Metadata-Version: 2.1\nName: proj\nVersion: 1.0.0\n"
                    f"Project-URL: Source, {REPOSITORY}\n\n",
        "tests/test_proj.py": "def test_nothing():\n    pass\n"})
    fake_index.publish("proj", "1.0.0", sdist)
    checkout = fetch(fake_index, tmp_path / "src")
    assert (checkout.tests_from, checkout.tests_note) == ("", "")


# --- the whole project ----------------------------------------------------------------------


@pytest.mark.slow
def test_a_release_without_tests_is_mined_with_its_repositorys_tests(
        fake_index: FakeIndex, tmp_path: Path, git_config: Path, batch_env: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from miners.cli.main import main
    from tests.miners.batchkit import read_jsonl

    released = released_project(tmp_path)
    redirect_github(git_config, released.remote_root)
    fake_index.publish("proj", "1.0.0", released.sdist)
    monkeypatch.setenv("CITRACE_PYPI_URL", fake_index.url)
    out = tmp_path / "out"
    assert main(["mine", "pypi:proj==1.0.0", "-o", str(out)]) == 0
    [repo] = read_jsonl(out / "repos.jsonl")
    log = (out / repo["log"]).read_text() if repo.get("log") else ""
    assert repo["status"] == "ok", (repo, log)
    assert (repo["name"], repo["version"]) == ("proj", "1.0.0")
    assert repo["tests_from"] == f"{REPOSITORY}@v1.0.0"
    assert repo["tests_note"].startswith("the sdist ships no tests; added tests, tox.ini from ")
    assert f"[citrace: {repo['tests_note']}]" in log
    assert repo["recipe"] == "tox.ini:py3"  # the repository's tox.ini, which the sdist lacked
    # The repository's two tests ran against the release (not its later test of triple,
    # which the release could not pass) and recorded the release's calls.
    assert repo["counts"]["tests_passed"] == 2 and repo["counts"]["tests_failed"] == 0
    assert repo["counts"]["calls_recorded"] >= 4
    problems = {p["entry_point"]: p for p in read_jsonl(out / "problems.jsonl")}
    assert set(problems) == {"clamp", "initials"}
    assert problems["clamp"]["meta"]["tests"] == ["tests/test_proj.py::test_clamp"]
    assert problems["clamp"]["meta"]["from_doctests"] is False
