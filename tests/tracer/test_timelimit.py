"""The per-test time limit, a pytest plugin put beside the probe (issue 16, item 5): a test
waiting forever on a socket fails past the limit and the session goes on; tests that end in
time, and tests that use SIGALRM themselves, are untouched; without citrace's config the
plugin does nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.tracer.probe_harness import interpreter
from tracer import inject

TESTS = """
import signal, socket, time


def test_before():
    assert True


def test_waits_forever_on_a_socket():
    a, b = socket.socketpair()
    a.recv(1)  # nobody ever writes to b


def test_with_its_own_alarm():
    fired = []
    signal.signal(signal.SIGALRM, lambda signum, frame: fired.append(signum))
    signal.setitimer(signal.ITIMER_REAL, 0.1)
    time.sleep(0.5)
    assert fired == [signal.SIGALRM]


def test_after():
    time.sleep(0.2)
"""


def _site(tmp_path: Path) -> Path:
    """A directory holding what install_probe writes, put on PYTHONPATH: pytest finds the
    plugin through its entry point there as in site-packages."""
    site = tmp_path / "site"
    for relative, text in inject.probe_files().items():
        (site / relative).parent.mkdir(parents=True, exist_ok=True)
        (site / relative).write_text(text, encoding="utf-8")
    return site


def _pytest(tmp_path: Path, tests: str,
            config: dict | None) -> tuple[subprocess.CompletedProcess[str], float]:
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    (project / "test_suite.py").write_text(textwrap.dedent(tests), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "CITRACE"))}
    env["PYTHONPATH"] = str(_site(tmp_path))
    if config is not None:
        env[inject.PROBE_ENV_VAR] = json.dumps(config)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "test_suite.py"], cwd=project, env=env, capture_output=True,
                          text=True, timeout=120)
    return done, time.monotonic() - started


def test_a_test_that_never_returns_fails_past_the_limit_and_the_rest_run(tmp_path) -> None:
    config = {"out_dir": str(tmp_path), "roots": [], "test_time_limit": 2}
    done, seconds = _pytest(tmp_path, TESTS, config)
    assert done.returncode == 1, done.stdout
    assert "1 failed, 3 passed" in done.stdout
    assert ("\ncitrace: test test_suite.py::test_waits_forever_on_a_socket ran over 2 s and "
            "was stopped") in done.stdout
    assert seconds < 60
    # Each test's id was written as it started: the last one is the session's last test.
    [running] = tmp_path.glob("running-*.txt")
    assert running.read_text() == "test_suite.py::test_after"


def test_without_citraces_config_the_plugin_does_nothing(tmp_path) -> None:
    slow = "import time\n\ndef test_slow():\n    time.sleep(3)\n"
    done, _ = _pytest(tmp_path, slow, None)
    assert done.returncode == 0 and "1 passed" in done.stdout, done.stdout
    # With a limit above what the test takes, it passes as well.
    done, _ = _pytest(tmp_path, slow, {"out_dir": str(tmp_path), "test_time_limit": 10})
    assert done.returncode == 0 and "1 passed" in done.stdout, done.stdout
    assert "citrace" not in done.stdout


UNITTESTS = """
import socket, unittest


class Suite(unittest.TestCase):
    def test_a_before(self):
        pass

    def test_b_waits_forever_on_a_socket(self):
        a, b = socket.socketpair()
        while True:
            try:
                a.recv(1)  # nobody ever writes to b
            except Exception:  # retries whatever goes wrong: the limit is no Exception
                pass

    def test_c_after(self):
        pass
"""


@pytest.mark.parametrize("version", ["3.6", "3.13"])
def test_unittest_runs_get_the_limit_through_the_pth_line(tmp_path, version: str) -> None:
    """``python -m unittest``: the .pth line put beside the probe wraps TestCase.run."""
    venv = tmp_path / "venv"
    subprocess.run([str(interpreter(version)), "-m", "venv", "--without-pip", str(venv)],
                   check=True)
    [site] = venv.glob("lib/python*/site-packages")
    for relative, text in inject.probe_files().items():
        (site / relative).parent.mkdir(parents=True, exist_ok=True)
        (site / relative).write_text(text, encoding="utf-8")
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_suite.py").write_text(textwrap.dedent(UNITTESTS), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "CITRACE"))}
    env[inject.PROBE_ENV_VAR] = json.dumps({"out_dir": str(tmp_path), "roots": [],
                                            "test_time_limit": 2})
    started = time.monotonic()
    done = subprocess.run([str(venv / "bin" / "python"), "-m", "unittest", "-v", "test_suite"],
                          cwd=project, env=env, capture_output=True, text=True, timeout=120)
    assert time.monotonic() - started < 60
    assert done.returncode == 1, done.stderr
    assert "Ran 3 tests" in done.stderr and "FAILED (errors=1)" in done.stderr
    assert ("\ncitrace: test test_suite.Suite.test_b_waits_forever_on_a_socket ran over 2 s "
            "and was stopped\n") in done.stderr
    assert "TestTimeLimit" in done.stderr
    [running] = tmp_path.glob("running-*.txt")
    assert running.read_text() == "test_suite.Suite.test_c_after"
