"""The ``citrace trace`` subcommand: its arguments and its handler (kept out of ``cli.py``,
which only registers it)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from miners.cli import paths
from tracer.command import TraceRequest, run_traced, strip_separator, summary
from tracer.inject import ProbeConfig

BACKENDS = ("auto", "setprofile", "monitoring")


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    trace = commands.add_parser(
        "trace", help="run a command with the probe on, writing a trace",
        usage="citrace trace --root SRC_DIR --out TRACE_DIR [options] -- COMMAND [ARGS...]",
        description="Run COMMAND with the probe active in every Python 3.6+ process it starts "
                    "(through PYTHONPATH), recording calls of the functions defined under "
                    "SRC_DIR (test files excluded). Exits with COMMAND's status.")
    trace.add_argument("--root", type=Path, action="append", required=True, metavar="SRC_DIR",
                       help="trace functions whose source file lies under this directory "
                            "(repeatable)")
    trace.add_argument("--out", type=Path, required=True, metavar="TRACE_DIR",
                       help="directory for the trace files (created if missing)")
    trace.add_argument("--backend", choices=BACKENDS, default="auto",
                       help="auto: sys.monitoring on 3.12+, else setprofile (default: auto)")
    trace.add_argument("--max-calls", type=int, metavar="N",
                       default=ProbeConfig.max_calls_per_function,
                       help="distinct calls recorded per function and process")
    trace.add_argument("-q", "--quiet", action="store_true",
                       help="do not print the one-line summary after the command")
    trace.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND")
    trace.set_defaults(handler=_trace)


def _trace(args: argparse.Namespace) -> int:
    request = TraceRequest(command=strip_separator(args.command), roots=tuple(args.root),
                           out_dir=paths.output_directory(args.out, "--out"), backend=args.backend,
                           max_calls_per_function=args.max_calls)
    status = run_traced(request)
    if not args.quiet:
        print(summary(request.out_dir.resolve()), file=sys.stderr)
    return status
