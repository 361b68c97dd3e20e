"""Which of a test's blocks reject which mutant: the kill matrix.

Running a problem's test against a mutant tells whether the test kills it, not which block
does. Guided selection needs the second, and one check per (mutant, block) would cost the
blocks' count times more; so each mutant runs once against a *matrix test*: every block in
a function of its own, each called in turn with its failure caught, and at the end one line
naming the blocks that failed. Blocks are self-contained (validation runs each alone), so
running them in one process gives what running each alone would.

The line carries a nonce the completion never sees (it runs apart from the test, in the
harness's other process), so a mutant that prints cannot claim a block.

A mutant whose check does not end normally (it hangs, crashes its process, runs out of
memory) is killed by the block it stopped in; the blocks after it never ran, and scoring
runs the final test against it when that test holds none of the blocks known to kill it
and some that never ran (``MutantKills.kills_test_of``).
"""

from __future__ import annotations

import secrets
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tracer.check.run import CheckResult

# Runs in the checker (3.6 syntax). A block's failure is any exception; a completion whose
# process ended (the harness's _ChildEnded) stops the loop: later blocks would fail for that.
# After each block a line says how far it got and what failed so far (flushed: a mutant that
# hangs in the next block is killed with its process, and what it printed must be there).
_MATRIX = '''\
def check(candidate):
    import sys
    blocks = [{names}]
    failed = []
    for number, block in enumerate(blocks):
        try:
            block()
        except BaseException as exc:
            failed.append(str(number))
            if type(exc).__name__ in ("_ChildEnded", "MemoryError"):
                break
        sys.stdout.write("\\n{nonce}" + str(number) + ";" + ",".join(failed) + "\\n")
        sys.stdout.flush()
'''


@dataclass(frozen=True)
class MutantKills:
    """What the matrix test of one mutant showed: ``known``, blocks that fail against it
    (indices); ``ran``, how many blocks ran to the end, the block after them being where
    it stopped (hung, crashed) when ``ran`` is less than the blocks' count. All blocks
    ran: the matrix is complete (``determined``)."""

    known: frozenset[int]
    ran: int
    total: int
    result: CheckResult

    @property
    def determined(self) -> bool:
        return self.ran >= self.total

    @property
    def blocks(self) -> frozenset[int] | None:
        """The blocks that fail against it, when every block ran; None otherwise."""
        return self.known if self.determined else None

    def kills_test_of(self, kept: frozenset[int]) -> bool | None:
        """Whether a test of the blocks ``kept`` fails against it: True when a kept block is
        known to; False when every kept block ran and passed; None when it cannot be told."""
        if self.known & kept:
            return True
        if all(block < self.ran for block in kept):
            return False
        return None


def matrix_test(preamble: str, blocks: Sequence[str], nonce: str) -> str:
    """The test that runs each of ``blocks`` (indented as in ``def check``) apart and prints
    ``nonce`` and the failed blocks' indices."""
    functions = []
    for number, block in enumerate(blocks):
        body = textwrap.indent(textwrap.dedent(block), "        ")
        functions.append(f"    def _citrace_block_{number}():\n{body}")
    names = ", ".join(f"_citrace_block_{n}" for n in range(len(blocks)))
    driver = _MATRIX.format(names=names, nonce=nonce)
    header, _, rest = driver.partition("\n")
    return preamble + header + "\n" + "".join(functions) + rest


def new_nonce() -> str:
    return "citrace-kills-" + secrets.token_hex(8) + ":"


def read_kills(result: CheckResult, nonce: str, n_blocks: int) -> MutantKills:
    """What the matrix run printed: after each block, its number and the failures so far.
    A run that stopped inside block k (hung, crashed) printed up to k - 1: block k fails
    against it (a hang or a crash fails a test there too), and the rest is unknown."""
    lines = [line for line in result.output.splitlines() if line.startswith(nonce)]
    ran = 0
    failed: frozenset[int] = frozenset()
    if lines:
        number, _, listed = lines[-1][len(nonce):].partition(";")
        try:
            ran = int(number) + 1
            failed = frozenset(int(part) for part in listed.split(",") if part)
        except ValueError:
            ran, failed = 0, frozenset()
    if any(not 0 <= n < n_blocks for n in failed) or ran > n_blocks:
        ran, failed = 0, frozenset()
    if ran < n_blocks:
        failed |= {ran}  # where it stopped
        if not result.passed and "timed out" not in result.result and not lines:
            failed = frozenset()  # it ended before any block (a syntax error...): unknown
    return MutantKills(failed, ran, n_blocks, result)


def kill_matrix(preamble: str, blocks: Sequence[str], completions: Sequence[str],
                check: Callable[[str, str], CheckResult]) -> list[MutantKills]:
    """Each completion's (mutant's) kills among ``blocks``; ``check(completion, test)`` runs
    one check."""
    nonce = new_nonce()
    test = matrix_test(preamble, blocks, nonce)
    found = []
    for completion in completions:
        result = check(completion, test)
        found.append(read_kills(result, nonce, len(blocks)))
    return found
