"""``citrace export``: HumanEval and Codex-D JSONL with one type per field, and pytest files
that run against the original project."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from miners.cli.main import main
from tracer.dataset.export import mixed_types, to_problem, write_problems
from tracer.dataset.formats import FormatError, module_of_path, split_docstring
from tracer.emit.candidates import build_candidates
from tracer.records import ContaminationHit, DedupCluster, Problem, TraceSet


@pytest.fixture
def run_dir(sexagesimal: TraceSet, project, tmp_path: Path) -> Path:
    """A run directory whose problems.jsonl holds the validated sexagesimal problems, one
    of them flagged as contaminated and one deduplicated, as a finished run has them."""
    # Not validated here (test_emit_validate does that): the pytest export checks them too.
    candidates = build_candidates(sexagesimal, checkout=project.root, roots=(),
                                  project_packages=frozenset()).candidates
    problems = [to_problem(c, project="sexagesimal", version="0.3", source_spec="sx",
                           python="3.11", ci_file="tox.ini", license="MIT") for c in candidates]
    assert len(problems) >= 2
    hit = ContaminationHit("HumanEval", "HumanEval/9", "10-gram", "prompt", "some words")
    problems[0] = replace(problems[0], meta=replace(
        problems[0].meta, contamination=(hit,), dedup_cluster=DedupCluster(
            problems[0].task_id, 2), decontaminated_against=("HumanEval",)))
    out = tmp_path / "run"
    write_problems(out / "problems.jsonl", problems)
    return out


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_humaneval_export_keeps_every_field_to_one_type(run_dir: Path) -> None:
    # An older line without the newer meta fields gets them, with empty values.
    lines = rows(run_dir / "problems.jsonl")
    for name in ("tests", "contamination", "dedup_cluster", "license", "unsafe_no_sandbox"):
        lines[-1]["meta"].pop(name)
    (run_dir / "problems.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    assert mixed_types(lines) != []
    assert main(["export", str(run_dir)]) == 0
    exported = rows(run_dir / "humaneval.jsonl")
    assert [r["task_id"] for r in exported] == [r["task_id"] for r in lines]
    assert list(exported[0]) == ["task_id", "prompt", "canonical_solution", "test",
                                 "entry_point", "meta"]
    assert mixed_types(exported) == []
    assert exported[-1]["meta"]["dedup_cluster"] == {"id": "", "size": 0}
    assert exported[-1]["meta"]["contamination"] == []


def test_mixed_types_names_the_fields_datasets_would_reject() -> None:
    assert mixed_types([{"a": 1, "m": {"x": "s"}}, {"a": 2, "m": {"x": None}}]) == [
        "m.x: null / str"]
    assert mixed_types([{"a": [1]}, {"a": ["b"]}]) == ["a[]: int / str"]
    assert mixed_types([{"a": 1}, {"a": 1, "b": 2}]) == ["(row): keys differ across rows"]


def test_codex_d_puts_the_docstring_last_as_the_target(run_dir: Path, tmp_path: Path) -> None:
    destination = tmp_path / "d.jsonl"
    assert main(["export", str(run_dir), "--format", "codex-d", "-o", str(destination)]) == 0
    exported = rows(destination)
    first = next(r for r in exported if r["entry_point"] == "format_duration")
    assert first["target"] == ("Write a positive whole number of seconds as days, hours, "
                               "minutes and seconds.")
    assert '"""' not in first["prompt"].split("def format_duration")[1]
    assert first["prompt"].rstrip().endswith('return "".join(parts)')
    assert list(first) == ["task_id", "prompt", "target", "entry_point", "meta"]
    assert mixed_types(exported) == []


def test_split_docstring_keeps_everything_else_verbatim() -> None:
    source = 'X = 1\n\n\ndef f(a):\n    """Line one.\n\n    More.\n    """\n    # c\n    return a\n'
    code, doc = split_docstring(source, "f")
    assert code == "X = 1\n\n\ndef f(a):\n    # c\n    return a\n"
    assert doc == "Line one.\n\nMore."
    with pytest.raises(FormatError):
        split_docstring("def g():\n    return 1\n", "g")


def test_split_docstring_of_a_method_problem_takes_the_method_last_in_its_class() -> None:
    source = ('class Box:\n    """A box."""\n\n    def size(self):\n        """Its size."""\n'
              '        return 1\n\n    def grow(self, n):\n        """Grow by n."""\n'
              '        self.n += n\n')
    code, doc = split_docstring(source, "Box")
    assert doc == "Grow by n."
    assert code == source.replace('        """Grow by n."""\n', "")


def test_module_of_path_guesses_for_older_lines() -> None:
    assert module_of_path("src/pkg/mod.py") == "pkg.mod"
    assert module_of_path("pkg/__init__.py") == "pkg"
    assert module_of_path("README") == ""


def test_pytest_export_runs_against_the_original_project(run_dir: Path, project,
                                                         tmp_path: Path) -> None:
    tests = tmp_path / "tests-out"
    assert main(["export", str(run_dir), "--format", "pytest", "-o", str(tests)]) == 0
    files = sorted(p.name for p in tests.iterdir())
    count = len(rows(run_dir / "problems.jsonl"))
    assert len(files) == count and files[0].startswith("test_00000_sexagesimal_")

    def pytest_on(checkout: Path) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PYTHONPATH": str(checkout)}
        return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               "--rootdir", str(tests), str(tests)], cwd=tests, env=env,
                              capture_output=True, text=True, timeout=120)

    passing = pytest_on(project.root)
    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert f"{count} passed" in passing.stdout
    # A subtly wrong project (one unit's length off by one) fails the tests that cover it.
    source = project.root / "sexagesimal.py"
    source.write_text(source.read_text().replace('("m", 60)', '("m", 61)'))
    failing = pytest_on(project.root)
    assert failing.returncode == 1 and " failed" in failing.stdout


def test_export_of_a_directory_without_problems_says_what_to_give(tmp_path: Path,
                                                                  capsys) -> None:
    assert main(["export", str(tmp_path)]) == 2
    assert "citrace mine" in capsys.readouterr().err


def test_problem_round_trips_through_its_dict(run_dir: Path) -> None:
    for line in rows(run_dir / "problems.jsonl"):
        assert Problem.from_dict(line).to_dict() == line
