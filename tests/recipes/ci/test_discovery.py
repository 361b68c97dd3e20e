"""Where the fallback looks when the default discovery finds no test (issue 16, item 4)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from recipes.ci import discovery
from recipes.ci.fallback import PYTEST, UNITTEST, fallback_recipe
from recipes.interpreters import discover
from recipes.runners.installers import uv_binary


def test_a_test_folder_that_is_no_package_is_searched_with_wider_patterns(make_project) -> None:
    project = make_project({"setup.py": "", "mypkg/__init__.py": "", "tests/tests.py": ""})
    recipe = fallback_recipe(project)
    assert recipe is not None
    assert recipe.commands == (
        PYTEST, UNITTEST,
        (*PYTEST, "--override-ini=python_files=*test*.py", "tests"),
        ("{python}", "-m", "unittest", "discover", "-v", "-s", "tests", "-p", "*test*.py"),
        (*PYTEST, "--doctest-modules", "mypkg"),
    )


def test_top_level_test_files_are_named_to_pytest(make_project) -> None:
    project = make_project({"setup.py": "", "single.py": "", "test.py": ""})
    commands = discovery.further_commands(project, PYTEST)
    assert commands == ((*PYTEST, "--override-ini=python_files=*test*.py", "test.py"),
                        (*PYTEST, "--doctest-modules", "single.py"))


def test_the_test_suite_setup_py_names_is_named_to_pytest(make_project) -> None:
    setup = ("from setuptools import setup\n"
             "setup(name='titled', tests_require=['nose'], test_suite='titled.tests')\n")
    project = make_project({"setup.py": setup, "titled/__init__.py": "", "titled/tests.py": ""})
    assert discovery.test_suite_path(project) == "titled/tests.py"
    commands = discovery.further_commands(project, PYTEST)
    assert commands[0] == (*PYTEST, "--override-ini=python_files=*test*.py", "titled/tests.py")
    # A function of a test package is that package; a folder already searched is not named
    # twice; setup.cfg says it too; what names nothing there, or is no name, adds nothing.
    for files, expected in [
            ({"setup.py": "setup(test_suite='tests.suite')", "tests/__init__.py": ""}, "tests"),
            ({"setup.cfg": "[options]\ntest_suite = pkg.checks\n", "pkg/checks/a.py": ""},
             "pkg/checks"),
            ({"setup.py": "setup(test_suite='gone.tests')"}, None),
            ({"setup.py": "setup(test_suite='../etc')"}, None),
            ({"setup.py": "print 'python 2'\nsetup(test_suite='p.tests')", "p/tests.py": ""},
             None)]:
        assert discovery.test_suite_path(make_project(files)) == expected, files
    project = make_project({"setup.py": "setup(test_suite='tests.suite')", "tests/t.py": ""})
    assert discovery.further_commands(project, PYTEST)[0] == (
        *PYTEST, "--override-ini=python_files=*test*.py", "tests")


def test_doctests_read_the_projects_modules_only(make_project) -> None:
    project = make_project({
        "setup.py": "", "conftest.py": "", "docs/conf.py": "", "src/pkg/__init__.py": "",
        "src/pkg/core.py": "", "other/__init__.py": "", "notes/readme.txt": "",
        "tests/test_x.py": "", "_private.py": "", "helpers.py": "",
    })
    assert discovery.project_modules(project) == ["helpers.py", "other", "src/pkg"]


def test_doctest_files_are_read_when_the_ci_asks_for_them(make_project) -> None:
    project = make_project({
        "pkg/__init__.py": "", "README.rst": "", "docs/usage.rst": "",
        "tox.ini": "[testenv]\ncommands = pytest --doctest-glob='*.rst' README.rst docs\n",
    })
    assert discovery.doctest_command(project, ("pytest",)) == (
        "pytest", "--doctest-modules", "--doctest-glob=*.rst", "pkg", "README.rst", "docs")
    (project / "tox.ini").unlink()
    assert discovery.doctest_command(project, ("pytest",)) == (
        "pytest", "--doctest-modules", "pkg")


def test_a_project_with_no_module_of_its_own_has_no_doctest_command(make_project) -> None:
    project = make_project({"setup.py": "", "tests/test_x.py": ""})
    assert discovery.doctest_command(project, PYTEST) is None


@pytest.mark.skipif(uv_binary() is None or not any(i.version[:2] == (3, 6) for i in discover()),
                    reason="needs uv and CPython 3.6")
def test_the_wider_pattern_is_one_word_for_the_pytest_of_2017(make_project,
                                                              tmp_path: Path) -> None:
    # ply 3.4 on 3.6 gets pytest 3.1 (as of 2017): there ``-o`` took every later word as an
    # override.
    project = make_project({"setup.py": "", "test/tests.py": "def test_one():\n    pass\n"})
    [python36] = [i.path for i in discover() if i.version[:2] == (3, 6)]
    venv = tmp_path / "venv"
    subprocess.run([uv_binary(), "venv", "-q", "--python", python36, str(venv)], check=True)
    subprocess.run([uv_binary(), "pip", "install", "-q", "--python", str(venv / "bin/python"),
                    "pytest<3.2"], check=True)
    [wider] = [c for c in discovery.further_commands(project, PYTEST) if c[:len(PYTEST)] == PYTEST
               and "test" in c]
    command = [str(venv / "bin/python") if word == "{python}" else word for word in wider]
    run = subprocess.run(command, cwd=project, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "1 passed" in run.stdout, run.stdout + run.stderr


def test_test_modules_that_run_themselves_on_import_are_run_as_scripts(make_project) -> None:
    project = make_project({
        "setup.py": "", "pkg/__init__.py": "",
        "test/testlex.py": "import unittest\nunittest.main()\n",
        "test/sub/test_deep.py": "from unittest import TestCase, main\nmain()\n",
        "test/test_guarded.py":
            "import unittest\nif __name__ == '__main__':\n    unittest.main()\n",
        "test/test_other_main.py": "def main():\n    pass\nmain()\n",
    })
    assert discovery.script_tests(project) == ["test/sub/test_deep.py", "test/testlex.py"]
    recipe = fallback_recipe(project)
    assert recipe is not None
    ignoring = (*PYTEST, "--ignore=test/sub/test_deep.py", "--ignore=test/testlex.py")
    scripts = discovery.script_tests(project)
    assert recipe.commands[0] == discovery.run_with_scripts(ignoring, scripts)
    assert recipe.commands[2] == (*ignoring, "--override-ini=python_files=*test*.py", "test")


def test_test_modules_with_a_runner_of_their_own_are_run_as_scripts(make_project) -> None:
    runner = ("import unittest\n\ndef test_quality(args, expected):\n    assert args\n\n"
              "if __name__ == '__main__':\n    unittest.TextTestRunner().run(suite())\n")
    project = make_project({
        "setup.py": "", "mimeparse.py": "", "mimeparse_test.py": runner,
        # pytest's own: fixtures from a conftest, or pytest imported for its parameters.
        "tests/conftest.py": "", "tests/test_fed.py": runner,
        "test/test_parametrized.py": "import pytest\n" + runner,
        # no test function takes arguments: pytest collects it whatever its __main__ does.
        "test/test_plain.py": runner.replace("(args, expected)", "()"),
    })
    assert discovery.script_tests(project) == ["mimeparse_test.py"]
    # A link in the checkout to a file outside it is never read on the host.
    outside = project.parent / "outside_runner.py"
    outside.write_text(runner)
    (project / "linked_test.py").symlink_to(outside)
    assert discovery.script_tests(project) == ["mimeparse_test.py"]


def test_the_scripts_command_fails_when_a_part_fails_and_not_when_pytest_finds_nothing(
        tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "good.py").write_text("print('Ran 1 test')\n")
    (tmp_path / "t" / "bad.py").write_text("import sys\nsys.exit(1)\n")
    nothing = ("{python}", "-c", "import sys; sys.exit(5)")

    def run(scripts: list[str]) -> subprocess.CompletedProcess:
        command = discovery.run_with_scripts(nothing, scripts)
        argv = [part.replace("{python}", sys.executable) for part in command]
        return subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=60)

    good = run(["t/good.py"])
    assert good.returncode == 0 and "Ran 1 test" in good.stdout
    assert run(["t/good.py", "t/bad.py"]).returncode == 1
