"""``citrace stats OUTDIR``: the funnel of a run (``miners.reports.stats``), as text or JSON."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from miners.reports.stats import read_stats, render
from miners.run import outputs
from recipes.errors import CitraceError


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    stats = commands.add_parser(
        "stats", help="print a run's funnel: calls, functions, candidates, problems, drops",
        description="The funnel of the run in OUTDIR, from functions traced to problems kept, "
                    "with a count for every reason a function or candidate was left out.")
    stats.add_argument("output", type=Path, metavar="OUTDIR")
    stats.add_argument("--json", action="store_true", help="print JSON instead of text")
    stats.set_defaults(handler=_stats)


def _stats(args: argparse.Namespace) -> int:
    out_dir: Path = args.output
    if not (out_dir / outputs.REPOS).is_file():
        raise CitraceError(f"{out_dir} holds no {outputs.REPOS}",
                           hint="give the -o of a citrace mine run")
    stats = read_stats(out_dir)
    print(json.dumps(stats.to_dict(), indent=2) if args.json else render(stats))
    return 0
