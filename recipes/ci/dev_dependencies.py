"""Test dependencies a project declares outside its extras: Poetry's dev dependencies
(``[tool.poetry.dev-dependencies]``, ``[tool.poetry.group.<name>.dependencies]``) and
PEP 735 dependency groups (``[dependency-groups]``), as requirement strings pip and uv take.

The fallback installs them: projects built with Poetry name their test tools only there
(iso8601 2.1.0 needs hypothesis), and ``pip install -e .`` never reads them.

Also a ``setup.py``'s ``setup_requires`` and ``tests_require`` (or ``setup.cfg``'s):
``python setup.py test`` and pytest-runner's ``setup.py pytest`` fetch them when the tests
start, and the traced run has
no network (PyJWT 1.5.3, python-utils 2.4.0); installed at build time, they are found.
"""

from __future__ import annotations

import ast
import configparser
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

TEST_GROUPS = ("dev", "test", "tests", "testing")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_VERSION = re.compile(r"^\d+(\.\d+)*$")
# Dev groups also hold linters, docs and release tools: not needed by the tests, and each one
# more requirement that may not resolve on an old Python and so fail the whole install.
_CHORE = re.compile(
    r"^(flake8.*|pylint|black|isort|mypy|ruff|pre-commit|pycodestyle|pep8|pyflakes|"
    r"pydocstyle|bandit|pyright|codespell|yapf|autopep8|pyupgrade|types-.*|.*-stubs|"
    r"sphinx.*|mkdocs.*|furo|myst-parser|twine|tox|nox|bump2?version|bump-my-version|"
    r"coveralls|codecov|ipython|ipdb|jupyter.*|build|wheel|setuptools|poetry.*)$",
    re.IGNORECASE)


def declared(pyproject: Mapping[str, Any]) -> list[str]:
    """The requirements of the test and dev groups a parsed ``pyproject.toml`` declares,
    in order, each once."""
    poetry = _table(_table(pyproject.get("tool")).get("poetry"))
    tables = [_table(poetry.get("dev-dependencies"))]
    groups = _table(poetry.get("group"))
    tables += [_table(_table(groups.get(name)).get("dependencies")) for name in TEST_GROUPS]
    found = [req for table in tables for name, spec in table.items()
             if (req := _poetry_requirement(name, spec))]
    pep735 = _table(pyproject.get("dependency-groups"))
    for name in TEST_GROUPS:
        entries = pep735.get(name)
        # {include-group = ...} entries name other groups; plain strings are PEP 508 already.
        found += [e for e in entries if isinstance(e, str) and not _CHORE.match(_name_of(e))
                  ] if isinstance(entries, list) else []
    return list(dict.fromkeys(found))


def setup_requires(checkout: Path) -> list[str]:
    """The requirements ``setup_requires`` and ``tests_require`` name (pytest-runner and
    ``setup.py test`` fetch both when the tests start), as written in ``setup.py`` or in
    ``setup.cfg``'s ``[options]``; the packaging tools themselves left out (the build has
    them)."""
    found = _setup_py_requires(checkout / "setup.py") + _setup_cfg_requires(
        checkout / "setup.cfg")
    kept = [r for r in found if _NAME.match(_name_of(r)) and _name_of(r).lower() not in
            ("setuptools", "wheel", "pip", "distribute")]
    return list(dict.fromkeys(kept))


def _setup_py_requires(path: Path) -> list[str]:
    """The strings of ``setup_requires=``'s value, and of the top-level names it uses: the
    habit of 2016 is ``setup_requires=[] + pytest_runner``, with ``pytest_runner =
    ['pytest-runner'] if needs_pytest else []`` (only when ``setup.py test`` runs)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, SyntaxError, ValueError, RecursionError):
        return []
    bound = {target.id: node.value for node in tree.body if isinstance(node, ast.Assign)
             for target in node.targets if isinstance(target, ast.Name)}
    for node in ast.walk(tree):
        keywords = node.keywords if isinstance(node, ast.Call) else []
        wanted = [k.value for k in keywords if k.arg in ("setup_requires", "tests_require")]
        if wanted:
            return [text for value in wanted for text in _strings_in(value, bound)]
    return []


def _strings_in(value: ast.expr, bound: Mapping[str, ast.expr]) -> list[str]:
    found: list[str] = []
    followed: set[str] = set()
    pending: list[ast.AST] = [value]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.append(node.value.strip())
        elif isinstance(node, ast.Name) and node.id in bound and node.id not in followed:
            followed.add(node.id)
            pending.append(bound[node.id])
        elif isinstance(node, ast.IfExp):  # the condition's strings are no requirements
            pending += [node.orelse, node.body]
        else:
            pending += reversed(list(ast.iter_child_nodes(node)))
    return [text for text in found if text]


def _setup_cfg_requires(path: Path) -> list[str]:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        return []
    text = "\n".join(parser.get("options", key, fallback="")
                     for key in ("setup_requires", "tests_require"))
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.strip().startswith("#")]


def _poetry_requirement(name: str, spec: object) -> str:
    """``name`` with Poetry's version constraint as a PEP 440 one; "" for what pip cannot
    install from the index (paths, git and URL dependencies) or a malformed entry."""
    if not _NAME.match(name) or name.lower() == "python" or _CHORE.match(name):
        return ""
    if isinstance(spec, dict):
        if any(key in spec for key in ("path", "git", "url", "file")):
            return ""
        spec = spec.get("version", "*")
    if not isinstance(spec, str):
        return ""
    constraint = ",".join(filter(None, (_pep440(part) for part in spec.split(","))))
    return name + constraint


def _pep440(part: str) -> str:
    """One Poetry constraint (``^1.2``, ``~1.2``, ``1.2.*``, ``>=1,<2``, ``*``) in PEP 440."""
    part = part.strip()
    if part in ("", "*"):
        return ""
    if part[0] in "^~" and not part.startswith("~=") and _VERSION.match(part[1:].strip()):
        version = part[1:].strip()
        numbers = [int(n) for n in version.split(".")]
        return f">={version},<{_upper(numbers, caret=part[0] == '^')}"
    if _VERSION.match(part):
        return f"=={part}"  # Poetry reads a bare version as exactly that version
    return part if re.match(r"^(==|!=|<=|>=|<|>|~=)\s*[\w.*+!-]+$", part) else ""


def _upper(numbers: list[int], *, caret: bool) -> str:
    """The exclusive upper bound: ``^`` keeps the leftmost non-zero number, ``~`` the minor
    version (or the major one when only that is given)."""
    if caret:
        index = next((i for i, n in enumerate(numbers) if n != 0), len(numbers) - 1)
    else:
        index = 0 if len(numbers) == 1 else 1
    bumped = numbers[:index] + [numbers[index] + 1]
    return ".".join(str(n) for n in bumped)


def _name_of(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;@]", requirement.strip(), maxsplit=1)[0]


def _table(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}
