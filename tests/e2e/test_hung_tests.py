"""Suites with a test that never returns (issue 16, item 5). One waits on a socket: the
per-test time limit fails it and the session goes on. The other swallows every exception
while it waits, so no limit can end it: the run is stopped for making no progress, and the
calls recorded before are kept. Neither holds its worker for the whole --test-timeout."""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path

import pytest

from miners.cli.main import main
from tests.recipes.tiny_project import pyproject

MODULE = '''\
def greet(name):
    """A greeting for ``name``."""
    return "{word} " + name


def wait_for_reply(sock):
    """The first byte the other end sends."""
    return sock.recv(1)
'''
TESTS = """\
import socket

from {name} import greet, wait_for_reply


def test_greet():
    assert greet("ann") == "{word} ann"


def test_greet_bob():
    assert greet("bob") == "{word} bob"


def test_reply_never_comes():
    a, b = socket.socketpair()
    {wait}
"""
WAITS = "wait_for_reply(a)"
# A retry loop that swallows even pytest's failure: only the stall watch can end it.
WAITS_WHATEVER_HAPPENS = """while True:
        try:
            wait_for_reply(a)
        except BaseException:
            pass"""


def _project(root: Path, name: str, wait: str, word: str) -> Path:
    files = {"pyproject.toml": pyproject(name, modules=(name,)),
             f"{name}.py": MODULE.replace("{word}", word),
             "tests/test_it.py": TESTS.format(name=name, wait=wait, word=word)}
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


@pytest.mark.slow
def test_a_test_that_never_returns_costs_its_limit_not_the_project(tmp_path: Path) -> None:
    waiter = _project(tmp_path / "waiter", "waiter", WAITS, "hello")
    stubborn = _project(tmp_path / "stubborn", "stubborn", WAITS_WHATEVER_HAPPENS, "hi")
    out = tmp_path / "out"
    started = time.monotonic()
    assert main(["mine", str(waiter), str(stubborn), "-o", str(out), "--test-timeout", "600",
                 "--test-time-limit", "3", "--stall-after", "8", "--jobs", "2"]) == 0
    assert time.monotonic() - started < 300
    repos = {Path(r["spec"]).name: r for r in map(json.loads, (out / "repos.jsonl").open())}
    problems = [json.loads(line) for line in (out / "problems.jsonl").open()]
    logs = {name: (out / repo["log"]).read_text() for name, repo in repos.items()}

    # The test on the socket failed past its limit, the log says which, the rest ran.
    waiter_repo = repos["waiter"]
    assert waiter_repo["status"] == "ok", (waiter_repo, logs)
    assert waiter_repo["counts"]["tests_stopped"] == 1
    assert waiter_repo["counts"]["tests_passed"] == 2
    assert waiter_repo["counts"]["tests_failed"] == 1
    assert ("citrace: test tests/test_it.py::test_reply_never_comes ran over 3 s and was "
            "stopped") in logs["waiter"]

    # The stubborn one was stopped for making no progress; what it recorded was kept.
    stubborn_repo = repos["stubborn"]
    assert stubborn_repo["status"] == "ok", (stubborn_repo, logs)
    assert stubborn_repo["counts"]["runs_stopped"] == 1
    assert ("[citrace: the test run was stopped (citrace: no progress for 8 s (no output, no "
            "trace written): command stopped); the test running: "
            "tests/test_it.py::test_reply_never_comes]") in logs["stubborn"]
    assert sorted(p["task_id"] for p in problems) == [
        "citrace/stubborn-local/stubborn.greet", "citrace/waiter-local/waiter.greet"]
