"""Recipes from .travis.yml: the job matrix, steps and their reasons, tox jobs, bad files."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from recipes import interpreters
from recipes.ci.travis import recipes_from_travis
from recipes.interpreters import Interpreter
from recipes.records import Recipe, StageError

# The machine the plans are made for: no 3.6, 3.7 or 3.9, so those get stand-ins.
POOL = tuple(Interpreter(v, f"/py/{v[0]}.{v[1]}") for v in
             [(2, 7, 18), (3, 8, 18), (3, 10, 13), (3, 11, 7), (3, 12, 1), (3, 13, 0)])


@pytest.fixture(autouse=True)
def machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(interpreters, "discover", lambda: POOL)


def travis(make_project, text: str, **files: str) -> tuple[list[Recipe], list[str]]:
    project = make_project({".travis.yml": text, **files})
    return recipes_from_travis(project, log_path=project / "plan.log")


def by_job(recipes: list[Recipe]) -> dict[str, Recipe]:
    return {r.job: r for r in recipes}


def test_python_times_env_with_global_variables_less_excluded_jobs(make_project) -> None:
    recipes, skipped = travis(make_project, """
        language: python
        python: ["2.7", 3.8, 3.10]
        env:
          global: [CI_GLOBAL=yes]
          jobs:
            - DJANGO=2.2
            - DJANGO=3.0 NAME="a b"
        jobs:
          exclude:
            - python: 3.8
              env: DJANGO=2.2
          allow_failures:
            - python: 3.10
        script: python -m pytest
    """)
    jobs = by_job(recipes)
    assert set(jobs) == {
        "python=2.7 env=DJANGO=2.2", 'python=2.7 env=DJANGO=3.0 NAME="a b"',
        'python=3.8 env=DJANGO=3.0 NAME="a b"',
        "python=3.10 env=DJANGO=2.2", 'python=3.10 env=DJANGO=3.0 NAME="a b"',
    }
    job = jobs['python=3.8 env=DJANGO=3.0 NAME="a b"']
    assert job.kind == "shell" and job.source == ".travis.yml"
    assert job.python == "3.8" and job.interpreter == "/py/3.8"
    assert job.setenv == (("CI_GLOBAL", "yes"), ("DJANGO", "3.0"), ("NAME", "a b"))
    assert job.commands == (("bash", "-c", "python -m pytest"),)
    # Best first: the version citrace prefers, then the nearest, Python 2 last.
    assert [r.python for r in recipes] == ["3.10", "3.10", "3.8", "2.7", "2.7"]
    assert skipped == []


def test_unquoted_3_10_means_python_3_10_not_3_1(make_project) -> None:
    # YAML reads 3.10 as the float 3.1; citrace keeps the text the author wrote.
    recipes, _ = travis(make_project, "python:\n  - 3.10\n  - 3.1\nscript: pytest\n")
    assert [(r.job, r.python) for r in recipes] == [("python=3.10", "3.10"),
                                                    ("python=3.1", "3.8")]  # 3.1: a stand-in


def test_include_adds_jobs_with_their_own_steps(make_project) -> None:
    recipes, skipped = travis(make_project, """
        env:
          global:
            - SHARED=1
            - secure: "c2VjcmV0"
        install: pip install -e .
        script: python -m unittest
        matrix:
          include:
            - python: "3.12"
              env: [FAST=1, MORE=2]
              script: python -m pytest -x
            - name: oldest
              python: "3.6"
            - python: "3.11"
              os: osx
    """)
    jobs = by_job(recipes)
    assert set(jobs) == {"python=3.12 env=FAST=1 MORE=2", "oldest: python=3.6"}
    fast = jobs["python=3.12 env=FAST=1 MORE=2"]
    assert fast.setenv == (("SHARED", "1"), ("FAST", "1"), ("MORE", "2"))
    assert fast.steps == ("pip install -e .",)  # inherited from the root
    assert fast.commands == (("bash", "-c", "python -m pytest -x"),)
    assert "env: an encrypted (secure) variable is not available here" in fast.skipped
    oldest = jobs["oldest: python=3.6"]
    assert oldest.python == "3.8"  # no 3.6 here: the nearest newer one
    assert oldest.commands == (("bash", "-c", "python -m unittest"),)
    assert skipped == [".travis.yml python=3.11 os=osx: runs on osx, not Linux"]


def test_steps_are_kept_left_out_or_rewritten_with_reasons(make_project) -> None:
    recipes, _ = travis(make_project, """
        python: "3.11"
        services: [postgresql]
        before_install:
          - sudo apt-get update
          - export PYTHONWARNINGS=ignore
        install:
          - travis_retry pip install -r requirements.txt
          - pip install -e .
        before_script: flake8 .
        script:
          - coverage run -m pytest
          - sphinx-build docs docs/_build
        after_success: codecov
        deploy:
          provider: pypi
    """)
    [recipe] = recipes
    assert recipe.steps == ("export PYTHONWARNINGS=ignore", "pip install -r requirements.txt",
                            "pip install -e .")
    assert recipe.commands == (("bash", "-c", "python -m pytest"),)
    assert recipe.skipped == (
        "services: postgresql: not provided here",
        "sudo apt-get update: system packages (needs root)",
        "flake8 .: linter",
        "sphinx-build docs docs/_build: docs build",
    )
    assert recipe.repairs == (
        "travis_retry pip install -r requirements.txt: dropped travis_retry, a Travis shell "
        "function",
        "coverage run -m pytest: coverage run -m pytest -> python -m pytest",
    )


def test_default_install_and_a_job_without_script(make_project) -> None:
    recipes, skipped = travis(make_project, """
        python: ["3.11", "3.12"]
        jobs:
          include:
            - python: "3.13"
              script: flake8
            - python: "3.10"
              script: [echo "no tests yet", cd tests]
    """, **{"requirements.txt": "six\n"})
    assert recipes == []
    assert skipped == [
        ".travis.yml python=3.11: no script (Travis has no default test command)",
        ".travis.yml python=3.12: no script (Travis has no default test command)",
        ".travis.yml python=3.13: no test command (left out: flake8: linter)",
        ".travis.yml python=3.10: no test command",
    ]
    recipes, _ = travis(make_project, "python: '3.11'\nscript: pytest\n",
                        **{"requirements.txt": "six\n"})
    assert recipes[0].steps == ("pip install -r requirements.txt",)


def test_jobs_whose_python_is_missing_here_are_left_out_with_the_reason(make_project) -> None:
    recipes, skipped = travis(make_project,
                              "python: [pypy3, '3.99', '3.11', nightly]\nscript: pytest\n")
    assert [(r.job, r.python) for r in recipes] == [("python=3.11", "3.11"),
                                                    ("python=nightly", "3.13")]
    assert skipped == [".travis.yml python=pypy3: no pypy3 interpreter here (citrace runs CPython)",
                       ".travis.yml python=3.99: no interpreter for 3.99 on this machine"]


def test_script_tox_runs_the_tox_environment_of_the_jobs_python(make_project) -> None:
    recipes, skipped = travis(make_project, """
        python: ["3.8", "3.11", "3.12"]
        install: pip install tox tox-travis
        script: tox
        jobs:
          include:
            - python: "3.11"
              env: TOXENV=docs
            - python: "3.10"
              script: tox -e py310-django,py38
    """, **{"tox.ini": "[tox]\nenvlist = py38, py311, py310-django, docs\n"
                       "[testenv]\ncommands = python -c pass\n"})
    assert [(r.kind, r.job, r.toxenv, r.python) for r in recipes] == [
        ("tox", "python=3.11", "py311", "3.11"),
        ("tox", "python=3.10 toxenv=py310-django", "py310-django", "3.10"),
        ("tox", "python=3.8", "py38", "3.8"),
    ]
    assert skipped == [
        ".travis.yml python=3.12: tox has no environment for python 3.12",
        ".travis.yml python=3.11 env=TOXENV=docs: tox environment docs: not a test run",
        ".travis.yml python=3.10 toxenv=py38: the same build as python=3.8",
    ]


def test_script_tox_without_a_tox_configuration_is_left_out(make_project) -> None:
    recipes, skipped = travis(make_project, "python: '3.11'\nscript: tox\n")
    assert recipes == []
    assert skipped == [".travis.yml python=3.11: runs tox, but the project has no tox "
                       "configuration"]


def test_unknown_keys_are_ignored(make_project) -> None:
    recipes, _ = travis(make_project, """
        language: python
        dist: focal
        arch: [amd64, arm64]
        cache: pip
        notifications: {email: false}
        branches: {only: [main]}
        stages: [test, deploy]
        something_new: {nested: [1, 2]}
        python: "3.11"
        script: pytest
        after_script: echo done
    """)
    assert [r.job for r in recipes] == ["python=3.11"]


def test_a_huge_matrix_is_capped(make_project) -> None:
    envs = "\n".join(f"  - N={i}" for i in range(100))
    recipes, skipped = travis(make_project, f"python: ['3.10', '3.11', '3.12', '3.13', '3.8']\n"
                                            f"env:\n{envs}\nscript: pytest\n")
    assert len(recipes) == 256
    assert skipped == [".travis.yml: the job matrix has more than 256 jobs; only the first 256 "
                       "are read"]


@pytest.mark.parametrize("content, message", [
    (b"python: [3.8\nscript: pytest\n", ".travis.yml is not valid YAML: "),
    (b"python: '3.8'\nscript: echo caf\xe9\n", ".travis.yml is not UTF-8"),
    (b"- just\n- a list\n", ".travis.yml is not a mapping of keys"),
    (b"a: &a [1, *a]\n", ".travis.yml: its YAML aliases expand to more than"),
    (b"# padding\n" * 110_000, ".travis.yml is 1100000 bytes; citrace reads at most 1000000"),
])
def test_unreadable_files_end_the_plan_of_this_source(tmp_path: Path, content: bytes,
                                                      message: str) -> None:
    (tmp_path / ".travis.yml").write_bytes(content)
    with pytest.raises(StageError) as caught:
        recipes_from_travis(tmp_path, log_path=tmp_path / "log")
    assert caught.value.failure.stage == "plan"
    assert caught.value.failure.cause == "config_unreadable"
    assert caught.value.failure.message.startswith(message)


def test_a_billion_laughs_is_refused_quickly(tmp_path: Path) -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]")
    lines += ["python: *i", "env: *i", "script: pytest"]
    (tmp_path / ".travis.yml").write_text("\n".join(lines) + "\n")
    started = time.monotonic()
    with pytest.raises(StageError, match="aliases expand to more than 1000000 nodes"):
        recipes_from_travis(tmp_path, log_path=tmp_path / "log")
    assert time.monotonic() - started < 2


def test_a_script_the_sdist_left_out_leaves_the_job_without_tests(make_project) -> None:
    # art 5.1: `.travis/test.sh` is in the repository, not in the sdist; the job would fail
    # before any test ran and keep the fallback from its turn.
    text = 'language: python\npython: ["3.11"]\nscript:\n  - ./.travis/test.sh\n'
    recipes, skipped = travis(make_project, text)
    assert recipes == []
    assert any("runs ./.travis/test.sh, which the checkout does not have" in s
               for s in skipped), skipped
    recipes, _ = travis(make_project, text, **{".travis/test.sh": "pytest\n"})
    assert [r.commands[-1][-1] for r in recipes] == ["./.travis/test.sh"]
    moved = text.replace("./.travis/test.sh", "cd sub && ./run_tests.sh")
    recipes, _ = travis(make_project, moved)  # relative to another directory: not judged
    assert len(recipes) == 1
