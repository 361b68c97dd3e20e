"""Reading trace directories: hand-written files for the edge cases, then a real run."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from tests.tracer.probe_harness import Traced
from tracer.records import (
    RAISED,
    TRACE_FORMAT_VERSION,
    Arg,
    CallRecord,
    FunctionId,
    ImportedModule,
)
from tracer.traces import last_test, read_traces, running_test

F = FunctionId("lib", "f", "/p/lib.py", 1)
G = FunctionId("lib", "G.g", "/p/lib.py", 9)


def header(python: str = "3.11.7", **fields: Any) -> dict[str, Any]:
    return {"k": "header", "format": "citrace-trace", "version": 1, "python": python,
            "pid": 1, "backend": "setprofile", "argv": [], **fields}


def fn(ident: int, function: FunctionId, *, toplevel: bool = True) -> dict[str, Any]:
    return {"k": "fn", "id": ident, "module": function.module, "qualname": function.qualname,
            "file": function.file, "line": function.line, "toplevel": toplevel}


def call(ident: int, x: str, ret: str, **fields: Any) -> dict[str, Any]:
    return {"k": "call", "fn": ident, "args": [["x", "pos", {"py": x}]], "ret": {"py": ret},
            **fields}


def write(directory: Path, name: str, *lines: dict[str, Any] | str) -> None:
    directory.mkdir(exist_ok=True)
    text = "".join((line if isinstance(line, str) else json.dumps(line) + "\n")
                   for line in lines)
    (directory / name).write_text(text)


def test_maps_each_files_function_ids(tmp_path: Path) -> None:
    write(tmp_path, "trace-1-a.jsonl", header(), {**fn(1, F), "source_sha1": "ab12"},
          call(1, "1", "2", test="t::a"))
    write(tmp_path, "trace-2-b.jsonl", header("3.12.1"), fn(1, G, toplevel=False), fn(2, F),
          call(1, "5", "6", after=[["x", {"opaque": "lib.Box", "why": "type"}]]),
          call(2, "3", "4"))
    traces = read_traces(tmp_path)
    assert traces.functions == {F: True, G: False}
    assert traces.calls == (
        CallRecord(F, (Arg("x", "pos", {"py": "1"}),), {"py": "2"}, test="t::a"),
        CallRecord(G, (Arg("x", "pos", {"py": "5"}),), {"py": "6"},
                   after=(("x", {"opaque": "lib.Box", "why": "type"}),)),
        CallRecord(F, (Arg("x", "pos", {"py": "3"}),), {"py": "4"}),
    )
    assert traces.source_hashes == {F: "ab12"}  # G's probe was too old to write one
    assert traces.python == "3.11.7"  # the first file, by name
    assert (traces.files_read, traces.files_skipped, traces.lines_skipped) == (2, 0, 0)


def test_keeps_one_recording_of_a_call_made_in_several_processes(tmp_path: Path) -> None:
    write(tmp_path, "trace-1-a.jsonl", header(), fn(3, F), call(3, "1", "2", test="first"))
    write(tmp_path, "trace-2-a.jsonl", header(), fn(1, F), call(1, "1", "2", test="second"),
          call(1, "2", "3"))
    traces = read_traces(tmp_path)
    assert [(c.args[0].value["py"], c.test) for c in traces.calls] == [("1", "first"),
                                                                      ("2", None)]


def test_reads_raised_calls_and_what_generators_yielded(tmp_path: Path) -> None:
    generator = {"opaque": "builtins.generator", "why": "type"}
    raised = call(1, "0", "unused")
    del raised["ret"]
    write(tmp_path, "trace-1-a.jsonl", header(backend="monitoring"), fn(1, F), fn(2, G),
          raised | {"exc": {"type": "builtins.ValueError", "message": "bad"}},
          call(2, "3", "x") | {"ret": generator, "yields": [{"py": "0"}, {"py": "1"}],
                               "exhausted": True},
          call(2, "4", "x") | {"ret": generator, "yields": [{"py": "0"}], "exhausted": False,
                               "exc": {"type": "lib.Broken"}},
          call(1, "1", "2", future_key={"ignored": True}))
    traces = read_traces(tmp_path)
    failed, drawn, broken, plain = traces.calls
    assert failed.result == {"opaque": "builtins.ValueError", "why": RAISED}
    assert failed.raised == {"type": "builtins.ValueError", "message": "bad"}
    assert (failed.yields, failed.exhausted) == (None, False)
    assert drawn.result == generator and drawn.raised is None
    assert (drawn.yields, drawn.exhausted) == (({"py": "0"}, {"py": "1"}), True)
    assert (broken.yields, broken.exhausted) == (({"py": "0"},), False)
    assert broken.raised == {"type": "lib.Broken"} and broken.result == generator
    assert plain == CallRecord(F, (Arg("x", "pos", {"py": "1"}),), {"py": "2"})
    assert traces.lines_skipped == 0


def test_skips_torn_and_malformed_lines(tmp_path: Path) -> None:
    torn = json.dumps(call(1, "9", "10"))[:25]  # the process was killed mid-write
    write(tmp_path, "trace-1-a.jsonl", header(), fn(1, F), call(1, "1", "2"),
          "not json\n", call(7, "1", "2"), {"k": "call", "fn": 1, "args": "x", "ret": {}},
          call(1, "3", "4") | {"ret": {"opaque": "x", "why": "unknown reason"}},
          {"k": "mystery"}, call(1, "5", "6") | {"exc": "not an object"},
          call(1, "7", "8") | {"yields": [{"bad": 1}]}, torn)
    traces = read_traces(tmp_path)
    assert len(traces.calls) == 1
    assert traces.lines_skipped == 8


def test_skips_files_it_cannot_trust(tmp_path: Path) -> None:
    write(tmp_path, "trace-1-a.jsonl", header(version=TRACE_FORMAT_VERSION + 1), fn(1, F),
          call(1, "1", "2"))
    write(tmp_path, "trace-2-a.jsonl", header(format="something-else"), fn(1, F))
    write(tmp_path, "trace-3-a.jsonl", fn(1, F), call(1, "1", "2"))
    write(tmp_path, "trace-4-a.jsonl")
    write(tmp_path, "trace-5-a.jsonl", header("3.9.1"), fn(1, F), call(1, "5", "6"))
    write(tmp_path, "notes.jsonl", header(), fn(1, G), call(1, "1", "2"))
    traces = read_traces(tmp_path)
    assert [c.function for c in traces.calls] == [F]
    assert (traces.files_read, traces.files_skipped, traces.python) == (1, 4, "3.9.1")


def test_sums_the_probes_counters(tmp_path: Path) -> None:
    write(tmp_path, "trace-1-a.jsonl", header(),
          {"k": "stats", "calls_seen": 3, "errors": 1, "trace_full": 0})
    write(tmp_path, "trace-2-a.jsonl", header(),
          {"k": "stats", "calls_seen": 4, "trace_full": 1, "note": "text is ignored"})
    assert read_traces(tmp_path).stats == {"calls_seen": 7, "errors": 1, "trace_full": 1}


def test_gathers_the_project_modules_each_process_imported(tmp_path: Path) -> None:
    site = "/env/site-packages"
    write(tmp_path, "trace-1-a.jsonl", header(),
          {"k": "modules", "loaded": [["webcolors", f"{site}/webcolors.py", False]]})
    write(tmp_path, "trace-2-b.jsonl", header(),
          {"k": "modules", "loaded": [["webcolors", f"{site}/webcolors.py", True],
                                      ["pkg", "/p/pkg/__init__.py", False]]},
          {"k": "modules", "loaded": [["pkg", "/p/pkg/__init__.py", "yes"]]})  # malformed
    traces = read_traces(tmp_path)
    assert traces.imported == (ImportedModule("pkg", "/p/pkg/__init__.py", traced=False),
                               ImportedModule("webcolors", f"{site}/webcolors.py", traced=True))
    assert traces.lines_skipped == 1 and traces.calls == ()


def test_an_empty_or_missing_directory_has_no_traces(tmp_path: Path) -> None:
    for directory in (tmp_path, tmp_path / "missing"):
        traces = read_traces(directory)
        assert (traces.functions, traces.calls, traces.python) == ({}, (), "")


def test_reads_what_real_processes_wrote(traced: Traced) -> None:
    library = textwrap.dedent("""\
        def square(x):
            return x * x

        def helper(items):
            items.append(len(items))
        """)
    run = traced({"lib.py": library, "main.py": textwrap.dedent("""\
        import multiprocessing, os, lib
        if __name__ == "__main__":
            lib.square(2)
            lib.helper([])
            pid = os.fork()
            if pid == 0:
                lib.square(3)
                os._exit(0)
            os.waitpid(pid, 0)
            with multiprocessing.get_context("spawn").Pool(2) as pool:
                pool.map(lib.square, [2, 3, 4])
        """)})
    traces = read_traces(run.trace_dir)
    assert traces.python.startswith("3.13.")
    square = next(f for f in traces.functions if f.qualname == "square")
    assert traces.functions[square] is True
    assert sorted(c.args[0].value["py"] for c in traces.calls if c.function == square) == [
        "2", "3", "4"]
    [helper] = [c for c in traces.calls if c.function.qualname == "helper"]
    assert helper.after == (("items", {"py": "[0]"}),) and helper.result == {"py": "None"}
    assert traces.files_read >= 2 and traces.lines_skipped == 0
    assert traces.stats["errors"] == 0


def test_a_line_or_file_no_reader_could_parse_costs_that_line_or_file_only(
        tmp_path: Path) -> None:
    deep = '{"k": "call", "fn": 1, "args": ' + "[" * 100000 + "]" * 100000 + "}\n"
    write(tmp_path, "trace-1-a.jsonl", header(), fn(1, F), deep, call(1, "1", "2"),
          {"k": "call", "fn": 1, "args": [["x", "pos", {"py": "3"}]], "ret": {"py": "4"},
           "after": "not a list"})
    (tmp_path / "trace-2-a.jsonl").write_bytes(b"\xff\xfe not text at all\n")
    (tmp_path / "trace-3-a.jsonl").mkdir()
    traces = read_traces(tmp_path)
    assert [c.result for c in traces.calls] == [{"py": "2"}]
    assert traces.lines_skipped == 2
    assert (traces.files_read, traces.files_skipped) == (1, 2)


def test_a_killed_run_names_the_test_that_hung(traced: Traced) -> None:
    """After a run stopped because a test hung: the calls made before are read, the last
    call's test is known, and so is the test pytest started last (issue 16, item 5)."""
    lib = "def add(a, b):\n    return a + b\n"
    main = (
        "import os, signal, lib\n"
        "lib.add(1, 2)\n"
        "os.environ['PYTEST_CURRENT_TEST'] = 'tests/test_lib.py::test_add (call)'\n"
        "lib.add(3, 4)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    run = traced({"lib.py": lib, "main.py": main}, version="3.6")
    traces = read_traces(run.trace_dir)
    assert sorted(c.test or "" for c in traces.calls) == ["", "tests/test_lib.py::test_add"]
    assert last_test(run.trace_dir) == "tests/test_lib.py::test_add"
    assert running_test(run.trace_dir) is None  # no pytest plugin wrote one
    (run.trace_dir / "running-7.txt").write_text("tests/test_lib.py::test_waits")
    assert running_test(run.trace_dir) == "tests/test_lib.py::test_waits"
