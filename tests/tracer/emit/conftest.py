"""Fixtures for the emitter: small projects written to a temporary checkout, and traces of
them built by hand (as the probe would have written them)."""

from __future__ import annotations

import ast
import json
import os
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tracer.records import Arg, CallRecord, FunctionId, TraceSet, Value

GOLDEN_DIR = Path(__file__).parent / "golden"
# Set to regenerate the golden files, then review the diff.
UPDATE_GOLDEN = os.environ.get("CITRACE_UPDATE_GOLDEN") == "1"


@dataclass
class Project:
    """A checkout in a temporary directory, built from file names and contents (tox's habit)."""

    root: Path

    def write(self, name: str, source: str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")
        return path


@dataclass
class Traces:
    """A TraceSet assembled call by call; values are Python sources unless given encoded."""

    project: Project
    functions: dict[FunctionId, bool] = field(default_factory=dict)
    calls: list[CallRecord] = field(default_factory=list)

    def fn(self, file: str, qualname: str, *, toplevel: bool = True,
           line: int | None = None, module: str | None = None) -> FunctionId:
        path = self.project.root / file
        if line is None:
            line = _first_line(path, qualname)
        name = module or file.removesuffix(".py").replace("/", ".")
        function = FunctionId(name, qualname, str(path), line)
        self.functions[function] = toplevel
        return function

    def call(self, function: FunctionId, args: dict[str, str | Value], ret: str | Value, *,
             kinds: dict[str, str] | None = None, after: dict[str, str | Value] | None = None,
             test: str | None = "tests/test_it.py::test_it") -> None:
        kinds = kinds or {}
        self.calls.append(CallRecord(
            function,
            tuple(Arg(name, kinds.get(name, "pos"), _value(v)) for name, v in args.items()),
            _value(ret),
            tuple((name, _value(v)) for name, v in (after or {}).items()),
            test,
        ))

    def traceset(self) -> TraceSet:
        return TraceSet(dict(self.functions), tuple(self.calls), python=_python_version())


def read_trace_text(text: str) -> TraceSet:
    """The trace file format of tracer/records.py, read the simplest way (torn lines aside)."""
    functions: dict[FunctionId, bool] = {}
    ids: dict[int, FunctionId] = {}
    calls: list[CallRecord] = []
    python = ""
    for line in text.splitlines():
        record = json.loads(line)
        if record["k"] == "header":
            python = record["python"]
        elif record["k"] == "fn":
            ids[record["id"]] = FunctionId.from_dict(record)
            functions[ids[record["id"]]] = bool(record["toplevel"])
        elif record["k"] == "call":
            calls.append(CallRecord(
                ids[record["fn"]], tuple(Arg(*a) for a in record["args"]), record["ret"],
                tuple((n, v) for n, v in record.get("after", [])), record.get("test")))
    return TraceSet(functions, tuple(calls), python, files_read=1)


def assert_golden(name: str, actual: str) -> None:
    path = GOLDEN_DIR / name
    if UPDATE_GOLDEN:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    if not path.exists():
        pytest.fail(f"{path} is missing; create it with CITRACE_UPDATE_GOLDEN=1")
    assert actual == path.read_text(encoding="utf-8"), (
        f"{path} differs; rerun with CITRACE_UPDATE_GOLDEN=1 and review the diff")


def _value(value: str | Value) -> Value:
    return {"py": value} if isinstance(value, str) else value


def _first_line(path: Path, qualname: str) -> int:
    """co_firstlineno of a top-level function or method: its first decorator, else its def."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and (
                node.name == qualname.rpartition(".")[2]):
            return min([node.lineno, *(d.lineno for d in node.decorator_list)])
    raise LookupError(f"no def {qualname} in {path}")


def _python_version() -> str:
    return ".".join(map(str, sys.version_info[:3]))


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "checkout"
    root.mkdir()
    return Project(root)


@pytest.fixture
def traces(project: Project) -> Traces:
    return Traces(project)


@pytest.fixture
def golden():  # type: ignore[no-untyped-def]
    return assert_golden


@pytest.fixture
def trace_text():  # type: ignore[no-untyped-def]
    return read_trace_text


# A small module written for these tests (sexagesimal durations: "1h1m1s"), with a method
# beside its functions, and the trace the probe would write while its tests run -- written by
# hand; @ROOT@ stands for the checkout.
SEXAGESIMAL_DIR = Path(__file__).parent / "data" / "sexagesimal"


@pytest.fixture
def sexagesimal(project: Project) -> TraceSet:
    """sexagesimal.py in the checkout and the trace of its test suite."""
    project.write("sexagesimal.py",
                  (SEXAGESIMAL_DIR / "sexagesimal.py.txt").read_text(encoding="utf-8"))
    trace = (SEXAGESIMAL_DIR / "trace-4242-k3j9.jsonl").read_text(encoding="utf-8")
    return read_trace_text(trace.replace("@ROOT@", str(project.root)))
