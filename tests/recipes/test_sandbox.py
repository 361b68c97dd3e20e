from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from recipes.sandbox import base_environment, run


def test_output_tail_and_exit_code_are_reported(tmp_path: Path) -> None:
    outcome = run([sys.executable, "-c", "print('hello'); raise SystemExit(3)"],
                  cwd=tmp_path, timeout=30, log_path=tmp_path / "log")
    assert outcome.exit_code == 3 and not outcome.ok
    assert outcome.output_tail.strip() == "hello"
    assert "hello" in (tmp_path / "log").read_text()


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    marker = tmp_path / "grandchild.pid"
    script = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(marker)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(60)\n"
    )
    started = time.monotonic()
    outcome = run([sys.executable, "-c", script], cwd=tmp_path, timeout=2)
    assert outcome.timed_out and not outcome.ok
    assert time.monotonic() - started < 20
    grandchild = int(marker.read_text())
    time.sleep(0.2)
    assert not _alive(grandchild), "a process started by the command outlived it"


def test_host_secrets_are_not_passed_on(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "hunter2")
    env = base_environment({"EXTRA": "yes"})
    assert "AWS_SECRET_ACCESS_KEY" not in env and env["EXTRA"] == "yes"
    show = "import os; print(os.environ.get('AWS_SECRET_ACCESS_KEY'))"
    outcome = run([sys.executable, "-c", show], cwd=tmp_path, timeout=30, env=env)
    assert outcome.output_tail.strip() == "None"


def test_standard_input_is_closed(tmp_path: Path) -> None:
    outcome = run([sys.executable, "-c", "import sys; print(repr(sys.stdin.read()))"],
                  cwd=tmp_path, timeout=10)
    assert outcome.ok and outcome.output_tail.strip() == "''"


def test_a_missing_program_is_an_outcome_not_an_exception(tmp_path: Path) -> None:
    outcome = run(["/no/such/program"], cwd=tmp_path, timeout=10)
    assert outcome.exit_code == 127 and "cannot start" in outcome.output_tail


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has exited: it only waits to be reaped by its (possibly init) parent.
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "zombie" not in status.read_text()
