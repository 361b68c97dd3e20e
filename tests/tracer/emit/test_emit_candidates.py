"""Traces to candidates, end to end over small projects."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from tracer.emit import drops
from tracer.emit.candidates import EmitReport, build_candidates
from tracer.records import Candidate, TraceSet


def emit(traces: TraceSet, checkout: Path, roots: tuple[Path, ...] = (),
         packages: frozenset[str] = frozenset({"mypkg"})) -> EmitReport:
    return build_candidates(traces, checkout=checkout, roots=roots, project_packages=packages)


def render(candidates: list[Candidate]) -> str:
    """A golden file a reviewer can read: each candidate's fields, verbatim."""
    parts = []
    for c in candidates:
        parts.append(
            f"=== {c.path}:{c.function.line} {c.entry_point} calls={c.n_calls} "
            f"asserts={c.n_asserts}\n"
            f"tests: {', '.join(c.tests_traced)}\n"
            f"--- prompt\n{c.prompt}--- canonical_solution\n{c.canonical_solution}"
            f"--- test\n{c.test}")
    return "".join(parts)


def test_sexagesimal_becomes_two_problems(sexagesimal, project, golden) -> None:
    report = emit(sexagesimal, project.root)
    assert [c.entry_point for c in report.candidates] == ["format_duration", "parse_duration"]
    assert report.functions_traced == 3
    # Duration.seconds, a method: this trace's (older) probe wrote its instance as opaque.
    assert report.dropped == Counter({drops.NO_USABLE_CALLS: 1})
    assert report.calls_dropped == Counter({drops.RETURNS_NONE: 5, drops.OPAQUE_SELF: 1})
    golden("sexagesimal_candidates.txt", render(report.candidates))

    to_format = report.candidates[0]
    assert to_format.path == "sexagesimal.py"
    assert to_format.prompt == '''\
# Errors, all under one base class
class SexagesimalError(ValueError): pass
class BoundsError(SexagesimalError): pass
class FractionalError(SexagesimalError): pass

# Units, largest first, with their length in seconds
UNITS = (("d", 86400),
         ("h", 3600),
         ("m", 60),
         ("s", 1))


def format_duration(seconds):
    """Write a positive whole number of seconds as days, hours, minutes and seconds."""
'''
    assert to_format.canonical_solution == '''\
    if not 0 < seconds < 100 * 86400:
        raise BoundsError("only 1 second up to 99 days can be written")
    if seconds % 1:
        raise FractionalError("only whole seconds can be written")

    parts = []
    for letter, size in UNITS:
        count, seconds = divmod(seconds, size)
        if count:
            parts.append("%d%s" % (count, letter))
    return "".join(parts)
'''
    assert to_format.test == '''\
def check(candidate):
    assert candidate(1) == '1s'
    assert candidate(60) == '1m'
    assert candidate(59) == '59s'
    assert candidate(3600) == '1h'
    assert candidate(61) == '1m1s'
    assert candidate(86400) == '1d'
    assert candidate(3661) == '1h1m1s'
    assert candidate(7322) == '2h2m2s'
    assert candidate(90061) == '1d1h1m1s'
    assert candidate(45296) == '12h34m56s'
    assert candidate(8639999) == '99d23h59m59s'
'''
    # 11 distinct calls, the longest assert (8639999) left out; the repeated 1 counts once.
    assert (to_format.n_calls, to_format.n_asserts) == (11, 11)  # all offered: validation keeps ten
    assert to_format.tests_traced == (
        "test_sexagesimal.py::FormatKnownValues::test_known_values",
        "test_sexagesimal.py::RoundTrip::test_round_trip")
    to_parse = report.candidates[1]
    assert to_parse.prompt.startswith(
        "import re\n\n# Errors, all under one base class\nclass SexagesimalError")
    assert "DURATION_PATTERN = re.compile(" in to_parse.prompt
    assert "BoundsError" not in to_parse.prompt
    assert "import sys" not in to_format.prompt + to_parse.prompt


def test_every_dropped_function_is_counted_under_its_reason(project, traces) -> None:
    project.write("mypkg/__init__.py", "")
    project.write("mypkg/core.py", '''
        import functools
        import numpy
        from . import util
        from mypkg import other


        def documented(x):
            """Good."""
            return x + 1


        def undocumented(x):
            return x + 1


        @functools.lru_cache()
        def decorated(x):
            """Cached."""
            return x


        def relative(x):
            """Uses a sibling module."""
            return util.f(x)


        def absolute(x):
            """Uses the package by name."""
            return other.f(x)


        def third_party(x):
            """Uses numpy."""
            return numpy.asarray(x)


        def opaque(x):
            """Takes an object."""
            return 1


        def procedure(x):
            """Returns nothing."""
            print(x)


        def sorts(xs):
            """Sorts in place."""
            xs.sort()
            return len(xs)


        def clock(x):
            """Not a function of x."""
            return x + 1


        class Thing:
            def method(self, x):
                """A method."""
                return x


        class Stranger:
            pass
    ''')
    core = "mypkg/core.py"
    f = {name: traces.fn(core, name) for name in [
        "documented", "undocumented", "decorated", "relative", "absolute", "third_party",
        "opaque", "procedure", "sorts", "clock"]}
    method = traces.fn(core, "Thing.method", toplevel=False)
    for name in ["documented", "undocumented", "decorated", "relative", "absolute",
                 "third_party"]:
        traces.call(f[name], {"x": "1"}, "2")
    traces.call(f["opaque"], {"x": {"opaque": "socket", "why": "type"}}, "1")
    traces.call(f["procedure"], {"x": "1"}, "None")
    traces.call(f["sorts"], {"xs": "[2, 1]"}, "2", after={"xs": "[1, 2]"})
    traces.call(f["clock"], {"x": "1"}, "2")
    traces.call(f["clock"], {"x": "1"}, "3")
    traces.call(method, {"self": {"opaque": "Thing", "why": "type"}, "x": "1"}, "1")
    # called on an instance of a class that does not derive from it (``Thing.method(x)``)
    traces.call(method, {"self": "_citrace_object(_citrace_class('mypkg.core', 'Stranger'), {})",
                         "x": "2"}, "2")
    # made from a recorded state, but left in one the probe could not write
    traces.call(method, {"self": "_citrace_object(_citrace_class('mypkg.core', 'Thing'), {})",
                         "x": "3"}, "3", after={"self": {"opaque": "mypkg.core.Thing",
                                                         "why": "cycle"}})

    report = emit(traces.traceset(), project.root)
    assert [c.entry_point for c in report.candidates] == ["documented", "sorts"]
    assert report.functions_traced == 11
    assert report.dropped == Counter({
        drops.NO_DOCSTRING: 1, drops.DECORATED: 1, drops.NEEDS_PROJECT_MODULE: 2,
        drops.NEEDS_THIRD_PARTY: 1, drops.NO_USABLE_CALLS: 3, drops.NONDETERMINISTIC: 1,
    })
    # Thing.method's instance was recorded as opaque: nothing to make it from.
    assert report.calls_dropped == Counter({drops.OPAQUE_VALUE: 1, drops.RETURNS_NONE: 1,
                                            drops.OPAQUE_SELF: 3})
    # What had no source, for the log: the next thing to teach the probe.
    assert report.opaque == Counter({"opaque_value: socket": 1, "opaque_self: Thing": 1,
                                     "opaque_self: instance of mypkg.core.Stranger": 1,
                                     "opaque_self: mypkg.core.Thing": 1})
    assert report.candidates[1].test == (
        "def check(candidate):\n    xs = [2, 1]\n    assert candidate(xs) == 2\n"
        "    assert xs == [1, 2]\n")


def test_a_flat_layout_module_importing_its_sibling_needs_a_project_module(project,
                                                                          traces) -> None:
    project.write("util.py", "def f(x):\n    return x\n")
    project.write("app.py", '''
        import util

        def g(x):
            """Delegates."""
            return util.f(x)
    ''')
    traces.call(traces.fn("app.py", "g"), {"x": "1"}, "1")
    report = emit(traces.traceset(), project.root, packages=frozenset())
    assert report.dropped == Counter({drops.NEEDS_PROJECT_MODULE: 1})


def test_installed_copies_are_named_by_their_checkout_counterpart_and_kept_once(
        project, traces, tmp_path) -> None:
    site = tmp_path / "venv" / "lib" / "site-packages"
    source = '''
        def double(x):
            """Twice x."""
            return 2 * x
    '''
    project.write("src/calc.py", source)
    (site / "calc.py").parent.mkdir(parents=True)
    (site / "calc.py").write_text(Path(project.root / "src/calc.py").read_text())
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "calc.py").write_text((site / "calc.py").read_text())

    checkout_fn = traces.fn("src/calc.py", "double", module="calc")
    installed = type(checkout_fn)("calc", "double", str(site / "calc.py"), checkout_fn.line)
    stray = type(checkout_fn)("calc", "double", str(tmp_path / "elsewhere" / "calc.py"), 1)
    traces.functions.update({installed: True, stray: True})
    traces.call(checkout_fn, {"x": "1"}, "2")
    for x in range(3):
        traces.call(installed, {"x": str(x)}, str(2 * x))
    traces.call(stray, {"x": "1"}, "2")

    report = emit(traces.traceset(), project.root, roots=(site,))
    # The installed copy is the same function as src/calc.py: one candidate, the one
    # with more asserts; the copy outside every root is left out.
    assert [(c.path, c.n_asserts) for c in report.candidates] == [("src/calc.py", 3)]
    assert report.dropped == Counter({drops.OUTSIDE_PROJECT: 1, drops.DUPLICATE: 1})


def test_candidates_are_sorted_by_path_then_line(project, traces) -> None:
    for name in ["b.py", "a.py"]:
        project.write(name, '''
            def second(x):
                """Second."""
                return x + 2

            def first(x):
                """First."""
                return x + 1
        ''')
        for fn_name in ["second", "first"]:
            traces.call(traces.fn(name, fn_name), {"x": "1"}, "3" if fn_name == "second" else "2")
    report = emit(traces.traceset(), project.root)
    assert [(c.path, c.entry_point) for c in report.candidates] == [
        ("a.py", "second"), ("a.py", "first"), ("b.py", "second"), ("b.py", "first")]


def test_a_trace_cannot_make_the_emitter_read_host_files(project, traces, tmp_path) -> None:
    # Traces are written by the project's code, in the sandbox: it may name any file.
    secret = tmp_path / "host" / "settings.py"
    secret.parent.mkdir()
    secret.write_text('TOKEN = "hunter2"\n\ndef token(x):\n    """The token."""\n'
                      '    return TOKEN\n')
    project.write("mypkg/__init__.py", "")
    (project.root / "mypkg" / "link.py").symlink_to(secret)
    sneaky = [
        type(traces.fn("mypkg/__init__.py", "x", line=1))(
            "mypkg.link", "token", str(project.root / "mypkg" / "link.py"), 3),
        type(traces.fn("mypkg/__init__.py", "x", line=1))(
            "mypkg.up", "token", str(project.root / ".." / "host" / "settings.py"), 3),
    ]
    traces.functions.clear()
    for function in sneaky:
        traces.functions[function] = True
        traces.call(function, {"x": "1"}, "'hunter2'")
    report = emit(traces.traceset(), project.root)
    assert report.candidates == []
    assert report.dropped == Counter({drops.OUTSIDE_PROJECT: 2})


def test_definitions_from_other_modules_of_the_project_are_carried(project, traces) -> None:
    project.write("mypkg/__init__.py", "")
    project.write("mypkg/text.py", '''
        """Text helpers."""

        import re

        from mypkg.table import VOWELS

        _WORD = re.compile(r"[a-z]+")


        def words(text):
            """The lowercase words of text."""
            return _WORD.findall(text.lower())


        def unused():
            return VOWELS
    ''')
    project.write("mypkg/table.py", 'VOWELS = "aeiou"\nBIG = "' + "x" * 5000 + '"\n')
    project.write("mypkg/core.py", '''
        import re

        from .text import words
        from .table import BIG, VOWELS
        from . import text as text_module
        from .text import words as split_words


        def word_count(text):
            """How many words text has."""
            return len(words(text))


        def vowel_count(text):
            """How many vowels text has."""
            return sum(text.count(v) for v in VOWELS)


        def huge(text):
            """Too much context."""
            return BIG + text


        def aliased(text):
            """Imports under another name."""
            return split_words(text)


        def whole_module(text):
            """Imports a module."""
            return text_module.words(text)
    ''')
    names = ["word_count", "vowel_count", "huge", "aliased", "whole_module"]
    for name in names:
        traces.call(traces.fn("mypkg/core.py", name), {"text": "'Hi yo'"}, "2")
    report = emit(traces.traceset(), project.root)
    assert [c.entry_point for c in report.candidates] == ["word_count", "vowel_count"]
    assert report.dropped == Counter({drops.PROMPT_TOO_LONG: 1, drops.NEEDS_PROJECT_MODULE: 2})
    assert report.candidates[0].prompt == '''\
import re

_WORD = re.compile(r"[a-z]+")


def words(text):
    """The lowercase words of text."""
    return _WORD.findall(text.lower())


def word_count(text):
    """How many words text has."""
'''
    assert report.candidates[1].prompt == '''\
VOWELS = "aeiou"


def vowel_count(text):
    """How many vowels text has."""
'''


def test_carried_definitions_must_not_clash_with_the_module_own(project, traces) -> None:
    project.write("mypkg/__init__.py", "")
    project.write("mypkg/a.py", 'SEP = ","\n\n\ndef join(items):\n    return SEP.join(items)\n')
    project.write("mypkg/b.py", '''
        from mypkg.a import join

        SEP = ";"


        def both(items):
            """Joins twice."""
            return join(items) + SEP
    ''')
    traces.call(traces.fn("mypkg/b.py", "both"), {"items": "['x', 'y']"}, "'x,y;'")
    report = emit(traces.traceset(), project.root)
    assert report.dropped == Counter({drops.CONTEXT_NAME_CLASH: 1})


def test_static_and_class_methods_are_lifted_when_they_do_not_need_their_class(
        project, traces) -> None:
    project.write("geo.py", '''
        SCALE = 2


        class Grid:
            """A grid."""

            @classmethod
            def cells(
                cls,  # the class: unused
                width,
                height,
            ):
                """How many cells."""
                return width * height * SCALE

            @staticmethod
            def origin(x):
                """Uses its own class."""
                return Grid.cells(x, x)

            @staticmethod
            def area(x):
                """Shares a name with a module function."""
                return x


        def area(x):
            """A module function."""
            return x
    ''')
    lines = (project.root / "geo.py").read_text().split("\n")
    method_area = lines.index("    def area(x):")  # its decorator's line, 1-based
    for name in ("Grid.cells", "Grid.origin", "Grid.area"):
        function = traces.fn("geo.py", name, toplevel=False,
                             line=method_area if name == "Grid.area" else None)
        args = {"x": "1"} if name != "Grid.cells" else {
            "cls": {"opaque": "builtins.type", "why": "type"}, "width": "2", "height": "3"}
        traces.call(function, args, "12" if name == "Grid.cells" else "2")
    report = emit(traces.traceset(), project.root, packages=frozenset())
    assert report.dropped == Counter({drops.NEEDS_OWN_CLASS: 1, drops.METHOD_NAME_CLASH: 1})
    [cells] = report.candidates
    assert (cells.entry_point, cells.function.qualname) == ("cells", "Grid.cells")
    assert cells.prompt == '''\
SCALE = 2


def cells(
    width,
    height,
):
    """How many cells."""
'''
    assert cells.canonical_solution == "    return width * height * SCALE\n"
    assert cells.test == "def check(candidate):\n    assert candidate(2, 3) == 12\n"


def test_an_annotation_only_import_that_cannot_be_carried_leaves_nothing_behind(
        project, traces) -> None:
    project.write("mypkg/__init__.py", "")
    project.write("mypkg/shapes.py", '''
        import numpy

        LIMIT = 3


        class Shape(numpy.ndarray):
            """Needs numpy."""
    ''')
    project.write("mypkg/core.py", '''
        from __future__ import annotations

        from .shapes import LIMIT, Shape


        def clip(value: int, shape: Shape | None = None) -> int:
            """Clip value to LIMIT."""
            return min(value, LIMIT)
    ''')
    traces.call(traces.fn("mypkg/core.py", "clip"), {"value": "5", "shape": "None"}, "3")
    [clip] = emit(traces.traceset(), project.root).candidates
    assert clip.prompt.split("def clip")[0] == (
        "from __future__ import annotations\n\n\nLIMIT = 3\n\n\n")


def test_a_package_that_imports_its_own_submodule_costs_one_function_not_the_run(
        project, traces) -> None:
    # sqlparse's layout: the package's __init__ binds a submodule through
    # `from <itself> import <submodule>`; a function needing that name sent the context
    # builder round that import for ever (RecursionError, the whole project lost).
    project.write("mypkg/__init__.py", '''
        from mypkg import sub
        from mypkg.sub import double
    ''')
    project.write("mypkg/sub.py", '''
        def double(x):
            """Twice x."""
            return 2 * x
    ''')
    project.write("mypkg/uses.py", '''
        from mypkg import sub
        from mypkg import double


        def quadruple(x):
            """Four times x, through the package's own name for its submodule."""
            return sub.double(sub.double(x))


        def twice(x):
            """Twice x, through the name the package re-exports."""
            return double(x)
    ''')
    for name in ("quadruple", "twice"):
        traces.call(traces.fn("mypkg/uses.py", name), {"x": "2"},
                    "8" if name == "quadruple" else "4")
    report = emit(traces.traceset(), project.root)
    assert [c.entry_point for c in report.candidates] == ["twice"]
    assert "def double(x):" in report.candidates[0].prompt
    assert report.dropped == Counter({drops.NEEDS_PROJECT_MODULE: 1})
    assert report.errors == []


def test_an_error_of_citraces_while_building_one_function_drops_that_function_only(
        project, traces, monkeypatch) -> None:
    # A fault citrace cannot cause for real on purpose (its own bug): the context builder
    # raising for one function. The other function still becomes a candidate.
    from tracer.emit import candidates as candidates_module

    project.write("mypkg/__init__.py", "")
    project.write("mypkg/m.py", '''
        def good(x):
            """Good."""
            return x + 1


        def bad(x):
            """Bad."""
            return x - 1
    ''')
    real = candidates_module.build_context

    def failing(module, located, **kwargs):
        if located.unit.node.name == "bad":
            raise KeyError("a bug")
        return real(module, located, **kwargs)

    monkeypatch.setattr(candidates_module, "build_context", failing)
    traces.call(traces.fn("mypkg/m.py", "good"), {"x": "1"}, "2")
    traces.call(traces.fn("mypkg/m.py", "bad"), {"x": "1"}, "0")
    report = emit(traces.traceset(), project.root)
    assert [c.entry_point for c in report.candidates] == ["good"]
    assert report.dropped == Counter({"internal_emit:KeyError": 1})
    assert len(report.errors) == 1 and "KeyError: 'a bug'" in report.errors[0]


def test_python2_builtins_in_a_branch_of_a_version_check_do_not_stop_the_prompt(
        project, traces) -> None:
    project.write("mypkg/__init__.py", "")
    project.write("mypkg/compat.py", '''
        import sys

        if sys.version_info >= (3, 0):
            text_type = str
        else:
            text_type = unicode


        def as_text(value):
            """value as text."""
            return text_type(value)


        def legacy(value):
            """Names a Python 2 builtin where it runs."""
            return long(value)
    ''')
    as_text = traces.fn("mypkg/compat.py", "as_text", module="mypkg.compat")
    legacy = traces.fn("mypkg/compat.py", "legacy", module="mypkg.compat")
    traces.call(as_text, {"value": "1"}, "'1'")
    traces.call(legacy, {"value": "1"}, "1")
    report = emit(traces.traceset(), project.root)
    # Both are carried as written; legacy's NameError is for validation to find.
    assert [c.entry_point for c in report.candidates] == ["as_text", "legacy"]
    assert "text_type = unicode" in report.candidates[0].prompt
