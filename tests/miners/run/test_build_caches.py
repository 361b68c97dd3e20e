"""The bound on the build caches: uv's cache is trimmed by uv itself when nothing uses it,
left alone while something does; pip's is only measured; a bad bound is refused."""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path

import pytest

import miners.run.batch
from miners.cli.main import main
from miners.run import build_caches
from miners.run.build_caches import bound_build_caches, tree_size
from recipes.runners.installers import uv_binary
from tests.miners.batchkit import FakeExecutor, fake_list

pytestmark = pytest.mark.skipif(uv_binary() is None, reason="needs uv")


@pytest.fixture
def caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Build caches of the test's own (``$CITRACE_BUILD_CACHE_DIR``), laid out as uv lays
    its cache out: an archive nothing refers to (``uv cache prune`` removes it), a bucket of
    an older uv (removed too), and an index page (kept by prune, removed by clean)."""
    root = tmp_path / "build-caches"
    monkeypatch.setenv("CITRACE_BUILD_CACHE_DIR", str(root))
    uv = root / "uv"
    _fill(uv / "archive-v0" / "Zx81dangling" / "pkg" / "__init__.py", 300_000)
    _fill(uv / "wheels-v0" / "pypi" / "old.whl", 100_000)
    _fill(uv / "simple-v28" / "pypi" / "requests.rkyv", 50_000)
    (uv / ".lock").touch(mode=0o666)
    _fill(root / "pip" / "http-v2" / "a" / "entry", 20_000)
    return root


def _fill(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(size))


def test_under_the_bound_nothing_is_removed_and_the_check_is_not_repeated_soon(
        caches: Path) -> None:
    before = tree_size(caches / "uv")
    assert before == 450_000
    outcome = bound_build_caches(1_000_000)
    assert (outcome.action, outcome.uv_before, outcome.uv_after, outcome.pip) == \
        ("checked", before, before, 20_000)
    assert bound_build_caches(1).action == "skipped"  # measured a moment ago
    assert tree_size(caches / "uv") == before


def test_over_the_bound_uv_prunes_then_cleans_what_it_must(caches: Path) -> None:
    outcome = bound_build_caches(200_000)  # prune leaves 50 KB of uv's + 20 KB of pip's
    assert (outcome.action, outcome.uv_after) == ("pruned", 50_000)
    assert (caches / "uv" / "simple-v28" / "pypi" / "requests.rkyv").is_file()
    outcome = bound_build_caches(60_000, force=True)  # 70 KB is still too much: clean
    assert (outcome.action, outcome.uv_after) == ("cleaned", 0)
    assert (caches / "uv" / ".lock").exists()  # uv's lock stays, for the processes to come
    assert (caches / "pip" / "http-v2" / "a" / "entry").is_file()  # pip's is never touched


def test_a_cache_in_use_is_left_for_a_later_run(caches: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    with open(caches / "uv" / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_SH)  # what every uv process holds while it works
        with caplog.at_level(logging.INFO, logger="citrace"):
            outcome = bound_build_caches(1, force=True)
    assert outcome.action == "in_use" and tree_size(caches / "uv") == 450_000
    assert "left for a later run" in caplog.text
    assert "pip takes no lock" in caplog.text  # over the bound on its own: said, not done


def test_citrace_mine_bounds_the_caches_and_refuses_a_bad_bound(
        caches: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(miners.run.batch, "make_executor", lambda options: FakeExecutor())
    listing = fake_list(tmp_path / "projects", ["p0", "p1"])
    monkeypatch.setenv(build_caches.MAX_BYTES_VARIABLE, "200K")
    assert main(["mine", str(listing), "-o", str(tmp_path / "out")]) == 0
    assert tree_size(caches / "uv") == 50_000
    monkeypatch.setenv(build_caches.MAX_BYTES_VARIABLE, "lots")
    assert main(["mine", str(listing), "-o", str(tmp_path / "out")]) == 2
    assert "$CITRACE_BUILD_CACHE_MAX_BYTES='lots' is not a size" in capsys.readouterr().err
