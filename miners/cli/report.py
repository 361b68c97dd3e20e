"""The ``citrace report`` subcommand: its arguments and its handler (``miners.cli.main`` only
registers it)."""

from __future__ import annotations

import argparse
from pathlib import Path

from miners.cli import paths
from miners.reports.gather import gather
from miners.reports.html import render
from miners.run.outputs import atomic_write

REPORT_FILE = "report.html"


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    report = commands.add_parser(
        "report", help="write an HTML report of a run (funnel, failures, problems, times)",
        description="Write a self-contained HTML page (charts inline, nothing fetched) about "
                    "the run in OUTDIR, finished, in progress or merged.")
    report.add_argument("output", type=Path, metavar="OUTDIR")
    report.add_argument("-o", "--file", type=Path, default=None, metavar="FILE",
                        help=f"where to write the page (default: OUTDIR/{REPORT_FILE})")
    report.set_defaults(handler=_report)


def _report(args: argparse.Namespace) -> int:
    out_dir: Path = args.output.resolve()
    target = paths.output_file(args.file or out_dir / REPORT_FILE, "-o")
    data = gather(out_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, [render(data, report_path=target).encode("utf-8")])
    print(f"wrote {target}: {len(data.done)} of {len(data.projects)} projects done, "
          f"{data.problems} problems")
    return 0
