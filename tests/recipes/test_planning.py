from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from recipes.ci.fallback import fallback_recipe
from recipes.ci.tox import is_test_environment, python_factor, tox_config_file
from recipes.planner import plan

TOX_INI = """
[tox]
envlist = py{27,311,399}-unit, lint, docs

[testenv]
commands = python -m unittest
"""


def test_every_tox_source_is_recognised(make_project) -> None:
    assert tox_config_file(make_project({"tox.ini": "[tox]\n"})) == "tox.ini"
    assert tox_config_file(make_project({"setup.cfg": "[tox:tox]\nenvlist = py3\n"})) == "setup.cfg"
    legacy = '[tool.tox]\nlegacy_tox_ini = """\n[tox]\n"""\n'
    assert tox_config_file(make_project({"pyproject.toml": legacy})) == "pyproject.toml"
    assert tox_config_file(make_project({"tox.toml": "env_list = ['py3']\n"})) == "tox.toml"
    assert tox_config_file(make_project({"setup.cfg": "[metadata]\nname = x\n"})) is None


def test_tox_environments_become_recipes_with_reasons_for_the_rest(make_project,
                                                                  tmp_path: Path) -> None:
    project = make_project({"tox.ini": TOX_INI, "pyproject.toml": "[project]\nname='x'\n"})
    recipes, skipped = plan(project, log_path=tmp_path / "log")
    tox_jobs = [r.job for r in recipes if r.kind == "tox"]
    assert tox_jobs == ["py311-unit"]
    assert recipes[-1].kind == "fallback"
    # The machine has 2.7, but the tracer cannot run there.
    assert any(s.startswith("tox.ini py27-unit: Python 2.7 cannot be traced") for s in skipped)
    assert "py399-unit: no interpreter for 3.99 on this machine" in skipped
    # lint and docs inherit [testenv]'s unittest, but they are named for chores.
    assert {"lint", "docs"} == {s.split(":")[0] for s in skipped
                               if s.endswith("(named for a chore; other environments run "
                                             "the tests)")}


def test_unreadable_tox_configuration_leaves_the_fallback(make_project, tmp_path: Path) -> None:
    project = make_project({"tox.ini": "[tox\nenvlist = = =\n", "setup.py": "pass\n"})
    recipes, skipped = plan(project, log_path=tmp_path / "log")
    assert [r.kind for r in recipes] == ["fallback"]
    assert any(s.startswith("tox.ini: tox cannot read the configuration") for s in skipped)


def test_python_factor_and_chores() -> None:
    assert python_factor("py311-django42") == (True, (3, 11))
    assert python_factor("py3") == (True, None)
    assert python_factor("unit") == (False, None)
    assert not is_test_environment("py311-lint") and not is_test_environment("coverage")
    assert is_test_environment("py311-unit")


def test_fallback_installs_test_extras_and_requirement_files(make_project) -> None:
    project = make_project({
        "pyproject.toml": """
            [project]
            name = "x"
            requires-python = ">=3.12"
            [project.optional-dependencies]
            tests = ["hypothesis"]
        """,
        "requirements-test.txt": "pytest\n",
    })
    recipe = fallback_recipe(project)
    assert recipe is not None
    assert recipe.install == ("-e", ".[tests]", "-rrequirements-test.txt", "pytest")
    assert recipe.python == "3.12"  # the preferred 3.11 is excluded by requires-python


PASSENV_TOX3 = """
[tox]
envlist = py311
skipsdist = true

[testenv]
passenv = HOME LANG
    CI
commands = python -c "pass"

[testenv:py311]
passenv = FOO BAR
"""


def test_tox3_space_separated_passenv_is_repaired_and_tox4_accepts_it(make_project,
                                                                      tmp_path: Path) -> None:
    # python-dateutil 2.8.1 fails in tox 4 with "pass_env values cannot contain whitespace".
    project = make_project({"tox.ini": PASSENV_TOX3})
    recipes, _ = plan(project, log_path=tmp_path / "log")
    [recipe] = [r for r in recipes if r.kind == "tox"]
    assert "testenv.pass_env=HOME,LANG,CI,CITRACE_*" in recipe.overrides
    assert "testenv:py311.pass_env=FOO,BAR,CITRACE_*" in recipe.overrides
    assert recipe.repairs == ("[testenv] passenv: separated its names with commas "
                              "(tox 4 rejects spaces)",
                              "[testenv:py311] passenv: separated its names with commas "
                              "(tox 4 rejects spaces)")
    argv = [sys.executable, "-m", "tox", "config", "-e", "py311", "-k", "pass_env",
            "ignore_errors", "allowlist_externals"]
    for override in recipe.overrides:
        argv += ["-x", override]
    shown = subprocess.run(argv, cwd=project, capture_output=True, text=True, timeout=120,
                           env={**os.environ, "TOX_USER_CONFIG_FILE": "/dev/null"}).stdout
    assert "whitespace" not in shown and "ignore_errors = True" in shown
    assert "allowlist_externals = *" in shown  # tox 3 ran ./run_tests.py with a warning
    assert {"  FOO", "  BAR", "  CITRACE_*"} <= set(shown.splitlines())


def test_passenv_with_factor_conditions_is_left_to_tox(make_project, tmp_path: Path) -> None:
    project = make_project({"tox.ini": "[tox]\nenvlist = py311\n[testenv]\n"
                                       "passenv =\n    py311: FOO BAR\ncommands = pytest\n"})
    recipes, _ = plan(project, log_path=tmp_path / "log")
    assert [r.repairs for r in recipes if r.kind == "tox"] == [()]
