"""The probe, run for real: injected into virtualenvs, tracing small programs."""

from __future__ import annotations

import resource
import signal
import subprocess
import textwrap
from collections.abc import Callable
from hashlib import sha1
from pathlib import Path

import pytest

from recipes.records import StageError
from recipes.sandbox import base_environment
from tests.tracer.probe_harness import (
    BACKENDS,
    INTERPRETERS,
    MAIN_VERSIONS,
    Traced,
    Venv,
    interpreter,
    parse_trace_files,
)
from tracer import inject, probe
from tracer.inject import PROBE_ENV_VAR, PROBE_MODULE, PTH_LINE, ProbeConfig
from tracer.traces import read_traces

SPANS = textwrap.dedent("""\
    def outer(x):
        def inner(y):
            return (y +
                    1)
        return inner(
            x,
        )
    # not part of outer
    """)

LIBRARY = textwrap.dedent("""\
    def add(a, b=2, *rest, scale=1, **options):
        return (a + b) * scale

    def describe(name):
        return {"name": name, "tags": (name,), "seen": {1, 2}, "none": None}

    def fails(x):
        raise ValueError(x)

    def nothing(x):
        return None

    def numbers():
        return [float("nan"), float("inf"), -float("inf"), 1.5, complex(1, -2), b"\\x00", True]

    def count_up(n):
        for i in range(n):
            yield i

    class Box:
        def scaled(self, k):
            return k * 2
    """)


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip()


# ---------------------------------------------------------------- recording calls

@pytest.mark.parametrize(("version", "backend"), BACKENDS)
def test_records_literal_arguments_and_return_values(traced: Traced, version: str,
                                                     backend: str) -> None:
    run = traced({"lib.py": LIBRARY, "main.py": dedent("""
        import lib
        print(lib.add(1), lib.add(1, 3, 4, scale=2, extra=5), lib.describe("x"))
        try:
            lib.fails(1)
        except ValueError:
            pass
        lib.nothing(0)
        lib.numbers()
        print(list(lib.count_up(2)), lib.Box().scaled(3))
        """)}, version=version, backend=backend)
    assert run.stdout.startswith("3 8 ")
    [header] = run.lines("header")
    assert header["format"] == "citrace-trace" and header["version"] == probe.FORMAT_VERSION
    assert header["python"].startswith(version + ".") and header["argv"] == ["main.py"]
    assert header["backend"] == backend and header["backend_reason"]
    first, second = run.calls("add")
    assert first["args"] == {"a": "1", "b": "2", "scale": "1", "rest": "()", "options": "{}"}
    assert first["kinds"] == ["pos", "pos", "kwonly", "varargs", "varkw"]
    assert (first["ret"], second["ret"]) == ("3", "8")
    assert second["args"]["rest"] == "(4,)" and second["args"]["options"] == "{'extra': 5}"
    [described] = run.calls("describe")
    assert described["ret"] == "{'name': 'x', 'tags': ('x',), 'seen': {1, 2}, 'none': None}"
    assert run.calls("nothing")[0]["ret"] == "None"
    assert run.calls("numbers")[0]["ret"] == (
        "[float('nan'), float('inf'), -float('inf'), 1.5, complex(1.0, -2.0), b'\\x00', True]")
    # co_qualname on 3.11+; before, the probe finds the method in its instance's class.
    method = "Box.scaled"
    # A plain object of the project's is written from its state (issue 14).
    assert run.calls(method)[0]["args"]["self"] == (
        "_citrace_object(_citrace_class('lib', 'Box'), {})")
    assert run.qualnames() == {"add", "describe", "nothing", "numbers", "fails", "count_up",
                               method}
    [counted] = run.calls("count_up")
    assert counted["args"] == {"n": "2"}
    assert counted["ret"] == ("opaque", "builtins.generator", "type")
    [stats] = run.lines("stats")
    assert stats["calls_recorded"] == 8 and stats["errors"] == 0
    [failed] = run.calls("fails")
    if backend == "setprofile":
        # `fails` raised: the profiler reports that as a None result, indistinguishable from
        # `nothing`'s real one; the trace keeps both, validation by execution tells them apart.
        assert failed["ret"] == "None" and "exc" not in failed
        assert stats["calls_none_or_raised"] == 2
        # A yield and the final return are one event there: a value counts as drawn once the
        # generator is resumed after it, and whether it then ended cannot be told.
        assert (counted["yields"], counted["exhausted"]) == (["0", "1"], False)
    else:
        assert "ret" not in failed
        assert failed["exc"] == {"type": "builtins.ValueError", "message": "1"}
        assert stats["calls_none_or_raised"] == 0 and stats["calls_raised"] == 1
        assert (counted["yields"], counted["exhausted"]) == (["0", "1"], True)


def test_function_lines_say_where_and_whether_top_level(traced: Traced) -> None:
    run = traced({"pkg/__init__.py": "", "pkg/mod.py": dedent("""
        import functools

        def plain(x):
            return x

        def _inner(x):
            return x

        @functools.lru_cache()
        def cached(x):
            return _inner(x)
        """), "main.py": "from pkg import mod\nmod.plain(1)\nmod.cached(2)\n"})
    fns = {line["qualname"]: line for line in run.lines("fn")}
    path = str(run.trace_dir.parent / "proj" / "pkg" / "mod.py")
    assert fns["plain"] == {"k": "fn", "id": fns["plain"]["id"], "module": "pkg.mod",
                            "qualname": "plain", "file": path, "line": 3, "toplevel": True,
                            "source_sha1": sha1(b"def plain(x):\n    return x\n").hexdigest()}
    assert fns["_inner"]["toplevel"] is True
    assert fns["cached"]["toplevel"] is False  # the name is bound to the lru_cache wrapper


@pytest.mark.parametrize("version", sorted(set(INTERPRETERS) - set(MAIN_VERSIONS)))
def test_every_version_records_calls(tmp_path: Path, version: str) -> None:
    # No virtualenv: the probe is imported from PYTHONPATH, which is enough to check the
    # interpreter-specific parts (f_locals, code flags, events) on the remaining versions.
    (tmp_path / f"{PROBE_MODULE}.py").write_text(Path(probe.__file__).read_text())
    (tmp_path / "lib.py").write_text(LIBRARY)
    (tmp_path / "spans.py").write_text(SPANS)
    (tmp_path / "main.py").write_text(dedent("""
        import _citrace_probe, lib, spans
        lib.add(1, scale=3)
        try:
            lib.fails(2)
        except ValueError:
            pass
        lib.nothing(1)
        list(lib.count_up(3))
        spans.outer(1)
        """))
    config = ProbeConfig(str(tmp_path), (str(tmp_path),)).write(tmp_path / "probe.json")
    env = base_environment({"PYTHONPATH": str(tmp_path), PROBE_ENV_VAR: str(config)})
    done = subprocess.run([str(interpreter(version)), "main.py"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    [lines] = parse_trace_files(tmp_path)
    kinds = [line["k"] for line in lines]
    assert kinds == ["header"] + ["fn", "call"] * 6 + ["stats"]
    # Each function's hash covers exactly its source lines, read from its line table: a
    # body ending in a nested function and a call spread over several lines included.
    hashes = {line["qualname"].rsplit(".", 1)[-1]: line["source_sha1"]
              for line in lines if line["k"] == "fn"}
    spans = SPANS.encode().splitlines(True)
    assert hashes["outer"] == sha1(b"".join(spans[0:7])).hexdigest()
    assert hashes["inner"] == sha1(b"".join(spans[1:4])).hexdigest()
    assert lines[2]["ret"] == {"py": "9"} and lines[6]["ret"] == {"py": "None"}
    [counted_id] = [line["id"] for line in lines
                    if line["k"] == "fn" and line["qualname"] == "count_up"]
    [counted] = [line for line in lines if line["k"] == "call" and line["fn"] == counted_id]
    assert counted["args"] == [["n", "pos", {"py": "3"}]]
    assert counted["yields"] == [{"py": "0"}, {"py": "1"}, {"py": "2"}]
    if tuple(map(int, version.split("."))) >= (3, 12):  # sys.monitoring
        assert lines[0]["backend"] == "monitoring"
        assert lines[4]["exc"] == {"type": "builtins.ValueError", "message": "2"}
        assert counted["exhausted"] is True
    else:
        assert lines[0]["backend"] == "setprofile"
        assert counted["exhausted"] is False  # setprofile cannot tell
        assert lines[4]["ret"] == {"py": "None"}  # `fails` raised
        assert lines[-1]["calls_none_or_raised"] == 2


def test_does_not_trace_tests_stdlib_installed_packages_or_generated_code(
        traced: Traced) -> None:
    run = traced({
        "lib.py": LIBRARY,
        "tests/test_lib.py": "def check(x):\n    return x\n",
        "test_top.py": "def check2(x):\n    return x\n",
        "conftest.py": "def fixture(x):\n    return x\n",
        "env/lib/site-packages/dep.py": "def dep(x):\n    return x\n",
        "build/lib/builtlib.py": "def built(x):\n    return x\n",
        "main.py": dedent("""
            import json, sys
            sys.path[:0] = ["tests", "env/lib/site-packages", "build/lib"]
            import test_lib, test_top, conftest, dep, builtlib, lib
            test_lib.check(1); test_top.check2(1); conftest.fixture(1); dep.dep(1)
            builtlib.built(1); json.dumps([1])
            exec("def made(x):\\n    return x\\nmade(1)")
            (lambda x: x)(1)
            [lib.add(i) for i in range(2)]
            list(lib.count_up(2))
            list(x for x in [1])

            class Local:
                pass
            """),
    })
    assert run.qualnames() == {"add", "count_up"}


@pytest.mark.parametrize(("version", "backend"), BACKENDS)
def test_a_module_installed_alone_is_traced_through_its_own_file(traced: Traced, version: str,
                                                                  backend: str) -> None:
    # webcolors 1.11.1: one module, which tox installs into site-packages beside others.
    site = "venv/lib/site-packages"
    run = traced({
        f"{site}/webcolors.py": "def normalize(value):\n    return value.lower()\n",
        f"{site}/dependency.py": "def dep(x):\n    return x\n",
        "main.py": dedent(f"""
            import sys
            sys.path.insert(0, {site!r})
            import dependency, webcolors
            print(webcolors.normalize(dependency.dep("#FFF")))
            """),
    }, version=version, backend=backend, roots=("", f"{site}/webcolors.py"))
    assert run.stdout == "#fff\n"
    assert run.qualnames() == {"normalize"}
    [fn] = run.lines("fn")
    assert fn["module"] == "webcolors" and fn["file"].endswith(f"{site}/webcolors.py")


@pytest.mark.parametrize("version", MAIN_VERSIONS)
def test_a_process_says_which_of_the_project_s_modules_it_imported(traced: Traced,
                                                                    version: str) -> None:
    # Why a run recorded nothing: the tests imported the project, but not from the roots.
    run = traced({
        "src/pkg/__init__.py": "", "src/pkg/sub.py": "COLORS = 1\n",
        "elsewhere/mod.py": "def name(x):\n    return x\n",
        "main.py": dedent("""
            import sys
            sys.path[:0] = ["src", "elsewhere"]
            import mod, pkg.sub, json

            class Hostile:
                def __getattribute__(self, name):
                    raise RuntimeError("the probe must not read me")

            sys.modules["pkg.hostile"] = Hostile()
            print(mod.name(pkg.sub.COLORS))
            """),
    }, version=version, roots=("src",), modules=("mod", "pkg", "absent"))
    assert run.stdout == "1\n"
    [lines] = run.files  # written at exit although no call was recorded
    assert [line["k"] for line in lines] == ["header", "modules", "stats"]
    loaded = {name: (Path(file).relative_to(run.trace_dir.parent / "proj").as_posix(), traced)
              for name, file, traced in lines[1]["loaded"]}
    assert loaded == {"mod": ("elsewhere/mod.py", False),
                      "pkg": ("src/pkg/__init__.py", True), "pkg.sub": ("src/pkg/sub.py", True)}
    assert [(m.name, m.traced) for m in read_traces(run.trace_dir).imported] == [
        ("mod", False), ("pkg", True), ("pkg.sub", True)]


def test_a_process_that_imported_none_of_the_project_writes_nothing(traced: Traced) -> None:
    run = traced({"lib.py": LIBRARY, "main.py": "import json\nprint(json.dumps(1))\n"},
                 modules=("lib",))
    assert run.stdout == "1\n" and run.files == []


def test_mutated_arguments_show_in_after(traced: Traced) -> None:
    run = traced({"lib.py": dedent("""
        def push(items, table, seen, raw, label):
            items.append(len(items))
            table["n"] = 1
            seen.add(3)
            raw.extend(b"!")
            items = "rebound"  # `after` follows the object, not the name
            return None
        """), "main.py": "import lib\nlib.push([0], {}, set(), bytearray(b'a'), 'x')\n"})
    [call] = run.calls("push")
    assert call["args"] == {"items": "[0]", "table": "{}", "seen": "set()",
                            "raw": "bytearray(b'a')", "label": "'x'"}
    assert call["after"] == {"items": "[0, 1]", "table": "{'n': 1}", "seen": "{3}",
                             "raw": "bytearray(b'a!')"}


def test_records_a_bounded_number_of_distinct_calls(traced: Traced) -> None:
    run = traced({"lib.py": LIBRARY, "main.py": dedent("""
        import lib
        for i in range(10):
            lib.nothing(0)
        for i in range(10):
            lib.add(i)
        """)}, max_calls_per_function=3)
    assert [call["args"]["a"] for call in run.calls("add")] == ["0", "1", "2"]
    assert len(run.calls("nothing")) == 1
    [stats] = run.lines("stats")
    assert stats["calls_repeated"] == 9
    assert stats["calls_seen"] == 13  # after the third distinct call, `add` costs a lookup


@pytest.mark.parametrize(("version", "backend"), BACKENDS)
def test_past_its_quota_a_function_is_still_recorded_in_later_tests(
        traced: Traced, version: str, backend: str) -> None:
    # The first test fills the quota with simple inputs; each later test gives the first
    # call it makes (bitstring's struct formats came after its first hundred calls), and a
    # call made outside any test ends the recording.
    run = traced({"lib.py": LIBRARY, "main.py": dedent("""
        import os, lib
        def under(test, values):
            os.environ["PYTEST_CURRENT_TEST"] = test + " (call)"
            for value in values:
                lib.add(value)
        under("t.py::test_first", [0, 1, 2, 3, 4])
        under("t.py::test_brackets", [10, 11])
        under("t.py::test_nested", [20, 21])
        del os.environ["PYTEST_CURRENT_TEST"]
        lib.add(30)
        under("t.py::test_last", [40])
        """)}, version=version, backend=backend, max_calls_per_function=3)
    calls = run.calls("add")
    assert [call["args"]["a"] for call in calls] == ["0", "1", "2", "10", "20"]
    assert [call["test"] for call in calls][-2:] == ["t.py::test_brackets", "t.py::test_nested"]


def test_late_calls_thin_out_over_a_long_suite(traced: Traced) -> None:
    # Ten later tests give one call each, then every second test does, then every fourth:
    # the whole suite is sampled, not its first fifty tests.
    run = traced({"lib.py": LIBRARY, "main.py": dedent("""
        import os, lib
        for n in range(0, 60):
            os.environ["PYTEST_CURRENT_TEST"] = "t.py::test_%d (call)" % n
            lib.add(n)
            lib.add(n + 1000)
        """)}, max_calls_per_function=1)
    taken = [int(call["args"]["a"]) for call in run.calls("add")]
    assert taken == [0, *range(1, 11), *range(12, 31, 2), *range(32, 60, 4)]


def test_a_function_called_very_often_is_sampled_then_dropped(traced: Traced) -> None:
    # 500 calls are each encoded, then one in 8: a new input that comes late is still found
    # if it comes often, and one call of 5,000 stops the recording.
    run = traced({"lib.py": LIBRARY, "main.py": dedent("""
        import lib
        for i in range(6000):
            lib.add(i // 1000)
        print(lib.add(100))
        """)}, max_calls_per_function=20)
    assert run.stdout == "102\n"
    assert [call["args"]["a"] for call in run.calls("add")] == ["0", "1", "2", "3", "4"]
    [stats] = run.lines("stats")
    assert stats["calls_seen"] == 5000
    assert stats["calls_sampled_out"] == (4999 - 500) - (4999 - 500) // 8
    assert stats["calls_recorded"] == 5


def test_records_the_running_pytest_test(traced: Traced) -> None:
    run = traced({"lib.py": LIBRARY, "main.py": dedent("""
        import os, lib
        lib.add(1)
        os.environ["PYTEST_CURRENT_TEST"] = "tests/test_lib.py::test_add[1] (call)"
        lib.add(2)
        """)})
    tests = [call.get("test") for call in run.calls("add")]
    assert tests == [None, "tests/test_lib.py::test_add[1]"]


@pytest.mark.parametrize(("version", "backend"), BACKENDS)
def test_records_the_running_unittest_test(traced: Traced, version: str, backend: str) -> None:
    run = traced({"lib.py": LIBRARY + dedent("""
        def doubled(x):
            \"\"\"
            >>> doubled(21)
            42
            \"\"\"
            return 2 * x
        """), "test_lib.py": dedent("""
        import doctest, unittest, lib

        class AddTests(unittest.TestCase):
            def id(self):
                raise RuntimeError("user code must not run")

            def test_small(self):
                with self.subTest(n=1):
                    self.assertEqual(lib.add(1), 3)

            def test_large(self):
                self.assertEqual(lib.add(100), 102)

        def load_tests(loader, tests, pattern):
            tests.addTests(doctest.DocTestSuite(lib))
            tests.addTest(unittest.FunctionTestCase(lambda: lib.add(7)))
            return tests
        """)}, version=version, backend=backend, args=("-m", "unittest"), main="test_lib",
        check_stderr=False)
    assert run.returncode == 0, run.stderr
    tests = {call["args"]["a"]: call.get("test") for call in run.calls("add")}
    assert tests == {"1": "test_lib.AddTests.test_small", "100": "test_lib.AddTests.test_large",
                     "7": "<lambda>"}
    assert run.calls("doubled")[0]["test"] == "lib.doubled"


# ---------------------------------------------------------------- never disturbing the program

HOSTILE = dedent("""
    class Meta(type):
        @property
        def __module__(cls):
            raise RuntimeError("metaclass property")

    class Hostile(metaclass=Meta):
        def __repr__(self):
            raise RuntimeError("repr")
        def __eq__(self, other):
            raise RuntimeError("eq")
        def __hash__(self):
            raise RuntimeError("hash")
        def __len__(self):
            raise RuntimeError("len")
        @property
        def __class__(self):
            raise RuntimeError("class")

    class Text(str):
        def __repr__(self):
            raise RuntimeError("str subclass repr")

    class Stuck:
        def __repr__(self):
            import time
            time.sleep(600)

        __eq__ = __hash__ = __str__ = __repr__

    def same(x):
        return x

    def wrap(x):
        return [x, {"k": x}]
    """)


@pytest.mark.parametrize("backend", ["setprofile", "monitoring"])
def test_user_objects_are_written_from_their_state_and_never_called(traced: Traced,
                                                                   backend: str) -> None:
    files = {"lib.py": HOSTILE, "main.py": dedent("""
        import lib
        h = lib.Hostile()
        for value in (h, lib.Text("t"), lib.Hostile, lib.Stuck()):
            assert lib.same(value) is value
        lib.wrap(h)
        print("done")
        """)}
    untraced = traced(files, probe=False)
    run = traced(files, backend=backend)
    assert run.stdout == untraced.stdout == "done\n"
    assert [call["ret"] for call in run.calls("same")] == [
        ("opaque", "lib.Hostile", "custom"),  # a metaclass of the program's
        "_citrace_object(_citrace_class('lib', 'Text'), {}, 't')",  # str's own content
        # The class itself, by name: read through type's own descriptors, so Meta's
        # __module__ property never runs.
        "_citrace_class('lib', 'Hostile')",
        "_citrace_object(_citrace_class('lib', 'Stuck'), {})"]  # its lying dunders unused
    assert run.calls("wrap")[0]["ret"] == ("opaque", "builtins.list", "custom")
    assert run.lines("stats")[0]["errors"] == 0


def test_cycles_huge_and_deep_values_are_opaque(traced: Traced) -> None:
    run = traced({"lib.py": HOSTILE, "main.py": dedent("""
        import lib
        loop = [1]
        loop.append(loop)
        nested = [[[[[[[0]]]]]]]
        for value in (loop, "x" * 10 ** 7, 10 ** 5000, nested, [[[[[[0]]]]]]):
            lib.same(value)
        """)}, max_depth=6)
    rets = [call["ret"] for call in run.calls("same")]
    assert rets == [("opaque", "builtins.list", "cycle"), ("opaque", "builtins.str", "size"),
                    ("opaque", "builtins.int", "size"), ("opaque", "builtins.list", "depth"),
                    "[[[[[[0]]]]]]"]


@pytest.mark.parametrize(("version", "backend"), [("3.6", "setprofile"), ("3.13", "setprofile"),
                                                  ("3.12", "monitoring"), ("3.13", "monitoring")])
def test_survives_the_recursion_limit(traced: Traced, version: str, backend: str) -> None:
    files = {"lib.py": LIBRARY + "\ndef down(n):\n    return down(n + 1)\n", "main.py": dedent("""
        import lib
        for attempt in range(3):
            try:
                lib.down(0)
            except RecursionError:
                print("caught")
        garbage = [[i] for i in range(5000)]  # a test suite allocates: collections happen
        print(lib.add(40))
        """)}
    run = traced(files, version=version, backend=backend)
    assert run.stdout == "caught\ncaught\ncaught\n42\n"
    # CPython detaches a profiler that overflowed; the probe attaches itself again at the
    # next garbage collection.
    assert run.calls("add")[0]["ret"] == "42"


@pytest.mark.parametrize("backend", ["setprofile", "monitoring"])
def test_a_profiler_or_tracer_of_the_program_s_own(traced: Traced, backend: str) -> None:
    run = traced({"lib.py": LIBRARY, "main.py": dedent("""
        import gc, sys, lib
        lib.add(1)
        sys.setprofile(lambda frame, event, arg: None)  # a profiler of the program's own
        sys.settrace(lambda frame, event, arg: None)
        lib.add(2)
        sys.setprofile(None)
        sys.settrace(None)
        gc.collect()
        print(lib.add(3))
        """)}, backend=backend)
    assert run.stdout == "5\n"
    recorded = [call["args"]["a"] for call in run.calls("add")]
    if backend == "setprofile":  # replaced meanwhile, then attached again
        assert recorded == ["1", "3"]
    else:  # sys.monitoring tools are independent of profilers and tracers
        assert recorded == ["1", "2", "3"]


def test_does_nothing_without_the_variable(traced: Traced) -> None:
    run = traced({"lib.py": LIBRARY, "main.py": dedent("""
        import sys, lib
        lib.add(1)
        print(sys.getprofile(), "_citrace_probe" in sys.modules)
        """)}, probe=False)
    assert run.stdout == "None False\n"
    assert run.files == []


@pytest.mark.parametrize("config", ["{not json", '{"roots": []}', None])
def test_a_broken_config_is_ignored_quietly(traced: Traced, tmp_path: Path,
                                             config: str | None) -> None:
    path = tmp_path / "bad.json"
    if config is not None:
        path.write_text(config)
    run = traced({"lib.py": LIBRARY, "main.py": "import lib\nprint(lib.add(1))\n"},
                 probe=False, env={PROBE_ENV_VAR: str(path)})
    assert run.stdout == "3\n" and run.files == []


def test_an_unwritable_trace_directory_disables_the_probe(traced: Traced, tmp_path: Path) -> None:
    config = ProbeConfig(str(tmp_path / "missing" / "dir"), (str(tmp_path / "proj"),))
    run = traced({"lib.py": LIBRARY, "main.py": dedent("""
        import sys, lib
        print(lib.add(1), lib.add(2), sys.getprofile())
        """)}, probe=False, env={PROBE_ENV_VAR: str(config.write(tmp_path / "c.json"))})
    assert run.stdout == "3 4 None\n"


def test_stops_recording_when_the_trace_is_full(traced: Traced) -> None:
    run = traced({"lib.py": LIBRARY, "main.py": "import lib\nfor i in range(100):\n"
                  "    lib.add(i)\nprint('ok')\n"}, max_trace_bytes=1000)
    assert run.stdout == "ok\n"
    [stats] = run.lines("stats")
    assert stats["trace_full"] == 1 and stats["bytes_written"] <= 1000
    assert 0 < stats["calls_recorded"] < 10


def test_starts_once_per_process(traced: Traced) -> None:
    run = traced({"lib.py": LIBRARY, "main.py": dedent("""
        import importlib, sys, lib
        import _citrace_probe
        before = sys.getprofile()
        importlib.reload(_citrace_probe)
        print(sys.getprofile() is before)
        lib.add(1)
        """)})
    assert run.stdout == "True\n"
    assert len(run.files) == 1 and len(run.calls("add")) == 1


@pytest.mark.parametrize("version", ["3.6", "3.13"])
def test_pth_line_is_silent_even_when_the_probe_cannot_import(tmp_path: Path,
                                                               version: str) -> None:
    (tmp_path / f"{PROBE_MODULE}.pth").write_text(PTH_LINE)
    (tmp_path / f"{PROBE_MODULE}.py").write_text("raise SystemExit('broken probe')\n")
    code = (f"import site, sys; site.addsitedir({str(tmp_path)!r}); "
            f"print('{PROBE_MODULE}' in sys.modules)")
    env = base_environment({PROBE_ENV_VAR: str(tmp_path / "config.json")})
    done = subprocess.run([str(interpreter(version)), "-c", code], env=env,
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (0, "False\n", "")


@pytest.mark.parametrize("version", ["3.6", "3.13"])
def test_installed_probe_is_precompiled_and_starts_light(probe_venv: Callable[[str], Venv],
                                                         tmp_path: Path, version: str) -> None:
    venv = probe_venv(version)
    tag = version.replace(".", "")
    assert (venv.site_packages / "__pycache__" / f"{PROBE_MODULE}.cpython-{tag}.pyc").exists()
    config = ProbeConfig(str(tmp_path), (str(tmp_path),)).write(tmp_path / "probe.json")
    code = "import sys; print(sorted(set(sys.modules) & {'_citrace_probe', 'json'}))"
    done = subprocess.run([str(venv.python), "-c", code], capture_output=True, text=True,
                          env=base_environment({PROBE_ENV_VAR: str(config)}), timeout=60)
    assert (done.stdout, done.stderr) == ("['_citrace_probe']\n", "")  # json imports re


def test_installing_a_probe_that_does_not_parse_there_fails(
        probe_venv: Callable[[str], Venv], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    broken = tmp_path / "probe.py"
    broken.write_text("if (x := 1):\n    pass\n")  # 3.8 syntax
    monkeypatch.setattr(inject, "PROBE_SOURCE", broken)
    with pytest.raises(StageError, match="could not be installed") as raised:
        inject.install_probe(tmp_path / "site", interpreter=str(interpreter("3.6")),
                             env_dir=tmp_path)
    assert raised.value.failure.cause == "probe_install"
    assert "SyntaxError" in raised.value.failure.message


# ---------------------------------------------------------------- threads and processes

@pytest.mark.parametrize("backend", ["setprofile", "monitoring"])
def test_traces_threads(traced: Traced, backend: str) -> None:
    run = traced({"lib.py": LIBRARY, "main.py": dedent("""
        import threading, lib
        workers = [threading.Thread(target=lib.add, args=(i,)) for i in range(4)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        """)}, backend=backend)
    assert sorted(call["args"]["a"] for call in run.calls("add")) == ["0", "1", "2", "3"]


@pytest.mark.parametrize("version", ["3.6", "3.13"])
def test_spawned_workers_and_child_pythons_write_their_own_files(traced: Traced,
                                                                 version: str) -> None:
    run = traced({"lib.py": LIBRARY, "main.py": dedent("""
        import multiprocessing, subprocess, sys, lib
        if __name__ == "__main__":
            lib.add(1)
            context = multiprocessing.get_context("spawn")
            worker = context.Process(target=lib.add, args=(2,))
            worker.start()
            worker.join()
            subprocess.check_call([sys.executable, "-c", "import lib; lib.add(3)"])
        """)}, version=version)
    assert len(run.files) == 3
    per_file = sorted(sorted(call["args"]["a"] for call in lines_calls(lines))
                      for lines in run.files)
    assert per_file == [["1"], ["2"], ["3"]]
    assert len({lines[0]["pid"] for lines in run.files}) == 3


def lines_calls(lines: list[dict]) -> list[dict]:
    ids = {line["id"] for line in lines if line["k"] == "fn" and line["qualname"] == "add"}
    return [{"args": {a[0]: a[2]["py"] for a in line["args"]}} for line in lines
            if line["k"] == "call" and line["fn"] in ids]


@pytest.mark.parametrize(("version", "backend"), [("3.6", "setprofile"), ("3.13", "setprofile"),
                                                  ("3.13", "monitoring")])
def test_forked_children_write_their_own_files(traced: Traced, version: str,
                                               backend: str) -> None:
    run = traced({"lib.py": LIBRARY, "main.py": dedent("""
        import os, lib
        lib.add(1)
        pid = os.fork()
        if pid == 0:
            lib.add(2)
            lib.add(1)
            os._exit(0)
        os.waitpid(pid, 0)
        lib.add(3)
        """)}, version=version, backend=backend)
    by_pid = {lines[0]["pid"]: sorted(c["args"]["a"] for c in lines_calls(lines))
              for lines in run.files}
    # The child knows the parent recorded add(1): the same inputs are not recorded twice.
    assert sorted(by_pid.values()) == [["1", "3"], ["2"]]
    for lines in run.files:  # each file declares the functions it uses
        assert [line["k"] for line in lines[:2]] == ["header", "fn"]


@pytest.mark.parametrize("backend", ["setprofile", "monitoring"])
@pytest.mark.parametrize("ending", ["os._exit(3)", "os.kill(os.getpid(), signal.SIGKILL)"])
def test_records_written_before_a_sudden_end_survive(traced: Traced, backend: str,
                                                     ending: str) -> None:
    run = traced({"lib.py": LIBRARY, "main.py": dedent(f"""
        import os, signal, lib
        lib.add(5)
        gen = lib.count_up(3)
        next(gen)  # in flight: lost
        {ending}
        """)}, backend=backend)
    assert run.returncode in (3, -signal.SIGKILL)
    assert run.calls("add")[0]["ret"] == "7"
    assert run.lines("stats") == []  # atexit does not run
    # A generator call is written when it ends (monitoring) or once it was drawn from
    # `max_yields` times (setprofile, which cannot see its end): never, here.
    assert run.calls("count_up") == []


@pytest.mark.parametrize("backend", ["setprofile", "monitoring"])
def test_a_full_disk_stops_the_recording_not_the_program(traced: Traced, backend: str) -> None:
    def small_files() -> None:  # writes past 3000 bytes fail with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (3000, 3000))

    run = traced({"lib.py": LIBRARY, "main.py": dedent("""
        import lib
        for i in range(300):
            lib.add(i, scale=[i] * 20)
        print("ok")
        """)}, backend=backend, preexec=small_files, check_stderr=False)
    assert (run.returncode, run.stdout, run.stderr) == (0, "ok\n", "")
    [path] = run.trace_dir.glob("trace-*.jsonl")
    assert path.stat().st_size == 3000  # the last line is torn
    traces = read_traces(run.trace_dir)
    assert 0 < len(traces.calls) < 30 and traces.lines_skipped == 1


def test_code_compiled_at_run_time_is_traced_by_its_file_name(traced: Traced) -> None:
    run = traced({"lib.py": LIBRARY, "main.py": dedent("""
        import os
        source = "def made(x):\\n    return x * 2\\n"
        namespace = {"__name__": "generated"}
        exec(compile(source, os.path.abspath("generated.py"), "exec"), namespace)
        print(namespace["made"](21))
        """)})
    assert run.stdout == "42\n"
    assert run.calls("made")[0]["ret"] == "42"


@pytest.mark.parametrize("version", ["3.6", "3.8", "3.10", "3.11"])
def test_methods_are_named_by_their_class_on_pythons_without_co_qualname(
        traced: Traced, version: str) -> None:
    run = traced({"shapes.py": dedent("""
        class Base:
            def area(self):
                return 1

            @property
            def size(self):
                return 2

            @classmethod
            def make(cls, n):
                return n

            @staticmethod
            def helper(x):
                return x

        class Square(Base):
            def area(self):
                return super().area() + 1
        """), "main.py": dedent("""
        from shapes import Base, Square
        Square().area(); Base().area(); Square().size; Square.make(1); Base.helper(1)
        """)}, version=version, backend="setprofile")
    assert run.returncode == 0, run.stderr
    # A static method has no instance: found among the module's classes.
    assert run.qualnames() == {"Base.area", "Square.area", "Base.size", "Base.make",
                               "Base.helper"}


@pytest.mark.parametrize("version", ["3.6", "3.8", "3.12"])
def test_standard_library_modules_and_functions_are_known_on_every_python(
        traced: Traced, version: str) -> None:
    run = traced({"codec.py": dedent("""
        import json

        class Codec:
            def __init__(self):
                self.backend = json
                self.dump = json.dumps

            def encode(self, value):
                return self.dump(value)
        """), "main.py": dedent("""
        from codec import Codec
        Codec().encode([1])
        """)}, version=version, backend="setprofile")
    assert run.returncode == 0, run.stderr
    [call] = run.calls("Codec.encode")
    assert call["args"]["self"] == (
        "_citrace_object(_citrace_class('codec', 'Codec'), "
        "{'backend': json, 'dump': json.dumps})")


@pytest.mark.parametrize("version", ["3.8", "3.12"])
def test_a_method_under_a_wrapping_decorator_is_named_by_its_class(traced: Traced,
                                                                   version: str) -> None:
    run = traced({"money.py": dedent("""
        import functools

        def logged(method):
            @functools.wraps(method)
            def wrapper(self, *args):
                return method(self, *args)
            return wrapper

        class Money:
            def __init__(self, cents):
                self.cents = cents

            @logged
            def doubled(self):
                return self.cents * 2
        """), "main.py": "from money import Money\nMoney(3).doubled()\n"},
        version=version, backend="setprofile")
    assert run.returncode == 0, run.stderr
    assert "Money.doubled" in run.qualnames()


@pytest.mark.parametrize(("version", "backend"), BACKENDS)
def test_a_sentinel_default_is_marked_as_the_function_s_own(traced: Traced, version: str,
                                                            backend: str) -> None:
    run = traced({"picks.py": dedent("""
        import functools
        _marker = object()

        def first(items, default=_marker, *, key=_marker):
            return items[0] if items else None

        def logged(function):
            @functools.wraps(function)
            def wrapper(*args, **kwargs):
                return function(*args, **kwargs)
            return wrapper

        @logged
        def last(items, default=_marker):
            return items[-1] if items else None

        class Shelf:
            def pick(self, n, default=_marker):
                return n
        """), "main.py": dedent("""
        import picks
        picks.first([1]); picks.first([2], object()); picks.last([3]); picks.Shelf().pick(4)
        """)}, version=version, backend=backend)
    assert run.returncode == 0, run.stderr
    own = ("opaque", "builtins.object", "default")
    plain, passed = run.calls("first")
    assert plain["args"] == {"items": "[1]", "default": own, "key": own}
    # Another object of the same type is the caller's: opaque as before.
    assert passed["args"]["default"] == ("opaque", "builtins.object", "type")
    assert passed["args"]["key"] == own
    assert run.calls("last")[0]["args"]["default"] == own
    assert run.calls("Shelf.pick")[0]["args"]["default"] == own
