from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from miners.cli.main import main
from miners.sources import acquire
from miners.sources.cache import Cache, CacheConfigError, file_sha256, parse_size
from miners.specs import parse_spec
from tests.miners.sourcekit import FakeIndex, Upstream, make_sdist, sha256_of


def fetch_all(index: FakeIndex, specs: list[str], work: Path) -> list[bool]:
    """Acquire each SPEC into a fresh directory; whether each came from the cache."""
    found = []
    for number, text in enumerate(specs):
        checkout = acquire(parse_spec(text), work / str(number))
        assert Path(checkout.path, "PKG-INFO").is_file()
        found.append(checkout.from_cache)
    return found


def test_a_second_run_over_the_same_list_downloads_nothing(
        fake_index: FakeIndex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITRACE_PYPI_URL", fake_index.url)
    roman = fake_index.publish("roman", "5.2", make_sdist(tmp_path / "dist", "roman", "5.2"))
    widget = fake_index.publish("widget", "1.0", make_sdist(tmp_path / "dist", "widget", "1.0"))
    specs = ["pypi:roman==5.2", "pypi:widget"]
    assert fetch_all(fake_index, specs, tmp_path / "first") == [False, False]
    metadata = {path: route.hits for path, route in fake_index.routes.items() if "/pypi/" in path}
    assert fetch_all(fake_index, specs, tmp_path / "second") == [True, True]
    assert roman is not None and widget is not None
    assert (roman.hits, widget.hits) == (1, 1)  # the file host was asked once per file
    # The pinned release was remembered; the unpinned one had to ask which is the latest.
    assert fake_index.routes["/pypi/roman/json"].hits == metadata["/pypi/roman/json"]
    assert fake_index.routes["/pypi/widget/json"].hits == metadata["/pypi/widget/json"] + 1


def test_a_damaged_entry_is_noticed_and_downloaded_again(
        fake_index: FakeIndex, tmp_path: Path, download_cache: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITRACE_PYPI_URL", fake_index.url)
    sdist = make_sdist(tmp_path / "dist", "roman", "5.2")
    route = fake_index.publish("roman", "5.2", sdist)
    assert fetch_all(fake_index, ["pypi:roman"], tmp_path / "first") == [False]
    entry = download_cache / "archives" / f"{sha256_of(sdist)}.tar.gz"
    entry.write_bytes(entry.read_bytes()[:100])  # torn, as by a crash or a full disk
    assert fetch_all(fake_index, ["pypi:roman"], tmp_path / "second") == [False]
    assert route is not None and route.hits == 2
    assert file_sha256(entry) == sha256_of(sdist)  # repaired by the new download
    assert fetch_all(fake_index, ["pypi:roman"], tmp_path / "third") == [True]


def test_a_pinned_commit_comes_from_the_cache_without_its_repository(
        upstream: Upstream, tmp_path: Path) -> None:
    sha = upstream.shas["first"]
    first = acquire(parse_spec(f"{upstream.url}@{sha}"), tmp_path / "one")
    assert not first.from_cache
    moved = upstream.path.rename(upstream.path.with_name("moved"))  # unreachable now
    second = acquire(parse_spec(f"{upstream.url}@{sha}"), tmp_path / "two")
    assert (second.from_cache, second.version, second.date) == (True, sha, first.date)
    assert (tmp_path / "two" / "VERSION").read_text() == "1\n"
    assert (tmp_path / "two" / ".git").is_dir()  # tools like setuptools-scm still work
    moved.rename(upstream.path)


def test_a_branch_or_tag_is_looked_up_then_taken_from_the_cache(upstream: Upstream,
                                                                tmp_path: Path) -> None:
    for rev, commit in (("v1.0", "first"), ("feature", "feature")):
        first = acquire(parse_spec(f"{upstream.url}@{rev}"), tmp_path / f"{rev}-1")
        second = acquire(parse_spec(f"{upstream.url}@{rev}"), tmp_path / f"{rev}-2")
        assert (first.from_cache, second.from_cache) == (False, True)
        assert first.version == second.version == upstream.shas[commit]
    # The branch moves on: its new commit is not in the cache, so it is cloned.
    (upstream.path / "VERSION").write_text("3\n")
    subprocess.run(["git", "commit", "-qam", "third"], cwd=upstream.path, check=True)
    moved = acquire(parse_spec(upstream.url), tmp_path / "main")
    assert not moved.from_cache and (tmp_path / "main" / "VERSION").read_text() == "3\n"


def _store(cache: Cache, directory: Path, number: int) -> str:
    blob = directory / f"blob{number}.tar.gz"
    blob.write_bytes(bytes([number]) * 1000)
    sha = file_sha256(blob)
    cache.put_archive(blob, sha, ".tar.gz")
    return sha


def test_least_recently_used_entries_go_beyond_the_size_bound(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache", max_bytes=3500)
    shas = [_store(cache, tmp_path, number) for number in range(3)]  # 3000 bytes: they fit
    for sha, age in zip(shas, (90, 80, 70), strict=True):
        os.utime(cache.archive_path(sha, ".tar.gz"), (time.time() - age,) * 2)
    assert cache.take_archive(shas[0], ".tar.gz", tmp_path / "used.tar.gz")  # now the newest
    shas.append(_store(cache, tmp_path, 3))  # 4000 bytes: the least recently used must go
    kept = {p.name.removesuffix(".tar.gz") for p in (tmp_path / "cache" / "archives").iterdir()}
    assert kept == {shas[0], shas[2], shas[3]}
    assert cache.total_bytes() == 3000


def test_concurrent_processes_share_one_entry(tmp_path: Path) -> None:
    blob = tmp_path / "blob.tar.gz"
    blob.write_bytes(os.urandom(300_000))
    sha = file_sha256(blob)
    script = (
        "import sys; from pathlib import Path; from miners.sources.cache import Cache\n"
        "cache = Cache(Path(sys.argv[1]))\n"
        "for i in range(15):\n"
        "    out = Path(sys.argv[3]) / f'{i}.tar.gz'\n"
        "    if not cache.take_archive(sys.argv[2], '.tar.gz', out):\n"
        "        cache.put_archive(Path(sys.argv[4]), sys.argv[2], '.tar.gz')\n"
        "    else:\n"
        "        assert out.read_bytes() == Path(sys.argv[4]).read_bytes()\n")
    procs = []
    for number in range(4):
        out = tmp_path / f"out{number}"
        out.mkdir()
        procs.append(subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "cache"),
                                       sha, str(out), str(blob)]))
    assert [proc.wait(timeout=60) for proc in procs] == [0, 0, 0, 0]
    archives = tmp_path / "cache" / "archives"
    assert [p.name for p in archives.iterdir()] == [f"{sha}.tar.gz"]  # no temp file left over
    assert file_sha256(archives / f"{sha}.tar.gz") == sha


def test_the_cache_is_configured_by_the_environment(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITRACE_CACHE_DIR", str(tmp_path / "c"))
    monkeypatch.setenv("CITRACE_CACHE_MAX_BYTES", "2G")
    assert Cache.from_environment() == Cache(tmp_path / "c", 2_000_000_000)
    assert parse_size("5000") == 5000 and parse_size("1.5M") == 1_500_000
    monkeypatch.setenv("CITRACE_CACHE_MAX_BYTES", "0")
    assert not Cache.from_environment().enabled
    with pytest.raises(CacheConfigError, match="CITRACE_CACHE_MAX_BYTES"):
        parse_size("lots")


def test_fetch_says_whether_it_came_from_the_cache(
        fake_index: FakeIndex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CITRACE_PYPI_URL", fake_index.url)
    fake_index.publish("roman", "5.2", make_sdist(tmp_path / "dist", "roman", "5.2"))
    printed = []
    for name in ("a", "b"):
        assert main(["fetch", "pypi:roman==5.2", "-o", str(tmp_path / name)]) == 0
        printed.append(json.loads(capsys.readouterr().out))
    assert [p["from_cache"] for p in printed] == [False, True]
    assert printed[0]["sha256"] == printed[1]["sha256"]
