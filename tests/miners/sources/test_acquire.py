from __future__ import annotations

import socket
from pathlib import Path

import pytest

from miners.records import Spec
from miners.sources import acquire
from miners.specs import parse_spec
from recipes.records import StageError
from tests.miners.sourcekit import Upstream, make_sdist, sha256_of, write_files


def test_a_local_archive_is_extracted_and_named_from_pkg_info(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    sdist = make_sdist(tmp_path / "downloads", "Text_Kit", "0.3")
    monkeypatch.chdir(tmp_path)
    spec = parse_spec("downloads/Text_Kit-0.3.tar.gz")
    assert spec.kind == "archive"
    checkout = acquire(spec, Path("work/src"))  # a relative dest still gives an absolute path
    assert checkout.path == str(tmp_path / "work" / "src" / "Text_Kit-0.3")
    assert (checkout.name, checkout.version) == ("text-kit", "0.3")
    assert checkout.sha256 == sha256_of(sdist)


def test_a_plain_tarball_falls_back_to_its_file_name(tmp_path: Path) -> None:
    import tarfile

    write_files(tmp_path / "tree", {"code.py": ""})
    archive = tmp_path / "thing-1.2.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(tmp_path / "tree", arcname="thing")
    checkout = acquire(parse_spec(str(archive)), tmp_path / "src")
    assert (checkout.name, checkout.version) == ("thing", "local")


def test_each_kind_reaches_its_source(tmp_path: Path, upstream: Upstream) -> None:
    local = write_files(tmp_path / "proj", {"setup.cfg": "[metadata]\nname = proj\n"})
    assert acquire(parse_spec(str(local)), tmp_path / "a").version == "local"
    assert acquire(parse_spec(upstream.url), tmp_path / "b").version == upstream.shas["second"]


def test_an_unknown_kind_is_a_stage_error(tmp_path: Path) -> None:
    with pytest.raises(StageError) as caught:
        acquire(Spec(raw="svn://x", kind="svn"), tmp_path / "src")
    assert caught.value.failure.cause == "bad_spec"
    assert "svn://x: unknown spec kind 'svn'" in caught.value.failure.message


def test_a_vanished_archive_is_not_found(tmp_path: Path) -> None:
    spec = Spec(raw="gone.zip", kind="archive", url=str(tmp_path / "gone.zip"))
    with pytest.raises(StageError) as caught:
        acquire(spec, tmp_path / "src")
    assert caught.value.failure.cause == "not_found"


def test_tests_cannot_reach_the_internet_by_accident() -> None:
    with pytest.raises(AssertionError, match="mark it @pytest.mark.network"):
        socket.create_connection(("192.0.2.1", 443), timeout=1)
