"""Real builds: tox and virtualenv environments for projects the tests write."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from recipes.ci.fallback import fallback_recipe
from recipes.interpreters import discover
from recipes.planner import build, plan, run_tests
from recipes.records import StageError
from recipes.runners.diagnose import cause_of_test_failure
from recipes.runners.installers import BuildOptions, uv_binary
from tests.recipes.old_backend import OLD_BACKEND_PROJECT
from tests.recipes.tiny_project import CACHE_CLIENT, TINY_PYPROJECT

TINY = {
    "pyproject.toml": TINY_PYPROJECT,
    "tiny/__init__.py": "def double(x):\n    return 2 * x\n",
}
# The test proves the package imports and that variables the runner passes reach the tests.
UNITTEST = """
import os, unittest
import tiny

class T(unittest.TestCase):
    def test_double(self):
        self.assertEqual(tiny.double(2), 4)
        with open(os.environ["CITRACE_WITNESS"], "w") as f:
            f.write("seen")
"""


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "work", tmp_path / "log.txt"


def test_tox_environment_is_built_repaired_and_run(make_project, dirs, tmp_path: Path) -> None:
    work, log = dirs
    project = make_project({**TINY, "tests/test_tiny.py": UNITTEST, "tox.ini": """
        [tox]
        envlist = py3
        [testenv]
        extras = test
        commands = python -m unittest discover -s tests
    """})
    recipes, _ = plan(project, log_path=log)
    assert recipes[0].kind == "tox" and recipes[0].job == "py3"
    env = build(recipes[0], project, work_dir=work, log_path=log, timeout=600)
    assert env.recipe.repairs == ("dropped extras the package does not declare: test",)
    witness = _witness(tmp_path)
    outcome = run_tests(env, project, extra_env={"CITRACE_WITNESS": str(witness)},
                        log_path=log, timeout=600, writable=(witness.parent,))
    assert outcome.ok, outcome.output_tail
    assert witness.read_text() == "seen"


def test_fallback_builds_a_virtualenv_and_runs_pytest(make_project, dirs, tmp_path) -> None:
    work, log = dirs
    project = make_project({**TINY, "tests/test_tiny.py": UNITTEST})
    recipe = fallback_recipe(project)
    assert recipe is not None
    env = build(recipe, project, work_dir=work, log_path=log, timeout=600)
    assert Path(env.python).is_file() and env.version.startswith(recipe.python)
    witness = _witness(tmp_path)
    outcome = run_tests(env, project, extra_env={"CITRACE_WITNESS": str(witness)},
                        log_path=log, timeout=600, writable=(witness.parent,))
    assert outcome.ok, outcome.output_tail
    assert witness.read_text() == "seen"


def test_failing_tests_are_reported_with_their_cause(make_project, dirs) -> None:
    work, log = dirs
    project = make_project({**TINY, "tests/test_bad.py": "def test_bad():\n    assert 1 == 2\n"})
    recipe = fallback_recipe(project)
    assert recipe is not None
    env = build(recipe, project, work_dir=work, log_path=log, timeout=600)
    outcome = run_tests(env, project, extra_env={}, log_path=log, timeout=600)
    assert not outcome.ok and cause_of_test_failure(outcome) == "tests_failed"


def test_an_uninstallable_project_fails_the_build_stage(make_project, dirs) -> None:
    work, log = dirs
    project = make_project({"setup.py": "raise RuntimeError('this setup.py is broken')\n"})
    recipe = fallback_recipe(project)
    assert recipe is not None
    with pytest.raises(StageError) as caught:
        build(recipe, project, work_dir=work, log_path=log, timeout=600)
    assert caught.value.failure.stage == "build"
    assert caught.value.failure.cause == "install_failed"


def test_a_tox_environment_on_python_36_fails_its_build_at_once(make_project, dirs) -> None:
    """tox-uv's environment query cannot run on 3.6 and virtualenv 21 cannot make it, so the
    build says so before spending minutes, and the pipeline tries the next recipe."""
    work, log = dirs
    project = make_project({**TINY, "tests/test_tiny.py": UNITTEST, "tox.ini": """
        [tox]
        envlist = py36, py311
        [testenv]
        commands = python -m unittest discover -s tests
    """})
    recipes, _ = plan(project, log_path=log)
    # The planner runs py36 as the same environment on the oldest Python tox runs ...
    [stand_in] = [r for r in recipes if r.kind == "tox" and r.job == "py36"]
    assert (stand_in.python, stand_in.toxenv) == ("3.7", "py37")
    # ... and a recipe that would still name 3.6 is refused by the build at once.
    python36 = [i for i in discover() if i.version[:2] == (3, 6)]
    if not python36:
        pytest.skip("no CPython 3.6 on this machine")
    old = replace(stand_in, python="3.6", interpreter=python36[0].path, toxenv="py36")
    with pytest.raises(StageError) as caught:
        build(old, project, work_dir=work, log_path=log, timeout=600)
    assert (caught.value.failure.stage, caught.value.failure.cause) == ("build", "venv_failed")
    assert "tox-uv" in caught.value.failure.message and not work.exists()


def _witness(tmp_path: Path) -> Path:
    """Where the tests write what they saw: a directory given to them besides the project's
    own (as the probe's trace directory is)."""
    directory = tmp_path / "witness-dir"
    directory.mkdir()
    return directory / "witness"


def test_a_generic_py_environment_runs_on_the_python_the_project_declares(make_project,
                                                                           dirs) -> None:
    work, log = dirs
    declared = TINY_PYPROJECT.replace(
        'version = "1.0"\n',
        'version = "1.0"\nclassifiers = ["Programming Language :: Python :: 3.10"]\n')
    project = make_project({**TINY, "pyproject.toml": declared,
                            "tests/test_tiny.py": "import sys\n\ndef test_version():\n"
                                                  "    assert sys.version_info[:2] == (3, 10)\n",
                            "tox.ini": """
        [tox]
        envlist = py
        [testenv]
        deps = pytest
        commands = pytest -q
    """})
    recipes, _ = plan(project, log_path=log)
    assert (recipes[0].job, recipes[0].python) == ("py", "3.10")
    env = build(recipes[0], project, work_dir=work, log_path=log, timeout=600)
    assert env.version.startswith("3.10")  # not tox's own 3.11
    outcome = run_tests(env, project, extra_env={}, log_path=log, timeout=600)
    assert outcome.ok, outcome.output_tail


@pytest.mark.parametrize("section", ["testenv", "testenv:py3"])
def test_the_traced_run_reuses_the_environment_whatever_recreate_says(make_project, dirs,
                                                                      section: str) -> None:
    # issue 16, item 1: the run has no network, so an environment recreated there cannot
    # even install its deps (network_in_tests for every tox recipe of the project); nor can
    # tox provision itself for ``requires`` (here a tox 3 plugin, which tox 4 cannot load).
    work, log = dirs
    project = make_project({**TINY, "tests/test_tiny.py": UNITTEST.replace(
        'with open(os.environ["CITRACE_WITNESS"], "w") as f:\n            f.write("seen")',
        "pass"), "tox.ini": f"""
        [tox]
        envlist = py3
        requires = tox-venv>=0.4
        [{section}]
        deps = pytest
        commands = pytest -q tests
        recreate = true
    """})
    recipes, _ = plan(project, log_path=log)
    assert (recipes[0].kind, recipes[0].job) == ("tox", "py3")
    assert recipes[0].repairs[0].startswith("[tox] requires: ignored")
    env = build(recipes[0], project, work_dir=work, log_path=log, timeout=600)
    outcome = run_tests(env, project, extra_env={}, log_path=log, timeout=600)
    assert outcome.ok, outcome.output_tail
    assert "remove tox env folder" not in outcome.output_tail and "1 passed" in outcome.output_tail


def test_tests_that_need_a_service_fail_with_needs_service(make_project, dirs) -> None:
    work, log = dirs
    tests = "\n".join(f"def test_get_{n}():\n    assert tiny.cache.get('k{n}') == 'k{n}'\n"
                      for n in range(3))
    project = make_project({**TINY, "tiny/cache.py": CACHE_CLIENT,
                            "tests/test_cache.py": "import tiny.cache\n\n" + tests})
    recipe = fallback_recipe(project)
    assert recipe is not None
    env = build(recipe, project, work_dir=work, log_path=log, timeout=600)
    outcome = run_tests(env, project, extra_env={}, log_path=log, timeout=600)
    assert not outcome.ok and "3 failed" in outcome.output_tail
    assert cause_of_test_failure(outcome) == "needs_service"


@pytest.mark.slow
def test_a_tox_environment_that_cannot_install_editable_installs_the_sdist(make_project,
                                                                          dirs) -> None:
    # issue 16, item 8, through tox: usedevelop with a backend that has no build_editable.
    work, log = dirs
    project = make_project({**OLD_BACKEND_PROJECT, "tox.ini": """
        [tox]
        envlist = py3
        [testenv]
        deps = pytest
        commands = pytest -q tests
        [testenv:py3]
        usedevelop = true
    """})
    recipes, _ = plan(project, log_path=log)
    env = build(recipes[0], project, work_dir=work, log_path=log, timeout=600)
    assert env.recipe.repairs[-1].startswith("installed the package from its sdist")
    outcome = run_tests(env, project, extra_env={}, log_path=log, timeout=600)
    assert outcome.ok and "2 passed" in outcome.output_tail, outcome.output_tail


TWO_TO_THREE = {
    # A 2014 setup.py whose package is Python 2, converted by 2to3 as it is built.
    "setup.py": """
        from setuptools import setup
        setup(name="oldtwo", version="0.1", packages=["oldtwo"], use_2to3=True)
    """,
    "oldtwo/__init__.py": """
        def shout(text):
            \"\"\"Upper-case ``text``.\"\"\"
            return unicode(text).upper()

        def announce(text):
            print "announcing", text
    """,
    "tests/test_oldtwo.py": """
        import oldtwo

        def test_shout():
            assert oldtwo.shout("hi") == "HI"
    """,
}


@pytest.mark.skipif(uv_binary() is None, reason="needs uv")
def test_a_setup_py_using_2to3_is_built_with_the_setuptools_that_ran_it(make_project,
                                                                         dirs) -> None:
    # parse-type 0.3.4, patsy 0.1.0, pystache 0.5.4: "use_2to3 is invalid" on setuptools 58+.
    work, log = dirs
    project = make_project(TWO_TO_THREE)
    recipe = fallback_recipe(project)
    assert recipe is not None
    env = build(recipe, project, work_dir=work, log_path=log, timeout=600,
                options=BuildOptions(installer="uv"))
    assert "use_2to3" in env.recipe.repairs[-2] and "2to3" in env.recipe.repairs[-1]
    assert "-e" not in env.recipe.install
    installed = (Path(env.site_packages) / "oldtwo" / "__init__.py").read_text()
    assert 'print("announcing", text)' in installed and "str(text)" in installed
    outcome = run_tests(env, project, extra_env={}, log_path=log, timeout=600)
    assert outcome.ok and "1 passed" in outcome.output_tail, outcome.output_tail
