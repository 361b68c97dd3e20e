"""Installers for real: uv and pip building environments from a package index on 127.0.0.1
whose packages have upload times, so that time travel, falling back, the shared download
cache and reusing the built environment can all be seen happen."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import virtualenv.seed.wheels.embed as embedded

from recipes.interpreters import discover
from recipes.planner import build, plan, run_tests
from recipes.records import Env, Recipe
from recipes.runners import installers
from recipes.runners.installers import Attempt, BuildOptions
from tests.recipes.local_index import LocalIndex, make_wheel
from tests.recipes.tiny_project import TINY_PYPROJECT

# All after the day packages caught up with Python 3.11 (the tests' interpreter), before
# which time travel does not go on it.
OLD, NEW = "2023-06-01T00:00:00Z", "2025-06-01T00:00:00Z"
BEFORE_NEW = "2024-06-01T00:00:00Z"
TOOLS_UPLOADED = "2025-01-01T00:00:00Z"
SHOW_VERSION = ("{python}", "-c", "import demo_dep; print('demo-dep', demo_dep.VERSION)")


pytestmark = pytest.mark.skipif(installers.uv_binary() is None, reason="uv is not installed")


@pytest.fixture
def index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalIndex]:
    """The only index pip and uv see: pip and setuptools (virtualenv's own wheels), a stand-in
    ``wheel`` (uv seeds it below 3.12; nothing here builds with it), all three uploaded after
    every date the tests travel to (the packaging tools are exempt from time travel), and
    ``demo-dep`` 1.0 of 2023 and 2.0 of 2025. The download caches start empty."""
    files = tmp_path / "index"
    files.mkdir()
    served = LocalIndex(files).start()
    for wheel in Path(embedded.__file__).parent.glob("*.whl"):
        served.add(wheel.name.split("-")[0], wheel, TOOLS_UPLOADED)
    served.add("wheel", make_wheel(files, "wheel", "0.45.1"), TOOLS_UPLOADED)
    served.add("demo-dep", make_wheel(files, "demo-dep", "1.0"), OLD)
    served.add("demo-dep", make_wheel(files, "demo-dep", "2.0"), NEW)
    for name in ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "UV_EXTRA_INDEX_URL", "UV_INDEX"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")  # the machine's own pip.conf
    monkeypatch.setenv("PIP_INDEX_URL", served.url)
    monkeypatch.setenv("PIP_TRUSTED_HOST", "127.0.0.1")  # pip caches no plain-http host else
    monkeypatch.setenv("UV_INDEX_URL", served.url)
    monkeypatch.setenv("CITRACE_BUILD_CACHE_DIR", str(tmp_path / "cache"))
    yield served
    served.close()


def _recipe(*install: str) -> Recipe:
    python = next(i for i in discover() if i.version[:2] == (3, 11))
    return Recipe(kind="fallback", source="fallback", job="demo", python=python.short,
                  interpreter=python.path, install=install, commands=(SHOW_VERSION,))


def _installed(env: Env) -> str:
    found = sorted(p.name for p in Path(env.site_packages).glob("demo_dep-*.dist-info"))
    return found[0].removesuffix(".dist-info").split("-")[1] if found else ""


def test_uv_is_tried_as_of_the_date_then_newest_then_pip() -> None:
    python3 = _recipe().interpreter
    dated = BuildOptions(installer="uv", as_of=BEFORE_NEW)
    assert installers.attempts(dated, python3) == [Attempt("uv", BEFORE_NEW), Attempt("uv"),
                                                   Attempt("pip")]
    assert installers.attempts(BuildOptions(installer="pip", as_of=BEFORE_NEW), python3) == [
        Attempt("pip")]  # pip cannot resolve as of a date
    python2 = [i.path for i in discover() if i.version[0] == 2]
    if python2:  # uv refuses Python 2 (it needs -I): pip alone
        assert installers.attempts(dated, python2[0]) == [Attempt("pip")]
    before_39 = [i.path for i in discover() if (3, 0) <= i.version[:2] < (3, 9)]
    if before_39:  # virtualenv 21 seeds no pip there: uv makes pip's environments too
        argv = installers.venv_argv(Attempt("pip"), before_39[0], Path("venv"))
        assert argv[:3] == [installers.uv_binary(), "venv", "-q"] and "--seed" in argv
    assert installers.venv_argv(Attempt("pip"), python3, Path("venv"))[1:3] == ["-m",
                                                                               "virtualenv"]
    # Not to before packages supported the interpreter: a 2015 pytest fails on 3.11.
    assert installers.attempts(BuildOptions(installer="uv", as_of="2015-05-03T08:08:12Z"),
                               python3)[0] == Attempt("uv", "2023-04-22T00:00:00Z")
    assert installers.as_of_date("2019-05-01T12:34:56+02:00") == "2019-05-01T10:34:56Z"
    assert installers.as_of_date("not a date") == ""


def test_uv_resolves_dependencies_as_of_the_checkout_date(index: LocalIndex,
                                                          tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    dated = build(_recipe("demo-dep"), tmp_path, work_dir=tmp_path / "then", log_path=log,
                  timeout=300, options=BuildOptions(installer="uv", as_of=BEFORE_NEW))
    assert (dated.recipe.installer, dated.recipe.as_of) == ("uv", BEFORE_NEW)
    assert _installed(dated) == "1.0" and dated.recipe.installer_fallbacks == ()
    outcome = run_tests(dated, tmp_path, extra_env={}, log_path=log, timeout=120)
    assert outcome.ok and "demo-dep 1.0" in outcome.output_tail
    newest = build(_recipe("demo-dep"), tmp_path, work_dir=tmp_path / "now", log_path=log,
                   timeout=300, options=BuildOptions(installer="uv"))
    assert _installed(newest) == "2.0" and newest.recipe.as_of == ""


def test_the_test_tools_are_resolved_as_of_the_tests_older_date(index: LocalIndex,
                                                                tmp_path: Path) -> None:
    """A 2025 checkout whose tests date from 2024: the package's dependencies as of the
    checkout, pytest as of its tests (the index's "pytest" is a stand-in wheel)."""
    files = tmp_path / "index"
    index.add("pytest", make_wheel(files, "pytest", "1.0"), OLD)
    index.add("pytest", make_wheel(files, "pytest", "2.0"), NEW)
    python = _recipe().interpreter
    options = BuildOptions(installer="uv", as_of="2025-12-01T00:00:00Z", tests_as_of=BEFORE_NEW)
    assert installers.attempts(options, python) == [
        Attempt("uv", "2025-12-01T00:00:00Z", BEFORE_NEW), Attempt("uv"), Attempt("pip")]
    env = build(_recipe("demo-dep", "pytest"), tmp_path, work_dir=tmp_path / "work",
                log_path=tmp_path / "log.txt", timeout=300, options=options)
    assert (env.recipe.as_of, env.recipe.tests_as_of) == ("2025-12-01T00:00:00Z", BEFORE_NEW)
    assert _installed(env) == "2.0"
    assert [p.name for p in Path(env.site_packages).glob("pytest-*.dist-info")] == [
        "pytest-1.0.dist-info"]
    # Tests as old as the checkout, or older than the interpreter's floor, change nothing.
    same = BuildOptions(installer="uv", as_of=BEFORE_NEW, tests_as_of=BEFORE_NEW)
    assert installers.attempts(same, python)[0] == Attempt("uv", BEFORE_NEW)
    floor = BuildOptions(installer="uv", as_of=BEFORE_NEW, tests_as_of="2014-01-01T00:00:00Z")
    assert installers.attempts(floor, python)[0] == Attempt("uv", BEFORE_NEW,
                                                            "2023-04-22T00:00:00Z")


def test_a_resolution_that_fails_as_of_the_date_falls_back_to_the_newest(
        index: LocalIndex, tmp_path: Path) -> None:
    env = build(_recipe("demo-dep>=2"), tmp_path, work_dir=tmp_path / "work",
                log_path=tmp_path / "log.txt", timeout=300,
                options=BuildOptions(installer="uv", as_of=BEFORE_NEW))
    assert (env.recipe.installer, env.recipe.as_of, _installed(env)) == ("uv", "", "2.0")
    [note] = env.recipe.installer_fallbacks
    assert note.startswith(f"uv as of {BEFORE_NEW} failed")
    assert Env.from_dict(env.to_dict()) == env


def test_pip_builds_when_uv_cannot(index: LocalIndex, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as closed:  # a port nothing listens on: uv's index is unreachable
        closed.bind(("127.0.0.1", 0))
        monkeypatch.setenv("UV_INDEX_URL", f"http://127.0.0.1:{closed.getsockname()[1]}/simple/")
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")
    env = build(_recipe("demo-dep"), tmp_path, work_dir=tmp_path / "work",
                log_path=tmp_path / "log.txt", timeout=300, options=BuildOptions(installer="uv"))
    assert (env.recipe.installer, _installed(env)) == ("pip", "2.0")
    assert [n.split(" failed")[0] for n in env.recipe.installer_fallbacks] == ["uv"]


def test_a_travis_job_gets_a_uv_virtualenv_and_its_steps_keep_pip(index: LocalIndex,
                                                                  make_project,
                                                                  tmp_path: Path) -> None:
    project = make_project({"pyproject.toml": TINY_PYPROJECT,
                            "tiny/__init__.py": "def double(x):\n    return 2 * x\n"})
    python = _recipe().interpreter
    recipe = Recipe(kind="shell", source=".travis.yml", job="python 3.11", python="3.11",
                    interpreter=python, steps=("pip install demo-dep",),
                    commands=(("bash", "-c", "python -c 'import tiny, demo_dep'"),))
    log = tmp_path / "log.txt"
    env = build(recipe, project, work_dir=tmp_path / "work", log_path=log, timeout=300,
                options=BuildOptions(installer="uv", as_of=BEFORE_NEW))
    assert (env.recipe.installer, env.recipe.as_of, env.recipe.failed_steps) == (
        "uv", BEFORE_NEW, ())
    assert _installed(env) == "2.0"  # the step's own pip: the newest version
    assert "uv pip install --python" in log.read_text()  # citrace's `-e .` went through uv
    assert run_tests(env, project, extra_env={}, log_path=log, timeout=120).ok


@pytest.mark.parametrize("installer", ["uv", pytest.param("pip", marks=pytest.mark.slow)])
def test_a_second_build_downloads_nothing(index: LocalIndex, tmp_path: Path,
                                          installer: str) -> None:
    """The download caches are shared by every build on the machine, inside the sandbox."""
    options = BuildOptions(installer=installer)
    build(_recipe("demo-dep"), tmp_path, work_dir=tmp_path / "first",
          log_path=tmp_path / "log.txt", timeout=300, options=options)
    first = sum(index.downloads.values())
    assert index.downloads["demo_dep-2.0-py2.py3-none-any.whl"] >= 1
    again = build(_recipe("demo-dep"), tmp_path, work_dir=tmp_path / "second",
                  log_path=tmp_path / "log.txt", timeout=300, options=options)
    assert _installed(again) == "2.0"
    assert sum(index.downloads.values()) == first
    assert any((tmp_path / "cache" / installer).iterdir())


@pytest.mark.slow
def test_tox_builds_through_tox_uv_as_of_the_date_once(index: LocalIndex, make_project,
                                                         tmp_path: Path) -> None:
    """tox-uv gets the date (UV_EXCLUDE_NEWER), and the traced run reuses the environment."""
    project = make_project({
        "pyproject.toml": TINY_PYPROJECT,
        "tiny/__init__.py": "def double(x):\n    return 2 * x\n",
        "tox.ini": """
            [tox]
            envlist = py311
            [testenv]
            deps = demo-dep
            commands = python -c "import tiny, demo_dep; print('demo-dep', demo_dep.VERSION)"
        """,
    })
    log = tmp_path / "log.txt"
    recipes, _ = plan(project, log_path=log)
    env = build(recipes[0], project, work_dir=tmp_path / "work", log_path=log, timeout=600,
                options=BuildOptions(installer="uv", as_of=BEFORE_NEW))
    assert (env.recipe.kind, env.recipe.installer, env.recipe.as_of) == ("tox", "uv", BEFORE_NEW)
    assert _installed(env) == "1.0"
    marker = Path(env.site_packages) / "built-once.txt"
    marker.write_text("the build's")
    outcome = run_tests(env, project, extra_env={}, log_path=log, timeout=300)
    assert outcome.ok and "demo-dep 1.0" in outcome.output_tail, outcome.output_tail
    assert marker.read_text() == "the build's"  # not rebuilt for the test run



def test_uv_seeds_a_setuptools_that_still_has_pkg_resources(index: LocalIndex,
                                                            tmp_path: Path) -> None:
    """setuptools 82 removed ``pkg_resources``, which old projects import at test time and
    old ``setup.py`` plugins at build time: uv stops before it, dated or not."""
    # Stand-ins with their real order: one before setuptools 82 came out, one after.
    index.files["setuptools"] = []
    index.add("setuptools", make_wheel(tmp_path / "index", "setuptools", "81.0"),
              "2026-02-06T21:10:37Z")
    index.add("setuptools", make_wheel(tmp_path / "index", "setuptools", "99.0"),
              "2026-06-01T00:00:00Z")
    probe = ("{python}", "-c", "import setuptools; print('setuptools', setuptools.VERSION)")
    for options in (BuildOptions(installer="uv"),
                    BuildOptions(installer="uv", as_of=BEFORE_NEW)):
        recipe = Recipe(**{**_recipe("demo-dep").to_dict(), "commands": (probe,)})
        work = tmp_path / f"work-{options.as_of or 'newest'}"
        env = build(recipe, tmp_path, work_dir=work, log_path=tmp_path / "log.txt",
                    timeout=300, options=options)
        assert env.recipe.installer == "uv" and env.recipe.as_of == options.as_of
        outcome = run_tests(env, tmp_path, extra_env={}, log_path=tmp_path / "log.txt",
                            timeout=120)
        assert outcome.ok and "setuptools 81.0" in outcome.output_tail, outcome.output_tail


def test_uvs_unsolvable_requirements_are_a_dependency_resolution_failure(
        index: LocalIndex, tmp_path: Path) -> None:
    from recipes.runners.diagnose import cause_of_build_failure
    from recipes.sandbox import base_environment, build_policy, interpreter_roots, run

    python = _recipe().interpreter
    attempt = Attempt("uv")
    policy = build_policy((tmp_path,), readable=interpreter_roots(python))
    env = base_environment(installers.environment(attempt, tmp_path))
    venv = tmp_path / "venv"
    made = run(installers.venv_argv(attempt, python, venv), cwd=tmp_path, timeout=120,
               log_path=tmp_path / "log.txt", policy=policy, env=env)
    assert made.ok, made.output_tail
    failed = run(installers.install_argv(attempt, str(venv / "bin" / "python"), ["demo-dep>=3"]),
                 cwd=tmp_path, timeout=120, log_path=tmp_path / "log.txt", policy=policy,
                 env=env)
    assert not failed.ok and "No solution found when resolving" in failed.output_tail
    assert cause_of_build_failure(failed) == "dependency_resolution"


@pytest.mark.slow
def test_installs_among_tox_commands_run_at_build_time(index: LocalIndex, make_project,
                                                        tmp_path: Path) -> None:
    """bidict 0.21.0's tox commands begin with ``pip install -e .[test]``: the traced run has
    no network, so such commands run when the environment is built (through uv, as of the
    date, when uv builds), and the run gets the others."""
    project = make_project({
        "pyproject.toml": TINY_PYPROJECT,
        "tiny/__init__.py": "def double(x):\n    return 2 * x\n",
        "tox.ini": """
            [tox]
            envlist = py311
            [testenv]
            commands =
                - pip install demo-dep
                python -c "import tiny, demo_dep; print('demo-dep', demo_dep.VERSION)"
        """,
    })
    log = tmp_path / "log.txt"
    recipes, _ = plan(project, log_path=log)
    env = build(recipes[0], project, work_dir=tmp_path / "work", log_path=log, timeout=600,
                options=BuildOptions(installer="uv", as_of=BEFORE_NEW))
    assert env.recipe.repairs == (
        "ran at build time, as the test run has no network: - pip install demo-dep",)
    assert _installed(env) == "1.0"  # through uv, so as of the date too
    outcome = run_tests(env, project, extra_env={}, log_path=log, timeout=300)
    assert outcome.ok and "demo-dep 1.0" in outcome.output_tail, outcome.output_tail
    assert "pip install" not in outcome.output_tail


def test_editable_arguments_become_plain_installs() -> None:
    args = ("-e", ".[test]", "-rrequirements-test.txt", "-e../sibling", "--editable=lib",
            "--editable", "x", "pytest")
    assert installers.without_editable(args) == (".[test]", "-rrequirements-test.txt",
                                                  "../sibling", "lib", "x", "pytest")


def test_an_editable_refusal_is_told_from_other_failures() -> None:
    pip = ("ERROR: Project file:///p has a 'pyproject.toml' and its build backend is missing "
           "the 'build_editable' hook. Since it does not have a 'setup.py' nor a 'setup.cfg', "
           "it cannot be installed in editable mode.")
    uv = "AttributeError: module 'setuptools.build_meta' has no attribute 'build_editable'"
    assert installers.editable_refused(pip) and installers.editable_refused(uv)
    assert not installers.editable_refused("error: Python.h: No such file or directory")


def test_tox_makes_no_pip_attempt_on_a_python_virtualenv_seeds_no_pip_for() -> None:
    from recipes.records import Recipe
    from recipes.runners import tox

    tried = [Attempt("uv", BEFORE_NEW), Attempt("uv"), Attempt("pip")]
    old = Recipe(kind="tox", source="tox.ini", job="py37", python="3.7", interpreter="python3.7",
                 toxenv="py37")
    new = Recipe(kind="tox", source="tox.ini", job="py311", python="3.11", interpreter="python3.11",
                 toxenv="py311")
    assert tox._runnable(tried, old) == tried[:2]
    assert tox._runnable(tried, new) == tried
    assert tox._runnable([Attempt("pip")], old) == [Attempt("pip")]  # nothing else to try
