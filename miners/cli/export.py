"""``citrace export OUTDIR [--format humaneval|codex-d|pytest|output-prediction] [-o DEST]
[--min-mutation-score X]``: a run's problems in another shape (``tracer.dataset.formats``
describes each), optionally only those whose tests kill enough mutants."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from miners.cli import paths
from miners.run import outputs
from recipes.errors import CitraceError
from tracer.dataset.export import FORMATS, ExportReport, export
from tracer.dataset.mutation_filter import parse_minimum

DEFAULT_NAMES = {"humaneval": "humaneval.jsonl", "codex-d": "codex_d.jsonl",
                 "pytest": "pytest_tests", "output-prediction": "output_prediction.jsonl"}
MIN_SCORE_HELP = (
    "keep only problems whose test kills at least this share of the mutants of their "
    "solution (meta.mutation; 0.7 or 70%%); problems whose score was not measured "
    "(mutants 0) are dropped too, and both are counted (mutation_score_below, "
    "mutation_not_measured)")


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    command = commands.add_parser(
        "export", help="write a run's problems as HumanEval JSONL, Codex-D JSONL, pytest files "
                       "or output-prediction rows",
        description="humaneval: problems.jsonl's rows with every meta field filled; codex-d: "
                    "prompt = code without the docstring, target = the docstring; pytest: a "
                    "directory of test modules to run against the project (installed, or "
                    "on PYTHONPATH); output-prediction: one row per assert of a returned "
                    "value (code, call, setup, expected), scored by citrace evaluate --task "
                    "output-prediction.")
    command.add_argument("output", type=Path, metavar="OUTDIR", help="the -o of a citrace mine run")
    command.add_argument("--format", choices=FORMATS, default="humaneval")
    command.add_argument("-o", "--destination", type=Path, metavar="DEST",
                         help="file (directory for pytest) to write; default: "
                              "OUTDIR/humaneval.jsonl, OUTDIR/codex_d.jsonl, OUTDIR/pytest_tests, "
                              "OUTDIR/output_prediction.jsonl")
    command.add_argument("--min-mutation-score", type=min_score, metavar="X", help=MIN_SCORE_HELP)
    command.set_defaults(handler=_export)


def _export(args: argparse.Namespace) -> int:
    problems = args.output / outputs.PROBLEMS
    if not problems.is_file():
        raise CitraceError(f"{args.output} holds no {outputs.PROBLEMS}",
                           hint="give the -o of a citrace mine run")
    destination = args.destination or args.output / DEFAULT_NAMES[args.format]
    check = paths.output_directory if args.format == "pytest" else paths.output_file
    destination = check(destination, "-o")
    report = export(problems, args.format, destination,
                    min_mutation_score=args.min_mutation_score)
    for reason in report.skipped:
        print(f"citrace export: left out {reason}", file=sys.stderr)
    print(_summary(report))
    return 0


def min_score(text: str) -> float:
    """``--min-mutation-score``'s value (also ``citrace mine``'s)."""
    try:
        return parse_minimum(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _summary(report: ExportReport) -> str:
    what = "row(s)" if report.format == "output-prediction" else "problem(s)"
    lines = [f"{report.written} {what} written to {report.destination} ({report.format})"]
    if report.dropped:
        lines.append("problems left out: " + _counts(report.dropped))
    if report.asserts_skipped:
        lines.append("asserts not exported: " + _counts(report.asserts_skipped))
    return "\n".join(lines)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{count} {reason}" for reason, count in counts.items())
