"""Objects as values (issue 14): the standard library's value types and the project's plain
objects written as source, read without running any of the program's code."""

from __future__ import annotations

import collections
import datetime
import decimal
import enum
import fractions
import importlib
import pathlib
import re
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest

from tracer.probe import _Kinds, _normalise_roots, encode_value

STDLIB_VALUES = [
    datetime.datetime(2020, 1, 2, 3, 4, 5, 6),
    datetime.datetime(2020, 1, 2, tzinfo=datetime.timezone.utc),
    datetime.datetime(2021, 11, 7, 1, 30, fold=1,
                      tzinfo=datetime.timezone(datetime.timedelta(hours=-5), "EST")),
    datetime.date(2020, 1, 2), datetime.time(1, 2, 3), datetime.timedelta(days=-1, seconds=3),
    decimal.Decimal("1.10"), decimal.Decimal("-0"), fractions.Fraction(1, 3),
    uuid.UUID(int=5), pathlib.PurePosixPath("a/b"), pathlib.PureWindowsPath("c:/x"),
    range(3), range(10, 0, -3), slice(1, None, 2),
    collections.OrderedDict(b=1, a=2), collections.defaultdict(list, {"a": [1]}),
    collections.Counter("aab"), collections.deque([1, 2], 3), collections.deque(),
    re.compile("a+", re.I), re.compile(b"x"), re.IGNORECASE,
    [datetime.date(2020, 1, 1), {"when": decimal.Decimal("2")}],
]

PROJECT = '''
import collections, enum
ACCESS = []

class Plain:
    def __init__(self, a, b):
        self.a, self.b = a, b

class Slotted:
    __slots__ = ("x", "y", "__z")
    def __init__(self, x):
        self.x = x

class Bag(dict):
    def __init__(self, *args, label="", **kwargs):
        super().__init__(*args, **kwargs)
        self.label = label

class Tag(str):
    pass

class Liar:
    def __init__(self):
        self.v = 1
    def __eq__(self, other):
        ACCESS.append("eq"); return True
    def __repr__(self):
        ACCESS.append("repr"); return "x"
    def __getattr__(self, name):
        ACCESS.append(name); raise AttributeError(name)

class Spy:
    def __getattribute__(self, name):
        ACCESS.append(name); return object.__getattribute__(self, name)

class Shadow:
    @property
    def __dict__(self):
        ACCESS.append("__dict__"); return {"fake": 1}

class Color(enum.Enum):
    RED = 1

Point = collections.namedtuple("Point", "x y")

class Url(collections.namedtuple("Url", "scheme host")):
    __slots__ = ()
    def geturl(self):
        return self.scheme + "://" + self.host

class Pair(Point):
    def total(self):
        return self.x + self.y

class Node:
    def __init__(self, v, nxt=None):
        self.v, self.nxt = v, nxt

class Meta(type):
    pass

class WithMeta(metaclass=Meta):
    pass
'''


def rebuild(encoded: dict[str, Any], classes: dict[str, type] | None = None) -> Any:
    """Evaluate an encoding as a test would: imports, and the markers bound to classes."""
    namespace: dict[str, Any] = {m.partition(".")[0]: importlib.import_module(m)
                                 for m in encoded.get("imports", [])}

    def new(cls, state, *content):  # the test's own helper, in short
        immutable = next((b for b in cls.__mro__ if b in (str, int, tuple)), None)
        obj = immutable.__new__(cls, *content) if content and immutable else (
            cls.__mro__[1].__new__(cls) if len(cls.__mro__) > 2 else object.__new__(cls))
        if content and not immutable and isinstance(content[0], dict):
            dict.update(obj, content[0])
        for name, value in state.items():
            object.__setattr__(obj, name, value)
        return obj

    namespace["_citrace_object"] = new
    namespace["_citrace_class"] = lambda module, qualname: (classes or {})[qualname]
    return eval(encoded["py"], namespace)  # noqa: S307 -- our own encoder's output


@pytest.mark.parametrize("value", STDLIB_VALUES, ids=repr)
def test_standard_library_values_are_written_as_their_constructors(value: Any) -> None:
    encoded = encode_value(value, kinds=_Kinds([]))
    assert "py" in encoded, encoded
    back = rebuild(encoded)
    assert type(back) is type(value) and back == value


def test_without_kinds_only_builtin_literals_are_written() -> None:
    assert encode_value(datetime.date(2020, 1, 1)) == {"opaque": "datetime.date", "why": "type"}


@pytest.fixture
def objs(tmp_path: Path):  # type: ignore[no-untyped-def]
    (tmp_path / "objs_mod.py").write_text(textwrap.dedent(PROJECT))
    sys.path.insert(0, str(tmp_path))
    try:
        module = importlib.import_module("objs_mod")
        yield module, _Kinds(_normalise_roots([str(tmp_path)]))
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("objs_mod", None)


def test_plain_objects_of_the_project_are_written_from_their_state(objs) -> None:  # type: ignore[no-untyped-def]
    module, kinds = objs
    classes = {name: getattr(module, name) for name in ("Plain", "Slotted", "Bag", "Tag",
                                                         "Color", "Point", "Node", "Url",
                                                         "Pair")}
    node = "_citrace_object(_citrace_class('objs_mod', 'Node'), "
    cases = [
        (module.Plain(1, [2]),
         "_citrace_object(_citrace_class('objs_mod', 'Plain'), {'a': 1, 'b': [2]})"),
        (module.Slotted(1), "_citrace_object(_citrace_class('objs_mod', 'Slotted'), {'x': 1})"),
        (module.Bag({"k": 1}, label="x"),
         "_citrace_object(_citrace_class('objs_mod', 'Bag'), {'label': 'x'}, {'k': 1})"),
        (module.Tag("t"), "_citrace_object(_citrace_class('objs_mod', 'Tag'), {}, 't')"),
        (module.Color.RED, "_citrace_class('objs_mod', 'Color').RED"),
        (module.Point(1, 2), "_citrace_class('objs_mod', 'Point')(1, 2)"),
        # a namedtuple's subclass: its fields are its tuple content, made by tuple.__new__
        (module.Url("http", "a"),
         "_citrace_object(_citrace_class('objs_mod', 'Url'), {}, ('http', 'a'))"),
        (module.Pair(1, [2]), "_citrace_object(_citrace_class('objs_mod', 'Pair'), {}, (1, [2]))"),
        (module.Node(1, module.Node(2)),
         node + "{'v': 1, 'nxt': " + node + "{'v': 2, 'nxt': None})})"),
    ]
    for value, source in cases:
        encoded = encode_value(value, kinds=kinds)
        assert encoded["py"] == source
        assert ["objs_mod", type(value).__qualname__] in encoded["classes"]
        back = rebuild(encoded, classes)
        assert type(back) is type(value)
        assert encode_value(back, kinds=kinds) == encoded  # the same state, read back
    assert module.ACCESS == []


def test_objects_the_probe_cannot_read_without_running_them_stay_opaque(objs) -> None:  # type: ignore[no-untyped-def]
    module, kinds = objs
    loop = module.Node(1)
    loop.nxt = loop
    liar = encode_value(module.Liar(), kinds=kinds)
    assert liar["py"] == "_citrace_object(_citrace_class('objs_mod', 'Liar'), {'v': 1})"
    assert encode_value(module.Spy(), kinds=kinds)["why"] == "custom"
    assert encode_value(module.Shadow(), kinds=kinds)["why"] == "custom"
    assert encode_value(module.WithMeta(), kinds=kinds)["why"] == "custom"
    assert encode_value(loop, kinds=kinds)["why"] == "cycle"
    assert encode_value(enum.Enum("Local", "A").A, kinds=kinds)["why"] == "type"  # not ours
    assert module.ACCESS == []  # no __eq__, __repr__, __getattr__, __getattribute__ ran


def test_modules_functions_and_classes_are_written_by_the_name_that_gives_them_back(
        objs) -> None:  # type: ignore[no-untyped-def]
    module, kinds = objs
    import json
    import os.path
    written = {name: encode_value(value, kinds=kinds) for name, value in {
        "module": json, "function": json.dumps, "builtin": len, "class": collections.OrderedDict,
        "exception": ValueError, "renamed module": os.path, "project class": module.Node,
        "held": module.Node(json)}.items()}
    assert written["module"] == {"py": "json", "imports": ["json"]}
    assert written["function"] == {"py": "json.dumps", "imports": ["json"]}
    assert written["builtin"] == {"py": "len"} and written["exception"] == {"py": "ValueError"}
    assert written["class"] == {"py": "collections.OrderedDict", "imports": ["collections"]}
    assert written["renamed module"] == {"py": "posixpath", "imports": ["posixpath"]}
    assert written["project class"]["py"] == "_citrace_class('objs_mod', 'Node')"
    assert written["held"]["py"] == (
        "_citrace_object(_citrace_class('objs_mod', 'Node'), {'v': json, 'nxt': None})")
    for value in written.values():
        if "classes" not in value:
            assert rebuild(value) is eval(value["py"], {  # noqa: S307
                m.partition(".")[0]: importlib.import_module(m) for m in value.get("imports", [])})
    # What its name does not give back stays opaque: a bound method, a function of the
    # project's (no marker stands for it), a nested class.
    assert encode_value([].append, kinds=kinds)["why"] == "type"
    assert encode_value(module.Node.__init__, kinds=kinds)["why"] == "type"
    assert encode_value(enum.Enum("Local", "A"), kinds=kinds)["why"] == "type"


def test_an_abstract_base_class_does_not_hide_its_subclass_objects(tmp_path: Path) -> None:
    (tmp_path / "abc_mod.py").write_text(textwrap.dedent('''
        import abc

        class Storage(abc.ABC):
            @abc.abstractmethod
            def read(self):
                pass

        class Memory(Storage):
            def __init__(self):
                self.data = {"a": 1}

            def read(self):
                return self.data
    '''))
    sys.path.insert(0, str(tmp_path))
    try:
        module = importlib.import_module("abc_mod")
        encoded = encode_value(module.Memory(), kinds=_Kinds(_normalise_roots([str(tmp_path)])))
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("abc_mod", None)
    assert encoded["py"] == (
        "_citrace_object(_citrace_class('abc_mod', 'Memory'), {'data': {'a': 1}})")


def test_iterators_over_sequences_are_written_as_what_is_left_without_drawing() -> None:
    started = iter([1, 2, 3])
    next(started)
    kinds = _Kinds([])
    assert encode_value(started, kinds=kinds) == {"py": "iter([2, 3])"}
    assert list(started) == [2, 3]  # the probe drew nothing
    assert encode_value(iter("ab"), kinds=kinds) == {"py": "iter('ab')"}
    assert encode_value(iter(range(3)), kinds=kinds) == {"py": "iter(range(0, 3, 1))"}
    assert encode_value(iter(()), kinds=kinds) == {"py": "iter(())"}
    assert encode_value(iter({1: 2}), kinds=kinds)["why"] == "type"  # a dict's: not yet
