"""The ``citrace`` command line. ``main(argv)`` returns the exit status, so tests call it
directly; each subcommand is its own small function."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from miners.cli import batch, evaluate, export, paths, report, stats, trace
from miners.lists import QUICKSTART
from miners.pipeline import Settings
from miners.run.batch import mine_all
from miners.sources import licenses
from miners.sources.cache import Cache
from miners.specs import SpecError, load_specs, parse_spec
from recipes import planner, sandbox
from recipes.errors import CitraceError
from recipes.records import StageError
from recipes.runners import installers


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        with _terminate_as_interrupt():
            return int(args.handler(args))
    except CitraceError as exc:  # every error the user can act on, said once, here
        print(exc.render(args.subcommand), file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        # A path the checks could not foresee (a disk that fills, a directory that vanishes,
        # a mount that refuses writes): the user's to fix, so one line, not a traceback.
        print(f"citrace {args.subcommand}: {_os_error_line(exc)}", file=sys.stderr)
        return CitraceError.exit_code
    except KeyboardInterrupt as exc:
        stopped = "terminated" if isinstance(exc, Terminated) else "interrupted"
        resume = "; run the same command again to resume" if args.subcommand in RESUMABLE else ""
        print(f"citrace: {stopped}{resume}", file=sys.stderr)
        return 128 + (signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT)


# The commands that keep their work as it is done (a run's database, evaluate's journal).
RESUMABLE = ("mine", "evaluate")


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C's KeyboardInterrupt."""


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM stops a command the way Ctrl-C does. It is how batch schedulers, container
    runtimes and ``timeout`` stop a job, and Python's default for it ends the process on
    the spot: no ``finally`` runs, so workers are left to notice their parent's death. Later
    SIGTERMs do nothing, so they do not cut short the cleanup the first one started (not
    SIG_IGN: a process started during that cleanup would inherit it through ``exec``)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    received: list[int] = []

    def stop(signum: int, frame: object) -> None:
        if not received:
            received.append(signum)
            raise Terminated

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="citrace",
        description="Mine HumanEval-style problems from the test suites of Python projects.")
    # Not ``dest="command"``: ``citrace trace`` has a positional of that name, which would
    # overwrite the subcommand's name in the namespace.
    commands = parser.add_subparsers(dest="subcommand", required=True, metavar="COMMAND")

    mine = commands.add_parser("mine", help="acquire, build, test, trace and emit problems")
    mine.add_argument("specs", nargs="*", metavar="SPEC",
                      help="a directory, pypi:NAME[==VERSION], a git URL[@REV], "
                           "gh:OWNER/REPO[@REV], or a .txt/.yaml list of them "
                           "(default: miners/lists/quickstart.yaml)")
    mine.add_argument("-o", "--output", type=Path, default=Path("output"),
                      help="directory for problems.jsonl, repos.jsonl and logs (default: output)")
    mine.add_argument("--keep-work", action="store_true",
                      help="keep each project's checkout and environments under OUTDIR/work")
    mine.add_argument("--max-asserts", type=_positive_int, default=10)
    mine.add_argument("--no-augment", action="store_true",
                      help="keep recorded calls only: derive no inputs from them (asserts are "
                      "still chosen by the mutants they kill)")
    mine.add_argument("--build-timeout", type=float, default=1200.0, metavar="SECONDS")
    mine.add_argument("--test-timeout", type=float, default=1800.0, metavar="SECONDS")
    mine.add_argument("--test-time-limit", type=float, default=300.0, metavar="SECONDS",
                      help="time each pytest test may run before it is failed and the "
                           "session goes on (default: 300; 0: none)")
    mine.add_argument("--stall-after", type=float, default=600.0, metavar="SECONDS",
                      help="stop a test run that prints nothing and records no call for this "
                           "long, keeping what it recorded (default: 600; 0: never)")
    mine.add_argument("--unsafe-no-sandbox", action="store_true", help=evaluate.UNSAFE_HELP)
    mine.add_argument("--unsafe-build-network", action="store_true",
                      help="give builds the host's own network (its loopback and every host "
                           "it reaches) instead of the package index only, through citrace's "
                           "proxy; for machines where the proxy cannot work")
    mine.add_argument("--check-isolation", choices=evaluate.ISOLATIONS, default="fork",
                      help=evaluate.ISOLATION_HELP)
    mine.add_argument("--license", type=_license_list, default=frozenset(), metavar="LIST",
                      help="keep only projects under these licenses: comma-separated SPDX "
                           "ids, 'permissive' for " + ", ".join(sorted(licenses.PERMISSIVE))
                           + "; the others fail at acquire with cause license_filtered")
    mine.add_argument("--installer", choices=installers.INSTALLERS, default=None,
                      help="what builds environments: uv (the default when it is installed: "
                           "faster, and resolves old projects' dependencies as of their date) "
                           "or pip; a project uv cannot build is retried with pip")
    mine.add_argument("--keep-contaminated", action="store_true",
                      help="keep problems that overlap HumanEval or MBPP (flagged in "
                           "meta.contamination) instead of leaving them out")
    mine.add_argument("--min-mutation-score", type=export.min_score, metavar="X",
                      help=export.MIN_SCORE_HELP + "; applied to the validated problems "
                           "before they are written, counted in citrace stats")
    batch.add_batch_options(mine)
    mine.set_defaults(handler=_mine)
    batch.add_status_command(commands)
    batch.add_merge_command(commands)

    plan = commands.add_parser("plan", help="print the recipes found for a checkout, as JSON")
    plan.add_argument("directory", type=Path)
    plan.set_defaults(handler=_plan)

    fetch = commands.add_parser("fetch", help="acquire one project and print what was acquired")
    fetch.add_argument("spec", metavar="SPEC")
    fetch.add_argument("-o", "--output", type=Path, required=True, help="directory to put it in")
    fetch.set_defaults(handler=_fetch)
    trace.add_parser(commands)
    export.add_parser(commands)
    stats.add_parser(commands)
    report.add_parser(commands)
    evaluate.add_parser(commands)
    return parser


def _os_error_line(exc: OSError) -> str:
    where = f"{exc.filename}: " if exc.filename else ""
    return f"{where}{exc.strerror or exc}"


def _license_list(text: str) -> frozenset[str]:
    try:
        return licenses.parse_allowed(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _mine(args: argparse.Namespace) -> int:
    out_dir = paths.output_directory(args.output, "-o")  # before any list is read
    specs = load_specs(args.specs or [str(QUICKSTART)], cwd=Path.cwd())
    if not specs:
        raise SpecError("no SPEC to mine: the lists given are empty")
    settings = Settings(work_root=out_dir / "work", logs_dir=out_dir / "logs",
                        keep_work=args.keep_work, build_timeout=args.build_timeout,
                        test_timeout=args.test_timeout, max_asserts=args.max_asserts,
                        test_time_limit=args.test_time_limit, stall_after=args.stall_after,
                        sandbox=sandbox.SandboxSettings(
                            unsafe_no_sandbox=args.unsafe_no_sandbox,
                            unsafe_build_network=args.unsafe_build_network,
                            check_isolation=args.check_isolation),
                        installer=args.installer or installers.default_installer(),
                        licenses=args.license, keep_contaminated=args.keep_contaminated,
                        min_mutation_score=args.min_mutation_score,
                        augment=not args.no_augment)
    Cache.from_environment()  # a bad $CITRACE_CACHE_MAX_BYTES is the user's to fix, now
    sandbox.require_isolation(allow_unsafe=args.unsafe_no_sandbox)  # refuse before any work
    summary = mine_all(specs, out_dir, settings, batch.run_options(args))
    print(batch.summary_line(summary, out_dir))
    return 0


def _plan(args: argparse.Namespace) -> int:
    directory: Path = args.directory.resolve()
    if not directory.is_dir():
        raise SpecError(f"{args.directory} is not a directory")
    with tempfile.TemporaryDirectory() as scratch:
        try:
            found, skipped = planner.plan(directory, log_path=Path(scratch) / "plan.log")
        except StageError as exc:
            print(json.dumps({"recipes": [], "error": exc.failure.to_dict()}, indent=2))
            return 1
    print(json.dumps({"recipes": [r.to_dict() for r in found], "skipped": skipped}, indent=2))
    return 0


def _fetch(args: argparse.Namespace) -> int:
    from miners.sources import acquire

    spec = parse_spec(args.spec, base_dir=Path.cwd())
    Cache.from_environment()  # a bad $CITRACE_CACHE_MAX_BYTES is the user's to fix, now
    destination = paths.output_directory(args.output, "-o")
    checkout = acquire(spec, destination)  # a StageError is said by main()
    print(json.dumps(checkout.to_dict(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
