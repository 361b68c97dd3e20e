"""mypy over the code, clean: typed records pass from stage to stage, and a type error
between them is a bug found before a run rather than in one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_mypy_finds_no_errors_in_the_packages() -> None:
    # mypy is in the `test` extra: missing, `python -m mypy` fails, and so does this test.
    run = subprocess.run([sys.executable, "-m", "mypy", "miners", "recipes", "tracer"],
                         cwd=ROOT, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
