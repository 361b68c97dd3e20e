"""Fixtures for the tracer tests: one probe-injected virtualenv per Python version for the
session, and ``traced``, which runs a small project's program with the probe switched on.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from recipes.sandbox import base_environment
from tests.tracer.probe_harness import Run, Traced, Venv, interpreter, parse_trace_files
from tracer.inject import ProbeConfig, install_probe, probe_environment


@pytest.fixture(scope="session")
def probe_venv(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Venv]:
    """One virtualenv per Python version for the whole session, with the probe installed."""
    made: dict[str, Venv] = {}

    def get(version: str) -> Venv:
        if version not in made:
            base = interpreter(version)
            where = tmp_path_factory.mktemp(f"venv{version}")
            # The standard library's venv: virtualenv 21's start-up patch no longer parses
            # on 3.6 (it prints a SyntaxError from its .pth line).
            subprocess.run([str(base), "-m", "venv", "--without-pip", str(where)], check=True)
            python = where / "bin" / "python"
            [site_packages] = where.glob("lib/python*/site-packages")
            install_probe(site_packages, interpreter=str(base), env_dir=where)
            made[version] = Venv(python, site_packages)
        return made[version]

    return get



@pytest.fixture
def traced(tmp_path: Path, probe_venv: Callable[[str], Venv]) -> Iterator[Traced]:
    def run(files: dict[str, str], *, version: str = "3.13", main: str = "main.py",
            probe: bool = True, env: dict[str, str] | None = None, backend: str = "auto",
            check_stderr: bool = True, args: tuple[str, ...] = (),
            preexec: Callable[[], None] | None = None, roots: tuple[str, ...] = ("",),
            **limits: Any) -> Run:
        root = tmp_path / "proj"
        trace_dir = tmp_path / "traces"
        for name, text in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text)
        trace_dir.mkdir(exist_ok=True)
        # roots: relative to the project (a directory, or a module's file).
        config = ProbeConfig(out_dir=str(trace_dir), roots=tuple(str(root / r) for r in roots),
                             backend=backend, **limits)
        variables = base_environment(env)
        if probe:
            variables.update(probe_environment(config.write(tmp_path / "probe.json")))
        done = subprocess.run([str(probe_venv(version).python), *args, main], cwd=root,
                              env=variables, capture_output=True, text=True, timeout=60,
                              preexec_fn=preexec)
        if check_stderr:
            assert done.stderr == ""
        return Run(done.stdout, done.stderr, done.returncode, trace_dir,
                   parse_trace_files(trace_dir))

    yield run
