"""The probe's value codec and injection helpers, in-process (the probe is plain Python)."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import pytest

from tracer import probe
from tracer.inject import (
    PROBE_ENV_VAR,
    PROBE_MODULE,
    PTH_LINE,
    ProbeConfig,
    probe_environment,
)
from tracer.probe import encode_value

ROUND_TRIPS = [
    None, True, False, 0, -7, 2**70, 1.5, -0.0, 1e300, "", "é\n'\"", "\ud800", b"", b"\x00'",
    [], [1, [2, [3]]], (), (1,), (1, "a", None), {}, {"a": 1, (1, 2): [3]},
    {frozenset({1}): {2}}, set(), {3, 1, 2}, frozenset(), frozenset({"b", "a"}),
    complex(1, -2), bytearray(b"ab"),
]


def _stable_id(value: Any) -> str:
    """The value's repr, its elements in order if it is a set: a set of strings iterates in
    an order that changes with the hash seed, and pytest-xdist's runners must agree on the
    tests' names."""
    if isinstance(value, (set, frozenset)):
        return f"{type(value).__name__}({sorted(map(repr, value))})"
    return repr(value)


@pytest.mark.parametrize("value", ROUND_TRIPS, ids=_stable_id)
def test_literal_values_round_trip_through_their_source(value: Any) -> None:
    encoded = encode_value(value)
    assert set(encoded) == {"py"}
    restored = eval(encoded["py"])
    assert type(restored) is type(value) and restored == value
    if isinstance(value, float):
        assert math.copysign(1, restored) == math.copysign(1, value)


def test_floats_without_a_literal_are_written_as_calls() -> None:
    assert encode_value([math.nan, math.inf, -math.inf])["py"] == (
        "[float('nan'), float('inf'), -float('inf')]")
    assert encode_value(complex(math.nan, -math.inf))["py"] == (
        "complex(float('nan'), -float('inf'))")


def test_sets_are_written_in_a_stable_order() -> None:
    assert encode_value({"b", "c", "a"})["py"] == "{'a', 'b', 'c'}"
    assert encode_value(frozenset({2, 1}))["py"] == "frozenset({1, 2})"


class Point:
    pass


class Number(int):
    pass


@pytest.mark.parametrize(("value", "expected"), [
    (Point(), {"opaque": f"{__name__}.Point", "why": "type"}),
    (Number(3), {"opaque": f"{__name__}.Number", "why": "type"}),
    # A container says what inside it had no source.
    ([1, Point()], {"opaque": "builtins.list", "why": "type", "inner": f"{__name__}.Point"}),
    ({Point: 1}, {"opaque": "builtins.dict", "why": "type", "inner": "builtins.type"}),
    (object(), {"opaque": "builtins.object", "why": "type"}),
    (len, {"opaque": "builtins.builtin_function_or_method", "why": "type"}),
    (Point, {"opaque": "builtins.type", "why": "type"}),
], ids=["instance", "int-subclass", "list-of-instance", "class-key", "object", "builtin",
        "class"])  # stable ids: pytest-xdist's workers must collect the same names
def test_everything_else_is_opaque_with_its_type(value: Any, expected: dict[str, str]) -> None:
    assert encode_value(value) == expected


def test_self_references_are_cycles_but_shared_values_are_not() -> None:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    shared = [1]
    assert encode_value(loop) == {"opaque": "builtins.dict", "why": "cycle"}
    assert encode_value([shared, shared]) == {"py": "[[1], [1]]"}


def test_nesting_is_limited() -> None:
    assert encode_value([[[0]]], max_depth=3) == {"py": "[[[0]]]"}
    assert encode_value([[[[0]]]], max_depth=3) == {"opaque": "builtins.list", "why": "depth"}


@pytest.mark.parametrize("value", [
    "x" * 2001, b"x" * 5000, 10**2001, 10**100000, list(range(10**6)), {i: i for i in range(700)},
    ["x" * 1500, "y" * 1500],
], ids=lambda value: type(value).__name__)
def test_values_over_the_size_limit_are_opaque_and_cheap(value: Any) -> None:
    started = time.perf_counter()
    assert encode_value(value, max_chars=2000)["why"] == "size"
    assert time.perf_counter() - started < 0.2  # no 10 MB source built first


def test_type_names_never_run_metaclass_code() -> None:
    class Meta(type):
        @property
        def __module__(cls) -> str:  # type: ignore[override]
            raise AssertionError("ran user code")

    class Odd(metaclass=Meta):
        pass

    assert probe.type_name(Odd) == f"{__name__}.{Odd.__qualname__}"
    assert probe.type_name(Meta) == f"?.{Meta.__qualname__}"  # its __module__ is the property


@pytest.mark.parametrize(("path", "traced"), [
    ("pkg/mod.py", True),
    ("src/pkg/_impl.py", True),
    ("pkg/tests/helpers.py", False),
    ("test/x.py", False),
    (".tox/py/lib/python3.11/site-packages/dep.py", False),
    ("build/lib/pkg/mod.py", False),
    ("pkg/test_mod.py", False),
    ("pkg/mod_test.py", False),
    ("conftest.py", False),
    ("setup.py", False),
    ("pkg/template.html", False),
])
def test_which_files_are_traced(tmp_path: Path, path: str, traced: bool) -> None:
    roots = probe._normalise_roots([str(tmp_path)])
    expected = str(tmp_path / path) if traced else None
    assert probe.traced_path(str(tmp_path / path), roots) == expected
    assert probe.traced_path(str(tmp_path) + "x/pkg/mod.py", roots) is None  # a sibling


def test_a_root_may_be_one_module_s_file(tmp_path: Path) -> None:
    # A top-level module installed into site-packages: its directory is not the project's.
    site = tmp_path / "site-packages"
    site.mkdir()
    for name in ("webcolors.py", "dependency.py", "test_webcolors.py"):
        (site / name).write_text("")
    (tmp_path / "link.py").symlink_to(site / "webcolors.py")
    roots = probe._normalise_roots([str(site / "webcolors.py"), str(site / "test_webcolors.py"),
                                    str(tmp_path / "checkout")])
    assert str(site / "webcolors.py") in roots and f"{tmp_path / 'checkout'}/" in roots
    assert probe.traced_path(str(site / "webcolors.py"), roots) == str(site / "webcolors.py")
    assert probe.traced_path(str(tmp_path / "link.py"), roots) == str(site / "webcolors.py")
    for other in ("dependency.py", "webcolors.pyc", "webcolors.py/x.py", "test_webcolors.py"):
        assert probe.traced_path(str(site / other), roots) is None


def test_injection_names_match_the_probe() -> None:
    assert PROBE_ENV_VAR == probe.ENV_VAR
    assert f"import {PROBE_MODULE}" in PTH_LINE and PTH_LINE.startswith("import ")
    assert PTH_LINE.count("\n") == 1


def test_probe_config_is_what_the_probe_reads(tmp_path: Path) -> None:
    config = ProbeConfig(str(tmp_path / "out"), (str(tmp_path),), max_depth=3)
    path = config.write(tmp_path / "probe.json")
    assert probe.load_config(str(path)) == {
        "out_dir": str(tmp_path / "out"), "roots": [str(tmp_path)],
        "max_calls_per_function": 100, "max_value_chars": 2000,
        "max_trace_bytes": 20_000_000, "max_depth": 3, "max_yields": 10, "backend": "auto",
        "test_time_limit": 0.0,  # read by tracer/timelimit.py, beside the probe
        "modules": []}
    assert json.loads(path.read_text())["roots"] == [str(tmp_path)]
    assert probe_environment(path) == {PROBE_ENV_VAR: str(path)}
    # citrace mine passes the config itself: no file a project could replace.
    [(name, inline)] = probe_environment(config).items()
    assert name == PROBE_ENV_VAR and probe.load_config(inline) == probe.load_config(str(path))


def test_the_decision_cache_stays_bounded_and_keeps_traced_functions(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probe, "_CACHE_LIMIT", 5)
    (tmp_path / "lib.py").write_text("def traced(x):\n    return x\n")
    namespace: dict[str, Any] = {}
    exec(compile((tmp_path / "lib.py").read_text(), str(tmp_path / "lib.py"), "exec"), namespace)
    state = probe.Probe({"out_dir": str(tmp_path), "roots": [str(tmp_path)]})
    traced = state.decide(namespace["traced"].__code__)
    for index in range(20):
        state.decide(compile(f"lambda: {index}", "<x>", "eval").co_consts[0])
    assert len(state.cache) <= 5
    assert state.cache[id(namespace["traced"].__code__)] is traced
    assert isinstance(traced, probe._Fn) and traced.params == (("x", "pos"),)


class Shouty(Exception):
    def __str__(self) -> str:
        raise AssertionError("ran user code")


class Sneaky:
    def __str__(self) -> str:
        raise AssertionError("ran user code")

    __repr__ = __str__


@pytest.mark.parametrize(("exc", "expected"), [
    (ValueError("bad", 2), {"type": "builtins.ValueError", "message": "('bad', 2)"}),
    (ValueError("bad"), {"type": "builtins.ValueError", "message": "bad"}),
    (ValueError(), {"type": "builtins.ValueError", "message": ""}),
    (KeyError("k"), {"type": "builtins.KeyError", "message": "'k'"}),
    (ValueError(float("nan")), {"type": "builtins.ValueError", "message": "nan"}),
    (ValueError(Sneaky()), {"type": "builtins.ValueError"}),
    (Shouty("x"), {"type": f"{__name__}.Shouty"}),
    (OSError(2, "gone"), {"type": "builtins.FileNotFoundError"}),  # its own __str__
    (ValueError("x" * 5000), {"type": "builtins.ValueError"}),
], ids=lambda value: type(value).__name__)
def test_exceptions_are_named_and_their_message_kept_when_safe(
        exc: BaseException, expected: dict[str, str]) -> None:
    assert probe.encode_exception(exc) == expected


def test_an_exception_whose_args_were_replaced_by_a_property_is_read_safely() -> None:
    class Odd(ValueError):
        @property
        def args(self) -> tuple[object, ...]:  # type: ignore[override]
            raise AssertionError("ran user code")

    assert probe.encode_exception(Odd("real")) == {
        "type": f"{__name__}.{Odd.__qualname__}", "message": "real"}
