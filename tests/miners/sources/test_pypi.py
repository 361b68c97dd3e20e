from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from miners.records import Checkout
from miners.sources.pypi import acquire_pypi
from miners.specs import parse_spec
from recipes.records import StageError
from tests.miners.sourcekit import FakeIndex, make_sdist, sha256_of


def fetch(index: FakeIndex, text: str, dest: Path, **kwargs: Any) -> Checkout:
    return acquire_pypi(parse_spec(text), dest, index_url=index.url, retry_delay=0.01, **kwargs)


def failure_of(index: FakeIndex, text: str, dest: Path) -> tuple[str, str]:
    with pytest.raises(StageError) as caught:
        fetch(index, text, dest)
    return caught.value.failure.cause, caught.value.failure.message


def test_the_latest_sdist_is_downloaded_verified_and_extracted(fake_index: FakeIndex,
                                                              tmp_path: Path) -> None:
    old = make_sdist(tmp_path / "dist", "roman", "5.1")
    new = make_sdist(tmp_path / "dist", "roman", "5.2", {"tests/test_roman.py": "ok = 1\n"})
    fake_index.publish("roman", "5.1", old)
    fake_index.publish("roman", "5.2", new, info={"license": "ZPL-2.1"})
    dest = tmp_path / "work" / "src"
    checkout = fetch(fake_index, "pypi:roman", dest)
    assert Path(checkout.path) == dest / "roman-5.2"
    assert (dest / "roman-5.2" / "tests" / "test_roman.py").read_text() == "ok = 1\n"
    assert (checkout.name, checkout.version, checkout.license) == ("roman", "5.2", "ZPL-2.1")
    assert (checkout.license_source, checkout.from_cache) == ("pypi:license", False)
    assert checkout.sha256 == sha256_of(new)
    assert checkout.date == "2024-05-06T07:08:09.123456Z"
    assert sorted(p.name for p in dest.parent.iterdir()) == ["src"]  # download removed


def test_a_pinned_version_is_taken_and_the_name_canonicalised(fake_index: FakeIndex,
                                                              tmp_path: Path) -> None:
    for version in ("1.0", "2.0"):
        fake_index.publish("Acme_Widget", version,
                           make_sdist(tmp_path / "dist", "acme_widget", version),
                           absolute_url=True)
    checkout = fetch(fake_index, "pypi:Acme_Widget==1.0.0", tmp_path / "src")  # 1.0.0 == 1.0
    assert (checkout.name, checkout.version) == ("acme-widget", "1.0")
    assert Path(checkout.path).name == "acme_widget-1.0"


@pytest.mark.parametrize("text,expected", [
    ("pypi:roman>=5,<6", "5.2"),  # 6.0 is out of range; 5.3rc1 is a pre-release
    ("pypi:roman<5.2", "5.1"),
    ("pypi:roman~=5.0", "5.2"),
    ("pypi:roman==5.*", "5.2"),
    ("pypi:roman>=5.3rc1,<6", "5.3rc1"),  # a range naming a pre-release admits them
    ("pypi:roman>=4", "6.0"),
])
def test_a_version_range_takes_the_newest_release_in_it(fake_index: FakeIndex, tmp_path: Path,
                                                        text: str, expected: str) -> None:
    for version in ("5.1", "5.2", "5.3rc1", "6.0"):
        fake_index.publish("roman", version, make_sdist(tmp_path / "dist", "roman", version))
    checkout = fetch(fake_index, text, tmp_path / "src")
    assert checkout.version == expected
    assert Path(checkout.path).name == f"roman-{expected}"


def test_a_range_skips_releases_without_an_sdist(fake_index: FakeIndex, tmp_path: Path) -> None:
    fake_index.publish("roman", "5.1", make_sdist(tmp_path / "dist", "roman", "5.1"))
    fake_index.publish("roman", "5.2", None)  # wheels only
    assert fetch(fake_index, "pypi:roman>=5", tmp_path / "src").version == "5.1"
    cause, message = failure_of(fake_index, "pypi:roman>=5.2", tmp_path / "other")
    assert cause == "not_found" and "no release in >=5.2 has a source distribution" in message


def test_the_version_endpoint_is_preferred_when_the_index_has_it(fake_index: FakeIndex,
                                                                 tmp_path: Path) -> None:
    sdist = make_sdist(tmp_path / "dist", "roman", "4.0")
    fake_index.publish("roman", "4.0", sdist)
    fake_index.publish("roman", "5.2", make_sdist(tmp_path / "dist", "roman", "5.2"),
                       info={"license": "ZPL-2.1"})
    files = fake_index.projects["roman"]["releases"]["4.0"]
    for file in files:  # one level deeper than the project document
        file["url"] = "../" + file["url"]
    version_doc = {"info": {"name": "roman", "version": "4.0", "license": "Python"},
                   "urls": files}
    fake_index.route("/pypi/roman/4.0/json", json.dumps(version_doc).encode())
    checkout = fetch(fake_index, "pypi:roman==4.0", tmp_path / "src")
    # 4.0's own license: "Python" alone names no SPDX license, so it stays marked as such.
    assert (checkout.version, checkout.license) == ("4.0", "unrecognised: Python")


@pytest.mark.parametrize("text,cause,words", [
    ("pypi:nothing-here", "not_found", "the index has no project 'nothing-here'"),
    ("pypi:roman==9.9", "not_found", "there is no release '9.9' (latest is 5.2)"),
    ("pypi:wheelonly", "no_sdist", "release 1.0 has no source distribution"),
])
def test_what_is_not_there_is_named(fake_index: FakeIndex, tmp_path: Path, text: str,
                                    cause: str, words: str) -> None:
    fake_index.publish("roman", "5.2", make_sdist(tmp_path / "dist", "roman", "5.2"))
    fake_index.publish("wheelonly", "1.0", None)
    got_cause, message = failure_of(fake_index, text, tmp_path / "src")
    assert got_cause == cause
    assert message.startswith(f"{text}: ") and words in message


def test_a_wrong_checksum_is_refused_and_nothing_is_kept(fake_index: FakeIndex,
                                                        tmp_path: Path) -> None:
    sdist = make_sdist(tmp_path / "dist", "roman", "5.2")
    fake_index.publish("roman", "5.2", sdist, sha256="0" * 64)
    work = tmp_path / "work"
    cause, message = failure_of(fake_index, "pypi:roman", work / "src")
    assert cause == "checksum_mismatch"
    assert sha256_of(sdist) in message and "0" * 64 in message
    assert list(work.iterdir()) == []


def test_transient_server_errors_are_retried(fake_index: FakeIndex, tmp_path: Path) -> None:
    route = fake_index.publish("roman", "5.2", make_sdist(tmp_path / "dist", "roman", "5.2"),
                               failures=2)
    checkout = fetch(fake_index, "pypi:roman", tmp_path / "src")
    assert route is not None and route.hits == 3
    assert checkout.version == "5.2"


def test_a_server_that_keeps_failing_gives_up_after_three_tries(fake_index: FakeIndex,
                                                                tmp_path: Path) -> None:
    route = fake_index.publish("roman", "5.2", make_sdist(tmp_path / "dist", "roman", "5.2"),
                               failures=-1)
    started = time.monotonic()
    cause, message = failure_of(fake_index, "pypi:roman", tmp_path / "src")
    assert route is not None and route.hits == 3
    assert cause == "network"
    assert "failed 3 times (HTTP 500)" in message
    assert time.monotonic() - started < 5  # backoff 0.01 s, 0.02 s


def test_the_json_api_is_retried_too_but_not_a_404(fake_index: FakeIndex,
                                                   tmp_path: Path) -> None:
    fake_index.publish("roman", "5.2", make_sdist(tmp_path / "dist", "roman", "5.2"))
    fake_index.routes["/pypi/roman/json"].failures = 1
    assert fetch(fake_index, "pypi:roman", tmp_path / "src").version == "5.2"
    assert fake_index.routes["/pypi/roman/json"].hits == 2
    fake_index.route("/pypi/gone/json", b"", status=404)
    failure_of(fake_index, "pypi:gone", tmp_path / "other")
    assert fake_index.routes["/pypi/gone/json"].hits == 1


def test_an_unreachable_index_is_a_network_failure(tmp_path: Path) -> None:
    spec = parse_spec("pypi:roman")
    with pytest.raises(StageError) as caught:
        # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
        acquire_pypi(spec, tmp_path / "src", index_url="http://user:pw@127.0.0.1:9",
                     retry_delay=0.01)
    assert caught.value.failure.cause == "network"
    assert "pw@" not in caught.value.failure.message


def test_the_index_comes_from_the_environment(fake_index: FakeIndex, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    fake_index.publish("roman", "5.2", make_sdist(tmp_path / "dist", "roman", "5.2"))
    monkeypatch.setenv("CITRACE_PYPI_URL", fake_index.url + "/")
    assert acquire_pypi(parse_spec("pypi:roman"), tmp_path / "src").version == "5.2"


@pytest.mark.network
def test_roman_from_the_real_pypi(tmp_path: Path) -> None:
    checkout = acquire_pypi(parse_spec("pypi:roman==5.2"), tmp_path / "src")
    assert (checkout.name, checkout.version) == ("roman", "5.2")
    assert Path(checkout.path).name == "roman-5.2"
    assert (Path(checkout.path) / "PKG-INFO").is_file()
    assert len(checkout.sha256) == 64 and checkout.date.startswith("20")
