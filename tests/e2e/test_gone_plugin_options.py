"""A 2014 habit: ``addopts`` naming options of pytest plugins that no longer install or
load (``--pep8``, pytest-cache's ``--clearcache``), so pytest refuses to start and no test
runs (dictdiffer 0.3.0). The tests run again without those options, through the fallback and
through tox. Small real projects, mined."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.projects import mine_one, write_project
from tests.recipes.tiny_project import pyproject

PACKAGE = '''\
def clamp(value, low, high):
    """``value`` moved into the range from ``low`` to ``high``."""
    return max(low, min(value, high))
'''
TESTS = '''\
from clamp import clamp


def test_inside():
    assert clamp(5, 0, 10) == 5


def test_below():
    assert clamp(-3, 0, 10) == 0


def test_above():
    assert clamp(12, 0, 10) == 10
'''
PYTEST_INI = "[pytest]\naddopts = --pep8 --clearcache -q\n"
TOX_INI = "[tox]\nenvlist = py\n\n[testenv]\ndeps = pytest\ncommands = pytest tests\n"


@pytest.mark.slow
@pytest.mark.parametrize("ci", ["fallback", "tox"])
def test_options_of_plugins_that_are_gone_are_left_out(tmp_path: Path, ci: str) -> None:
    files = {"pyproject.toml": pyproject("clamp", modules=("clamp",)), "clamp.py": PACKAGE,
             "tests/test_clamp.py": TESTS, "pytest.ini": PYTEST_INI}
    if ci == "tox":
        files["tox.ini"] = TOX_INI
    project = write_project(tmp_path / "clamp", files)
    repo = mine_one(project, tmp_path / "out")
    log = (tmp_path / "out" / repo["log"]).read_text()
    assert "unrecognized arguments: --pep8 --clearcache" in log
    assert ("without the pytest options no installed plugin knows, from pytest.ini's "
            "addopts: --pep8 --clearcache") in log
    assert repo["status"] == "ok", (repo, log[-3000:])
    assert repo["recipe"].startswith("tox.ini" if ci == "tox" else "fallback"), repo
    assert repo["counts"]["tests_passed"] == 3
    assert repo["counts"]["problems"] >= 1
