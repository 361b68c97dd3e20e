"""Fixtures for acquisition tests: real git repositories, real sdists, a real HTTP index.

Nothing here reaches the internet: an autouse guard fails any test that connects to a
non-loopback address unless it is marked ``@pytest.mark.network``, and git runs with an
isolated global configuration so the developer's own settings cannot leak into a test.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.miners.sourcekit import FakeIndex, Upstream, commit_all, git, write_files

LOOPBACK = {"127.0.0.1", "::1", "localhost"}


@pytest.fixture(autouse=True)
def _no_network(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.node.get_closest_marker("network"):
        return
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in LOOPBACK:
            raise AssertionError(f"test reached {address}; mark it @pytest.mark.network")
        real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(autouse=True)
def download_cache(tmp_path_factory: pytest.TempPathFactory,
                   monkeypatch: pytest.MonkeyPatch) -> Path:
    """A download cache of the test's own: the machine's must not serve (or count) here."""
    path = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("CITRACE_CACHE_DIR", str(path))
    monkeypatch.delenv("CITRACE_CACHE_MAX_BYTES", raising=False)
    return path


# --- git ------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def git_config(tmp_path_factory: pytest.TempPathFactory,
               monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated global git config (append rules to it); system config is switched off."""
    path = tmp_path_factory.mktemp("gitconfig") / "config"
    path.write_text("[user]\n\tname = Test\n\temail = test@example.com\n"
                    "[init]\n\tdefaultBranch = main\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(path))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("GIT_CONFIG_COUNT", "GIT_DIR", "GIT_WORK_TREE", "GIT_CONFIG_PARAMETERS"):
        monkeypatch.delenv(name, raising=False)
    return path


@pytest.fixture
def upstream(tmp_path: Path) -> Upstream:
    repo = tmp_path / "remote" / "acme" / "widget"
    repo.mkdir(parents=True)
    git(repo, "init", "-q")
    write_files(repo, {"pyproject.toml": '[project]\nname = "Acme_Widget"\n',
                       "VERSION": "1\n"})
    up = Upstream(repo)
    up.shas["first"] = commit_all(repo, "first", "2021-01-02T03:04:05+00:00")
    git(repo, "tag", "v1.0")
    write_files(repo, {"VERSION": "2\n"})
    up.shas["second"] = commit_all(repo, "second", "2022-02-03T04:05:06+00:00")
    git(repo, "checkout", "-q", "-b", "feature")
    write_files(repo, {"VERSION": "feature\n"})
    up.shas["feature"] = commit_all(repo, "feature", "2023-03-04T05:06:07+00:00")
    git(repo, "checkout", "-q", "main")
    return up


@pytest.fixture
def fake_index() -> Iterator[FakeIndex]:
    index = FakeIndex()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            route = index.routes.get(self.path.split("?")[0])
            if route is None:
                self._answer(404, b"not found")
                return
            route.hits += 1
            if route.failures < 0 or route.hits <= route.failures:
                self._answer(500, b"try again")
            else:
                self._answer(route.status, route.body)

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    index.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield index
    server.shutdown()
    server.server_close()


# --- batch runs -----------------------------------------------------------------------------


@pytest.fixture
def batch_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment of real batch runs in tests (``batchkit.batch_environment``)."""
    from tests.miners.batchkit import batch_environment

    for name, value in batch_environment().items():
        monkeypatch.setenv(name, value)


@pytest.fixture(scope="session")
def reference_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted local run over three tiny real projects (``ROOT/projects/list.txt``),
    shared by the tests that check other ways of running give the same dataset."""
    from miners.cli.main import main
    from tests.miners.batchkit import batch_environment, project_list, read_jsonl

    root = tmp_path_factory.mktemp("batch")
    listing = project_list(root / "projects", 3)
    out = root / "reference"
    with pytest.MonkeyPatch.context() as patch:
        for name, value in batch_environment().items():
            patch.setenv(name, value)
        assert main(["mine", str(listing), "-o", str(out), "--jobs", "2"]) == 0
    repos = read_jsonl(out / "repos.jsonl")
    assert [r["status"] for r in repos] == ["ok"] * 3, repos
    return out
