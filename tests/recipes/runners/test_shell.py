"""Real builds of shell recipes: a Travis job and a GitHub Actions job, run end to end."""

from __future__ import annotations

from pathlib import Path

from recipes.ci.actions import recipes_from_actions
from recipes.ci.travis import recipes_from_travis
from recipes.planner import build, run_tests
from recipes.records import Env
from recipes.runners.shell import _github_env
from tests.recipes.old_backend import OLD_BACKEND_PROJECT
from tests.recipes.tiny_project import TINY_PYPROJECT

# The test proves the package imports and reports what reached it.
WITNESS_TEST = """
import os, unittest
import tiny

class T(unittest.TestCase):
    def test_double(self):
        self.assertEqual(tiny.double(2), 4)
        seen = [os.environ.get(n, "-") for n in ("CITRACE_WITNESS", "GREETING", "DJANGO",
                                                    "TRAVIS", "FROM_STEP", "VIRTUAL_ENV")]
        with open(os.environ["CITRACE_WITNESS"], "w") as f:
            f.write("\\n".join(seen + [os.getcwd()]))
"""


def test_a_travis_job_builds_carries_its_shell_state_and_runs_its_tests(make_project,
                                                                        tmp_path: Path) -> None:
    project = make_project({
        "pyproject.toml": TINY_PYPROJECT,
        "tiny/__init__.py": "def double(x):\n    return 2 * x\n",
        "tests/test_tiny.py": WITNESS_TEST,
        ".travis.yml": """
            language: python
            python: "3.11"
            env: DJANGO=2.2
            before_install:
              - sudo apt-get install -y libxml2-dev
              - export GREETING=hello
              - cd tests
            install:
              - cd ..
              - exit 3
            script:
              - python -m unittest discover -s tests -v
        """,
    })
    log = tmp_path / "log.txt"
    [recipe], _ = recipes_from_travis(project, log_path=log)
    assert recipe.skipped == ("sudo apt-get install -y libxml2-dev: system packages (needs root)",)
    env = build(recipe, project, work_dir=tmp_path / "work", log_path=log, timeout=600)
    # A failing step is recorded and the build goes on; no step installed the project.
    assert env.recipe.failed_steps == ("exit 3: exit code 3",)
    assert env.recipe.repairs == ("installed the project with pip install -e ., which no "
                                  "step does",)
    assert Env.from_dict(env.to_dict()) == env
    witness = _witness(tmp_path)
    outcome = run_tests(env, project, extra_env={"CITRACE_WITNESS": str(witness)},
                        log_path=log, timeout=600, writable=(witness.parent,))
    assert outcome.ok, outcome.output_tail
    assert outcome.argv == ("bash", "-c", "python -m unittest discover -s tests -v")
    seen = witness.read_text().splitlines()
    # The tracer's variable, an export from an earlier step, the job's env, Travis's own.
    assert seen[:4] == [str(witness), "hello", "2.2", "true"]
    assert seen[5] == str(tmp_path / "work" / "venv")
    assert seen[6] == str(project)  # cd tests, then cd ..: the shell's directory carried


def test_an_actions_job_carries_github_env_and_stops_at_the_first_failure(make_project,
                                                                          tmp_path: Path) -> None:
    project = make_project({
        "src/tiny/__init__.py": "def double(x):\n    return 2 * x\n",
        "src/tests/test_tiny.py": WITNESS_TEST,
        ".github/workflows/ci.yml": """
            jobs:
              test:
                runs-on: ubuntu-latest
                steps:
                  - uses: actions/checkout@v4
                  - uses: actions/setup-python@v5
                    with: {python-version: "3.12"}
                  - run: |
                      echo "FROM_STEP=carried" >> "$GITHUB_ENV"
                      export NOT_CARRIED=1
                  - run: python -m unittest discover -s tests
                    working-directory: src
                  - run: python -m unittest does_not_exist
                  - run: python run_tests.py
        """,
        "run_tests.py": "open('never', 'w').close()\n",
    })
    log = tmp_path / "log.txt"
    [recipe], _ = recipes_from_actions(project, log_path=log)
    assert len(recipe.commands) == 3 and recipe.python == "3.12"
    env = build(recipe, project, work_dir=tmp_path / "work", log_path=log, timeout=600)
    assert env.recipe.failed_steps == () and env.recipe.repairs == ()  # nothing to install
    witness = _witness(tmp_path)
    outcome = run_tests(env, project, extra_env={"CITRACE_WITNESS": str(witness)},
                        log_path=log, timeout=600, writable=(witness.parent,))
    assert not outcome.ok
    assert outcome.argv == ("bash", "-e", "-c", "python -m unittest does_not_exist")
    assert not (project / "never").exists()  # stopped at the first failure
    seen = witness.read_text().splitlines()
    assert seen[0] == str(witness) and seen[3:5] == ["-", "carried"]
    assert seen[6] == str(project / "src")


def test_github_env_files_are_read_as_github_writes_them() -> None:
    text = "A=1\nB=x=y\nMULTI<<EOF\nline one\nline two\nEOF\nC=\n"
    assert _github_env(text) == {"A": "1", "B": "x=y", "MULTI": "line one\nline two", "C": ""}


def _witness(tmp_path: Path) -> Path:
    """Where the tests write what they saw: a directory given to them besides the project's
    own (as the probe's trace directory is)."""
    directory = tmp_path / "witness-dir"
    directory.mkdir()
    return directory / "witness"


def test_a_job_whose_project_cannot_install_editable_gets_a_copy_installed(make_project,
                                                                          tmp_path: Path) -> None:
    # issue 16, item 8, in a CI job: no step installs the project, and -e is refused.
    project = make_project({**OLD_BACKEND_PROJECT, ".travis.yml": """
        language: python
        python: "3.11"
        install: pip install pytest
        script: pytest -q tests
    """})
    log = tmp_path / "log.txt"
    [recipe], _ = recipes_from_travis(project, log_path=log)
    env = build(recipe, project, work_dir=tmp_path / "work", log_path=log, timeout=600)
    assert env.recipe.repairs[-1] == "installed the project with pip install . (-e failed)"
    assert (Path(env.site_packages) / "oldback" / "__init__.py").is_file()
    outcome = run_tests(env, project, extra_env={}, log_path=log, timeout=600)
    assert outcome.ok and "2 passed" in outcome.output_tail, outcome.output_tail
