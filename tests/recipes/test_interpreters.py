from __future__ import annotations

import sys

import pytest

from recipes.interpreters import Interpreter, choose, discover, parse_version

POOL = (Interpreter((2, 7, 18), "/py27"), Interpreter((3, 8, 1), "/py38"),
        Interpreter((3, 11, 7), "/py311"), Interpreter((3, 13, 0), "/py313"))


def test_discovery_finds_the_running_interpreter_version() -> None:
    versions = {i.version[:2] for i in discover()}
    assert sys.version_info[:2] in versions


@pytest.mark.parametrize("text, expected", [
    ("3.11", (3, 11)), ("3.11.7", (3, 11)), ("py311", (3, 11)), ("py3.9", (3, 9)),
    ("py27", (2, 7)), ("python3.12", (3, 12)), ("py3", None), ("pypy3", None), ("lint", None),
])
def test_parse_version(text: str, expected: tuple[int, int] | None) -> None:
    assert parse_version(text) == expected


def test_choose_prefers_the_exact_version_then_the_nearest_newer() -> None:
    assert choose((3, 8), available=POOL) == POOL[1]
    assert choose((3, 9), available=POOL) == POOL[2]  # 3.9 missing: nearest newer
    assert choose((3, 14), available=POOL) is None
    assert choose((2, 6), available=POOL) == POOL[0]
    assert choose(None, available=POOL) == POOL[2]  # no wish: the preferred 3.11


def test_rank_puts_the_exact_version_first_then_the_nearest_to_311_and_python_2_last() -> None:
    from recipes.interpreters import rank
    py27, py38, py311, py313 = POOL
    assert rank((3, 11), py311) < rank((3, 12), py313)  # exact before a stand-in
    assert rank((3, 13), py313) < rank((3, 8), py38)  # 3.13 is nearer 3.11 than 3.8 is
    assert rank((3, 8), py38) < rank((2, 7), py27)  # Python 2 after every Python 3
