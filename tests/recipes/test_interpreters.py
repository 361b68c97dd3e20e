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
