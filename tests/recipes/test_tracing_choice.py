"""Choosing among a project's recipes for the tracer: 3.12+ (sys.monitoring) first when the
project supports it, Python 2 never, and a project that supports only Python 2 refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from recipes.interpreters import Interpreter, discover, of_era
from recipes.planner import plan
from recipes.records import StageError
from recipes.support import Support, declared_support

HAVE = {i.version[:2] for i in discover()}
needs_312_and_311 = pytest.mark.skipif(not {(3, 11), (3, 12)} <= HAVE,
                                       reason="needs CPython 3.11 and 3.12 on this machine")


@needs_312_and_311
def test_tox_env_on_312_is_chosen_over_311_when_the_envlist_names_it(make_project,
                                                                     tmp_path: Path) -> None:
    # The shape of more-itertools 11.2.1's tox.ini: py39 .. py313 and chores.
    project = make_project({"tox.ini": """
        [tox]
        envlist = py{39,310,311,312,313}, flake8, docs
        [testenv]
        commands = python -m unittest
    """, "setup.py": "pass\n"})
    recipes, _ = plan(project, log_path=tmp_path / "log")
    assert recipes[0].job == "py312" and recipes[0].python == "3.12"
    assert recipes[0].wanted == "3.12"
    # 3.13 next (also traced with sys.monitoring), then best-first as before.
    assert [r.job for r in recipes[1:4]] == ["py313", "py311", "py310"]
    assert recipes[-1].kind == "fallback"


@needs_312_and_311
def test_travis_job_on_312_beats_tox_on_311_but_not_an_undeclared_stand_in(
        make_project, tmp_path: Path) -> None:
    project = make_project({
        "tox.ini": "[tox]\nenvlist = py311\n[testenv]\ncommands = python -m unittest\n",
        ".travis.yml": "language: python\npython: ['3.12']\nscript: python -m unittest\n",
        "setup.py": "pass\n",
    })
    recipes, _ = plan(project, log_path=tmp_path / "log")
    assert [(r.source, r.python) for r in recipes[:2]] == [(".travis.yml", "3.12"),
                                                           ("tox.ini", "3.11")]


@needs_312_and_311
def test_a_job_naming_no_python_moves_to_312_only_when_the_project_declares_it(
        make_project, tmp_path: Path) -> None:
    classifiers = """
        [project]
        name = "x"
        classifiers = ["Programming Language :: Python :: 3.11",
                       "Programming Language :: Python :: 3.12"]
    """
    tox = "[tox]\nenvlist = unit\n[testenv]\ncommands = python -m unittest\n"
    declared = make_project({"tox.ini": tox, "pyproject.toml": classifiers})
    recipes, _ = plan(declared, log_path=tmp_path / "log1")
    # ... and on the version it had before, should the declared one fail.
    assert [(r.job, r.python) for r in recipes] == [("unit", "3.12"), ("unit", "3.11"),
                                                     ("pytest", "3.12"), ("pytest", "3.11")]
    silent = make_project({"tox.ini": tox, "pyproject.toml": "[project]\nname = 'x'\n"})
    recipes, _ = plan(silent, log_path=tmp_path / "log2")
    assert [(r.job, r.python) for r in recipes] == [("unit", "3.11"), ("pytest", "3.11")]


def test_environments_named_for_a_python_come_before_side_jobs(make_project,
                                                               tmp_path: Path) -> None:
    # python-dateutil 2.8.1: "tz" names no Python and used to be tried first.
    project = make_project({"tox.ini": """
        [tox]
        envlist = py36, py37, tz, integration
        [testenv]
        commands = python -m unittest
    """, "setup.py": "pass\n"})
    recipes, _ = plan(project, log_path=tmp_path / "log")
    jobs = [r.job for r in recipes if r.kind == "tox"]
    assert jobs.index("py37") < jobs.index("tz") < jobs.index("integration")
    assert "py36" not in jobs  # tox runs no 3.6 here, and py37 is listed already


def test_python2_only_project_fails_at_plan_with_the_evidence(make_project,
                                                              tmp_path: Path) -> None:
    project = make_project({
        "setup.py": """
            from setuptools import setup
            setup(name="old", python_requires=">=2.6, <3",
                  classifiers=["Programming Language :: Python :: 2.7"])
        """,
        "tox.ini": "[tox]\nenvlist = py27\n[testenv]\ncommands = python -m unittest\n",
    })
    with pytest.raises(StageError) as caught:
        plan(project, log_path=tmp_path / "log")
    failure = caught.value.failure
    assert (failure.stage, failure.cause) == ("plan", "python2_only")
    assert "Python 2.7" in failure.message and "'>=2.6, <3'" in failure.message


@pytest.mark.parametrize("files, only2", [
    ({"PKG-INFO": "Classifier: Programming Language :: Python :: 2 :: Only\n"}, True),
    ({"PKG-INFO": "Requires-Python: ==2.7.*\n"}, True),
    ({"setup.cfg": "[options]\npython_requires = >=2.7, !=3.0.*\n"}, False),
    ({"PKG-INFO": "Classifier: Programming Language :: Python :: 2.7\n"
                  "Classifier: Programming Language :: Python :: 3\n"}, False),
    ({"setup.py": "pass\n"}, False),
])
def test_python2_only_is_read_from_metadata(make_project, files: dict[str, str],
                                            only2: bool) -> None:
    assert declared_support(make_project(files)).python2_only() is only2


def test_declared_versions_come_from_classifiers_else_a_requires_python_floor() -> None:
    named = Support(requires_python=">=3.8", minors=frozenset({(3, 8), (3, 12)}))
    assert named.declares((3, 12)) and not named.declares((3, 13))
    floor = Support(requires_python=">=3.8")
    assert floor.declares((3, 13)) and not floor.declares((3, 7))
    assert not Support(requires_python="<4").declares((3, 12))  # a ceiling promises nothing
    assert not Support().declares((3, 12))


def test_a_job_naming_no_python_runs_on_the_newest_version_the_classifiers_name(
        make_project, tmp_path: Path) -> None:
    # tabulate 0.8.7 (2020) lists 3.5 .. 3.8, and its tests import collections.Iterable,
    # which 3.10 removed: the fallback must not run it on 3.11.
    newest_named = max(v for v in HAVE if v in {(3, 6), (3, 7), (3, 8)})
    project = make_project({"setup.py": """
        from setuptools import setup
        setup(name="old", classifiers=[
            "Programming Language :: Python :: 3.6",
            "Programming Language :: Python :: 3.7",
            "Programming Language :: Python :: 3.8",
        ])
    """})
    recipes = plan(project, log_path=tmp_path / "log")[0]
    assert [(r.kind, r.python) for r in recipes] == [("fallback", "{}.{}".format(*newest_named)),
                                                     ("fallback", "3.11")]


def test_the_python_of_an_era_is_the_newest_its_packages_supported() -> None:
    pool = tuple(Interpreter((3, minor, 0), f"/py3.{minor}") for minor in (6, 7, 8, 11, 12))
    # 3.8 came out in October 2019; the packages of December 2019 mostly did not run on it.
    assert of_era("2019-12-01T00:00:00Z", available=pool).short == "3.7"
    assert of_era("2020-06-01T00:00:00Z", available=pool).short == "3.8"
    assert of_era("2013-05-14T00:00:00Z", available=pool).short == "3.6"  # nearest to 3.3
    assert of_era("2026-01-01T00:00:00Z", available=pool).short == "3.12"
    assert of_era("not a date", available=pool) is None


@pytest.mark.skipif(not {(3, 6), (3, 11)} <= HAVE, reason="needs CPython 3.6 and 3.11")
def test_a_project_declaring_no_python_here_runs_first_on_the_python_of_its_date(
        make_project, tmp_path: Path) -> None:
    # Flask 0.10.1 (2013): "Python :: 3" and 3.3 only. On 3.11, its dependencies can be
    # resolved no older than 2023 (jinja2 3.1, which has no Markup); on 3.6, as of 2013.
    project = make_project({"setup.py": """
        from setuptools import setup
        setup(name="old", classifiers=["Programming Language :: Python :: 3",
                                       "Programming Language :: Python :: 3.3"])
    """})
    recipes = plan(project, log_path=tmp_path / "log", date="2013-06-13T22:00:00Z")[0]
    assert [(r.kind, r.python) for r in recipes] == [("fallback", "3.6"), ("fallback", "3.11")]
    # Of today, or of no known date: the preferred Python, as before.
    for date in ("2026-11-01T00:00:00Z", ""):
        recipes = plan(project, log_path=tmp_path / "log", date=date)[0]
        assert [(r.kind, r.python) for r in recipes] == [("fallback", "3.11")]
    # A project declaring a version that is here keeps to what it declares.
    declared = make_project({"setup.py": """
        from setuptools import setup
        setup(name="old", classifiers=["Programming Language :: Python :: 3.11"])
    """})
    recipes = plan(declared, log_path=tmp_path / "log", date="2013-06-13T22:00:00Z")[0]
    assert [(r.kind, r.python) for r in recipes] == [("fallback", "3.11")]
