"""What the sys.monitoring backend (3.12+) records beyond setprofile: raised exceptions,
values drawn from generators, switching off what it does not record, and sharing
sys.monitoring with the program."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.tracer.probe_harness import MAIN_VERSIONS, Traced

GENERATORS = textwrap.dedent("""\
    def count_up(n):
        for i in range(n):
            yield i

    def rebinds(n):
        n = n * 10
        yield n
        yield n + 1

    def delegates(n):
        yield "start"
        yield from count_up(n)

    def breaks(n):
        yield n
        raise KeyError(n)

    def guarded(n):
        try:
            yield n
            yield n + 1
        finally:
            pass
    """)


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip()


def test_raised_calls_record_the_exception_type_and_a_safe_message(traced: Traced) -> None:
    run = traced({"lib.py": dedent("""
        class Loud(Exception):
            def __str__(self):
                raise RuntimeError("user __str__ ran")

        class Opaque:
            def __repr__(self):
                raise RuntimeError("user __repr__ ran")

        def fail(kind):
            if kind == "value":
                raise ValueError("bad value", 3)
            if kind == "key":
                raise KeyError("k")
            if kind == "loud":
                raise Loud("x")
            if kind == "opaque":
                raise ValueError(Opaque())
            if kind == "empty":
                raise IndexError
            return kind

        def outer(kind):
            return fail(kind)
        """), "main.py": dedent("""
        import lib
        for kind in ["value", "key", "loud", "opaque", "empty", "fine"]:
            try:
                lib.outer(kind)
            except Exception as exc:
                print(type(exc).__name__)
        """)}, backend="monitoring")
    assert run.stdout == "ValueError\nKeyError\nLoud\nValueError\nIndexError\n"
    raised = {call["args"]["kind"]: call.get("exc") for call in run.calls("fail")}
    assert raised == {
        "'value'": {"type": "builtins.ValueError", "message": "('bad value', 3)"},
        "'key'": {"type": "builtins.KeyError", "message": "'k'"},
        "'loud'": {"type": "lib.Loud"},  # its own __str__: not called
        "'opaque'": {"type": "builtins.ValueError"},  # args not literals
        "'empty'": {"type": "builtins.IndexError", "message": ""},
        "'fine'": None,
    }
    # Each frame the exception left is a raised call of its own.
    assert [call.get("exc", {}).get("type") for call in run.calls("outer")] == [
        "builtins.ValueError", "builtins.KeyError", "lib.Loud", "builtins.ValueError",
        "builtins.IndexError", None]
    assert run.lines("stats")[0]["errors"] == 0


@pytest.mark.parametrize("version", ["3.12", "3.13"])  # 3.13 closes some without an event
def test_generators_record_what_was_drawn_and_whether_they_finished(traced: Traced,
                                                                    version: str) -> None:
    run = traced({"lib.py": GENERATORS, "main.py": dedent("""
        import itertools, lib
        print(list(lib.count_up(3)), list(itertools.islice(lib.count_up(50), 2)))
        print(list(lib.count_up(12)), list(lib.rebinds(1)), list(lib.delegates(2)))
        drawn = lib.breaks(7)
        print(next(drawn))
        try:
            next(drawn)
        except KeyError:
            print("raised")
        closed = lib.guarded(5)
        next(closed)
        closed.close()
        """)}, backend="monitoring", max_yields=10, version=version)
    by_n = {call["args"]["n"]: call for call in run.calls("count_up")}
    assert (by_n["3"]["yields"], by_n["3"]["exhausted"]) == (["0", "1", "2"], True)
    assert (by_n["50"]["yields"], by_n["50"]["exhausted"]) == (["0", "1"], False)
    # More were drawn than it keeps: the first max_yields, not exhausted.
    assert by_n["12"]["yields"] == [str(i) for i in range(10)]
    assert by_n["12"]["exhausted"] is False
    # The arguments as the call started, not as the body rebound them.
    [rebound] = run.calls("rebinds")
    assert (rebound["args"], rebound["yields"]) == ({"n": "1"}, ["10", "11"])
    [delegating] = run.calls("delegates")
    assert delegating["yields"] == ["'start'", "0", "1"] and delegating["exhausted"] is True
    [broken] = run.calls("breaks")
    assert broken["yields"] == ["7"] and broken["exhausted"] is False
    assert broken["exc"] == {"type": "builtins.KeyError", "message": "7"}
    assert broken["ret"] == ("opaque", "builtins.generator", "type")
    [guarded] = run.calls("guarded")
    assert (guarded["yields"], guarded["exhausted"]) == (["5"], False)
    assert "exc" not in guarded  # GeneratorExit is the consumer closing it


@pytest.mark.parametrize("version", ["3.12", "3.13"])
def test_abandoned_generators_are_recorded_at_exit(traced: Traced, version: str) -> None:
    run = traced({"lib.py": GENERATORS, "main.py": dedent("""
        import lib
        kept = lib.count_up(5)
        next(kept)
        dropped = lib.count_up(6)
        next(dropped), next(dropped)
        del dropped
        """)}, backend="monitoring", version=version)
    yields = {call["args"]["n"]: (call["yields"], call["exhausted"])
              for call in run.calls("count_up")}
    assert yields == {"5": (["0"], False), "6": (["0", "1"], False)}


@pytest.mark.parametrize("version", MAIN_VERSIONS)
def test_setprofile_records_values_drawn_once_the_generator_is_resumed(traced: Traced,
                                                                       version: str) -> None:
    # A yield and the final return are the same profiler event: a value counts as drawn
    # when the generator is resumed after it (by next(), send(), throw() or close()), and
    # no call is ever said to be exhausted.
    run = traced({"lib.py": GENERATORS, "main.py": dedent("""
        import itertools, lib
        print(list(lib.count_up(3)), list(itertools.islice(lib.count_up(50), 2)))
        print(list(lib.count_up(12)), list(lib.rebinds(1)), list(lib.delegates(2)))
        drawn = lib.breaks(7)
        print(next(drawn))
        try:
            next(drawn)
        except KeyError:
            print("raised")
        closed = lib.guarded(5)
        next(closed)
        closed.close()
        """)}, backend="setprofile", max_yields=10, version=version)
    assert "raised" in run.stdout
    by_n = {call["args"]["n"]: call for call in run.calls("count_up")}
    every = [call for name in ("count_up", "rebinds", "delegates", "breaks", "guarded")
             for call in run.calls(name)]
    assert len(every) == 8 and {call["exhausted"] for call in every} == {False}
    assert by_n["3"]["yields"] == ["0", "1", "2"]  # the final resumption drew "2"
    assert by_n["12"]["yields"] == [str(i) for i in range(10)]
    assert by_n["2"]["yields"] == ["0", "1"]  # driven by `yield from`
    [rebound] = run.calls("rebinds")
    assert (rebound["args"], rebound["yields"]) == ({"n": "1"}, ["10", "11"])
    [delegating] = run.calls("delegates")
    assert delegating["yields"] == ["'start'", "0", "1"]
    [broken] = run.calls("breaks")
    assert broken["yields"] == ["7"] and "exc" not in broken
    [guarded] = run.calls("guarded")
    assert guarded["yields"] == ["5"]  # close() resumed it
    # islice stops asking after 2 values; "1" counts as drawn only if the generator was
    # resumed again (by its close() when it was freed, which 3.13 skips for a yield outside
    # any `try`).
    assert by_n["50"]["yields"] in (["0", "1"], ["0"])
    assert run.lines("stats")[0]["errors"] == 0


def test_the_setprofile_backend_records_each_generator_call_once(traced: Traced) -> None:
    run = traced({"lib.py": GENERATORS, "main.py": dedent("""
        import lib
        for _ in range(3):
            print(sum(lib.rebinds(1)), sum(lib.count_up(4)))
        """)}, backend="setprofile", version="3.11")
    assert run.stdout == "21 6\n" * 3
    # Once per call (resumptions are calls too, for the profiler), with the arguments of
    # its start.
    assert [call["args"] for call in run.calls("rebinds")] == [{"n": "1"}]
    assert [call["args"] for call in run.calls("count_up")] == [{"n": "4"}]
    assert run.lines("stats")[0]["calls_seen"] == 6


def test_functions_not_recorded_are_switched_off(traced: Traced) -> None:
    run = traced({"lib.py": GENERATORS + dedent("""
        def add(a, b=2):
            return a + b
        """), "main.py": dedent("""
        import lib
        for i in range(1000):
            lib.add(i)
        for i in range(1000):
            lib.add(0)
        total = 0
        for _ in range(200):
            total += sum(lib.count_up(3))
        print(total)
        """)}, backend="monitoring", max_calls_per_function=3)
    assert run.stdout == "600\n"
    [stats] = run.lines("stats")
    # `add` reached its cap at its third call and was DISABLEd: later calls are not even
    # seen. `count_up` is seen each time (its inputs repeat, its cap is never reached).
    assert [call["args"]["a"] for call in run.calls("add")] == ["0", "1", "2"]
    assert stats["calls_seen"] == 3 + 200
    assert stats["calls_repeated"] == 199


def test_the_program_can_use_sys_monitoring_itself(traced: Traced) -> None:
    run = traced({"lib.py": GENERATORS, "main.py": dedent("""
        import sys, lib
        mon = sys.monitoring
        starts = []
        for tool in (mon.DEBUGGER_ID, mon.COVERAGE_ID, mon.PROFILER_ID):
            mon.use_tool_id(tool, "program")
        mon.register_callback(mon.PROFILER_ID, mon.events.PY_START,
                              lambda code, offset: starts.append(code.co_name))
        mon.set_events(mon.PROFILER_ID, mon.events.PY_START)
        print(list(lib.count_up(2)))
        mon.set_events(mon.PROFILER_ID, 0)
        print(starts.count("count_up"), sorted(
            name for name in map(mon.get_tool, range(6)) if name))
        """)}, backend="monitoring")
    assert run.stdout == "[0, 1]\n1 ['citrace', 'program', 'program', 'program']\n"
    assert run.calls("count_up")[0]["yields"] == ["0", "1"]


@pytest.mark.parametrize("version", ["3.12", "3.13"])
def test_falls_back_to_setprofile_when_no_tool_id_is_free(traced: Traced, tmp_path: Path,
                                                          version: str) -> None:
    # The program holds every id the probe may use before the probe starts (started by
    # hand here, as the .pth line would).
    run = traced({"lib.py": GENERATORS, "main.py": dedent("""
        import os, sys
        for tool in (3, 4, 5):
            sys.monitoring.use_tool_id(tool, "other")
        import _citrace_probe
        _citrace_probe.start({"out_dir": os.environ["OUT"], "roots": [os.getcwd()]})
        import lib
        print(list(lib.count_up(2)))
        """)}, version=version, probe=False, env={"OUT": str(tmp_path / "traces")})
    assert run.stdout == "[0, 1]\n"
    [header] = run.lines("header")
    assert header["backend"] == "setprofile"
    assert header["backend_reason"] == (
        "every sys.monitoring tool id it may use is taken: 4 (other), 3 (other), 5 (other)")
    assert run.calls("count_up")[0]["args"] == {"n": "2"}
