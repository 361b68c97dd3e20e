"""Recipes from GitHub Actions workflows: matrices, expressions, steps, and the planner's order."""

from __future__ import annotations

import pytest

from recipes import interpreters
from recipes.ci.actions import recipes_from_actions
from recipes.ci.actions_expr import condition, substitute
from recipes.interpreters import Interpreter
from recipes.planner import plan
from recipes.records import Recipe

POOL = tuple(Interpreter(v, f"/py/{v[0]}.{v[1]}") for v in
             [(3, 8, 18), (3, 10, 13), (3, 11, 7), (3, 12, 1), (3, 13, 0)])
WORKFLOW = ".github/workflows/tests.yml"


@pytest.fixture(autouse=True)
def machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(interpreters, "discover", lambda: POOL)


def actions(make_project, text: str, **files: str) -> tuple[list[Recipe], list[str]]:
    project = make_project({WORKFLOW: text, **files})
    return recipes_from_actions(project, log_path=project / "plan.log")


TESTS = """
on: [push, pull_request]
env:
  FROM_WORKFLOW: w
jobs:
  test:
    runs-on: ${{ matrix.os }}
    strategy:
      matrix:
        os: [ubuntu-latest, windows-latest]
        python-version: [3.8, 3.10, "3.12"]
        exclude:
          - os: ubuntu-latest
            python-version: "3.12"
        include:
          - python-version: 3.10
            coverage: true
          - os: ubuntu-22.04
            python-version: "3.13"
    env:
      PY: py${{ matrix.python-version }}
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: ${{ matrix.python-version }}
      - uses: actions/cache@v4
        with: {path: ~/.cache/pip}
      - name: Install
        run: |
          python -m pip install --upgrade pip
          pip install -e .[test]
      - name: Windows only
        if: runner.os == 'Windows'
        run: echo windows
      - name: Test
        run: pytest --cov=pkg -v -k "${{ matrix.python-version }}"
        env:
          MESSAGE: hello world
        working-directory: tests
      - name: Upload coverage
        if: ${{ matrix.coverage }}
        run: codecov
      - run: python -m build
"""


def test_matrix_entries_become_recipes_with_expressions_substituted(make_project) -> None:
    recipes, skipped = actions(make_project, TESTS)
    assert [r.job for r in recipes] == [
        "test os=ubuntu-latest python-version=3.10 coverage=true",  # the unquoted 3.10 trap
        "test os=ubuntu-22.04 python-version=3.13",
        "test os=ubuntu-latest python-version=3.8",
    ]
    assert [r.python for r in recipes] == ["3.10", "3.13", "3.8"]
    assert skipped == [
        f"{WORKFLOW} test os=windows-latest python-version={v}: runs on windows-latest, not Linux"
        for v in ("3.8", "3.10 coverage=true", "3.12")
    ]
    recipe = recipes[0]
    assert recipe.source == WORKFLOW and recipe.kind == "shell"
    assert recipe.setenv == (("FROM_WORKFLOW", "w"), ("PY", "py3.10"))
    assert recipe.steps == ("python -m pip install --upgrade pip\npip install -e .[test]",)
    assert recipe.commands == (("bash", "-e", "-c",
                                "export MESSAGE='hello world'\ncd tests\npytest -v -k \"3.10\""),)
    assert recipe.repairs == ("pytest --cov=pkg -v -k \"3.10\"…: dropped pytest-cov options: "
                              "coverage would compete with citrace's tracer",)
    assert recipe.skipped == ("uses actions/cache@v4: actions are not run",
                              "Windows only: its if: is false for this entry",
                              "codecov: coverage report or upload",
                              "python -m build: runs after the tests")
    assert "Upload coverage: its if: is false for this entry" in recipes[2].skipped


def test_jobs_that_cannot_run_here_are_left_out_with_the_reason(make_project) -> None:
    recipes, skipped = actions(make_project, """
        on: push
        jobs:
          lint:
            runs-on: ubuntu-latest
            steps:
              - uses: actions/setup-python@v5
                with: {python-version: "3.12"}
              - run: pip install flake8
              - run: flake8 .
          nox:
            runs-on: ubuntu-latest
            steps:
              - uses: actions/setup-python@v4
              - run: nox -s tests
          conda:
            runs-on: ubuntu-latest
            steps:
              - uses: conda-incubator/setup-miniconda@v3
              - run: pytest
          mac:
            runs-on: macos-latest
            steps:
              - uses: actions/setup-python@v5
              - run: pytest
          dynamic:
            runs-on: ubuntu-latest
            strategy:
              matrix: ${{ fromJSON(needs.setup.outputs.matrix) }}
            steps:
              - uses: actions/setup-python@v5
              - run: pytest
          reused:
            uses: ./.github/workflows/reusable.yml
          pypy:
            runs-on: ubuntu-latest
            steps:
              - uses: actions/setup-python@v5
                with: {python-version: pypy-3.10}
              - run: pytest
    """)
    assert recipes == []
    assert skipped == [
        f"{WORKFLOW} conda: no actions/setup-python step",
        f"{WORKFLOW} mac: runs on macos-latest, not Linux",
        f"{WORKFLOW} dynamic: the matrix is computed at run time",
        f"{WORKFLOW} reused: calls a reusable workflow, which is not read",
        f"{WORKFLOW} lint: no test command (left out: flake8 .: linter)",
        f"{WORKFLOW} nox: no test command (left out: nox -s tests: nox sessions are not run)",
        f"{WORKFLOW} pypy: no pypy-3.10 interpreter here (citrace runs CPython)",
    ]


def test_tox_in_a_step_runs_the_tox_environment_of_the_python(make_project) -> None:
    recipes, skipped = actions(make_project, """
        jobs:
          tox:
            runs-on: ubuntu-latest
            strategy:
              matrix:
                python: ["3.11", "3.13"]
            steps:
              - uses: actions/setup-python@v5
                with:
                  python-version: ${{ matrix.python }}
              - run: python -m pip install tox tox-gh-actions
              - run: tox
    """, **{"tox.ini": "[tox]\nenvlist = py311, lint\n[testenv]\ncommands = python -c pass\n"})
    assert [(r.kind, r.job, r.toxenv, r.python) for r in recipes] == [
        ("tox", "tox python=3.11", "py311", "3.11")]
    assert skipped == [f"{WORKFLOW} tox python=3.13: tox has no environment for python 3.13"]


def test_an_unreadable_workflow_is_noted_and_the_others_are_read(make_project) -> None:
    project = make_project({
        ".github/workflows/broken.yaml": "jobs: [unclosed\n",
        ".github/workflows/ok.yml": """
            jobs:
              test:
                runs-on: ubuntu-latest
                steps:
                  - uses: actions/setup-python@v5
                  - run: python -m unittest
        """,
        ".github/workflows/README.md": "not a workflow",
    })
    recipes, skipped = recipes_from_actions(project, log_path=project / "log")
    assert [(r.source, r.job, r.python) for r in recipes] == [(".github/workflows/ok.yml",
                                                               "test", "3.11")]
    assert len(skipped) == 1
    assert skipped[0].startswith(".github/workflows/broken.yaml is not valid YAML")


@pytest.mark.parametrize("expression, expected", [
    ("runner.os == 'linux'", True),  # strings compare ignoring case
    ("matrix.python-version == '3.10'", True),
    ("matrix['python-version'] != '3.10'", False),
    ("startsWith(matrix.os, 'ubuntu') && !contains(matrix.python-version, 'pypy')", True),
    ("github.event_name == 'push'", None),  # unknown here: the step is kept
    ("github.event_name == 'push' && runner.os == 'Windows'", False),
    ("github.event_name == 'push' || runner.os == 'Linux'", True),
    ("${{ always() }}", True),
    ("failure()", False),
    ("false", False),
    ("matrix.missing", False),
    ("not ( an expression", None),
])
def test_conditions_are_decided_only_when_the_plan_can_know(expression: str,
                                                           expected: bool | None) -> None:
    contexts = {"matrix": {"python-version": "3.10", "os": "ubuntu-latest"},
                "runner": {"os": "Linux"}, "env": {}}
    assert condition(expression, contexts) is expected


def test_substitution_fills_known_contexts_and_blanks_the_rest() -> None:
    contexts = {"matrix": {"py": {"v": "3.9"}}, "env": {"A": "1"}, "runner": {"os": "Linux"}}
    text = "${{ matrix.py.v }} ${{ env.A }} [${{ secrets.TOKEN }}] ${{ github.workspace }} " \
           "${{ format('py{0}', matrix.py.v) }}"
    assert substitute(text, contexts) == "3.9 1 [] $GITHUB_WORKSPACE py3.9"


def test_the_planner_orders_tox_then_travis_then_actions_then_fallback(make_project,
                                                                      tmp_path) -> None:
    # ... except that a job on 3.12+ (the fast tracer) the project runs goes first.
    project = make_project({
        "pyproject.toml": "[project]\nname = 'x'\n",
        "tox.ini": "[tox]\nenvlist = py311\n[testenv]\ncommands = python -c pass\n",
        ".travis.yml": "python: ['3.11', '3.12']\nscript:\n  - tox\n  - pytest\n",
        WORKFLOW: """
            jobs:
              test:
                runs-on: ubuntu-latest
                steps:
                  - uses: actions/setup-python@v5
                    with: {python-version: "3.12"}
                  - run: python -m pytest
        """,
    })
    recipes, skipped = plan(project, log_path=tmp_path / "log")
    assert [(r.kind, r.source, r.job) for r in recipes] == [
        ("shell", WORKFLOW, "test"),
        ("tox", "tox.ini", "py311"),
        ("fallback", "fallback", "pytest"),
    ]
    assert skipped == [
        ".travis.yml python=3.12: tox has no environment for python 3.12",
        ".travis.yml python=3.11: runs tox environment py311, already planned",
    ]
