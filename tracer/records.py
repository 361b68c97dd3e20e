"""Records of the tracing and emitting stages, and the trace file format.

Trace file format, version ``TRACE_FORMAT_VERSION`` (written by ``tracer/probe.py``, which is
stdlib-only and may be an older or newer citrace than the host reading it):

One file per traced process, ``<TRACE_DIR>/trace-<pid>-<random>.jsonl``, UTF-8, one JSON
object per line, each with a ``"k"`` (kind) key:

* ``{"k": "header", "format": "citrace-trace", "version": 1, "python": "3.11.7",
  "pid": 123, "backend": "setprofile", "backend_reason": "...", "argv": [...]}`` -- first
  line. ``backend`` is ``setprofile`` or ``monitoring`` (``sys.monitoring``, 3.12+);
  ``backend_reason`` says why it was chosen (may be absent in older traces).
* ``{"k": "fn", "id": 7, "module": "roman", "qualname": "toRoman", "file": "/abs/x.py",
  "line": 12, "toplevel": true, "source_sha1": "..."}`` -- a traced function, once per
  process before its calls. ``toplevel`` is true when the function is bound under its own
  name in its module's globals. ``source_sha1`` is the SHA-1 of the source lines its code
  spans, as the file was when the process traced it ("" when unreadable; absent in traces
  of older probes): the same function edited between runs gets another hash.
* ``{"k": "call", "fn": 7, "args": [[name, kind, value], ...], "ret": value,
  "after": [[name, value], ...], "test": "tests/test_x.py::test_y"}`` -- one recorded call.
  ``kind`` is ``pos`` (positional or keyword), ``kwonly``, ``varargs`` or ``varkw``; the
  arguments are encoded when the call starts.
  ``after`` re-encodes the mutable arguments when the call ended (mutation shows as a
  difference from ``args``). ``test`` is the running test where known, else absent: the
  pytest node id, or the unittest id (``module.Class.test_method``, a doctest's name).
  How the call ended depends on the backend:

  - ``monitoring``: a call that raised has ``"exc": {"type": "builtins.ValueError",
    "message": "..."}`` and no ``ret``. ``type`` is the exception class's module and
    qualified name; ``message`` is ``str(exc)``, present only when computing it runs no
    code of the program (the exception's ``args`` are literals and its ``__str__`` is
    BaseException's or KeyError's own).
  - ``setprofile``: no event tells a raise from a return, so a raised call is written
    as ``"ret"`` ``None``: a ``None`` result means "returned None or raised" (validation by
    execution tells them apart).

  A generator function's call has ``"ret": {"opaque": "builtins.generator", "why": "type"}``.
  With ``monitoring`` it also has ``"yields": [value, ...]``, the first values a consumer
  drew from it (at most the probe's ``max_yields``), and ``"exhausted"``: true when the
  generator then returned, so ``yields`` is everything it produced; false when it was
  abandoned, closed, thrown into, or more values were drawn than recorded. A generator
  whose iteration raised has ``exc`` as well (with ``ret``, which is still the generator).
  With ``setprofile`` a yield and the final return are the same event, so a value counts
  as drawn only once the generator is resumed after it, ``exhausted`` is always false (and
  ``yields`` may miss the last value drawn), and no ``exc`` is written. Its calls are
  written when ``max_yields`` were drawn, when 64 newer generator calls are open, or at exit.
* ``{"k": "modules", "loaded": [["webcolors", "/abs/webcolors.py", false], ...]}`` --
  written at exit: the modules the process had imported whose top-level name is one of the
  config's ``modules`` (the project's), the file each came from, and whether the probe's
  roots cover that file. A process that recorded no call writes a file for this line (and
  ``stats``) only when it imported one of them. Absent in traces of older probes.
* ``{"k": "stats", ...counters...}`` -- written at exit, may be missing after a crash.

A *value* is ``{"py": "<python expression>"}`` for values that can be written as Python
source (None, bool, int, float incl. ``float('nan')``, complex, str, bytes, list, tuple,
dict, set, frozenset, nested), or ``{"opaque": "<type qualname>", "why": "type"|"size"|
"depth"|"cycle"|"custom"|"error"}`` otherwise (with ``"inner"``, the type of the value
inside it that had no source, when that is not the value itself). Objects (issue 14): the
standard library's
value types as constructors, ``datetime.date(2020, 1, 2)``, with ``"imports": ["datetime"]``
beside the source; the project's enums, namedtuples and plain objects through markers,
``_citrace_class('pkg.mod', 'Color').RED``, ``_citrace_object(_citrace_class('pkg.mod',
'Cls'), {'attr': 1})`` (a third argument: the content of a dict/list/set/str/int subclass),
with ``"classes": [["pkg.mod", "Cls"]]``. Plain objects passed in get an ``after`` too. A
function passed as a value is a lambda, ``lambda x: x % 2 == 0``, when the text of its own
source file is all it needs (``"imports"`` name the pure standard-library modules it reads,
``math``; the variables of the test's function it reads bound around it,
``(lambda limit: lambda x: x > limit)(3)``), and a ``functools.partial`` of a function so
written; an argument that is a generator expression not yet started is its text over the
iterable it was made on, ``(x * 2 for x in [3, 1, 2])``. The emitter passes such values to
calls and never compares a result with one. Lines
are written whole, one ``write`` each, as calls end: a
killed process loses only calls in flight, and a torn last line is skipped on reading.
Readers ignore keys they do not know.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from recipes.record import Record

TRACE_FORMAT_VERSION = 1

# The values a function can be judged by: an encoded value from the probe.
Value = dict[str, str]


def value_source(value: Value) -> str | None:
    """The Python source of an encoded value, or None when it was recorded as opaque."""
    return value.get("py")


@dataclass(frozen=True)
class FunctionId:
    """Where a traced function is defined. Equal across processes of one run."""

    module: str
    qualname: str
    file: str
    line: int

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FunctionId:
        return cls(str(data["module"]), str(data["qualname"]), str(data["file"]), int(data["line"]))


@dataclass(frozen=True)
class Arg:
    name: str
    kind: str  # pos | kwonly | varargs | varkw
    value: Value


# What the reader puts in ``CallRecord.result`` for a call that raised (``raised`` says what):
# an opaque value, so every consumer of results treats it as "no usable result".
RAISED = "raised"
# The ``why`` of an opaque argument that is the function's own default object (a sentinel such
# as ``default=_marker``): the call passed nothing for it, and its block leaves it out.
OWN_DEFAULT = "default"


@dataclass(frozen=True)
class CallRecord:
    """One recorded call of a traced function.

    ``raised`` is the trace's ``exc`` (``{"type": ..., "message": ...}``, message optional)
    when the call, or a generator's iteration, raised; a call that raised has
    ``result == {"opaque": <type>, "why": RAISED}``. ``yields`` holds the values drawn from a
    generator (None when not recorded) and ``exhausted`` whether it then returned.
    """

    function: FunctionId
    args: tuple[Arg, ...]
    result: Value
    after: tuple[tuple[str, Value], ...] = ()
    test: str | None = None
    raised: dict[str, str] | None = None
    yields: tuple[Value, ...] | None = None
    exhausted: bool = False

    def inputs_key(self) -> str:
        """What makes two calls the same call: their encoded inputs."""
        return repr([(a.name, a.kind, sorted(a.value.items())) for a in self.args])


@dataclass(frozen=True)
class ImportedModule:
    """A module of the project a traced process had imported by its exit, and from where."""

    name: str  # "webcolors", "pkg.sub"
    file: str
    traced: bool  # under the probe's roots


@dataclass(frozen=True)
class TraceSet:
    """Everything read from one trace directory."""

    functions: dict[FunctionId, bool]  # function -> toplevel
    calls: tuple[CallRecord, ...]
    python: str  # interpreter version that ran the traced code ("3.11.7"); first seen
    files_read: int = 0
    lines_skipped: int = 0  # torn or unreadable lines
    files_skipped: int = 0  # trace files without a readable header, or of a newer format
    stats: dict[str, int] = field(default_factory=dict)  # probe counters, summed
    source_hashes: dict[FunctionId, str] = field(default_factory=dict)  # fn's source_sha1
    imported: tuple[ImportedModule, ...] = ()  # the ``modules`` lines, one per module and file


@dataclass(frozen=True)
class Candidate:
    """A function that may become a problem, before validation."""

    function: FunctionId
    path: str  # file path relative to the checkout
    entry_point: str
    prompt: str
    canonical_solution: str
    test: str
    n_calls: int  # distinct usable calls recorded
    n_asserts: int
    tests_traced: tuple[str, ...] = ()
    # The check's blocks (one assert, or a call and the asserts on what it changed), each
    # indented and ending in "\n": ``test`` ends with them, so validation can run them alone.
    blocks: tuple[str, ...] = ()
    assert_kinds: tuple[str, ...] = ()  # each block's kind: returns, mutates, yields, raises
    # Filled by validation (``tracer/emit/validate.py``): every program run and its time,
    # and the asserts it dropped (``n_asserts`` is then what is left).
    validation_runs: tuple[ValidationRun, ...] = ()
    asserts_dropped: int = 0
    # What the problem checks: function, generator, method, init, property, dunder,
    # staticmethod, classmethod; and for a method, its class (the entry point of an
    # instance method's problem).
    kind: str = "function"
    class_name: str = ""
    # Filled by validation: how many mutants of the canonical solution the kept test kills,
    # and where each kept block's expected value came from ("recorded" from the trace,
    # "augmented" from an input citrace derived and the canonical solution answered).
    mutation: MutationScore | None = None
    assert_sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class Survivor(Record):
    """A mutant of the canonical solution that the problem's test does not kill: its
    operator (``compare``, ``arith``, ``delete``...), its line in the canonical solution
    (1-based) and what it changed (``< -> <=``)."""

    operator: str
    line: int
    description: str


@dataclass(frozen=True)
class MutationScore(Record):
    """How strong a problem's test is: of ``mutants`` small wrong versions of the canonical
    solution (``tracer/strength/mutants.py``), how many the test rejects. ``score`` is
    ``killed / mutants``; ``mutants == 0`` means not measured (no mutant could be made, or
    a problem mined before mutation scoring), and its score is then 0.0."""

    mutants: int = 0
    killed: int = 0
    score: float = 0.0
    survivors: tuple[Survivor, ...] = ()

    @property
    def measured(self) -> bool:
        return self.mutants > 0


@dataclass(frozen=True)
class ValidationRun(Record):
    """One validation program run: which completion (``reference``, ``stub:pass``, ...),
    whether it passed, how long it took."""

    kind: str
    passed: bool
    seconds: float


@dataclass(frozen=True)
class DedupCluster(Record):
    """The problem's duplicate cluster: ``id`` is the task id of the problem kept for it,
    ``size`` how many problems it had. ``{"id": "", "size": 0}``: not deduplicated yet (a
    run still in progress)."""

    id: str = ""
    size: int = 0


@dataclass(frozen=True)
class ContaminationHit(Record):
    """A benchmark problem this problem overlaps: ``method`` is ``substring`` or ``10-gram``,
    ``field`` the part of ours that overlaps (``prompt`` or ``solution``), ``match`` the
    overlapping text (cut to 200 characters)."""

    benchmark: str
    task_id: str
    method: str
    field: str
    match: str


@dataclass(frozen=True)
class ProblemMeta(Record):
    """Where a problem comes from and what was done to it. Every field has one JSON type in
    every row (empty values, never null), so the JSONL loads with ``datasets``."""

    source: str  # the SPEC as the user gave it
    version: str  # resolved version or commit
    path: str
    qualname: str
    line: int
    python: str
    ci_file: str
    n_asserts: int
    n_calls: int
    unsafe_no_sandbox: bool = False  # validated without a sandbox (--unsafe-no-sandbox)
    module: str = ""  # the module the function is imported from ("pkg.mod")
    license: str = ""  # the project's license as its index declares it; "" when unknown
    tests: tuple[str, ...] = ()  # ids of the tests the recorded calls were made from
    validation_runs: tuple[ValidationRun, ...] = ()
    dedup_cluster: DedupCluster = DedupCluster()
    contamination: tuple[ContaminationHit, ...] = ()
    decontaminated_against: tuple[str, ...] = ()  # benchmarks checked
    not_decontaminated_against: tuple[str, ...] = ()  # benchmarks whose data was unavailable
    kind: str = "function"  # Candidate.kind: function, method, init, property, dunder...
    class_name: str = ""  # the method's class ("" for a function)
    mutation: MutationScore = MutationScore()  # the test's mutant kill rate (Candidate's)
    assert_sources: tuple[str, ...] = ()  # each assert block's origin: recorded, augmented
    # Every test that made the problem's calls is a doctest (tracer.doctests): its asserts
    # repeat the examples its prompt's docstring already shows.
    from_doctests: bool = False


@dataclass(frozen=True)
class Problem(Record):
    """A validated HumanEval-style problem: exactly HumanEval's fields plus ``meta``."""

    task_id: str
    prompt: str
    canonical_solution: str
    test: str
    entry_point: str
    meta: ProblemMeta
