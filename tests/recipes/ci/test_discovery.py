"""Where the fallback looks when the default discovery finds no test (issue 16, item 4)."""

from __future__ import annotations

from recipes.ci import discovery
from recipes.ci.fallback import PYTEST, UNITTEST, fallback_recipe


def test_a_test_folder_that_is_no_package_is_searched_with_wider_patterns(make_project) -> None:
    project = make_project({"setup.py": "", "mypkg/__init__.py": "", "tests/tests.py": ""})
    recipe = fallback_recipe(project)
    assert recipe is not None
    assert recipe.commands == (
        PYTEST, UNITTEST,
        (*PYTEST, "-o", "python_files=*test*.py", "tests"),
        ("{python}", "-m", "unittest", "discover", "-v", "-s", "tests", "-p", "*test*.py"),
        (*PYTEST, "--doctest-modules", "mypkg"),
    )


def test_top_level_test_files_are_named_to_pytest(make_project) -> None:
    project = make_project({"setup.py": "", "single.py": "", "test.py": ""})
    commands = discovery.further_commands(project, PYTEST)
    assert commands == ((*PYTEST, "-o", "python_files=*test*.py", "test.py"),
                        (*PYTEST, "--doctest-modules", "single.py"))


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
