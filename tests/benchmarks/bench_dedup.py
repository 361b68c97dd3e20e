"""How dedup scales: ``tracer.dataset.dedup.deduplicate`` over N synthetic problems (a tenth of
them planted copies: renamed, or lightly edited), against

* MinHash with 128 independent hash functions (``(a*h + b) mod p`` per shingle and function,
  the textbook scheme) for the signatures, and
* comparing every pair instead of the LSH index, for the comparisons made,

and whether the planted copies were found.

    .venv/bin/python tests/benchmarks/bench_dedup.py [--problems 10000] [--sample 300]

Times are wall seconds of this process; the textbook MinHash and the all-pairs count are
measured on ``--sample`` problems and scaled.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tracer.dataset import minhash  # noqa: E402
from tracer.dataset.dedup import EXACT, NEAR, DedupInput, Deduplicator, fingerprint  # noqa: E402

MERSENNE = (1 << 61) - 1
OPS = ["+", "-", "*", "//", "%"]


def synthetic(number: int, rng: random.Random) -> DedupInput:
    names = [f"v{rng.randrange(10_000)}" for _ in range(6)]
    lines = [f"    {names[i % 6]} = {names[(i + 1) % 6]} {rng.choice(OPS)} {rng.randrange(100)}"
             for i in range(rng.randrange(4, 16))]
    body = "\n".join(lines) + f"\n    return {names[0]}\n"
    args = ", ".join(names[1:4])
    prompt = f"def f{number}({args}):\n    \"\"\"Compute thing {number}.\"\"\"\n"
    return DedupInput(f"t/{number}", prompt, body, f"f{number}")


def planted(original: DedupInput, number: int, rng: random.Random) -> tuple[DedupInput, str]:
    if rng.random() < 0.5:  # renamed function: an exact duplicate
        return DedupInput(f"t/{number}", original.prompt.replace(original.entry_point, "g"),
                          original.canonical_solution, "g"), EXACT
    lines = original.canonical_solution.splitlines(keepends=True)
    lines.insert(len(lines) - 1, lines[0])  # one statement repeated: a near duplicate
    return DedupInput(f"t/{number}", original.prompt, "".join(lines), original.entry_point), NEAR


def textbook_signature(items: set[str], perms: list[tuple[int, int]]) -> list[int]:
    hashes = [hash(item) & 0xFFFFFFFF for item in items]
    return [min((a * h + b) % MERSENNE for h in hashes) for a, b in perms]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--problems", type=int, default=10_000)
    parser.add_argument("--sample", type=int, default=300)
    args = parser.parse_args()
    rng = random.Random(3)
    problems: list[DedupInput] = []
    expected: dict[str, str] = {}
    while len(problems) < args.problems:
        if problems and rng.random() < 0.1:
            copy, kind = planted(rng.choice(problems[-200:]), len(problems), rng)
            problems.append(copy)
            expected[copy.task_id] = kind
        else:
            problems.append(synthetic(len(problems), rng))

    compared = [0]
    estimate = minhash.jaccard_estimate

    def counted(first: object, second: object) -> float:
        compared[0] += 1
        return estimate(first, second)  # type: ignore[arg-type]

    minhash.jaccard_estimate = counted  # type: ignore[assignment]
    started = time.perf_counter()
    deduplicator = Deduplicator()
    for problem in problems:
        deduplicator.add(problem)
    decisions = deduplicator.decisions()
    elapsed = time.perf_counter() - started
    minhash.jaccard_estimate = estimate  # type: ignore[assignment]
    dropped = {d.task_id: d.reason for d in decisions if not d.kept}
    found = sum(1 for task, kind in expected.items() if dropped.get(task))
    extra = sum(1 for task in dropped if task not in expected)

    sample = problems[:args.sample]
    shingle_sets = [minhash.shingles(minhash.tokens(p.prompt + p.canonical_solution))
                    for p in sample]
    rng_perm = random.Random(1)
    perms = [(rng_perm.randrange(1, MERSENNE), rng_perm.randrange(MERSENNE))
             for _ in range(minhash.NUM_PERM)]
    t0 = time.perf_counter()
    for items in shingle_sets:
        textbook_signature(items, perms)
    textbook = (time.perf_counter() - t0) / len(sample)
    t0 = time.perf_counter()
    for items in shingle_sets:
        minhash.signature(items)
    ours = (time.perf_counter() - t0) / len(sample)
    t0 = time.perf_counter()
    for problem in sample:
        fingerprint(problem)
    per_fingerprint = (time.perf_counter() - t0) / len(sample)

    n = len(problems)
    kept = sum(1 for d in decisions if d.kept)
    print(f"problems                         {n:>10}")
    print(f"dedup, whole list                {elapsed:>10.2f} s  "
          f"({elapsed / n * 1000:.2f} ms per problem; fingerprint alone "
          f"{per_fingerprint * 1000:.2f} ms)")
    print(f"signature: ours / textbook       {ours * 1000:>10.3f} ms / {textbook * 1000:.3f} ms"
          f"  (textbook is {textbook / ours:.1f}x slower)")
    print(f"comparisons: LSH / all kept pairs {compared[0]:>9} / {kept * (kept - 1) // 2}"
          f"  (all pairs would be {kept * (kept - 1) // 2 / max(compared[0], 1):.0f}x more)")
    print(f"planted copies found             {found:>10} of {len(expected)}"
          f"  (other problems dropped: {extra})")
    print(f"100,000 problems, extrapolated   {elapsed / n * 100_000 / 60:>10.1f} min")


if __name__ == "__main__":
    main()
