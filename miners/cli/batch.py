"""The command line of batch runs: ``mine``'s options for resuming, parallelism, shards and
executors, and the ``status`` and ``merge`` subcommands. ``miners.cli.main`` wires them in."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from miners.cli import paths
from miners.executors import EXECUTORS, ExecutorOptions
from miners.reports.status import read_status, render, render_json
from miners.run.batch import RunOptions, RunSummary
from miners.run.merge import merge
from miners.run.shard import Shard

DEFAULT_PROJECT_TIMEOUT = 3600.0


def add_batch_options(mine: argparse.ArgumentParser) -> None:
    group = mine.add_argument_group(
        "batch runs", "Running the same command again resumes the run in OUTDIR.")
    group.add_argument("-j", "--jobs", type=_positive_int, default=None, metavar="N",
                       help="projects to run at once (local: default 1; ray: default one "
                            "per cluster CPU)")
    group.add_argument("--project-timeout", type=_positive_float,
                       default=DEFAULT_PROJECT_TIMEOUT, metavar="SECONDS",
                       help="kill a project that takes longer and record it as failed "
                            "(cause timeout) (default: %(default).0f)")
    group.add_argument("--shard", type=_shard, default=Shard(), metavar="K/N",
                       help="mine only shard K of N of the list (0 <= K < N); combine the "
                            "N outputs with citrace merge")
    group.add_argument("--retry-failed", action="store_true",
                       help="when resuming, run the projects that failed again")
    group.add_argument("--fresh", action="store_true",
                       help="discard the run OUTDIR holds (outputs, logs, state) and start over")
    group.add_argument("--executor", choices=EXECUTORS, default="local",
                       help="where projects run: local processes (default) or Ray tasks")
    group.add_argument("--ray-address", metavar="ADDRESS", default=None,
                       help="the Ray cluster to use (default: start a local Ray instance)")


def run_options(args: argparse.Namespace) -> RunOptions:
    executor = ExecutorOptions(kind=args.executor, jobs=args.jobs,
                               project_timeout=args.project_timeout,
                               ray_address=args.ray_address)
    return RunOptions(executor=executor, shard=args.shard, retry_failed=args.retry_failed,
                      fresh=args.fresh)


def summary_line(summary: RunSummary, out_dir: Path) -> str:
    line = (f"{summary.projects} projects: {summary.ok} ok, {summary.failed} failed; "
            f"{summary.problems} problems in {out_dir / 'problems.jsonl'}")
    if not summary.complete:
        line += (f"; {summary.pending} not done yet (run the same command again to resume)")
    return line


def add_status_command(commands: Any) -> None:
    status = commands.add_parser("status", help="summarise a run in progress or finished")
    status.add_argument("output", type=Path, metavar="OUTDIR")
    status.add_argument("--json", action="store_true", help="print the summary as JSON")
    status.set_defaults(handler=_status)


def add_merge_command(commands: Any) -> None:
    merge_ = commands.add_parser(
        "merge", help="combine the outputs of shard runs (--shard K/N) into one")
    merge_.add_argument("inputs", nargs="+", type=Path, metavar="OUTDIR")
    merge_.add_argument("-o", "--output", type=Path, required=True,
                        help="a new or empty directory for the merged outputs")
    merge_.set_defaults(handler=_merge)


def _status(args: argparse.Namespace) -> int:
    status = read_status(args.output.resolve())
    print(render_json(status) if args.json else render(status))
    return 0


def _merge(args: argparse.Namespace) -> int:
    inputs = [paths.input_directory(p, "OUTDIR").resolve() for p in args.inputs]
    report = merge(inputs, paths.output_directory(args.output, "-o"))
    print(f"merged {report.inputs} runs: {report.done} of {report.specs} SPECs done, "
          f"{report.problems} problems in {args.output / 'problems.jsonl'}")
    if not report.complete:
        print(f"citrace: {report.missing} SPEC(s) of the list are done in no input; finish "
              f"them with: citrace mine LIST -o {args.output}", file=sys.stderr)
        return 1
    return 0


def _shard(text: str) -> Shard:
    try:
        return Shard.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value
