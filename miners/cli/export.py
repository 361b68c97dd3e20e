"""``citrace export OUTDIR [--format humaneval|codex-d|pytest] [-o DEST]``: a run's problems
in another shape (``tracer.dataset.formats`` describes each)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from miners.cli import paths
from miners.run import outputs
from recipes.errors import CitraceError
from tracer.dataset.export import FORMATS, export

DEFAULT_NAMES = {"humaneval": "humaneval.jsonl", "codex-d": "codex_d.jsonl",
                 "pytest": "pytest_tests"}


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    command = commands.add_parser(
        "export", help="write a run's problems as HumanEval JSONL, Codex-D JSONL or pytest files",
        description="humaneval: problems.jsonl's rows with every meta field filled; codex-d: "
                    "prompt = code without the docstring, target = the docstring; pytest: a "
                    "directory of test modules to run against the project (installed, or "
                    "on PYTHONPATH).")
    command.add_argument("output", type=Path, metavar="OUTDIR", help="the -o of a citrace mine run")
    command.add_argument("--format", choices=FORMATS, default="humaneval")
    command.add_argument("-o", "--destination", type=Path, metavar="DEST",
                         help="file (directory for pytest) to write; default: "
                              "OUTDIR/humaneval.jsonl, OUTDIR/codex_d.jsonl, OUTDIR/pytest_tests")
    command.set_defaults(handler=_export)


def _export(args: argparse.Namespace) -> int:
    problems = args.output / outputs.PROBLEMS
    if not problems.is_file():
        raise CitraceError(f"{args.output} holds no {outputs.PROBLEMS}",
                           hint="give the -o of a citrace mine run")
    destination = args.destination or args.output / DEFAULT_NAMES[args.format]
    check = paths.output_directory if args.format == "pytest" else paths.output_file
    destination = check(destination, "-o")
    report = export(problems, args.format, destination)
    for reason in report.skipped:
        print(f"citrace export: left out {reason}", file=sys.stderr)
    print(f"{report.written} problem(s) written to {report.destination} ({report.format})")
    return 0
