"""pytest options of plugins that are gone, left out of a configuration's ``addopts``
(dictdiffer 0.3.0: ``addopts = --clearcache --pep8``, and pytest refused to start)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from recipes.runners import addopts

TEST = "def test_one():\n    assert 1 + 1 == 2\n"


def _pytest(project: Path, extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider"],
                          cwd=project, env={**env, **(extra or {})}, capture_output=True,
                          text=True, timeout=120)


def test_a_run_pytest_refused_runs_without_the_options_it_did_not_know(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text(
        "# the habit of 2014\n[pytest]\naddopts = --pep8 -q --timeout 30\n"
        "    --clearcache -r A tests\nnorecursedirs = build\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_one.py").write_text(TEST)
    refused = _pytest(tmp_path)
    assert refused.returncode != 0 and "unrecognized arguments" in refused.stderr
    dropped = addopts.drop_unknown(refused.stdout + refused.stderr, tmp_path)
    assert dropped is not None and dropped.environment == {}
    assert dropped.options == ["--pep8", "--timeout", "30", "--clearcache"]
    # The file is rewritten (any pytest reads it, however launched); all else is kept.
    assert (tmp_path / "pytest.ini").read_text() == (
        "# the habit of 2014\n[pytest]\naddopts = -q -r A tests\nnorecursedirs = build\n")
    again = _pytest(tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "1 passed" in again.stdout and "short test summary" in again.stdout
    assert addopts.drop_unknown(again.stdout + again.stderr, tmp_path) is None


def test_pyproject_options_are_left_out_through_the_environment(tmp_path: Path) -> None:
    text = '[tool.pytest.ini_options]\naddopts = "--flakes -q"\n'
    (tmp_path / "pyproject.toml").write_text(text)
    (tmp_path / "test_one.py").write_text(TEST)
    refused = _pytest(tmp_path)
    dropped = addopts.drop_unknown(refused.stdout + refused.stderr, tmp_path)
    assert dropped is not None and dropped.options == ["--flakes"]
    assert (tmp_path / "pyproject.toml").read_text() == text
    again = _pytest(tmp_path, dropped.environment)
    assert again.returncode == 0 and "1 passed" in again.stdout, again.stdout + again.stderr


def test_a_run_that_names_no_configured_option_is_not_retried(tmp_path: Path) -> None:
    (tmp_path / "setup.cfg").write_text("[tool:pytest]\naddopts = -q\n")
    output = ("error: unrecognized arguments: --pep8\n"
              f"  inifile: {tmp_path / 'setup.cfg'}\n  rootdir: {tmp_path}\n")
    assert addopts.drop_unknown(output, tmp_path) is None  # --pep8 came from elsewhere
    assert addopts.drop_unknown("error: unrecognized arguments: --pep8\n", tmp_path) is None
    assert (tmp_path / "setup.cfg").read_text() == "[tool:pytest]\naddopts = -q\n"


def test_addopts_are_read_from_each_kind_of_configuration(tmp_path: Path) -> None:
    (tmp_path / "setup.cfg").write_text("[tool:pytest]\naddopts = --pep8 'a b'\n")
    (tmp_path / "tox.ini").write_text("[pytest]\naddopts = -x\n")
    (tmp_path / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\naddopts = ["--flakes", "-q"]\n')
    assert addopts.read_addopts(tmp_path / "setup.cfg") == ["--pep8", "a b"]
    assert addopts.read_addopts(tmp_path / "tox.ini") == ["-x"]
    assert addopts.read_addopts(tmp_path / "pyproject.toml") == ["--flakes", "-q"]
    assert addopts.read_addopts(tmp_path / "missing.ini") == []


def test_a_link_the_tests_left_in_the_configurations_place_is_not_followed(
        tmp_path: Path) -> None:
    # A hostile suite replaces pytest.ini by a link to a host file and prints what makes
    # citrace read it: its content would go back into the next run's environment.
    secret = tmp_path / "secret.ini"
    secret.write_text("[pytest]\naddopts = --pep8 TOKEN-1234\n")
    project = tmp_path / "project"
    project.mkdir()
    (project / "pytest.ini").symlink_to(secret)
    output = (f"error: unrecognized arguments: --pep8\n  inifile: {project / 'pytest.ini'}\n")
    assert addopts.drop_unknown(output, project) is None
    # Nor a path outside the checkout that the output names: only the checkout's top is read.
    outside = f"error: unrecognized arguments: --pep8\n  inifile: {secret}\n"
    assert addopts.drop_unknown(outside, project) is None
    assert secret.read_text() == "[pytest]\naddopts = --pep8 TOKEN-1234\n"


# What pytest 6.2 printed on 3.8 for Pint 0.16.1, setuptools 75 beside it (paths shortened).
VENDORED = """\
  File "/e/lib/python3.8/site-packages/setuptools/_vendor/typeguard/_pytest_plugin.py", \
line 22, in add_ini_option
    parser.addini(
  File "/e/lib/python3.8/site-packages/_pytest/config/argparsing.py", line 178, in addini
    assert type in (None, "pathlist", "args", "linelist", "bool")
AssertionError
"""


def test_a_plugin_setuptools_vendors_is_turned_off_when_pytest_dies_in_it(
        tmp_path: Path) -> None:
    dropped = addopts.drop_vendored_plugin(VENDORED)
    assert dropped is not None and dropped.environment == {addopts.VARIABLE: "-p no:typeguard"}
    assert addopts.drop_vendored_plugin("AssertionError\n1 failed in 0.1s\n") is None
    # pytest takes the option whether or not such a plugin is there.
    (tmp_path / "test_one.py").write_text(TEST)
    run = _pytest(tmp_path, dropped.environment)
    assert run.returncode == 0 and "1 passed" in run.stdout, run.stdout + run.stderr
