"""tox environments judged by what their commands do, as tox itself resolves them (issue 16,
items 2 and 7): an environment that runs nothing or only chores is no test recipe, and the
project's other CI gets its turn."""

from __future__ import annotations

from pathlib import Path

from recipes.ci.tox import (
    RUNS_TESTS,
    ToxEnvironment,
    judge_environments,
    list_environments,
    spelled_for,
)
from recipes.planner import plan
from tests.recipes.tiny_project import TINY_PYPROJECT

# The 2018 habit: an envlist of Pythons, and commands only in two named chore environments.
NO_COMMANDS_TOX = """
[tox]
envlist = py36, py37, py38, py39, py311, flake8, docs

[testenv:flake8]
deps = flake8
commands = flake8 tiny

[testenv:docs]
deps = sphinx
commands = sphinx-build -b html docs docs/_build
"""
TRAVIS = """
language: python
python:
  - "3.11"
install: pip install -e . pytest
script: pytest tests
"""


def test_environments_without_commands_leave_the_travis_jobs_first(make_project,
                                                                  tmp_path: Path) -> None:
    project = make_project({"tox.ini": NO_COMMANDS_TOX, ".travis.yml": TRAVIS,
                            "pyproject.toml": TINY_PYPROJECT, "tiny/__init__.py": ""})
    recipes, skipped = plan(project, log_path=tmp_path / "log")
    assert [r.kind for r in recipes] == ["shell", "fallback"]
    assert recipes[0].source == ".travis.yml"
    assert "py311: has no commands: tox would run nothing and say OK" in skipped
    assert any(s.startswith("flake8: runs no test, only chores (flake8 tiny)") for s in skipped)
    assert any(s.startswith("docs: ") for s in skipped)


def test_a_travis_job_running_tox_on_an_environment_without_commands_is_left_out(
        make_project, tmp_path: Path) -> None:
    travis = TRAVIS.replace("script: pytest tests", "script: tox -e py311")
    project = make_project({"tox.ini": NO_COMMANDS_TOX, ".travis.yml": travis,
                            "pyproject.toml": TINY_PYPROJECT, "tiny/__init__.py": ""})
    recipes, skipped = plan(project, log_path=tmp_path / "log")
    assert [r.kind for r in recipes] == ["fallback"]
    assert any("tox environment py311: has no commands" in s for s in skipped)


# tox 4's own TOML, in pyproject.toml: a chore whose name names no chore.
PYPROJECT_TOX = TINY_PYPROJECT + """
[tool.tox]
env_list = ["3.11", "type"]

[tool.tox.env_run_base]
deps = ["pytest"]
commands = [["pytest", { replace = "posargs", default = ["tests"], extend = true }]]

[tool.tox.env.type]
deps = ["mypy"]
commands = [["mypy", "tiny"]]

[tool.tox.env.update-actions]
deps = ["gha-update"]
commands = [["gha-update"]]
"""


def test_a_pyproject_chore_environment_is_never_the_test_recipe(make_project,
                                                                tmp_path: Path) -> None:
    project = make_project({"pyproject.toml": PYPROJECT_TOX, "tiny/__init__.py": ""})
    listed = list_environments(project, log_path=tmp_path / "log")
    assert ToxEnvironment("update-actions", ("gha-update",)) in listed
    assert ToxEnvironment("3.11", ("pytest tests",)) in listed
    recipes, skipped = plan(project, log_path=tmp_path / "log")
    assert [r.toxenv for r in recipes if r.kind == "tox"] == ["3.11"]
    assert "update-actions: runs no test runner (gha-update); other environments do" in skipped
    assert any(s.startswith("type: runs no test, only chores (mypy tiny)") for s in skipped)


# Names that say nothing: what the commands run decides, {posargs} defaults included.
NAMED_OTHERWISE_TOX = """
[tox]
envlist = py311-release, quality, unit, legacy

[testenv]
commands = python -m build

[testenv:quality]
commands =
    flake8 tiny
    pylint tiny

[testenv:unit]
commands = {posargs:py.test -q tests}

[testenv:legacy]
commands = python setup.py test
"""


def test_environments_are_ranked_by_their_commands_not_their_names(make_project,
                                                                   tmp_path: Path) -> None:
    project = make_project({"tox.ini": NAMED_OTHERWISE_TOX, "setup.py": "",
                            "tiny/__init__.py": ""})
    recipes, skipped = plan(project, log_path=tmp_path / "log")
    assert [r.toxenv for r in recipes if r.kind == "tox"] == ["unit", "legacy"]
    assert "py311-release: not a test run" in skipped
    assert any(s.startswith("quality: runs no test, only chores") for s in skipped)


def test_a_project_script_runs_when_no_environment_runs_a_known_runner() -> None:
    environments = [ToxEnvironment("py311", ("python selfcheck.py",)),
                    ToxEnvironment("lint", ("flake8",)),
                    ToxEnvironment("cov", ("pytest --cov tiny",))]
    judged = judge_environments(environments)
    assert judged["py311"].why_not == "" and judged["cov"].why_not == ""
    assert judged["cov"].rank < judged["py311"].rank  # a chore name, but it runs pytest
    assert judged["lint"].why_not.startswith("runs no test")
    judged = judge_environments([*environments, ToxEnvironment("py39", ("python -m pytest",)),
                                 ToxEnvironment("py38", None)])
    assert judged["py39"].rank == RUNS_TESTS
    # py38's commands could not be resolved while planning: it is judged by its name.
    assert [name for name, j in judged.items() if not j.why_not] == ["py39", "py38"]
    assert judged["py38"].rank > judged["py39"].rank


def test_commands_tox_cannot_resolve_while_planning_leave_the_name_to_judge(
        make_project, tmp_path: Path) -> None:
    # natsort 7.0.1: {envsitepackagesdir} needs the environment's interpreter, which tox
    # does not find while planning; its commands are then unknown, not "# Exception: ...".
    project = make_project({"tox.ini": """
        [tox]
        envlist = py35, pypy_54, py313t, flake8
        [testenv]
        commands = pytest --doctest-modules {envsitepackagesdir}/tiny
        [testenv:flake8]
        commands = flake8 tiny
    """, "tiny/__init__.py": ""})
    listed = list_environments(project, log_path=tmp_path / "log")
    assert ToxEnvironment("py35", None) in listed
    judged = judge_environments(listed)
    assert judged["py35"].why_not == "" and judged["pypy_54"].why_not == "not a test run"
    recipes, skipped = plan(project, log_path=tmp_path / "log")
    assert "py313t: a free-threaded Python (none here)" in skipped
    assert "py313t" not in {r.toxenv for r in recipes}


# The 2015 habit: an envlist of Pythons tox no longer runs, a factor for a dependency.
OLD_PYTHONS_TOX = """
[tox]
envlist = py27, py34, py35-six, py36-six

[testenv]
deps =
    pytest
    six: six
commands = pytest tests
"""


def test_environments_on_pythons_tox_cannot_run_get_the_oldest_it_runs_instead(
        make_project, tmp_path: Path) -> None:
    project = make_project({"tox.ini": OLD_PYTHONS_TOX, "pyproject.toml": TINY_PYPROJECT,
                            "tiny/__init__.py": ""})
    recipes, skipped = plan(project, log_path=tmp_path / "log")
    tox = [r for r in recipes if r.kind == "tox"]
    # One stand-in per environment they become (py35-six and py36-six are one), after py27.
    assert [(r.job, r.toxenv, r.python, r.wanted) for r in tox if r.python != "2.7"] == [
        ("py34", "py37", "3.7", "3.4"), ("py35-six", "py37-six", "3.7", "3.5")]
    assert "py36-six: tox runs no Python 3.6 environment here; py37-six stands in" in skipped


OVERRIDES = ("testenv.pass_env+=CITRACE_*", "testenv:py3.11.recreate=false", "requires=",
             "tox.requires=", "testenv.commands=pytest a.b")


def test_overrides_name_the_sections_as_a_toml_configuration_does(make_project) -> None:
    # issue 16, item 6: tox's own TOML names no [testenv]: an override of it is ignored, and
    # the tests ran without the probe's variable.
    tables = make_project({"pyproject.toml": TINY_PYPROJECT + '[tool.tox]\nenv_list = ["py3"]\n'})
    assert spelled_for(tables, OVERRIDES) == [
        "tool.tox.env_run_base.pass_env+=CITRACE_*", "tool.tox.env.py3.11.recreate=false",
        "requires=", "tox.requires=", "tool.tox.env_run_base.commands=pytest a.b"]
    tox_toml = make_project({"tox.toml": 'env_list = ["py3"]\n'})
    assert spelled_for(tox_toml, OVERRIDES)[:2] == ["env_run_base.pass_env+=CITRACE_*",
                                                    "env.py3.11.recreate=false"]
    legacy = make_project({"pyproject.toml": TINY_PYPROJECT + '[tool.tox]\nlegacy_tox_ini = """\n'
                                             '[tox]\nenvlist = py3\n"""\n'})
    ini = make_project({"tox.ini": "[tox]\nenvlist = py3\n"})
    assert spelled_for(legacy, OVERRIDES) == spelled_for(ini, OVERRIDES) == list(OVERRIDES)


def test_setup_requires_are_installed_with_every_environment(make_project,
                                                              tmp_path: Path) -> None:
    # PyJWT 1.5.3: `python setup.py test` fetches pytest-runner when the tests start, and
    # the traced run has no network.
    setup = ("from setuptools import setup\nNEEDED = ['pytest-runner>=2.0', 'setuptools']\n"
             "setup(name='tiny', setup_requires=NEEDED, packages=['tiny'])\n")
    project = make_project({"tox.ini": "[tox]\nenvlist = py311\n[testenv]\n"
                                       "commands = python setup.py test\n",
                            "setup.py": setup, "tiny/__init__.py": ""})
    recipes, _ = plan(project, log_path=tmp_path / "log")
    tox = [r for r in recipes if r.kind == "tox"]
    assert tox and "testenv.deps+=pytest-runner>=2.0" in tox[0].overrides
    assert "testenv.deps+=setuptools" not in tox[0].overrides
    assert any("installed with the environment: pytest-runner>=2.0" in note
               for note in tox[0].repairs)
