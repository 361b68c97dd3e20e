"""Which CI shell steps run here, which are left out and why, and which are rewritten."""

from __future__ import annotations

from pathlib import Path

import pytest

from recipes.ci.steps import (
    COVERAGE,
    DEPLOY,
    DOCS,
    DOWNLOAD,
    LINTER,
    NOX,
    SYSTEM,
    StepVerdict,
    classify,
    describe,
    installs_project,
    is_bookkeeping,
    is_test_step,
    tox_environments,
)


@pytest.mark.parametrize("step, reason", [
    ("codecov", COVERAGE),
    ("coveralls --service=github", COVERAGE),
    ("coverage report -m", COVERAGE),
    ("python -m coverage xml", COVERAGE),
    ("flake8 .", LINTER),
    ("black --check src tests", LINTER),
    ("isort --check-only --diff .", LINTER),
    ("mypy src", LINTER),
    ("ruff check .", LINTER),
    ("pre-commit run --all-files", LINTER),
    ("python -m pylint pkg", LINTER),
    ("check-manifest", LINTER),
    ("make lint", LINTER),
    ("flake8 . || true", LINTER),
    ("sphinx-build -W -b html docs docs/_build", DOCS),
    ("make docs", DOCS),
    ("cd docs && make html", DOCS),
    ("(cd docs; make html)", DOCS),
    ("mkdocs build --strict", DOCS),
    ("sudo apt-get install -y libxml2-dev", SYSTEM),
    ("apt-get update", SYSTEM),
    ("brew install libomp", SYSTEM),
    ("choco install python", SYSTEM),
    ("curl -sSL https://example.org/install.sh | bash", DOWNLOAD),
    ("wget https://example.org/data.zip", DOWNLOAD),
    ("git clone https://github.com/someone/fixtures.git", DOWNLOAD),
    ("conda install -c conda-forge numpy", DOWNLOAD),
    ("twine upload dist/*", DEPLOY),
    ("docker build -t img .", DEPLOY),
    ("aws s3 cp build s3://bucket", DEPLOY),
    ("gh release create v1", DEPLOY),
    ("nox -s tests", NOX),
    ("echo linting\nflake8 . --count --select=E9\n# warnings only\nflake8 . --exit-zero", LINTER),
])
def test_chores_are_left_out_with_the_reason(step: str, reason: str) -> None:
    verdict = classify(step)
    assert not verdict.kept
    assert verdict.reason == reason
    assert verdict.step == step


@pytest.mark.parametrize("step", [
    "pip install --upgrade pip",
    "python -m pip install -U pip setuptools wheel",
    "pip install -r requirements.txt",
    "pip install -e .[test]",
    "python setup.py develop",
    "export PYTHONPATH=$PWD",
    "echo \"a && flake8\" && pytest",  # the chore is inside a string
    "python -m pytest -x tests",
    "if [ \"$TRAVIS_PYTHON_VERSION\" = \"2.7\" ]; then pip install mock; fi",
    "cat > setup.cfg <<EOF\n[flake8]\nmax-line-length = 100\nEOF",
])
def test_ordinary_steps_run_as_written(step: str) -> None:
    assert classify(step) == StepVerdict(kept=True, step=step, reason="")


@pytest.mark.parametrize("step, runs, note", [
    ("coverage run -m pytest tests -x", "python -m pytest tests -x",
     "coverage run -m pytest tests -x -> python -m pytest tests -x"),
    ("python -m coverage run --source=pkg --branch -m pytest", "python -m pytest", "->"),
    ("coverage run --source pkg setup.py test", "python setup.py test", "->"),
    ("coverage run runtests.py", "python runtests.py", "->"),
    ("pytest --cov=pkg --cov-report term-missing tests", "pytest tests", "pytest-cov"),
    ("python -m pytest --cov pkg -v", "python -m pytest -v", "pytest-cov"),
    ("travis_retry pip install -r requirements.txt", "pip install -r requirements.txt",
     "travis_retry"),
    ("travis_wait 30 pytest", "pytest", "travis_wait"),
    ("sudo pip install -U setuptools", "pip install -U setuptools", "sudo"),
    ("pip install --user tox", "pip install tox", "--user"),
])
def test_some_commands_are_rewritten_and_the_rewrite_recorded(step: str, runs: str,
                                                              note: str) -> None:
    verdict = classify(step)
    assert verdict.kept and verdict.step == runs
    assert note in verdict.reason


def test_a_step_mixing_tests_and_chores_keeps_the_tests() -> None:
    verdict = classify("pip install -e .[test]\ncoverage run -m pytest\ncoverage report")
    assert verdict.kept
    assert verdict.step == "pip install -e .[test]\npython -m pytest"
    assert "left out coverage report: coverage report or upload" in verdict.reason
    # Inside an if, the dropped command leaves valid shell behind.
    verdict = classify("if [ \"$LINT\" = 1 ]; then flake8; fi\npytest")
    assert verdict.step == "if [ \"$LINT\" = 1 ]; then true; fi\npytest"
    assert verdict.reason == "left out flake8: linter"


@pytest.mark.parametrize("step, expected", [
    ("pytest", True), ("py.test -v", True), ("python -m pytest", True),
    ("python3 -m unittest discover -s tests", True), ("tox -e py311", True),
    ("make test", True), ("python setup.py test", True), ("python runtests.py", True),
    ("poetry run pytest", True), ("coverage run -m pytest", True),
    ("PYTHONPATH=. pytest -q # the tests", True), ("python manage.py test", True),
    ("pip install pytest", False), ("python -m build", False), ("flake8", False),
    ("echo pytest", False), ("nox -s tests", False),
])
def test_test_steps_are_recognised(step: str, expected: bool) -> None:
    assert is_test_step(step) is expected


@pytest.mark.parametrize("step, expected", [
    ("tox", ()), ("python -m tox", ()), ("tox -e py38,py39", ("py38", "py39")),
    ("tox -epy311 -- -x", ("py311",)), ("tox --env=lint", ("lint",)),
    ("TOXENV=py37 tox", ("py37",)), ("tox -e $TOXENV", ("$TOXENV",)),
    ("travis_retry tox", ()), ("pytest", None), ("pip install tox tox-travis", None),
])
def test_tox_environments_named_by_a_step(step: str, expected: tuple[str, ...] | None) -> None:
    assert tox_environments(step) == expected


def test_installing_the_project_is_recognised(tmp_path: Path) -> None:
    for step in ("pip install -e .", "python -m pip install .[test]", "pip install -e.[dev]",
                 "pip install \".[tests]\"", "python setup.py install", "poetry install",
                 "pip install -U pip && pip install --editable=.", "uv pip install -e ."):
        assert installs_project(step), step
    for step in ("pip install pytest", "pip install -r requirements.txt", "pip install ./dist/x"):
        assert not installs_project(step, tmp_path), step
    (tmp_path / "requirements-dev.txt").write_text("pytest\n-e .\n")
    assert installs_project("pip install -r requirements-dev.txt", tmp_path)


def test_bookkeeping_alone_is_no_reason_to_run_a_step() -> None:
    assert is_bookkeeping("echo done; cd tests\nexport A=1")
    assert not is_bookkeeping("cd tests && python -m pytest")


def test_describe_gives_one_telling_line() -> None:
    assert describe("export A=1\ncd src\npytest -v") == "pytest -v…"
    assert describe("flake8") == "flake8"
    assert describe("x" * 100).endswith("…") and len(describe("x" * 100)) == 80
