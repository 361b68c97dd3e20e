"""A command that shows no progress is stopped before its timeout (issue 16, item 5): a
test waiting forever on a socket must not hold its worker for the whole --test-timeout."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from recipes.sandbox import Policy, Stall, run

WAITS_ON_A_SOCKET = (
    "import socket\n"
    "print('started', flush=True)\n"
    "a, b = socket.socketpair()\n"
    "a.recv(1)\n"  # nobody ever writes to b
)
# Writes a trace-like file now and then, silently, for about four seconds, then ends.
WRITES_NOW_AND_THEN = (
    "import os, sys, time\n"
    "with open(os.path.join(sys.argv[1], 'trace-1.jsonl'), 'a') as out:\n"
    "    for _ in range(8):\n"
    "        out.write('x' * 10 + '\\n'); out.flush(); time.sleep(0.5)\n"
)


def test_a_command_that_makes_no_progress_is_stopped(tmp_path: Path) -> None:
    watched = tmp_path / "traces"
    watched.mkdir()
    policy = Policy(writable=(tmp_path,), stall=Stall(watch=(str(watched),), after=2))
    started = time.monotonic()
    outcome = run([sys.executable, "-c", WAITS_ON_A_SOCKET], cwd=tmp_path, timeout=120,
                  policy=policy, log_path=tmp_path / "log")
    assert outcome.timed_out and outcome.verdict == "timeout"
    assert time.monotonic() - started < 20
    note = "[citrace: no progress for 2 s (no output, no trace written): command stopped]"
    assert outcome.output_tail.splitlines() == ["started", note]
    assert note in (tmp_path / "log").read_text()


def test_files_growing_in_the_watched_directory_are_progress(tmp_path: Path) -> None:
    watched = tmp_path / "traces"
    watched.mkdir()
    policy = Policy(writable=(tmp_path,), stall=Stall(watch=(str(watched),), after=2))
    outcome = run([sys.executable, "-c", WRITES_NOW_AND_THEN, str(watched)], cwd=tmp_path,
                  timeout=120, policy=policy)
    assert outcome.ok, outcome.output_tail
    assert (watched / "trace-1.jsonl").read_text() == ("x" * 10 + "\n") * 8


# Rewrites one file with as many bytes each time, as the time-limit plugin writes the id
# of each test as it starts (tests of one module have ids of one length).
REWRITES_IN_PLACE = (
    "import os, sys, time\n"
    "for number in range(8):\n"
    "    with open(os.path.join(sys.argv[1], 'running-1.txt'), 'w') as out:\n"
    "        out.write('test_%d' % number)\n"
    "    time.sleep(0.5)\n"
)


def test_a_file_rewritten_with_as_many_bytes_is_progress(tmp_path: Path) -> None:
    watched = tmp_path / "traces"
    watched.mkdir()
    policy = Policy(writable=(tmp_path,), stall=Stall(watch=(str(watched),), after=2))
    outcome = run([sys.executable, "-c", REWRITES_IN_PLACE, str(watched)], cwd=tmp_path,
                  timeout=120, policy=policy)
    assert outcome.ok, outcome.output_tail
    assert (watched / "running-1.txt").read_text() == "test_7"
