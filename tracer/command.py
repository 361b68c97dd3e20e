"""``citrace trace``: run a command with the probe on in every Python process it starts.

The command is the user's own, run in the foreground with their environment and terminal
(as ``coverage run`` would), not an untrusted build step: it does not go through the
sandbox. The probe reaches its interpreters through ``PYTHONPATH`` (``inject.write_boot_dir``),
so it needs no write access to them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from recipes.errors import CitraceError
from tracer import inject
from tracer.traces import read_traces


@dataclass(frozen=True)
class TraceRequest:
    """What ``citrace trace`` was asked to do."""

    command: tuple[str, ...]
    roots: tuple[Path, ...]
    out_dir: Path
    backend: str = "auto"
    max_calls_per_function: int = 100


class TraceCommandError(CitraceError):
    """The command cannot be traced as asked (the message says what to do)."""


def run_traced(request: TraceRequest, *, environ: Mapping[str, str] | None = None) -> int:
    """Run the command with the probe on; its exit status (128 + N when killed by signal N,
    127 when it cannot be started)."""
    if not request.command:
        raise TraceCommandError("no command given: citrace trace --root SRC --out DIR -- CMD")
    out_dir = _prepare_out_dir(request.out_dir)
    for root in request.roots:
        if not root.is_dir():
            raise TraceCommandError(f"--root {root} is not a directory")
    with tempfile.TemporaryDirectory(prefix="citrace-boot-") as scratch:
        boot = inject.write_boot_dir(Path(scratch) / "boot")
        config = inject.ProbeConfig(
            out_dir=str(out_dir), roots=tuple(str(root.resolve()) for root in request.roots),
            backend=request.backend, max_calls_per_function=request.max_calls_per_function)
        config_path = config.write(Path(scratch) / "probe.json")
        env = inject.boot_environment(boot, config_path,
                                      os.environ if environ is None else environ)
        try:
            done = subprocess.run(list(request.command), env=env, check=False)
        except OSError as exc:
            print(f"citrace trace: cannot run {request.command[0]}: {exc}", file=sys.stderr)
            return 127
    return done.returncode if done.returncode >= 0 else 128 - done.returncode


def _prepare_out_dir(out_dir: Path) -> Path:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TraceCommandError(f"cannot create the trace directory {out_dir}: {exc}") \
            from exc
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise TraceCommandError(f"the trace directory {out_dir} is not writable")
    return out_dir.resolve()


def summary(out_dir: Path) -> str:
    """One line on what a trace directory holds."""
    traces = read_traces(out_dir)
    functions = {call.function for call in traces.calls}
    size = sum(path.stat().st_size for path in out_dir.glob("trace-*.jsonl"))
    backends = ", ".join(sorted(_backends(out_dir))) or "none"
    return (f"citrace: {len(traces.calls)} distinct calls of {len(functions)} functions from "
            f"{traces.files_read} process(es), {size / 1e6:.1f} MB, backend {backends}, "
            f"in {out_dir}")


def _backends(out_dir: Path) -> set[str]:
    import json

    found = set()
    for path in out_dir.glob("trace-*.jsonl"):
        with path.open("rb") as stream:
            try:
                header = json.loads(stream.readline())
            except ValueError:
                continue
        if isinstance(header, dict) and isinstance(header.get("backend"), str):
            found.add(header["backend"])
    return found


def strip_separator(argv: Sequence[str]) -> tuple[str, ...]:
    """The command after ``--`` (argparse keeps the separator in a REMAINDER)."""
    args = list(argv)
    if args and args[0] == "--":
        args = args[1:]
    return tuple(args)
