"""The fallback recipe on suites that used to stop it: a module that fails at collection,
``addopts = --cov`` without pytest-cov, and test tools declared only as Poetry dev
dependencies. Built and run for real."""

from __future__ import annotations

from pathlib import Path

from recipes.ci.dev_dependencies import declared
from recipes.ci.fallback import fallback_recipe
from recipes.planner import build, run_tests
from recipes.runners.diagnose import suite_counts
from tests.recipes.tiny_project import TINY_PYPROJECT

AWKWARD = {
    "pyproject.toml": TINY_PYPROJECT + """
[tool.poetry.dev-dependencies]
six = "^1.10"
black = "*"
""",
    "setup.cfg": """
        [tool:pytest]
        addopts = --cov=tiny --cov-report=term-missing -p no:randomly
    """,
    "tiny/__init__.py": "def double(x):\n    return 2 * x\n",
    "tests/test_nose_era.py": "import nose.tools\n",  # fails at collection, as in 2020
    "tests/test_tiny.py": """
        import six
        import tiny

        def test_double():
            assert tiny.double(2) == 4

        def test_six_came_from_the_poetry_dev_dependencies():
            assert six.PY3
    """,
}


def test_the_fallback_runs_the_rest_of_an_awkward_suite(make_project, tmp_path: Path) -> None:
    project = make_project(AWKWARD)
    recipe = fallback_recipe(project)
    assert recipe is not None
    assert "six>=1.10,<2" in recipe.install and "pytest-cov" in recipe.install
    assert not any(arg.startswith("black") for arg in recipe.install)  # a chore, left out
    log = tmp_path / "log.txt"
    env = build(recipe, project, work_dir=tmp_path / "work", log_path=log, timeout=600)
    outcome = run_tests(env, project, extra_env={}, log_path=log, timeout=300)
    counts = suite_counts(outcome.output_tail)
    assert counts is not None, outcome.output_tail
    # Both tests ran despite the module pytest could not collect (counted as an error), and
    # pytest-cov accepted the options but measured nothing (--no-cov).
    assert (counts.passed, counts.failed, counts.errors) == (2, 0, 1), outcome.output_tail
    assert "Coverage" not in outcome.output_tail and "TOTAL" not in outcome.output_tail


def test_poetry_constraints_become_pep_440() -> None:
    pyproject = {
        "tool": {"poetry": {
            "dev-dependencies": {"hypothesis": "^6.82.6", "pytz": {"version": "~2023.3"},
                                 "zero": "^0.2.1", "exact": "1.2", "plain": "*",
                                 "local": {"path": "../local"}, "python": "^3.8",
                                 "mypy": "^1.5", "compat": "~=1.4"},
            "group": {"test": {"dependencies": {"freezegun": ">=1,<2"}}},
        }},
        "dependency-groups": {"dev": ["pytest-xdist>=2", "ruff", {"include-group": "test"}]},
    }
    assert declared(pyproject) == [
        "hypothesis>=6.82.6,<7", "pytz>=2023.3,<2023.4", "zero>=0.2.1,<0.3", "exact==1.2",
        "plain", "compat~=1.4", "freezegun>=1,<2", "pytest-xdist>=2"]
    assert declared({"tool": {"poetry": "not a table"}}) == []


def test_setup_requires_are_read_from_setup_py_and_setup_cfg(tmp_path: Path) -> None:
    from recipes.ci.dev_dependencies import setup_requires

    (tmp_path / "setup.py").write_text(
        "import setuptools\nsetuptools.setup(setup_requires='pytest-runner')\n")
    (tmp_path / "setup.cfg").write_text(
        "[options]\nsetup_requires =\n    setuptools_scm>=1.15\n    wheel\n")
    assert setup_requires(tmp_path) == ["pytest-runner", "setuptools_scm>=1.15"]
    (tmp_path / "setup.py").write_text(  # computed in part: what is written is taken
        "from setuptools import setup\nsetup(setup_requires=['a'] + extra())\n")
    (tmp_path / "setup.cfg").unlink()
    assert setup_requires(tmp_path) == ["a"]


def test_setup_requires_that_only_setup_py_test_asks_for_are_read_too(tmp_path: Path) -> None:
    from recipes.ci.dev_dependencies import setup_requires

    (tmp_path / "setup.py").write_text(
        "import sys\nfrom setuptools import setup\n"
        "needs_pytest = {'pytest', 'test', 'ptr'}.intersection(sys.argv)\n"
        "pytest_runner = ['pytest-runner'] if needs_pytest else []\n"
        "setup(name='x', setup_requires=[] + pytest_runner, tests_require=['pytest-cov'])\n")
    assert setup_requires(tmp_path) == ["pytest-runner", "pytest-cov"]
