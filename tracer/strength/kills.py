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
memory) is *undetermined*: the blocks after the one it stopped in never ran. Selection
leaves it out; scoring runs the final test against it (``score``).
"""

from __future__ import annotations

import secrets
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tracer.check.run import CheckResult

# Runs in the checker (3.6 syntax). A block's failure is any exception; a completion whose
# process ended (the harness's _ChildEnded) stops the loop: later blocks would fail for that.
_MATRIX = '''\
def check(candidate):
    import sys
    blocks = [{names}]
    failed, stopped = [], ""
    for number, block in enumerate(blocks):
        try:
            block()
        except BaseException as exc:
            failed.append(str(number))
            if type(exc).__name__ in ("_ChildEnded", "MemoryError"):
                stopped = "stopped"
                break
    sys.stdout.write("\\n{nonce}" + ",".join(failed) + ";" + stopped + "\\n")
'''


@dataclass(frozen=True)
class MutantKills:
    """What the matrix test of one mutant showed: the blocks it failed (indices), or None
    when the run did not say (undetermined)."""

    blocks: frozenset[int] | None
    result: CheckResult

    @property
    def determined(self) -> bool:
        return self.blocks is not None


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


def read_kills(result: CheckResult, nonce: str, n_blocks: int) -> frozenset[int] | None:
    """The failed blocks the matrix run printed; None when it printed no whole line (it
    hung, crashed, or stopped in a block whose followers never ran)."""
    lines = [line for line in result.output.splitlines() if line.startswith(nonce)]
    if not lines:
        return None
    failed, _, stopped = lines[-1][len(nonce):].partition(";")
    try:
        found = frozenset(int(part) for part in failed.split(",") if part)
    except ValueError:
        return None
    if stopped.strip() or any(not 0 <= n < n_blocks for n in found):
        return None
    return found


def kill_matrix(preamble: str, blocks: Sequence[str], completions: Sequence[str],
                check: Callable[[str, str], CheckResult]) -> list[MutantKills]:
    """Each completion's (mutant's) kills among ``blocks``; ``check(completion, test)`` runs
    one check."""
    nonce = new_nonce()
    test = matrix_test(preamble, blocks, nonce)
    found = []
    for completion in completions:
        result = check(completion, test)
        found.append(MutantKills(read_kills(result, nonce, len(blocks)), result))
    return found
