"""When a recipe's tests fail, the next recipe gets its turn; a run in which most tests pass
is kept, with its failures counted; every recipe tried is recorded."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from miners.cli.main import QUICKSTART, main

TEXTKIT = QUICKSTART.parent / "examples" / "textkit"


@pytest.mark.slow
def test_failed_tox_tests_fall_through_to_a_mostly_passing_fallback(tmp_path: Path) -> None:
    project = tmp_path / "textkit"
    shutil.copytree(TEXTKIT, project, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    # tox's test command fails outright (no test summary): the run is not usable, and a
    # second environment with the same commands would fail the same way (pydash 4.9.2's
    # `inv test`, which builds the package first): the fallback gets the next turn.
    tox_ini = project / "tox.ini"
    tox_ini.write_text(tox_ini.read_text().replace(
        "commands = pytest -q tests", "commands = python -c \"raise SystemExit(3)\"", 1).replace(
        "envlist = py3, lint", "envlist = py3, unit, lint"))
    # The fallback's pytest run has one failing test among the passing ones: it is kept.
    (project / "tests" / "test_flaky.py").write_text("def test_flaky():\n    assert False\n")
    out = tmp_path / "out"
    assert main(["mine", str(project), "-o", str(out)]) == 0
    [repo] = [json.loads(line) for line in (out / "repos.jsonl").read_text().splitlines()]
    assert repo["status"] == "ok", repo
    assert repo["recipe"] == "fallback:pytest"
    # tox's py3 once: its command failed before any test, so neither the same job on
    # another Python nor the other environment is run.
    [tried] = repo["recipes_tried"]
    assert tried.startswith("tox.ini:py3 (python 3.") and tried.endswith(
        ": test test_command_failed")
    assert repo["counts"]["tests_failed"] == 1 and repo["counts"]["tests_passed"] >= 4
    assert repo["counts"]["problems"] >= 4
    assert repo["log_tail"] == "" and not (out / "failures").exists()


@pytest.mark.slow
def test_a_tox_run_that_ran_no_test_falls_through_to_the_next_recipe(tmp_path: Path) -> None:
    # issue 16, item 2: a command that is neither a test runner nor a chore is planned (it
    # may be the project's own test script), but it ran no test: tox says OK, nothing is
    # recorded, and the next recipe must get its turn instead of the project ending no_calls.
    project = tmp_path / "textkit"
    shutil.copytree(TEXTKIT, project, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    tox_ini = project / "tox.ini"
    # A second environment with the same commands is not tried once the first ran no test.
    tox_ini.write_text(tox_ini.read_text().replace(
        "commands = pytest -q tests", "commands = python -c \"print('built')\"", 1).replace(
        "envlist = py3, lint", "envlist = py3, unit, lint"))
    out = tmp_path / "out"
    assert main(["mine", str(project), "-o", str(out)]) == 0
    [repo] = [json.loads(line) for line in (out / "repos.jsonl").read_text().splitlines()]
    assert repo["status"] == "ok", repo
    assert repo["recipe"] == "fallback:pytest"
    [tried] = repo["recipes_tried"]
    assert tried.startswith("tox.ini:py3 (python 3.") and tried.endswith(": test no_tests_found")
    assert repo["counts"]["tests_passed"] >= 4 and repo["counts"]["problems"] >= 4


@pytest.mark.slow
def test_tox_environments_without_commands_leave_the_project_to_its_travis_jobs(
        tmp_path: Path) -> None:
    # issue 16, item 2, as found: an envlist of Pythons whose environments have no commands
    # (tox runs nothing and says OK), commands only in chore environments, and a .travis.yml
    # that runs the tests. Before, the project ended no_calls without trying Travis.
    project = tmp_path / "textkit"
    shutil.copytree(TEXTKIT, project, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    (project / "tox.ini").write_text(
        "[tox]\nenvlist = py37, py38, py39, py311, py312, lint\n\n"
        "[testenv:lint]\nskip_install = true\ndeps = flake8\ncommands = flake8 textkit\n")
    (project / ".travis.yml").write_text(
        "language: python\npython:\n  - \"3.12\"\ninstall: pip install -e . pytest\n"
        "script: pytest -q tests\n")
    out = tmp_path / "out"
    assert main(["mine", str(project), "-o", str(out)]) == 0
    [repo] = [json.loads(line) for line in (out / "repos.jsonl").read_text().splitlines()]
    assert repo["status"] == "ok", repo
    assert repo["recipe"].startswith(".travis.yml:") and repo["recipes_tried"] == []
    assert repo["counts"]["tests_passed"] >= 4 and repo["counts"]["problems"] >= 4
