"""Reading a directory of trace files (format: ``tracer/records.py``) into a ``TraceSet``.

Each traced process wrote its own file with its own function ids; this maps them to
``FunctionId``s, keeps the first recording of each distinct call, and sums the probes'
counters. Anything unreadable is skipped and counted, never raised: a process killed
mid-write leaves a torn last line, and other processes' records are still good.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from recipes.sandbox import untrusted
from tracer.records import (
    OWN_DEFAULT,
    RAISED,
    TRACE_FORMAT_VERSION,
    Arg,
    CallRecord,
    FunctionId,
    ImportedModule,
    TraceSet,
    Value,
)

TRACE_GLOB = "trace-*.jsonl"
RUNNING_GLOB = "running-*.txt"  # the test each pytest process started last
ARG_KINDS = frozenset({"pos", "kwonly", "varargs", "varkw"})
# custom: a class whose attribute reads run its own code (a metaclass, __getattribute__, a
# __dict__ property); error: an object in a state the encoder did not foresee; default: the
# parameter's own default object (OWN_DEFAULT).
OPAQUE_REASONS = frozenset({"type", "size", "depth", "cycle", "custom", "error", OWN_DEFAULT})


# How far from the end of a trace file ``last_test`` looks for the last call's test.
LAST_TEST_WINDOW = 256 * 1024


class _BadLine(Exception):
    """A line that does not follow the format."""


def read_traces(trace_dir: Path) -> TraceSet:
    reader = _Reader()
    for path in sorted(Path(trace_dir).glob(TRACE_GLOB)):
        try:
            reader.read_file(path)
        except Exception:  # noqa: BLE001
            # Unreadable, removed since the listing, or not text: the file was written by
            # the project's processes, and one bad file must not cost the others.
            reader.files_skipped += 1
    return reader.result()


def running_test(trace_dir: Path) -> str | None:
    """The test that started last in the most recently written ``running-<pid>.txt``
    (``tracer/timelimit.py`` writes it as each pytest test starts): after a run stopped
    because it hung, the test that hung. None when there is none."""
    for name in _newest_first(trace_dir, RUNNING_GLOB):
        try:
            with untrusted.open_regular(Path(name)) as stream:
                test = stream.read(4096).decode("utf-8", errors="replace").strip()
        except OSError:
            continue
        if test:
            return test
    return None


def _newest_first(trace_dir: Path, pattern: str) -> list[str]:
    files: list[tuple[float, str]] = []
    for path in Path(trace_dir).glob(pattern):
        try:
            files.append((path.lstat().st_mtime, str(path)))
        except OSError:
            continue
    return [name for _, name in sorted(files, reverse=True)]


def last_test(trace_dir: Path) -> str | None:
    """The test of the last call recorded in the most recently written trace file: after
    a run stopped because it hung, the test that was running, most likely. None when no
    call names one. Each call line is written whole, as it happens, so a file whose
    process was killed ends with the calls it made (and at worst one torn line)."""
    for name in _newest_first(trace_dir, TRACE_GLOB):
        try:
            with untrusted.open_regular(Path(name)) as stream:
                stream.seek(0, 2)
                stream.seek(max(0, stream.tell() - LAST_TEST_WINDOW))
                lines = stream.read().splitlines()
        except OSError:
            continue
        for line in reversed(lines):
            try:
                data = json.loads(line)
            except ValueError:
                continue
            if isinstance(data, dict) and isinstance(data.get("test"), str):
                return str(data["test"])
    return None


class _Reader:
    """Accumulates the records of every file of one trace directory."""

    def __init__(self) -> None:
        self.functions: dict[FunctionId, bool] = {}
        self.calls: dict[tuple[FunctionId, str], CallRecord] = {}
        self.stats: dict[str, int] = {}
        self.source_hashes: dict[FunctionId, str] = {}
        self.imported: dict[tuple[str, str], bool] = {}  # (module, file) -> traced
        self.python = ""
        self.files_read = 0
        self.files_skipped = 0
        self.lines_skipped = 0

    def result(self) -> TraceSet:
        return TraceSet(
            functions=self.functions, calls=tuple(self.calls.values()), python=self.python,
            files_read=self.files_read, lines_skipped=self.lines_skipped,
            files_skipped=self.files_skipped, stats=self.stats,
            source_hashes=self.source_hashes,
            imported=tuple(ImportedModule(name, file, traced)
                           for (name, file), traced in sorted(self.imported.items())),
        )

    def read_file(self, path: Path) -> None:
        # Written by the project's processes: a link there (to a host file) is not followed.
        with untrusted.open_regular(path) as stream:
            header = _header(stream.readline())
            if header is None:
                self.files_skipped += 1
                return
            self.files_read += 1
            if not self.python:
                self.python = str(header.get("python", ""))
            ids: dict[int, FunctionId] = {}
            for line in stream:
                try:
                    self._record(json.loads(line), ids)
                except (ValueError, TypeError, KeyError, AttributeError, RecursionError,
                        _BadLine):
                    # Malformed JSON, or JSON of the wrong shape (a line is the project's
                    # processes' writing): that line only is lost.
                    self.lines_skipped += 1

    def _record(self, data: Any, ids: dict[int, FunctionId]) -> None:
        kind = data.get("k") if isinstance(data, dict) else None
        if kind == "call":
            self._call(data, ids)
        elif kind == "fn":
            function, toplevel = _function(data)
            ids[_int(data.get("id"))] = function
            self.functions[function] = self.functions.get(function, False) or toplevel
            if isinstance(data.get("source_sha1"), str) and data["source_sha1"]:
                self.source_hashes.setdefault(function, data["source_sha1"])
        elif kind == "modules":
            for name, file, traced in [_loaded(item) for item in _list(data.get("loaded"))]:
                self.imported[name, file] = self.imported.get((name, file), False) or traced
        elif kind == "stats":
            for key, value in data.items():
                if type(value) is int:
                    self.stats[key] = self.stats.get(key, 0) + value
        else:
            raise _BadLine(f"unknown kind {kind!r}")

    def _call(self, data: dict[str, Any], ids: dict[int, FunctionId]) -> None:
        function = ids.get(_int(data.get("fn")))
        if function is None:
            raise _BadLine("call of a function with no fn line")
        test = data.get("test")
        raised = _exception(data["exc"]) if "exc" in data else None
        if "ret" in data or raised is None:
            result = _value(data.get("ret"))
        else:
            result = {"opaque": raised["type"], "why": RAISED}
        yields = data.get("yields")
        record = CallRecord(
            function=function,
            args=tuple(_arg(item) for item in _list(data.get("args"))),
            result=result,
            after=tuple(_after(item) for item in _list(data.get("after", []))),
            test=test if isinstance(test, str) else None,
            raised=raised,
            yields=None if yields is None else tuple(_value(item) for item in _list(yields)),
            exhausted=data.get("exhausted") is True,
        )
        self.calls.setdefault((function, record.inputs_key()), record)


def _header(line: bytes) -> dict[str, Any] | None:
    """The header's fields when ``line`` is a header this reader understands."""
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("k") != "header":
        return None
    version = data.get("version")
    if data.get("format") != "citrace-trace" or type(version) is not int:
        return None
    return data if 1 <= version <= TRACE_FORMAT_VERSION else None


def _function(data: dict[str, Any]) -> tuple[FunctionId, bool]:
    module = data.get("module")
    function = FunctionId(
        module=module if isinstance(module, str) else "",
        qualname=_str(data.get("qualname")),
        file=_str(data.get("file")),
        line=_int(data.get("line")),
    )
    return function, data.get("toplevel") is True


def _loaded(item: Any) -> tuple[str, str, bool]:
    if not isinstance(item, list) or len(item) != 3 or type(item[2]) is not bool:
        raise _BadLine("bad loaded module")
    return _str(item[0]), _str(item[1]), item[2]


def _arg(item: Any) -> Arg:
    if not isinstance(item, list) or len(item) != 3 or item[1] not in ARG_KINDS:
        raise _BadLine("bad argument")
    return Arg(name=_str(item[0]), kind=item[1], value=_value(item[2]))


def _after(item: Any) -> tuple[str, Value]:
    if not isinstance(item, list) or len(item) != 2:
        raise _BadLine("bad after entry")
    return _str(item[0]), _value(item[1])


def _value(data: Any) -> Value:
    # Lenient about extra keys (a newer probe of the same format version may add some),
    # strict about the ones the emitter relies on.
    if isinstance(data, dict):
        if isinstance(data.get("py"), str):
            imports = data.get("imports")
            if isinstance(imports, list) and imports and all(
                    isinstance(m, str) and all(p.isidentifier() for p in m.split("."))
                    for m in imports):
                # The standard-library modules the source names (`datetime.date(...)`).
                return {"py": data["py"], "imports": ",".join(imports)}
            return {"py": data["py"]}
        if isinstance(data.get("opaque"), str) and data.get("why") in OPAQUE_REASONS:
            if isinstance(data.get("inner"), str):  # what inside it had no source
                return {"opaque": data["opaque"], "why": data["why"], "inner": data["inner"]}
            return {"opaque": data["opaque"], "why": data["why"]}
    raise _BadLine("bad value")


def _exception(data: Any) -> dict[str, str]:
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise _BadLine("bad exc")
    message = data.get("message")
    if message is None:
        return {"type": data["type"]}
    return {"type": data["type"], "message": _str(message)}


def _list(data: Any) -> list[Any]:
    if not isinstance(data, list):
        raise _BadLine("expected a list")
    return data


def _str(data: Any) -> str:
    if not isinstance(data, str):
        raise _BadLine("expected a string")
    return data


def _int(data: Any) -> int:
    if type(data) is not int:
        raise _BadLine("expected an integer")
    return data
