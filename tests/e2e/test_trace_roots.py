"""Tests that import the project from wherever its build put it are traced there (issue 16,
item 6): a single module that tox installed into site-packages, a ``src/`` layout, tox
environments that ``pyproject.toml`` defines. Each is a small real project, mined."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.e2e.projects import mine_one, write_project
from tests.recipes.tiny_project import pyproject

COLORS = '''\
def normalize_hex(value):
    """The hexadecimal color ``value`` in lowercase, six digits after the ``#``."""
    digits = value.lstrip("#").lower()
    if len(digits) == 3:
        digits = "".join(digit * 2 for digit in digits)
    return "#" + digits


def hex_to_rgb(value):
    """The red, green and blue of a hexadecimal color, as integers."""
    digits = normalize_hex(value)[1:]
    return tuple(int(digits[i:i + 2], 16) for i in (0, 2, 4))
'''
COLORS_TESTS = '''\
from {module} import hex_to_rgb, normalize_hex


def test_normalize_short():
    assert normalize_hex("#FFF") == "#ffffff"


def test_normalize_long():
    assert normalize_hex("#0099CC") == "#0099cc"


def test_rgb():
    assert hex_to_rgb("#0a0b0c") == (10, 11, 12)


def test_rgb_short():
    assert hex_to_rgb("#fff") == (255, 255, 255)
'''
TOX_INI = "[tox]\nenvlist = py3\n\n[testenv]\ndeps = pytest\ncommands = pytest -q tests\n"


def _problem_paths(out: Path) -> set[str]:
    return {json.loads(line)["meta"]["path"]
            for line in (out / "problems.jsonl").read_text().splitlines()}


@pytest.mark.slow
def test_a_single_module_tox_installed_into_site_packages_is_traced(tmp_path: Path) -> None:
    # As webcolors 1.11.1: one module, no package; tox installs its sdist, and the tests
    # import the copy in site-packages (pytest puts tests/, not the checkout, on sys.path).
    project = write_project(tmp_path / "hexcolors", {
        "pyproject.toml": pyproject("hexcolors", modules=("hexcolors",)),
        "hexcolors.py": COLORS,
        "tests/test_hexcolors.py": COLORS_TESTS.format(module="hexcolors"),
        "tox.ini": TOX_INI,
    })
    out = tmp_path / "out"
    repo = mine_one(project, out)
    assert repo["status"] == "ok", repo
    assert repo["recipe"].startswith("tox.ini:py3"), repo
    assert repo["counts"]["calls_recorded"] >= 4 and repo["counts"]["problems"] >= 2
    assert _problem_paths(out) == {"hexcolors.py"}  # named as in the checkout


@pytest.mark.slow
def test_a_src_layout_installed_by_tox_is_traced(tmp_path: Path) -> None:
    project = write_project(tmp_path / "srccolors", {
        "pyproject.toml": pyproject("srccolors", packages=("srccolors",)).replace(
            "[tool.setuptools]\n", "[tool.setuptools]\npackage-dir = {\"\" = \"src\"}\n"),
        "src/srccolors/__init__.py": "",
        "src/srccolors/hexes.py": COLORS,
        "tests/test_hexes.py": COLORS_TESTS.format(module="srccolors.hexes"),
        "tox.ini": TOX_INI,
    })
    out = tmp_path / "out"
    repo = mine_one(project, out)
    assert repo["status"] == "ok", repo
    assert repo["recipe"].startswith("tox.ini:py3"), repo
    assert repo["counts"]["problems"] >= 2
    assert _problem_paths(out) == {"src/srccolors/hexes.py"}


@pytest.mark.slow
def test_a_single_module_whose_tox_is_legacy_tox_ini_in_pyproject_is_traced(
        tmp_path: Path) -> None:
    legacy = '\n[tool.tox]\nlegacy_tox_ini = """\n' + TOX_INI + '"""\n'
    project = write_project(tmp_path / "tomlcolors", {
        "pyproject.toml": pyproject("tomlcolors", modules=("tomlcolors",)) + legacy,
        "tomlcolors.py": COLORS,
        "tests/test_tomlcolors.py": COLORS_TESTS.format(module="tomlcolors"),
    })
    out = tmp_path / "out"
    repo = mine_one(project, out)
    assert repo["status"] == "ok", repo
    assert repo["recipe"].startswith("pyproject.toml:py3"), repo
    assert repo["counts"]["problems"] >= 2
    assert _problem_paths(out) == {"tomlcolors.py"}


@pytest.mark.slow
@pytest.mark.parametrize("config", ["pyproject.toml", "tox.toml"])
def test_tox_environments_in_toml_tables_get_the_probe(tmp_path: Path, config: str) -> None:
    # tox 4's own TOML (pathspec 1.1.1's tox.toml) names no [testenv]: citrace's overrides
    # (the probe's variable passed through, the interpreter chosen) were ignored, and the
    # tests ran untraced.
    tables = ('env_list = ["py3"]\n\n[env_run_base]\n'
              'deps = ["pytest"]\ncommands = [["pytest", "-q", "tests"]]\n')
    build = pyproject("tablecolors", packages=("tablecolors",))
    files = {"pyproject.toml": build + "\n[tool.tox]\n" + tables.replace("[env_run_base]",
                                                                       "[tool.tox.env_run_base]")}
    if config == "tox.toml":
        files = {"pyproject.toml": build, "tox.toml": tables}
    project = write_project(tmp_path / "tablecolors", {
        **files,
        "tablecolors/__init__.py": "",
        "tablecolors/hexes.py": COLORS,
        "tests/test_hexes.py": COLORS_TESTS.format(module="tablecolors.hexes"),
    })
    out = tmp_path / "out"
    repo = mine_one(project, out)
    assert repo["status"] == "ok", repo
    assert repo["recipe"].startswith(f"{config}:py3"), repo
    assert repo["counts"]["problems"] >= 2
    assert _problem_paths(out) == {"tablecolors/hexes.py"}


@pytest.mark.slow
def test_a_run_that_recorded_nothing_says_what_the_tests_imported(tmp_path: Path) -> None:
    # The suite passes, but reads only the module's constants: nothing to record. The
    # reason names the module the tests imported and where it was loaded from.
    project = write_project(tmp_path / "hexnames", {
        "pyproject.toml": pyproject("hexnames", modules=("hexnames",)),
        "hexnames.py": 'NAMES = {"white": "#ffffff", "black": "#000000"}\n',
        "tests/test_hexnames.py": "import hexnames\n\n\ndef test_white():\n"
                                  "    assert hexnames.NAMES['white'] == '#ffffff'\n",
        "tox.ini": TOX_INI,
    })
    repo = mine_one(project, tmp_path / "out")
    assert (repo["status"], repo["stage"], repo["cause"]) == ("failed", "trace", "no_calls")
    imported = re.search(r"the tests imported hexnames from (\S+), under the traced roots, "
                         r"and called none of its functions", repo["reason"])
    assert imported and imported.group(1).endswith("/site-packages/hexnames.py"), repo["reason"]
