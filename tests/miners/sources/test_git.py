from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from miners.records import Checkout
from miners.sources.git import acquire_git
from miners.specs import parse_spec
from recipes.records import StageError
from tests.miners.sourcekit import Upstream, commit_all, git, write_files


def clone(text: str, dest: Path, **kwargs: Any) -> Checkout:
    return acquire_git(parse_spec(text), dest, **kwargs)


def failure_of(text: str, dest: Path, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(StageError) as caught:
        clone(text, dest, **kwargs)
    assert not dest.exists() or list(dest.iterdir()) == []  # no half-made clone left
    return caught.value.failure.cause, caught.value.failure.message


def test_no_rev_is_a_shallow_clone_of_the_default_branch(upstream: Upstream,
                                                         tmp_path: Path) -> None:
    dest = tmp_path / "src"
    checkout = clone(upstream.url, dest)
    assert (checkout.path, checkout.name) == (str(dest), "acme-widget")
    assert checkout.version == upstream.shas["second"]
    assert checkout.date == "2022-02-03T04:05:06+00:00"
    assert (dest / "VERSION").read_text() == "2\n"
    assert git(dest, "rev-list", "--count", "HEAD") == "1"  # shallow


@pytest.mark.parametrize("rev,commit,content", [
    ("feature", "feature", "feature\n"),  # a branch
    ("v1.0", "first", "1\n"),  # a tag
])
def test_branches_and_tags_are_cloned_shallow(upstream: Upstream, tmp_path: Path, rev: str,
                                              commit: str, content: str) -> None:
    dest = tmp_path / "src"
    checkout = clone(f"{upstream.url}@{rev}", dest)
    assert checkout.version == upstream.shas[commit]
    assert (dest / "VERSION").read_text() == content
    assert git(dest, "rev-list", "--count", "HEAD") == "1"


@pytest.mark.parametrize("length", [40, 7])
def test_a_commit_is_checked_out_from_a_full_clone(upstream: Upstream, tmp_path: Path,
                                                   length: int) -> None:
    dest = tmp_path / "src"
    sha = upstream.shas["first"]
    checkout = clone(f"{upstream.url}@{sha[:length]}", dest)
    assert checkout.version == sha
    assert checkout.date == "2021-01-02T03:04:05+00:00"
    assert (dest / "VERSION").read_text() == "1\n"


def test_gh_specs_go_through_the_users_insteadof_rules(upstream: Upstream, tmp_path: Path,
                                                       git_config: Path) -> None:
    # GitHub is not reachable from here, and need not be: git rewrites the URL itself.
    remote_root = upstream.path.parent.parent
    with git_config.open("a") as config:
        config.write(f'[url "{remote_root.as_uri()}/"]\n\tinsteadOf = https://github.com/\n')
    checkout = clone("gh:acme/widget@v1.0", tmp_path / "src")
    assert checkout.version == upstream.shas["first"]
    assert checkout.spec.url == "https://github.com/acme/widget"


def test_submodules_are_never_fetched(upstream: Upstream, tmp_path: Path,
                                      git_config: Path) -> None:
    library = write_files(tmp_path / "library", {"lib.py": "x = 1\n"})
    git(library, "init", "-q")
    commit_all(library, "lib", "2020-01-01T00:00:00+00:00")
    git(upstream.path, "-c", "protocol.file.allow=always", "submodule", "add", "-q",
        library.as_uri(), "vendor/lib")
    sha = commit_all(upstream.path, "vendor lib", "2024-01-01T00:00:00+00:00")
    # Even a user who asks for recursion everywhere gets no submodule.
    with git_config.open("a") as config:
        config.write("[submodule]\n\trecurse = true\n\tactive = .\n"
                     "[protocol \"file\"]\n\tallow = always\n")
    for rev, dest in (("", tmp_path / "shallow"), (f"@{sha}", tmp_path / "full")):
        clone(upstream.url + rev, dest)
        assert (dest / ".gitmodules").is_file()
        assert list((dest / "vendor" / "lib").iterdir()) == []


@pytest.mark.parametrize("suffix,words", [
    ("@no-such-branch", "has no revision 'no-such-branch'"),
    ("@0123456789abcdef0123456789abcdef01234567", "has no revision"),
])
def test_an_unknown_rev_is_not_found(upstream: Upstream, tmp_path: Path, suffix: str,
                                     words: str) -> None:
    cause, message = failure_of(upstream.url + suffix, tmp_path / "src")
    assert cause == "not_found"
    assert message.startswith(f"{upstream.url}{suffix}: ") and words in message


def test_a_bad_url_is_not_found_and_hides_credentials(tmp_path: Path) -> None:
    cause, message = failure_of((tmp_path / "nothing").as_uri(), tmp_path / "src")
    assert cause == "not_found" and "git clone of file://" in message
    # Port 9 on loopback refuses at once.
    cause, message = failure_of("https://bob:s3cret@127.0.0.1:9/team/repo.git@main",
                                tmp_path / "src")
    assert cause == "not_found"
    assert "s3cret" not in message and "https://***@127.0.0.1:9/team/repo.git" in message


@pytest.fixture
def asks_for_a_password() -> Iterator[str]:
    """An HTTP git server that wants credentials: git would prompt for a username."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="private"')
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/private/repo.git"
    server.shutdown()
    server.server_close()


def test_a_credential_prompt_never_blocks(asks_for_a_password: str, tmp_path: Path) -> None:
    started = time.monotonic()
    cause, message = failure_of(asks_for_a_password, tmp_path / "src", timeout=30)
    assert cause == "not_found"
    assert time.monotonic() - started < 10
    assert "terminal prompts disabled" in message or "Username" in message


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections and never answers: a clone that would hang forever."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/slow/repo.git"
    listener.close()


def test_a_hanging_clone_is_killed_after_the_timeout(silent_server: str, tmp_path: Path) -> None:
    started = time.monotonic()
    cause, message = failure_of(silent_server, tmp_path / "src", timeout=1)
    assert cause == "timeout"
    assert "took longer than 1 s" in message
    assert time.monotonic() - started < 10


def test_a_busy_destination_is_refused(upstream: Upstream, tmp_path: Path) -> None:
    dest = write_files(tmp_path / "src", {"old.txt": ""})
    with pytest.raises(StageError) as caught:
        clone(upstream.url, dest)
    assert caught.value.failure.cause == "bad_destination"
    assert (dest / "old.txt").exists()
