"""citrace's probe: records the inputs and outputs of a project's own functions.

Imported as ``_citrace_probe``, and active only when ``CITRACE_PROBE`` holds a JSON config
(or names a file holding it). Two ways in: ``citrace mine`` puts it into the environment's
site-packages with a ``.pth`` line; ``citrace trace`` puts it on ``PYTHONPATH`` next to a
``sitecustomize.py`` (``tracer/inject.py`` writes both). It writes one trace file per
process in the format specified in citrace's ``tracer/records.py``.

Two backends, one record format, chosen at start-up (the header says which and why):
* ``monitoring`` (CPython 3.12+, PEP 669): PY_START is the only event on everywhere; code
  that is not traced, or whose function reached its cap, answers DISABLE and is never
  reported again. Returns, raises and yields are told apart by their events (PY_RETURN,
  PY_UNWIND, PY_YIELD), switched on only for functions with a call in flight.
* ``setprofile`` (every CPython from 3.6): the profile function sees every call and return
  of the process, C calls included, so its hot path is a few operations. A raised
  exception looks like a ``None`` return there, and a generator's yields like returns: a
  value it handed out counts as drawn once the generator is resumed after it.

Rules this module keeps, because it runs inside other people's test suites:
* standard library only, and syntax that CPython 3.6 still parses (it runs on 3.6 .. 3.13);
* it never prints and never raises into the traced program (one exception: see
  _STICKY_OVERFLOW);
* it never runs the program's code: values are encoded by exact type, never through
  ``repr``/``==``/``hash`` of a user object (a hostile ``__repr__`` must not change what
  the tests do);
* it never holds a program's object beyond the call that passed it (garbage collection,
  weakref callbacks and ResourceWarnings happen as without the probe).
"""

import atexit
import gc
import os
import sys

try:
    import _thread
except ImportError:  # 3.6 built without threads
    import _dummy_thread as _thread

ENV_VAR = 'CITRACE_PROBE'
FORMAT_VERSION = 1

DEFAULTS = {
    'max_calls_per_function': 100,
    'max_value_chars': 2000,
    'max_trace_bytes': 20000000,
    'max_depth': 6,
    'max_yields': 10,
    # Not in ProbeConfig: a function called this often without filling its quota of
    # distinct calls (the same few inputs over and over) stops costing an encoding per call.
    'max_seen_per_function': 5000,
    # Not in ProbeConfig: once its quota is full, a function's first call in each later test
    # is recorded, up to this many more, every test for the first _LATE_STRIDE_AFTER of them,
    # then every 2nd test, every 4th...: a suite's first hundred calls of a parser are its
    # first tests' simple inputs, the hard ones (bitstring's struct formats) come later.
    'max_late_calls_per_function': 50,
}
BACKENDS = ('auto', 'setprofile', 'monitoring')

SKIPPED_DIRS = frozenset((
    '.tox', '.nox', 'site-packages', 'dist-packages', 'tests', 'test', 'testing', '.venv',
    'venv', 'build', '.eggs', '__pycache__',
))
SKIPPED_FILES = frozenset(('tests.py', 'conftest.py', 'setup.py'))

# co_flags bits (the values are fixed by CPython; `inspect` is too heavy to import at start-up).
CO_OPTIMIZED = 0x01  # set for functions, not for class bodies (which run like calls)
CO_VARARGS = 0x04
CO_VARKEYWORDS = 0x08
CO_GENERATOR = 0x20
# Coroutines, `types.coroutine` generators and async generators: their suspensions are
# awaits, not values a consumer drew. Not traced.
CO_ASYNC = 0x80 | 0x100 | 0x200

# sys.monitoring tool ids the probe may take, in order. 0-2 are named for debuggers,
# coverage and profilers (coverage.py's sysmon core takes 1, cProfile on 3.12 takes 2);
# 3 and 4 have no name, 5 is reserved for optimizers no CPython release ships.
TOOL_IDS = (4, 3, 5)
TOOL_NAME = 'citrace'

# An attribute of `sys`, so there is one probe per process whatever name this module was
# imported under (or reloaded as).
_STARTED = '_citrace_probe_started'
_CACHE_LIMIT = 200000
# After this many calls of a function, only one call in (_SAMPLE_MASK + 1) is encoded (a
# test of more-itertools calling two methods 10,000 times under tracemalloc: 1.02 s of CPU
# traced when every call was encoded, 0.30 s sampled, 0.04 s under a do-nothing profile
# function).
_SAMPLE_AFTER = 500
_SAMPLE_MASK = 7
# Late calls (past the quota) taken from consecutive tests before the stride doubles.
_LATE_STRIDE_AFTER = 10
# setprofile: generator calls whose yields are being collected. A generator's end looks
# like a yield there, so a call stays open until max_yields values were drawn or the exit;
# past this many open calls the oldest is recorded, so a killed process loses few.
_SUSPENDED_LIMIT = 64
_PENDING_LIMIT = 100000
_LOADED_LIMIT = 100  # the project's modules a process names at exit (loaded_modules)
_TEST_SEARCH_DEPTH = 300  # frames walked up from a call to find a running unittest test
_INF = float('inf')
# Before 3.9, a RecursionError leaves CPython allowing only 50 more frames until the stack
# unwinds, then it aborts ("Cannot recover from stack overflow"). Swallowing one raised in
# the callback would let the program recurse into that abort, so it is passed on instead:
# the program sees the RecursionError a few frames early and CPython detaches the probe
# from the thread (`rearm` attaches it again).
_STICKY_OVERFLOW = sys.version_info < (3, 9)
_SELF = os.path.abspath(__file__) if '__file__' in globals() else ''

# Read a type's name and MRO through `type`'s own descriptors, so a metaclass that
# overrides `__module__`/`__qualname__`/`__mro__` with a property is not run.
_TYPE_MODULE = type.__dict__['__module__']
_TYPE_QUALNAME = type.__dict__['__qualname__']
_TYPE_MRO = type.__dict__['__mro__']
_TYPE_DICT = type.__dict__['__dict__']
_EXCEPTION_ARGS = BaseException.__dict__['args']
# The `__str__` implementations whose result the probe can compute itself from literal args.
_LITERAL_STR = {id(BaseException.__dict__['__str__']): 'base',
                id(KeyError.__dict__['__str__']): 'key'}

# ---------------------------------------------------------------------------- JSON
# Not the json package: json.decoder imports re, which adds ~12 ms to the start-up of
# every interpreter the tests run. The C accelerator underneath it needs nothing else.

try:
    import _json
    _quote = _json.encode_basestring_ascii
except ImportError:  # an interpreter built without the accelerator
    _json = None
    _quote = None


def _dumps(obj):
    """JSON for the probe's own records: str, int, bool, None, lists and str-keyed dicts."""
    if obj is None:
        return 'null'
    if obj is True:
        return 'true'
    if obj is False:
        return 'false'
    kind = type(obj)
    if kind is str:
        return _quote(obj) if _quote is not None else _json_module().dumps(obj)
    if kind is int:
        return repr(obj)
    if kind is list or kind is tuple:
        return '[' + ','.join([_dumps(item) for item in obj]) + ']'
    if kind is dict:
        return '{' + ','.join([_dumps(key) + ':' + _dumps(value)
                               for key, value in obj.items()]) + '}'
    raise TypeError(kind)


class _ScanContext:
    """The settings json.JSONDecoder hands its C scanner."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float
    memo = {}


def _loads(text):
    text = text.strip()
    if _json is None:
        return _json_module().loads(text)
    try:
        value, end = _json.make_scanner(_ScanContext())(text, 0)
    except StopIteration:  # how the scanner says "no JSON value here"
        raise ValueError('no JSON value') from None
    if end != len(text):
        raise ValueError('extra data after the JSON value')
    return value


def _json_module():
    import json
    return json


# ---------------------------------------------------------------------------- value codec

class _Opaque(Exception):
    """Raised inside the encoder: the value has no Python source (args[0] says why)."""


def encode_value(value, max_chars=2000, max_depth=6, kinds=None, given=False):
    """``{"py": source}`` for a value that can be written as Python source, else opaque.

    With ``kinds`` (a ``_Kinds``: which modules are the project's), objects are written too
    (see ``_object_source``): the source then names classes, listed beside it as
    ``"imports"`` (standard-library modules the source uses, ``datetime``) and
    ``"classes"`` (``[module, qualname]`` of the project's classes, written in the source as
    ``_citrace_class(module, qualname)``, a marker the emitter rewrites).

    ``given``: the value is an argument a call is given, so a generator expression not yet
    started is written as its text (see ``_genexpr_source``); one a call returned stays
    opaque, and its values are recorded as they are drawn."""
    state = _Encoding(max_chars, max_depth, kinds, given)
    try:
        source = _source(value, 0, state)
    except _Opaque as exc:
        opaque = {'opaque': type_name(type(value)), 'why': exc.args[0]}
        if (state.culprit is not None and state.culprit is not value
                and exc.args[0] in ('type', 'custom')):
            # What inside it had no source (the next thing to teach the probe).
            opaque['inner'] = type_name(type(state.culprit))
        return opaque
    except RecursionError:
        # The traced program is already at the recursion limit.
        if _STICKY_OVERFLOW:
            raise
        return {'opaque': type_name(type(value)), 'why': 'depth'}
    except Exception:  # an object in a state no reader foresaw: opaque, never the program's
        return {'opaque': type_name(type(value)), 'why': 'error'}
    if len(source) > max_chars:
        return {'opaque': type_name(type(value)), 'why': 'size'}
    result = {'py': source}
    if state.imports:
        result['imports'] = sorted(state.imports)
    if state.classes:
        result['classes'] = [list(pair) for pair in sorted(state.classes)]
    return result


class _Encoding:
    """One value's encoding in progress."""

    __slots__ = ('budget', 'max_depth', 'path', 'kinds', 'imports', 'classes', 'culprit',
                 'given')

    def __init__(self, max_chars, max_depth, kinds, given=False):
        self.budget = [max_chars]  # chars left: huge values fail early
        self.max_depth = max_depth
        self.path = set()  # ids of the containers being encoded, for cycles
        self.kinds = kinds
        self.imports = set()
        self.classes = set()
        self.culprit = None  # the innermost value found opaque
        self.given = given  # an argument: a generator expression may be written


def type_name(cls):
    try:
        module = _TYPE_MODULE.__get__(cls, type)
        qualname = _TYPE_QUALNAME.__get__(cls, type)
    except RecursionError:
        raise  # the callback decides (see _STICKY_OVERFLOW)
    except Exception:
        return '?'
    if type(module) is not str:
        module = '?'
    if type(qualname) is not str:
        qualname = '?'
    return module + '.' + qualname


def _source(value, depth, state):
    """Python source of `value`."""
    try:
        return _value_source(value, depth, state)
    except _Opaque:
        if state.culprit is None:
            state.culprit = value
        raise


def _value_source(value, depth, state):
    kind = type(value)
    budget = state.budget
    if value is None or kind is bool:
        text = repr(value)
    elif kind is str or kind is bytes:
        if len(value) >= budget[0]:
            raise _Opaque('size')
        text = repr(value)
    elif kind is int:
        text = _int_source(value, budget[0])
    elif kind is float:
        text = _float_source(value)
    elif kind is complex:
        text = f'complex({_float_source(value.real)}, {_float_source(value.imag)})'
    elif kind is bytearray:
        if len(value) >= budget[0]:
            raise _Opaque('size')
        text = f'bytearray({bytes(value)!r})'
    elif kind is list or kind is tuple or kind is dict or kind is set or kind is frozenset:
        return _container_source(value, kind, depth, state)
    elif state.kinds is None:
        raise _Opaque('type')
    elif kind in _REFERENCE_TYPES or type in _TYPE_MRO.__get__(kind, type):
        text = _reference_source(value, kind, depth, state)
    elif kind in _SEQUENCE_ITERATORS:
        return _iterator_source(value, kind, depth, state)
    elif kind is _GeneratorType and state.given:
        return _genexpr_source(value, depth, state)
    else:
        return _object_source(value, kind, depth, state)
    budget[0] -= len(text)
    if budget[0] < 0:
        raise _Opaque('size')
    return text


def _int_source(value, budget):
    # Decimal digits are about bits * log10(2); checking first avoids building a huge
    # string, and 3.11+ refuses repr() beyond 4300 digits anyway.
    if value.bit_length() * 0.30103 > budget + 1:
        raise _Opaque('size')
    try:
        return repr(value)
    except ValueError:
        raise _Opaque('size') from None


def _float_source(value):
    if value != value:
        return "float('nan')"
    if value == _INF:
        return "float('inf')"
    if value == -_INF:
        return "-float('inf')"
    return repr(value)


def _container_source(value, kind, depth, state):
    if depth >= state.max_depth:
        raise _Opaque('depth')
    key = id(value)
    path = state.path
    if key in path:
        raise _Opaque('cycle')
    budget = state.budget
    budget[0] -= 2 * len(value)  # brackets and separators, before encoding anything
    if budget[0] < 0:
        raise _Opaque('size')
    path.add(key)
    try:
        if kind is dict:
            parts = [_source(k, depth + 1, state) + ': ' + _source(v, depth + 1, state)
                     for k, v in list(dict.items(value))]
        else:
            parts = [_source(item, depth + 1, state) for item in list(kind.__iter__(value))]
    finally:
        path.discard(key)
    return _join(kind, parts)


def _join(kind, parts):
    if kind is list:
        return '[' + ', '.join(parts) + ']'
    if kind is tuple:
        return '(' + ', '.join(parts) + (',)' if len(parts) == 1 else ')')
    if kind is dict:
        return '{' + ', '.join(parts) + '}'
    parts.sort()  # set order depends on hashes; sorted sources are deterministic
    if kind is set:
        return '{' + ', '.join(parts) + '}' if parts else 'set()'
    return 'frozenset({' + ', '.join(parts) + '})' if parts else 'frozenset()'


# ---------------------------------------------------------------------------- objects
# Objects are written from their state, read the way the interpreter's C code reads it: exact
# types, class namespaces through `type`'s own descriptors, instance dicts through the
# C-level `__dict__` getset descriptor, slots through their member descriptors. Nothing the
# program defines (`__repr__`, `__eq__`, `__getattr__`, properties) is called.

class _SlotProbe(object):  # noqa: UP004 (Python 2: a new-style class)
    __slots__ = ('x',)


_MEMBER_DESCRIPTOR = type(_SlotProbe.__dict__['x'])
_GETSET_DESCRIPTOR = type(type.__dict__['__dict__'])
del _SlotProbe
_IDENTIFIER_START = frozenset('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_')
# Builtin bases a project class may extend, and how their content is read without the
# subclass's own methods (the base's C functions called on the object).
# A builtin base whose content an object carries beside its state: a namedtuple's
# subclass (``class Url(namedtuple('Url', ...))``, methods added) carries a tuple.
_CONTENT_BASES = ('dict', 'list', 'set', 'str', 'int', 'tuple')
# The standard library's value types written as constructors (module, qualname).
_STDLIB_TYPES = {
    ('datetime', 'datetime'), ('datetime', 'date'), ('datetime', 'time'),
    ('datetime', 'timedelta'), ('datetime', 'timezone'), ('decimal', 'Decimal'),
    ('fractions', 'Fraction'), ('uuid', 'UUID'), ('pathlib', 'PurePosixPath'),
    ('pathlib', 'PosixPath'), ('pathlib', 'PureWindowsPath'), ('collections', 'OrderedDict'),
    ('collections', 'defaultdict'), ('collections', 'Counter'), ('collections', 'deque'),
    ('re', 'Pattern'), ('builtins', 'range'), ('builtins', 'slice'),
    ('functools', 'partial'),
}
# What `re` and `datetime` call their C types' modules (`_sre`, `_datetime`...).
_MODULE_ALIASES = {'_datetime': 'datetime', '_decimal': 'decimal', '_pydecimal': 'decimal',
                   'decimal': 'decimal', '_collections': 'collections', '_sre': 're',
                   're': 're', 'builtins': 'builtins', 'uuid': 'uuid', 'pathlib': 'pathlib',
                   'fractions': 'fractions', 'datetime': 'datetime',
                   'collections': 'collections', 'functools': 'functools'}
_FACTORIES = {list: 'list', dict: 'dict', set: 'set', int: 'int', str: 'str', float: 'float',
              tuple: 'tuple', bool: 'bool'}
_STDLIB_NAMES = frozenset(getattr(sys, 'stdlib_module_names', ()))


class _Kinds:
    """Which modules are the project's (their file is traced) or the standard library's,
    by module name, cached: no class or module object is held."""

    def __init__(self, roots):
        self.roots = roots
        self.cache = {}

    def of(self, module):
        kind = self.cache.get(module)
        if kind is None:
            kind = self.cache[module] = self._decide(module)
        return kind

    def _decide(self, module):
        loaded = sys.modules.get(module)
        try:
            namespace = object.__getattribute__(loaded, '__dict__') if loaded is not None else {}
        except Exception:
            namespace = {}
        filename = dict.get(namespace, '__file__') if type(namespace) is dict else None
        if type(filename) is str and traced_path(filename, self.roots) is not None:
            return 'project'
        top = module.partition('.')[0]
        if top in _STDLIB_NAMES or (not _STDLIB_NAMES and _old_stdlib(top)):
            return 'stdlib'
        return 'other'


# Modules, functions and classes are written by name (an object holding `json` or
# `hashlib.sha1` as a strategy), when the name gives back the very object: the standard
# library's with its import, the project's classes through the class marker. Names are read
# through the C-level descriptors of the exact types, and looked up in the modules' dicts.
_ModuleType = type(sys)
_BuiltinType = type(len)
_REFERENCE_TYPES = frozenset({_ModuleType, _BuiltinType, type(_int_source)})
_NAME_READERS = {
    _BuiltinType: (_BuiltinType.__dict__['__module__'], _BuiltinType.__dict__['__qualname__']),
    type(_int_source): (type(_int_source).__dict__['__module__'],
                        type(_int_source).__dict__['__qualname__']),
}
_MODULE_DICT = _ModuleType.__dict__['__dict__']


def _reference_source(value, kind, depth, state):
    try:
        return _named_source(value, kind, state)
    except _Opaque:
        if kind is not _FunctionType:
            raise
        return _function_source(value, depth, state)


def _named_source(value, kind, state):
    if kind is _ModuleType:
        module, qualname = dict.get(_MODULE_DICT.__get__(value, kind), '__name__'), ''
    elif kind in _NAME_READERS:
        module_reader, name_reader = _NAME_READERS[kind]
        module, qualname = module_reader.__get__(value, kind), name_reader.__get__(value, kind)
    else:
        module = _TYPE_MODULE.__get__(value, type)
        qualname = _TYPE_QUALNAME.__get__(value, type)
    if type(module) is not str or type(qualname) is not str or '<' in qualname:
        raise _Opaque('type')
    if _named_object(module, qualname) is not value:
        raise _Opaque('type')  # not what its name gives (a bound method, a rebound name)
    where = 'stdlib' if module == 'builtins' else state.kinds.of(module)
    if module == 'builtins':
        return qualname
    if where == 'stdlib':
        state.imports.add(module)
        return module + '.' + qualname if qualname else module
    if where == 'project' and qualname and kind not in _REFERENCE_TYPES:
        return _class_reference(module, qualname, where, state)
    raise _Opaque('type')


# ---------------------------------------------------------------------------- functions
# A function passed as a value (`key=lambda x: x[1]`, a test's `def iseven(x): return x % 2
# == 0`) is written as a lambda, from the text of its own source file, when that text is
# all it needs: no defaults, a single expression, and no free name but a builtin the
# function's module does not rebind, a standard-library module it imported under its own
# name (`math.floor(x)`, with the import) or a variable of the function it was made in (its
# closure, bound around it to the value it holds). The text found is compiled here,
# on the traced Python, and kept only if it gives the very bytecode, names and constants of
# the function's code: a wrong guess (two lambdas on one line, a file edited since) is never
# written. Nothing of the program runs: a function's parts are read through the C-level
# descriptors of its exact type, and the source file is only read and compiled.
_FunctionType = type(_int_source)
_CodeType = type(_int_source.__code__)
_FUNCTION_PARTS = {name: _FunctionType.__dict__[name] for name in (
    '__code__', '__closure__', '__globals__', '__defaults__', '__kwdefaults__')}
_CellType = type((lambda bound: lambda: bound)(0).__closure__[0])
_CELL_CONTENTS = _CellType.__dict__['cell_contents']
# Builtins whose answer depends on the run rather than the arguments, or that reach out of
# the function (a problem's test must not print, open or import).
_UNWRITTEN_BUILTINS = frozenset((
    'id', 'hash', 'open', 'print', 'input', 'eval', 'exec', 'compile', '__import__',
    'globals', 'locals', 'vars', 'dir', 'breakpoint', 'exit', 'quit', 'help', 'setattr',
    'delattr', 'memoryview', 'super'))
# Standard-library modules a written function may use: those whose answers depend on the
# arguments only (not `random`, `time`, `os`).
_PURE_MODULES = frozenset((
    'math', 'cmath', 'operator', 're', 'string', 'functools', 'itertools', 'collections',
    'decimal', 'fractions', 'json', 'statistics', 'textwrap', 'unicodedata', 'copy',
    'bisect', 'heapq', 'keyword'))
_UNBOUND = object()
_BUILTIN_NAMES = frozenset(sys.modules['builtins'].__dict__)
_MAX_SOURCE_FILE = 1000000  # bytes: a larger file is not parsed for its lambdas
_FUNCTION_TEXTS = {}  # _code_key(code) -> (text, free names) or None, once per code
_FILE_LINES = {}  # file name -> {line: [text, ...]}: the few most recent files only
_MAX_FILES = 4


def _function_source(value, depth, state):
    part = _FUNCTION_PARTS
    if (part['__defaults__'].__get__(value, _FunctionType) is not None
            or part['__kwdefaults__'].__get__(value, _FunctionType) is not None):
        raise _Opaque('type')
    code = part['__code__'].__get__(value, _FunctionType)
    text, free = _code_text(code)
    _check_free_names(free, part['__globals__'].__get__(value, _FunctionType), state)
    closure = part['__closure__'].__get__(value, _FunctionType)
    if closure is None:
        return text
    # `lambda x: x > limit` in a test's function: the variables it reads of that function,
    # as they are now, bound by a lambda around it (`(lambda limit: lambda x: ...)(3)`).
    if depth >= state.max_depth:
        raise _Opaque('depth')  # a function whose closure holds itself, among others
    values = []
    for cell in tuple.__iter__(closure):
        try:
            values.append(_source(_CELL_CONTENTS.__get__(cell, _CellType), depth + 1, state))
        except ValueError:  # a variable not yet bound
            raise _Opaque('type') from None
    return _bound(code.co_freevars, text, values)


def _bound(names, text, values):
    """`text` with its free variables `names` bound to the sources `values`."""
    return '(lambda ' + ', '.join(names) + ': ' + text + ')(' + ', '.join(values) + ')'


def _code_text(code):
    """(text, free names) of a lambda's or generator expression's code, found once per code
    (see `_lambda_text`); _Opaque when it has none."""
    key = _code_key(code)
    if key not in _FUNCTION_TEXTS:
        if len(_FUNCTION_TEXTS) > 10000:
            _FUNCTION_TEXTS.clear()
        _FUNCTION_TEXTS[key] = _lambda_text(code, key)
    found = _FUNCTION_TEXTS[key]
    if found is None:
        raise _Opaque('type')
    return found


def _check_free_names(free, namespace, state):
    """Raise _Opaque unless each free name of a written text is a builtin its module does not
    rebind or a pure standard-library module it imported under its own name; the latter
    are imported by the test (added to `state.imports`)."""
    if type(namespace) is not dict:
        raise _Opaque('type')
    imports = []
    for name in free:
        bound = dict.get(namespace, name, _UNBOUND)
        if bound is _UNBOUND and name in _BUILTIN_NAMES:
            continue
        # `math.floor(x)`: a standard-library module the function's module imported under
        # its own name, which the test imports too. Anything else the module binds (its
        # own helpers, a rebound builtin) is not in the text.
        if (name not in _PURE_MODULES or type(bound) is not _ModuleType
                or _module_name(bound) != name or state.kinds.of(name) != 'stdlib'):
            raise _Opaque('type')
        imports.append(name)
    state.imports.update(imports)


def _module_name(module):
    return dict.get(_MODULE_DICT.__get__(module, _ModuleType), '__name__')


def _code_key(code):
    """What two code objects must share to do the same thing, as plain values (line
    numbers, names and file aside). Of the flags, only those of the code itself count: not
    whether it was nested, nor the file's `from __future__` imports."""
    consts = tuple(_code_key(c) if type(c) is _CodeType else (type(c).__name__, repr(c))
                   for c in code.co_consts)
    return (code.co_code, consts, code.co_names, code.co_varnames, code.co_freevars,
            code.co_cellvars, code.co_argcount, code.co_kwonlyargcount,
            code.co_flags & 0xffef)


def _lambda_text(code, key):
    """The lambda text of the function compiled into `code` and the free names it reads, or
    None."""
    if (code.co_name not in ('<lambda>', '<genexpr>')
            and code.co_consts[:1] != (None,)):
        return None  # a def with a docstring: its constants differ from a lambda's
    for text in _file_lines(code.co_filename).get(code.co_firstlineno, ()):
        try:
            free = _free_names(text)
            if free is None:
                continue
            # A generator expression's iterable is filled in; the variables of the test's
            # function it reads (its closure) are bound by a lambda around it.
            free = free - _ITERABLE_NAMES - frozenset(code.co_freevars)
            # A name other than a builtin can only be a module the file imported: 3.11
            # compiles `math.floor(x)` otherwise when `math` is a top-level import.
            imports = ''.join(f'import {name}\n' for name in sorted(free)
                              if name not in _BUILTIN_NAMES)
            if code.co_freevars:
                wrapped = '(lambda ' + ', '.join(code.co_freevars) + ': ' + text + ')\n'
            else:
                wrapped = '(' + text + ')\n'
            compiled = compile(imports + wrapped, '<citrace>', 'exec', dont_inherit=True)
        except Exception:  # SyntaxError, ValueError, MemoryError, RecursionError
            continue
        inner = [c for c in compiled.co_consts if type(c) is _CodeType]
        if code.co_freevars and len(inner) == 1:
            inner = [c for c in inner[0].co_consts if type(c) is _CodeType]
        if len(inner) == 1 and _code_key(inner[0]) == key:
            return text, free
    return None


def _free_names(text):
    """The names a lambda's text reads but does not bind; None if one of them is a builtin
    a problem's test must not call."""
    import ast
    tree = ast.parse(text, mode='eval')
    bound, read = set(), set()
    for node in ast.walk(tree):
        if type(node) is ast.arg:
            bound.add(node.arg)
        elif type(node) is ast.Name:
            (read if type(node.ctx) is ast.Load else bound).add(node.id)
    free = frozenset(read - bound)
    return None if free & _UNWRITTEN_BUILTINS else free


def _file_lines(filename):
    """Candidate lambda texts of a source file, by the line a function's code starts on."""
    found = _FILE_LINES.get(filename)
    if found is None:
        try:
            found = _lambda_texts(filename)
        except Exception:  # unreadable, not Python, too deep: no text from it
            found = {}
        if len(_FILE_LINES) >= _MAX_FILES:
            del _FILE_LINES[next(iter(_FILE_LINES))]
        _FILE_LINES[filename] = found
    return found


def _lambda_texts(filename):
    import ast
    import io
    import stat
    import tokenize
    status = os.stat(filename)
    if not stat.S_ISREG(status.st_mode) or status.st_size > _MAX_SOURCE_FILE:
        return {}  # a code object may name any path: never wait on a pipe for its text
    with tokenize.open(filename) as handle:
        source = handle.read()
    lines = source.splitlines()
    texts = {}
    for node in ast.walk(ast.parse(source)):
        if type(node) is ast.Lambda:
            text = _expression_text(lines, node.lineno, node.col_offset, io, tokenize)
        elif type(node) is ast.GeneratorExp:
            text = _genexpr_text(lines, node, io, tokenize)
        elif type(node) is ast.FunctionDef and not node.decorator_list:
            # `def f(x): return ...`: the same code as `lambda x: ...` (its name aside).
            returned = node.body[0] if len(node.body) == 1 else None
            args = node.args
            if (type(returned) is not ast.Return or returned.value is None or args.defaults
                    or args.kwonlyargs or getattr(args, 'posonlyargs', None)
                    or node.returns is not None
                    or any(a.annotation is not None for a in args.args)):
                continue
            body = _expression_text(lines, returned.value.lineno,
                                    returned.value.col_offset, io, tokenize)
            names = [a.arg for a in args.args]
            if args.vararg is not None:
                names.append('*' + args.vararg.arg)
            if args.kwarg is not None:
                names.append('**' + args.kwarg.arg)
            text = body and ('lambda ' + ', '.join(names) if names else 'lambda') + ': ' + body
        else:
            continue
        if text:
            texts.setdefault(node.lineno, []).append(text)
    return texts


def _expression_text(lines, lineno, col, io, tokenize):
    """The text of the expression that starts at (lineno, col) and fits on that line: up to
    the comma, closing bracket or end of statement that ends it; None if it goes on."""
    line = lines[lineno - 1]
    # Column offsets count UTF-8 bytes.
    start = len(line.encode('utf-8')[:col].decode('utf-8', 'replace'))
    tail = line[start:]
    depth, colons, end = 0, 0, None
    try:
        for token in tokenize.generate_tokens(io.StringIO(tail + '\n').readline):
            kind, string = token[0], token[1]
            if kind == tokenize.NAME and string == 'lambda' and depth == 0:
                colons += 1  # its parameters run to its colon: their commas end nothing
            elif kind == tokenize.OP:
                if string in ('(', '[', '{'):
                    depth += 1
                elif string in (')', ']', '}'):
                    if depth == 0:
                        end = token[2][1]
                        break
                    depth -= 1
                elif depth == 0 and string == ':' and colons:
                    colons -= 1
                elif depth == 0 and (string == ':' or (
                        string in (',', ';', '=') and not colons)):
                    end = token[2][1]
                    break
            elif kind in (tokenize.NEWLINE, tokenize.COMMENT, tokenize.ENDMARKER) and depth == 0:
                end = token[2][1]
                break
            elif kind == tokenize.NAME and depth == 0 and string in ('for', 'async'):
                return None
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return None  # the expression goes on to the next line
    if end is None:
        return None
    text = tail[:end].strip()
    return text or None


# An iterator over a list, tuple, str, bytes or range is written as `iter(<what is left>)`:
# its type's own C `__reduce__` gives the sequence and the position without drawing.
_SEQUENCE_ITERATORS = frozenset(type(iter(empty)) for empty in (
    [], (), '', '\u00e9', b'', range(0)))


def _iterator_source(value, kind, depth, state):
    return 'iter(' + _source(_iterator_rest(value, kind), depth + 1, state) + ')'


def _iterator_rest(value, kind):
    """What a sequence iterator has left to hand out, as a sequence of the same type."""
    reduced = _TYPE_DICT.__get__(kind, type)['__reduce__'](value)
    sequence = reduced[1][0]
    position = reduced[2] if len(reduced) > 2 and reduced[2] is not None else 0
    return sequence[position:]


def _named_object(module, qualname):
    """What ``module.qualname`` names, read from dicts only (no module `__getattr__`)."""
    found = sys.modules.get(module)
    for part in qualname.split('.') if qualname else ():
        if type(found) is _ModuleType:
            namespace = _MODULE_DICT.__get__(found, _ModuleType)
        elif type in _TYPE_MRO.__get__(type(found), type):
            namespace = _TYPE_DICT.__get__(found, type)
        else:
            return None
        found = namespace.get(part)
    return found


_STDLIB_DIR = os.path.dirname(os.path.abspath(os.__file__))


def _old_stdlib(top):
    """Before 3.10 (no ``sys.stdlib_module_names``): a builtin module, or one loaded from the
    interpreter's own library directory, not from its site-packages."""
    if top in sys.builtin_module_names:
        return True
    loaded = sys.modules.get(top)
    if type(loaded) is not _ModuleType:
        return False
    filename = dict.get(_MODULE_DICT.__get__(loaded, _ModuleType), '__file__')
    if type(filename) is not str:
        return False
    return (os.path.abspath(filename).startswith(_STDLIB_DIR + os.sep)
            and 'site-packages' not in filename and 'dist-packages' not in filename)


def _object_source(value, kind, depth, state):
    if depth >= state.max_depth:
        raise _Opaque('depth')
    module = _TYPE_MODULE.__get__(kind, type)
    qualname = _TYPE_QUALNAME.__get__(kind, type)
    if type(module) is not str or type(qualname) is not str:
        raise _Opaque('type')
    stdlib = (_MODULE_ALIASES.get(module), qualname)
    if stdlib in _STDLIB_TYPES or (stdlib[0] == 're' and qualname == 'SRE_Pattern'):
        text = _stdlib_source(value, stdlib, depth, state)
    else:
        where = state.kinds.of(module)
        if where == 'other' or '<' in qualname:
            raise _Opaque('type')  # a third party's class, or one defined in a function
        key = id(value)
        if key in state.path:
            raise _Opaque('cycle')
        state.path.add(key)
        try:
            text = _class_instance_source(value, kind, module, qualname, where, depth, state)
        finally:
            state.path.discard(key)
        return text
    state.budget[0] -= len(text)
    if state.budget[0] < 0:
        raise _Opaque('size')
    return text


def _stdlib_source(value, which, depth, state):
    module, name = which
    if module == 'builtins':
        if name == 'range':
            return f'range({value.start}, {value.stop}, {value.step})'
        parts = [_source(part, depth + 1, state)
                 for part in (value.start, value.stop, value.step)]
        return 'slice(' + ', '.join(parts) + ')'
    state.imports.add(module)
    if module == 'datetime':
        return _datetime_source(value, name, depth, state)
    if module in ('decimal', 'uuid', 'pathlib'):
        text = str(value)  # the standard library's own __str__ (exact type checked)
        return f'{module}.{name}({text!r})'
    if module == 'fractions':
        return f'fractions.Fraction({value.numerator}, {value.denominator})'
    if module == 're':
        pattern = _source(value.pattern, depth + 1, state)
        return f're.compile({pattern}, {value.flags})'
    if module == 'functools':
        return _partial_source(value, depth, state)
    inner = depth + 1
    if name == 'deque':
        items = _container_source(list(value), list, inner, state)
        maxlen = value.maxlen
        return f'collections.deque({items})' if maxlen is None else (
            f'collections.deque({items}, {maxlen})')
    pairs = list(dict.items(value))
    if name == 'OrderedDict':
        items = _container_source([(k, v) for k, v in pairs], list, inner, state)
        return f'collections.OrderedDict({items})'
    content = _container_source(dict(pairs), dict, inner, state)
    if name == 'Counter':
        return f'collections.Counter({content})'
    factory = value.default_factory
    if factory is None:
        return f'collections.defaultdict(None, {content})'
    if factory not in _FACTORIES:
        raise _Opaque('type')
    return f'collections.defaultdict({_FACTORIES[factory]}, {content})'


def _partial_source(value, depth, state):
    """`functools.partial(f, 1, k=2)`, its parts read by the type's own C `__reduce__`: the
    function is written like any value (a builtin, a name, a lambda)."""
    kind = type(value)
    _, _, (function, args, keywords, attributes) = _TYPE_DICT.__get__(kind, type)[
        '__reduce__'](value)
    if attributes or (keywords and not all(
            type(k) is str and k.isidentifier() for k in dict.keys(keywords))):
        raise _Opaque('type')
    inner = depth + 1
    parts = [_source(function, inner, state)]
    parts += [_source(arg, inner, state) for arg in tuple.__iter__(args)]
    parts += [k + '=' + _source(v, inner, state) for k, v in dict.items(keywords or {})]
    return 'functools.partial(' + ', '.join(parts) + ')'


# ---------------------------------------------------------------- generator expressions
# A generator expression a test passes (`chunked((i * i for i in range(7)), 3)`) is written
# from its own source text as a lambda is (same checks: its code compiled from that text,
# its free names builtins or pure modules), with the iterable it was made over written in
# place of the text that named it, `(i * i for i in range(0, 7, 1))`, and the variables of
# the test's function it reads bound by a lambda around it. Only one not yet started, and
# only as an argument: all it will hand out is then in that text and those values, and a
# fresh one in each assert hands out the same. They are read from its frame, which has not
# run: nothing is drawn. A generator a function made stays opaque.
_GeneratorType = type(_x for _x in ())
_GENERATOR_PARTS = {name: _GeneratorType.__dict__[name] for name in (
    'gi_code', 'gi_frame', 'gi_running')}
_GI_SUSPENDED = _GeneratorType.__dict__.get('gi_suspended')  # 3.11+
_ITERABLE_NAME = '_citrace_iterable_'  # where a text's iterable goes
_ITERABLE_NAMES = frozenset((_ITERABLE_NAME,))


def _genexpr_source(value, depth, state):
    part = _GENERATOR_PARTS
    frame = part['gi_frame'].__get__(value, _GeneratorType)
    code = part['gi_code'].__get__(value, _GeneratorType)
    if (frame is None or part['gi_running'].__get__(value, _GeneratorType)
            or code.co_name != '<genexpr>' or code.co_argcount != 1):
        raise _Opaque('type')
    if _GI_SUSPENDED is not None:
        started = _GI_SUSPENDED.__get__(value, _GeneratorType)
    else:
        started = frame.f_lasti != -1
    if started:
        raise _Opaque('type')  # some of it drawn already: its text says too much
    text, free = _code_text(code)
    _check_free_names(free, frame.f_globals, state)
    # The first argument of a generator expression's code is the iterator of its iterable.
    iterator = frame.f_locals[code.co_varnames[0]]
    kind = type(iterator)
    if kind in _SEQUENCE_ITERATORS:
        iterable = _source(_iterator_rest(iterator, kind), depth + 1, state)
    else:  # another generator expression, nested; anything else is opaque
        iterable = _source(iterator, depth + 1, state)
    if iterable.startswith('lambda'):
        iterable = '(' + iterable + ')'
    text = text.replace(_ITERABLE_NAME, iterable, 1)
    if not code.co_freevars:
        return text
    # `(x + n for x in xs)` in a test's function: `(lambda n: (x + n for x in [3]))(10)`,
    # with the values its variables hold now (a later change would show in validation).
    f_locals = frame.f_locals
    values = []
    for name in code.co_freevars:
        try:
            values.append(_source(f_locals[name], depth + 1, state))
        except KeyError:  # a variable not yet bound
            raise _Opaque('type') from None
    return _bound(code.co_freevars, text, values)


def _genexpr_text(lines, node, io, tokenize):
    """`(<element> for <target> in _citrace_iterable_ ...)`: the text of a generator
    expression on one line, its first iterable replaced by a placeholder; None when it
    spans lines. Read with the tokenizer from its parenthesis (3.8's ast puts its column
    there, older ones at the element after it), so it needs no end positions (3.8's)."""
    line = lines[node.lineno - 1]
    start = len(line.encode('utf-8')[:node.col_offset].decode('utf-8', 'replace'))
    head = line[:start].rstrip()
    if line[start:start + 1] == '(':
        paren = start  # a sole argument's starts at the call's parenthesis, its own
    elif head.endswith('('):
        paren = len(head) - 1
    else:
        return None
    tail = line[paren:]
    depth, after_for, iterable, iterable_end, end = 0, False, None, None, None
    try:
        for token in tokenize.generate_tokens(io.StringIO(tail + '\n').readline):
            kind, string = token[0], token[1]
            if kind == tokenize.OP and string in ('(', '[', '{'):
                depth += 1
            elif kind == tokenize.OP and string in (')', ']', '}'):
                depth -= 1
                if depth == 0:
                    end = token[3][1]
                    break
            elif kind == tokenize.NAME and depth == 1:
                if string == 'for' and not after_for:
                    after_for = True
                elif string == 'in' and after_for and iterable is None:
                    iterable = token[3][1]  # the first iterable starts after its `in`
                elif (string in ('for', 'if', 'async') and iterable is not None
                      and iterable_end is None):
                    iterable_end = token[2][1]
            elif kind in (tokenize.NEWLINE, tokenize.ENDMARKER):
                return None
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return None  # it goes on to the next line
    if iterable is None or end is None:
        return None
    if iterable_end is None:
        iterable_end = end - 1  # the closing parenthesis
    before = tail[:iterable].rstrip()
    rest = tail[iterable_end:end].strip()
    if _ITERABLE_NAME in before + rest:
        return None
    return before + ' ' + _ITERABLE_NAME + ('' if rest == ')' else ' ') + rest


def _datetime_source(value, name, depth, state):
    if name == 'timedelta':
        return (f'datetime.timedelta(days={value.days}, seconds={value.seconds}, '
                f'microseconds={value.microseconds})')
    if name == 'timezone':
        if value is value.utc:
            return 'datetime.timezone.utc'
        offset = _datetime_source(value.utcoffset(None), 'timedelta', depth, state)
        return f'datetime.timezone({offset}, {value.tzname(None)!r})'
    if name == 'date':
        return f'datetime.date({value.year}, {value.month}, {value.day})'
    fields = [value.hour, value.minute, value.second, value.microsecond]
    if name == 'datetime':
        fields = [value.year, value.month, value.day] + fields
    text = ', '.join(str(field) for field in fields)
    tzinfo = value.tzinfo
    if tzinfo is not None:
        module = _TYPE_MODULE.__get__(type(tzinfo), type)
        if (_MODULE_ALIASES.get(module), _TYPE_QUALNAME.__get__(type(tzinfo), type)) != (
                'datetime', 'timezone'):
            raise _Opaque('type')  # a third party's tzinfo (pytz, dateutil): its own code
        text += ', tzinfo=' + _datetime_source(tzinfo, 'timezone', depth, state)
    if value.fold:
        text += ', fold=1'
    return f'datetime.{name}({text})'


def _class_reference(module, qualname, where, state):
    if where == 'stdlib':
        state.imports.add(module)  # `import email.message` binds `email` and loads it
        return f'{module}.{qualname}'
    state.classes.add((module, qualname))
    return f'_citrace_class({module!r}, {qualname!r})'


def _class_instance_source(value, kind, module, qualname, where, depth, state):
    """An enum member, a namedtuple, or a plain object of the project (or the standard
    library, for enums and namedtuples)."""
    mro = _TYPE_MRO.__get__(kind, type)
    metaclass = type(kind)
    enum_module = sys.modules.get('enum')
    enum_meta = getattr(enum_module, 'EnumMeta', None) if enum_module is not None else None
    if enum_meta is not None and metaclass is enum_meta or (
            enum_meta is not None and type(metaclass) is type and enum_meta in
            _TYPE_MRO.__get__(metaclass, type) and _TYPE_MODULE.__get__(metaclass, type)
            == 'enum'):
        name = dict.get(_instance_dict(value), '_name_')
        if type(name) is not str:
            raise _Opaque('type')
        reference = _class_reference(module, qualname, where, state)
        if name[:1] in _IDENTIFIER_START and name.replace('_', 'a').isalnum():
            return f'{reference}.{name}'
        return f'{reference}[{name!r}]'
    if metaclass is not type and not _is_abc_meta(metaclass):
        raise _Opaque('custom')  # a metaclass of the program's: its own attribute rules
    fields = _TYPE_DICT.__get__(kind, type).get('_fields')
    if tuple in mro and type(fields) is tuple and len(mro) == 3 and mro[1] is tuple:
        items = [_source(item, depth + 1, state) for item in tuple.__iter__(value)]
        reference = _class_reference(module, qualname, where, state)
        return f'{reference}(' + ', '.join(items) + ')'
    if where != 'project':
        raise _Opaque('type')
    for klass in mro[:-1]:
        namespace = _TYPE_DICT.__get__(klass, type)
        if '__getattribute__' in namespace and _TYPE_MODULE.__get__(klass, type) != 'builtins':
            raise _Opaque('custom')  # reads of its own attributes run its code
    content = None
    for klass in mro:
        if klass is object:
            break
        base = _TYPE_QUALNAME.__get__(klass, type)
        if _TYPE_MODULE.__get__(klass, type) == 'builtins':
            if base not in _CONTENT_BASES:
                raise _Opaque('type')
            content = _content_source(value, klass, depth, state)
            break
    fields = _object_state(value, kind, mro, depth, state)
    reference = _class_reference(module, qualname, where, state)
    text = f'_citrace_object({reference}, {fields}'
    return text + (f', {content})' if content is not None else ')')


def _is_abc_meta(metaclass):
    """The standard library's ABCMeta (abstract base classes): it changes isinstance checks,
    not how attributes are read."""
    for module in ('abc', '_py_abc'):
        loaded = sys.modules.get(module)
        if type(loaded) is _ModuleType and dict.get(
                _MODULE_DICT.__get__(loaded, _ModuleType), 'ABCMeta') is metaclass:
            return True
    return False


def _content_source(value, base, depth, state):
    if base is dict:
        return _container_source(dict(dict.items(value)), dict, depth + 1, state)
    if base is list:
        return _container_source(list(list.__iter__(value)), list, depth + 1, state)
    if base is set:
        return _container_source(set(set.__iter__(value)), set, depth + 1, state)
    if base is tuple:
        return _container_source(tuple(tuple.__iter__(value)), tuple, depth + 1, state)
    if base is str:
        return _source(str.__str__(value), depth + 1, state)
    return _source(int.__index__(value), depth + 1, state)


def _object_state(value, kind, mro, depth, state):
    """``{'name': value, ...}``: the instance dict, then the slots that are set."""
    parts = []
    fields = _instance_dict(value)
    if not fields and _class_attribute(kind, '__dict__') is not None and type(
            _class_attribute(kind, '__dict__')) is not _GETSET_DESCRIPTOR:
        raise _Opaque('custom')  # `__dict__` replaced by the program's own descriptor
    for name, item in list(dict.items(fields)):
        if type(name) is not str:
            raise _Opaque('type')
        parts.append(repr(name) + ': ' + _source(item, depth + 1, state))
    for klass in mro:
        for name, attribute in list(_TYPE_DICT.__get__(klass, type).items()):
            if type(attribute) is _MEMBER_DESCRIPTOR and name not in ('__weakref__',):
                try:
                    item = attribute.__get__(value, kind)
                except AttributeError:
                    continue  # a slot never set
                parts.append(repr(name) + ': ' + _source(item, depth + 1, state))
    state.budget[0] -= 2 * len(parts) + 2
    if state.budget[0] < 0:
        raise _Opaque('size')
    return '{' + ', '.join(parts) + '}'


def encode_exception(exc, max_chars=2000):
    """``{"type": qualified name, "message": str(exc)}``; the message only when computing it
    runs no code of the program (BaseException's or KeyError's own ``__str__`` over args
    that are literals), else it is left out."""
    cls = type(exc)
    result = {'type': type_name(cls)}
    message = _exception_message(exc, cls, max_chars)
    if message is not None:
        result['message'] = message
    return result


def _exception_message(exc, cls, max_chars):
    kind = _LITERAL_STR.get(id(_class_attribute(cls, '__str__')))
    if kind is None:
        return None
    args = _EXCEPTION_ARGS.__get__(exc)
    if type(args) is not tuple or 'py' not in encode_value(args, max_chars):
        return None  # encode_value accepts only builtin literals: their str() is safe
    if kind == 'key' and len(args) == 1:
        message = repr(args[0])
    elif len(args) == 1:
        message = str(args[0])
    else:
        message = str(args) if args else ''
    return message if len(message) <= max_chars else None


def _class_attribute(cls, name):
    """What ``cls.name`` finds in the MRO's class dicts, without running descriptors."""
    try:
        for klass in _TYPE_MRO.__get__(cls, type):
            namespace = _TYPE_DICT.__get__(klass, type)
            if name in namespace:
                return namespace[name]
    except RecursionError:
        raise
    except Exception:
        pass
    return None


# ---------------------------------------------------------------------------- what to trace

def traced_path(filename, roots):
    """The normalised path of `filename` when its functions are traced, else None. A root
    is a directory (ending in a separator: every module under it) or one module's file (a
    top-level module installed into site-packages, whose directory is not the project's)."""
    if filename[:1] == '<':
        return None
    path = os.path.normpath(os.path.abspath(filename))
    candidates = [path]
    real = os.path.realpath(path)
    if real != path:
        candidates.append(real)
    for candidate in candidates:
        for root in roots:
            if root[-1:] == os.sep:
                if candidate.startswith(root) and _allowed(candidate[len(root):]):
                    return candidate
            elif candidate == root and _allowed(os.path.basename(root)):
                return candidate
    return None


def _allowed(relative):
    parts = relative.split(os.sep)
    base = parts[-1]
    if any(part in SKIPPED_DIRS for part in parts[:-1]):
        return False
    if not base.endswith(('.py', '.pyw')) or base in SKIPPED_FILES:
        return False
    return not (base.startswith('test_') or base.endswith('_test.py'))


def _normalise_roots(roots):
    """Directories with a trailing separator (/a/b is not under /a/bc); a root that is a
    module's file stays as it is."""
    result = []
    for root in roots:
        path = os.path.normpath(os.path.abspath(root))
        is_file = path.endswith(('.py', '.pyw')) and os.path.isfile(path)
        for variant in (path, os.path.realpath(path)):
            if not is_file:
                variant = os.path.join(variant, '')
            if variant not in result:
                result.append(variant)
    return result


# ---------------------------------------------------------------------------- which test

_UNITTEST_CASE = os.sep + os.path.join('unittest', 'case.py')


def current_test(frame):
    """The running test: pytest's node id, else the id of the unittest test whose
    ``TestCase.run`` is on the stack below `frame`, else None."""
    test = os.environ.get('PYTEST_CURRENT_TEST')
    if test:
        for suffix in (' (call)', ' (setup)', ' (teardown)'):
            if test.endswith(suffix):
                return test[:-len(suffix)]
        return test
    depth = 0
    while frame is not None and depth < _TEST_SEARCH_DEPTH:
        code = frame.f_code
        if code.co_name == 'run' and code.co_filename.endswith(_UNITTEST_CASE):
            return _unittest_id(frame)
        frame = frame.f_back
        depth += 1
    return None


def _test_or_none(frame):
    try:
        return current_test(frame)
    except RecursionError:
        raise
    except Exception:  # an odd frame or TestCase: the call is still worth recording
        return None


def _unittest_id(frame):
    """``TestCase.id()`` of the `self` of a ``TestCase.run`` frame, computed without calling
    it (a test class may override ``id``): ``module.Class.method``, or for doctests (whose
    ``id`` is overridden) the doctest's name."""
    case = frame.f_locals.get('self')
    cls = type(case)
    base = None
    for klass in _TYPE_MRO.__get__(cls, type):
        if type_name(klass) == 'unittest.case.TestCase':
            base = klass
            break
    if base is None:
        return None
    fields = _instance_dict(case)
    if _class_attribute(cls, 'id') is not _class_attribute(base, 'id'):
        doctest = fields.get('_dt_test')  # doctest.DocTestCase
        name = _instance_dict(doctest).get('name') if doctest is not None else None
        if type(name) is str:
            return name
        function = fields.get('_testFunc')  # unittest.FunctionTestCase
        if type(function) is _FunctionType:
            return function.__name__
    method = fields.get('_testMethodName')
    return type_name(cls) + '.' + method if type(method) is str else None


def _instance_dict(obj):
    """``obj.__dict__`` read through its class's own descriptor (a plain dict; {} if none)."""
    descriptor = _class_attribute(type(obj), '__dict__')
    if type(descriptor).__name__ != 'getset_descriptor':
        return {}
    fields = descriptor.__get__(obj, type(obj))
    return fields if type(fields) is dict else {}


# ---------------------------------------------------------------------------- state

class _Fn:
    """A traced function's state in this process."""

    __slots__ = ('code', 'file', 'params', 'seen', 'calls', 'token', 'id', 'module',
                 'toplevel', 'generator', 'start', 'active', 'qualname', 'defaults',
                 'last_test', 'later_tests')

    def __init__(self, code, file):
        self.code = code
        self.file = file
        self.params = _parameters(code)
        self.seen = set()  # hashes of the encoded inputs already recorded
        self.calls = 0
        self.token = None  # the trace file this function's `fn` line was written to
        self.id = 0
        self.module = None  # read from the globals of its first call
        self.toplevel = False
        self.qualname = getattr(code, 'co_qualname', code.co_name)  # 3.11+: the code knows
        self.generator = bool(code.co_flags & CO_GENERATOR)
        self.start = None  # setprofile: the lowest f_lasti seen at a call (a fresh start)
        self.active = 0  # monitoring: calls in flight, for which its events are on
        self.defaults = None  # {parameter: default object}, read at its first opaque argument
        self.last_test = None  # the test its last recorded call came from
        self.later_tests = 0  # past its quota: how many tests have called it since

    def bind(self, frame):
        f_globals = frame.f_globals
        module = dict.get(f_globals, '__name__')
        self.module = module if type(module) is str else '?'
        bound = dict.get(f_globals, self.code.co_name)
        self.toplevel = type(bound) is _FunctionType and bound.__code__ is self.code
        if not self.toplevel and not hasattr(self.code, 'co_qualname'):
            self.qualname = _method_qualname(frame, self.code)


_DESCRIBED = {staticmethod: ('__func__',), classmethod: ('__func__',),
              property: ('fget', 'fset', 'fdel')}


def _method_qualname(frame, code):
    """Before 3.11 a code object has no qualified name: ``Cls.name`` when ``code`` is a
    method of the class of its first argument (``self``; ``cls`` for a class method),
    found by identity in the classes' own dicts (read through ``type``'s C-level slots:
    nothing of the program's runs); else the bare name."""
    found = _method_of(frame, code)
    if found is not None:
        qualname = _TYPE_QUALNAME.__get__(found[0], type)
        if type(qualname) is str:
            return qualname + '.' + code.co_name
    return code.co_name


def _method_of(frame, code):
    """``(class, function)`` when ``code`` is the code of a function held in the dict of
    the class of its first argument, or of one of the module's classes; else None."""
    try:
        classes = []
        if code.co_argcount:
            f_locals = frame.f_locals  # 3.13+: a proxy, read by subscript (C-level too)
            name = code.co_varnames[0]
            first = dict.get(f_locals, name) if type(f_locals) is dict else f_locals[name]
            kind = type(first)
            classes = list(_TYPE_MRO.__get__(kind, type))
            if type in classes:  # the first argument is itself a class: a class method's cls
                classes = list(_TYPE_MRO.__get__(first, type)) + classes
        # A static method has no instance to start from: the module's own classes.
        classes += [value for value in list(dict.values(frame.f_globals))
                    if type in _TYPE_MRO.__get__(type(value), type)]
        for klass in classes:
            value = _TYPE_DICT.__get__(klass, type).get(code.co_name)
            functions = [value]
            if type(value) in _DESCRIBED:
                functions = [getattr(value, name) for name in _DESCRIBED[type(value)]]
            for function in functions:
                function = _unwrapped(function, code)
                if function is not None:
                    return klass, function
    except Exception:  # noqa: BLE001 - a class the probe cannot read: not found
        pass
    return None


def _unwrapped(function, code):
    """The function whose code is ``code``: ``function`` itself, or what a decorator's
    wrapper (functools.wraps) names as what it wraps; None when neither."""
    for _ in range(4):
        if type(function) is not _FunctionType:
            return None
        if function.__code__ is code:
            return function
        function = dict.get(_FUNCTION_DICT.__get__(function, _FunctionType), '__wrapped__')
    return None


def _own_defaults(frame, fn):
    """``{parameter: default}`` of the function running in ``frame``, found by identity
    (its module's global of that name, else a method of its first argument's class); {}
    when it is not found (a nested function). Read through C-level slots only."""
    code = fn.code
    try:
        function = _unwrapped(dict.get(frame.f_globals, code.co_name), code)
        if function is None:
            found = _method_of(frame, code)
            function = found[1] if found is not None else None
        if function is None:
            return {}
        defaults = _FUNCTION_DEFAULTS.__get__(function, _FunctionType)
        kwdefaults = _FUNCTION_KWDEFAULTS.__get__(function, _FunctionType)
    except Exception:  # noqa: BLE001 - a function the probe cannot read: none known
        return {}
    own = {}
    if type(defaults) is tuple and defaults:
        positional = code.co_varnames[:code.co_argcount]
        defaulted = positional[len(positional) - len(defaults):]
        own.update(zip(defaulted, defaults))  # noqa: B905 - the probe runs on 3.6
    if type(kwdefaults) is dict:
        own.update(kwdefaults)
    return own


class _Call:
    """A call in flight: what was encoded at its start."""

    __slots__ = ('fn', 'args', 'key', 'mutables', 'test', 'yields', 'last')

    def __init__(self, fn, args, key, mutables, test):
        self.fn = fn
        self.args = args  # JSON of the encoded arguments
        self.key = key  # hash of `args`: what makes two calls the same call
        self.mutables = mutables  # (name, object) of the mutable arguments, for `after`
        self.test = test
        self.yields = None  # generators: JSON of each value drawn
        self.last = None  # setprofile: JSON of what the generator handed out last


def _parameters(code):
    names = code.co_varnames
    count = code.co_argcount
    kwonly = code.co_kwonlyargcount
    params = [(name, 'pos') for name in names[:count]]
    params.extend((name, 'kwonly') for name in names[count:count + kwonly])
    index = count + kwonly
    if code.co_flags & CO_VARARGS:
        params.append((names[index], 'varargs'))
        index += 1
    if code.co_flags & CO_VARKEYWORDS:
        params.append((names[index], 'varkw'))
    return tuple(params)


def _new_counters():
    return {'calls_seen': 0, 'calls_recorded': 0, 'calls_capped': 0, 'calls_repeated': 0,
            'calls_none_or_raised': 0, 'calls_raised': 0, 'generators_recorded': 0,
            'calls_sampled_out': 0, 'errors': 0, 'bytes_written': 0, 'trace_full': 0}


_GENERATOR_RESULT = _dumps({'opaque': 'builtins.generator', 'why': 'type'})
_FunctionType = type(_new_counters)
_FUNCTION_DICT = _FunctionType.__dict__['__dict__']
_FUNCTION_DEFAULTS = _FunctionType.__dict__['__defaults__']
_FUNCTION_KWDEFAULTS = _FunctionType.__dict__['__kwdefaults__']


# ---------------------------------------------------------------------------- the probe

class Probe:
    """Decides what to trace, encodes calls and writes this process's trace file."""

    def __init__(self, config, backend='setprofile', reason=''):
        self.out_dir = str(config['out_dir'])
        self.roots = _normalise_roots([str(root) for root in config.get('roots', ())])
        # The project's top-level module names: which of them this process imported, and
        # from where, is written at exit (why a run recorded nothing shows in it).
        self.modules = frozenset(str(name) for name in config.get('modules', ()) or ())
        self.limits = dict(DEFAULTS)
        for key in DEFAULTS:
            if config.get(key) is not None:
                self.limits[key] = int(config[key])
        self.backend_name = backend
        self.backend_reason = reason
        self.backend = None  # _Profiler or _Monitor, once attached
        self.cache = {}  # id(code) -> _Fn, or the code object itself when not traced
        self.ignored = set()  # setprofile: ids of the code objects not traced
        self.rejected = {}  # id(code) -> code of functions that reached their cap
        self.files = {}  # co_filename -> normalised path, or None when not traced
        self.pending = {}  # frame (setprofile) or id(frame) (monitoring) -> _Call
        self.suspended = {}  # setprofile: id(frame) -> _Call of a generator being drawn from
        self.counters = _new_counters()
        self.kinds = _Kinds(self.roots)  # which classes' objects are written from their state
        self.off = False
        # The class, held here: a reload of this module (which does not start a second
        # probe) must not make the running callbacks see their own entries as foreign.
        self.fn_class = _Fn
        self._reset_file()

    def _reset_file(self):
        self.lock = _thread.allocate_lock()
        self.pid = os.getpid()
        self.fd = None
        self.token = None
        self.next_id = 1
        self.bytes = 0

    # -- deciding

    def decide(self, code):
        """What the cache holds for a code object: its `_Fn` when traced, else the code."""
        if self.off:
            return code
        filename = code.co_filename
        path = self.files.get(filename, self)
        if path is self:
            path = traced_path(filename, self.roots)
            path = self.files[filename] = None if path == _SELF else path
        flags = code.co_flags
        if not flags & CO_OPTIMIZED:
            # Module and class bodies run once, then are freed: not worth keeping alive.
            return code
        if path is None or code.co_name[:1] == '<' or flags & CO_ASYNC:
            return self._ignore(code)  # not traced, or lambdas and comprehensions
        return self._cache(code, self.fn_class(code, path))

    def _ignore(self, code):
        """setprofile: the callback's first test finds the code's id in `ignored` (the cache
        keeps the code alive meanwhile, so its id cannot be reused). monitoring: DISABLE
        stops its events; nothing is kept."""
        if self.backend_name != 'setprofile':
            return code
        self._cache(code, code)
        self.ignored.add(id(code))
        return code

    def _cache(self, code, value):
        # Keyed by id: code objects compare equal across files (co_filename is not part of
        # their equality), and hashing one is not cheap.
        if len(self.cache) >= _CACHE_LIMIT:
            try:
                kept = [item for item in list(self.cache.items())
                        if type(item[1]) is self.fn_class or item[0] in self.rejected]
            except RuntimeError:  # another thread added to it meanwhile
                kept = []
            # In place: the callbacks hold these.
            self.ignored.clear()
            self.ignored.update(self.rejected)
            self.cache.clear()
            self.cache.update(kept)
        # setdefault: two threads deciding at once must share one _Fn (one `fn` line).
        return self.cache.setdefault(id(code), value)

    def reject(self, fn):
        """No more calls of `fn` are recorded: it costs one lookup per call (setprofile), or
        nothing at all (monitoring)."""
        key = id(fn.code)
        self.rejected[key] = fn.code
        self.cache[key] = fn.code
        self.ignored.add(key)
        if self.backend is not None:
            self.backend.rejected(fn)

    # -- a call's start

    def begin(self, fn, frame):
        """The call starting in `frame`, its arguments encoded; None when it is not recorded
        (its inputs were recorded already, or the probe is off)."""
        if self.off:
            return None
        self.counters['calls_seen'] += 1
        fn.calls += 1
        if fn.calls >= self.limits['max_seen_per_function']:
            self.reject(fn)
        elif fn.calls > _SAMPLE_AFTER and fn.calls & _SAMPLE_MASK:
            # Called this often without filling its quota: the same few inputs, most likely.
            # Encoding them again each time was most of the cost of such hot functions.
            self.counters['calls_sampled_out'] += 1
            return None
        quota = self.limits['max_calls_per_function']
        full = len(fn.seen) >= quota
        if full:
            # Its quota is full: only the first call of a later test may be recorded.
            test = _test_or_none(frame)
            if test is None:
                self.counters['calls_capped'] += 1
                self.reject(fn)  # no test to tell calls apart: nothing more to find
                return None
            if test == fn.last_test or not self.late_turn(fn, test, len(fn.seen) - quota):
                self.counters['calls_capped'] += 1
                return None
        if fn.module is None:
            fn.bind(frame)
        f_locals = frame.f_locals
        args = []
        mutables = []
        for name, kind in fn.params:
            value = f_locals[name]
            encoded = self.encode(value, given=True)
            if 'opaque' in encoded and kind in ('pos', 'kwonly'):
                # A sentinel default (`default=_marker`) has no source, but a call that
                # passed nothing for it can still be written: without that argument.
                if fn.defaults is None:
                    fn.defaults = _own_defaults(frame, fn)
                if name in fn.defaults and fn.defaults[name] is value:
                    encoded = {'opaque': encoded['opaque'], 'why': 'default'}
            args.append([name, kind, encoded])
            cls = type(value)
            if kind in ('pos', 'kwonly') and (cls is list or cls is dict or cls is set
                                             or cls is bytearray or (
                                                 'classes' in encoded and encoded['py'][:16]
                                                 == '_citrace_object(')) and not fn.generator:
                # A plain object (a method's `self` above all) changes like a list does.
                mutables.append((name, value))
        args_json = _dumps(args)
        key = hash(args_json)
        if key in fn.seen:
            self.counters['calls_repeated'] += 1
            return None
        return _Call(fn, args_json, key, mutables, test if full else _test_or_none(frame))

    def late_turn(self, fn, test, late):
        """Whether `test`, which calls `fn` for the first time since its quota filled, gives
        it a late call: each test does for the first _LATE_STRIDE_AFTER late calls, then
        every 2nd test, every 4th...: a long suite is sampled all along, not at its start."""
        fn.last_test = test
        fn.later_tests += 1
        stride = 1 << min(late // _LATE_STRIDE_AFTER, 16)
        return fn.later_tests % stride == 0

    def track(self, frame, call):
        """monitoring: keep `call` until its end event comes, under its frame's address (a
        generator dropped unfinished must not be kept alive by the probe)."""
        pending = self.pending
        if len(pending) >= _PENDING_LIMIT:
            pending.clear()  # generators dropped unfinished, whose end never came
        pending[id(frame)] = call

    # -- a call's end

    def returned(self, call, value):
        if call.yields is not None:
            # setprofile: a generator handing out a value; a yield once it is resumed.
            call.last = _dumps(self.encode(value))
            return
        if value is None and self.backend_name == 'setprofile':
            # The profiler reports a function left by an exception as returning None, and
            # no event tells the two apart. Reading the instruction the frame stopped at
            # would (MonkeyType's way), but opcodes change with every CPython release. So a
            # None result means "returned None or raised": the reader keeps it for what the
            # call did to its arguments, and validation by execution settles which it was.
            self.counters['calls_none_or_raised'] += 1
        self.record(call, ['"ret":' + _dumps(self.encode(value))])

    def raised(self, call, exc):
        self.counters['calls_raised'] += 1
        exc_json = _dumps(encode_exception(exc, self.limits['max_value_chars']))
        if call.fn.generator:
            self.generator_ended(call, exhausted=False, exc_json=exc_json)
        else:
            self.record(call, ['"exc":' + exc_json])

    def suspend(self, frame, call):
        """setprofile: a generator call starts; its values are drawn as it is resumed."""
        suspended = self.suspended
        if len(suspended) >= _SUSPENDED_LIMIT:
            try:
                oldest = next(iter(suspended))
                self.generator_ended(suspended.pop(oldest), exhausted=False)
            except (StopIteration, KeyError, RuntimeError):  # another thread got there
                pass
        suspended[id(frame)] = call

    def drawn(self, call):
        """setprofile: the generator of `call` is resumed, so the value it handed out last
        was drawn from it. False once `max_yields` were drawn: the call is then recorded as
        not exhausted (whether it would have ended, setprofile cannot tell)."""
        if call.last is not None:
            call.yields.append(call.last)
            call.last = None
        if len(call.yields) >= self.limits['max_yields']:
            self.generator_ended(call, exhausted=False)
            return False
        return True

    def yielded(self, call, value):
        """monitoring: a value drawn from a generator. False once `max_yields` were drawn and
        one more was asked for: the call is then recorded as not exhausted."""
        if len(call.yields) >= self.limits['max_yields']:
            self.generator_ended(call, exhausted=False)
            return False
        call.yields.append(_dumps(self.encode(value)))
        return True

    def generator_ended(self, call, exhausted, exc_json=None):
        fields = ['"ret":' + _GENERATOR_RESULT, '"yields":[' + ','.join(call.yields) + ']',
                  '"exhausted":' + ('true' if exhausted else 'false')]
        if exc_json is not None:
            fields.append('"exc":' + exc_json)
        self.counters['generators_recorded'] += 1
        self.record(call, fields)

    def record(self, call, fields):
        fn = call.fn
        if self.off:
            return
        if call.key in fn.seen:
            self.counters['calls_repeated'] += 1
            return
        quota = self.limits['max_calls_per_function']
        late = quota + self.limits['max_late_calls_per_function']
        if len(fn.seen) >= late or (len(fn.seen) >= quota and call.test is None):
            self.counters['calls_capped'] += 1
            self.reject(fn)
            return
        if call.mutables:
            after = [[name, self.encode(obj)] for name, obj in call.mutables]
            fields.append('"after":' + _dumps(after))
        if call.test is not None:
            fields.append('"test":' + _dumps(call.test))
        if self.pid != os.getpid():
            self.after_fork()  # 3.6 has no os.register_at_fork; before taking the lock,
            # which another thread may have held at the time of the fork
        with self.lock:  # the thread switch interval can fall inside the callback
            written = self.write_call(fn, call.args, fields)
        if written:
            fn.seen.add(call.key)
            fn.last_test = call.test
            self.counters['calls_recorded'] += 1
            if len(fn.seen) >= late or (len(fn.seen) >= quota and call.test is None):
                self.reject(fn)  # (no test running: no later test's calls to wait for)

    def encode(self, value, given=False):
        return encode_value(value, self.limits['max_value_chars'], self.limits['max_depth'],
                            self.kinds, given)

    # -- writing

    def write_call(self, fn, args_json, fields):
        if self.fd is None and not self.open():
            return False
        if fn.token is not self.token and not self.write_line(self.fn_line(fn)):
            return False
        line = f'{{"k":"call","fn":{fn.id},"args":{args_json},{",".join(fields)}}}'
        return self.write_line(line)

    def fn_line(self, fn):
        """The `fn` line of a function recorded for the first time in this file."""
        fn.id = self.next_id
        fn.token = self.token
        self.next_id += 1
        code = fn.code
        return _dumps({
            'k': 'fn', 'id': fn.id, 'module': fn.module,
            'qualname': fn.qualname, 'file': fn.file,
            'line': code.co_firstlineno, 'toplevel': fn.toplevel,
            'source_sha1': source_hash(code),
        })

    def write_line(self, line):
        data = (line + '\n').encode('utf-8', 'surrogatepass')
        if self.bytes + len(data) > self.limits['max_trace_bytes']:
            self.counters['trace_full'] = 1
            self.shutdown()
            return False
        try:
            _write_all(self.fd, data)
        except OSError:  # disk full, or the file descriptor was closed under us
            self.counters['errors'] += 1
            self.shutdown()
            return False
        self.bytes += len(data)
        self.counters['bytes_written'] = self.bytes
        return True

    def open(self):
        """Create this process's trace file and write its header; False disables the probe."""
        name = f'trace-{self.pid}-{os.urandom(6).hex()}.jsonl'
        try:
            fd = os.open(os.path.join(self.out_dir, name),
                         os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        except OSError:
            self.counters['errors'] += 1
            self.shutdown()
            return False
        self.fd = fd
        self.token = object()
        header = _dumps({
            'k': 'header', 'format': 'citrace-trace', 'version': FORMAT_VERSION,
            'python': '.'.join(str(part) for part in sys.version_info[:3]), 'pid': self.pid,
            'backend': self.backend_name, 'backend_reason': self.backend_reason,
            'argv': [str(arg) for arg in getattr(sys, 'argv', [])],
        }) + '\n'
        try:
            _write_all(fd, header.encode('utf-8', 'surrogatepass'))
        except OSError:  # a full disk
            self.counters['errors'] += 1
            self.shutdown()
            return False
        self.bytes = len(header)
        return True

    # -- life cycle

    def after_fork(self):
        """In a forked child: a file of its own, its own counters, `fn` lines written again.
        setprofile drops the calls in flight: most belong to threads the child lacks."""
        fd = self.fd
        self._reset_file()
        self.counters = _new_counters()
        if self.backend_name == 'setprofile':
            self.pending.clear()  # frames: they would be kept alive
            self.suspended.clear()  # the parent records these
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass

    def at_exit(self):
        try:
            forked = self.pid != os.getpid()
            self.flush_generators()
            self.shutdown()  # also keeps the backend from attaching again in finalisation
            if forked:
                return  # a forked child (3.6, no register_at_fork) that recorded nothing
            loaded = loaded_modules(self.modules, self.roots)
            if self.fd is None and not (loaded and self.open()):
                return  # nothing recorded, and none of the project's modules imported
            counters = {'k': 'stats'}
            counters.update(self.counters)
            lines = [_dumps(counters)]
            if loaded:
                lines.insert(0, _dumps({'k': 'modules', 'loaded': loaded}))
            # A daemon thread may still be writing; never hang the exit waiting for it.
            if self.lock.acquire(True, 2):
                try:
                    _write_all(self.fd, ''.join(line + '\n' for line in lines).encode(
                        'utf-8', 'surrogatepass'))
                finally:
                    self.lock.release()
        except Exception:
            pass

    def flush_generators(self):
        """Record what was drawn from generators still suspended (or dropped unfinished)."""
        calls = list(self.suspended.values())
        self.suspended.clear()
        if self.backend_name != 'setprofile':
            calls.extend(self.pending.values())  # monitoring: pending holds generators too
        for call in calls:
            if call.yields is not None:
                self.generator_ended(call, exhausted=False)
        self.pending.clear()

    def shutdown(self):
        """Stop recording (other threads may still be in a callback: `off` stops them)."""
        self.off = True
        self.pending.clear()
        self.suspended.clear()
        if self.backend is not None:
            self.backend.detach()


def loaded_modules(names, roots):
    """``[[module, file, traced], ...]``: the modules in ``sys.modules`` whose top-level name
    is one of ``names`` (the project's), the file each was loaded from, and whether the
    roots cover it; sorted, at most _LOADED_LIMIT. Read from the modules' dicts through
    the C-level descriptor, so no code of theirs runs."""
    if not names:
        return []
    found = []
    for name, module in list(sys.modules.items()):
        if type(name) is not str or name.partition('.')[0] not in names:
            continue
        try:
            namespace = _MODULE_DICT.__get__(module, _ModuleType)  # TypeError: no module
        except Exception:
            continue
        filename = dict.get(namespace, '__file__') if type(namespace) is dict else None
        if type(filename) is str:
            # Relative before 3.9 when imported through a relative sys.path entry.
            found.append((name, os.path.normpath(os.path.abspath(filename))))
    found.sort()
    return [[name, filename, traced_path(filename, roots) is not None]
            for name, filename in found[:_LOADED_LIMIT]]


def source_hash(code):
    """SHA-1 of the source lines a function's code spans (its `def` line to the last line
    of its body, nested functions included), read from its file; "" when unreadable. Once
    per function and process: the file is read, no code of the program runs."""
    try:
        first, last = code.co_firstlineno, _last_line(code)
        lines = _source_lines(code.co_filename)
        if not 0 < first <= last <= len(lines):
            return ''
        # Lines with no instruction of their own (a closing bracket, on some versions the
        # last line of a call) end the span too: take the lines indented deeper than the
        # `def` that follow, so that every Python version hashes the same lines.
        indent = len(lines[first - 1]) - len(lines[first - 1].lstrip())
        while last < len(lines) and lines[last].strip() and (
                len(lines[last]) - len(lines[last].lstrip()) > indent):
            last += 1
        import hashlib
        return hashlib.sha1(b''.join(lines[first - 1:last])).hexdigest()
    except Exception:
        return ''


# The lines of the file read last: a module's functions are usually first recorded one
# after another, and re-reading a 5,000-line module for each of them adds up.
# One tuple, replaced whole: threads may record at once.
_last_source = [(None, ())]


def _source_lines(filename):
    name, lines = _last_source[0]
    if name != filename:
        with open(filename, 'rb') as source:
            lines = source.read().splitlines(True)
        _last_source[0] = (filename, lines)
    return lines


def _last_line(code):
    """The last source line of `code` and the code objects nested in it, from their line
    tables (`co_lines` from 3.10, `co_lnotab` before, whose increments are signed bytes)."""
    last = code.co_firstlineno
    if hasattr(code, 'co_lines'):
        for _start, _end, line in code.co_lines():
            if line is not None and line > last:
                last = line
    else:
        line, table = code.co_firstlineno, code.co_lnotab
        for index in range(1, len(table), 2):
            step = table[index]
            line += step - 256 if step >= 128 else step
            if line > last:
                last = line
    for const in code.co_consts:
        if type(const) is type(code):
            nested = _last_line(const)
            if nested > last:
                last = nested
    return last


def _write_all(fd, data):
    # One os.write per line, unbuffered: a line is in the file even if the process then
    # calls os._exit or is killed, and lines of different threads do not interleave.
    while data:
        written = os.write(fd, data)
        data = data[written:]


# ---------------------------------------------------------------------------- setprofile

class _Profiler:
    """The ``sys.setprofile`` backend: one callback for every call and return, C calls too."""

    def __init__(self, probe):
        import threading  # not at module level: the monitoring backend does without it
        self.threading = threading
        self.probe = probe
        self.callback = _profile_callback(probe)
        self.rearm_hook = self.rearm  # one bound method, so it can be found by identity

    def attach(self):
        self.threading.setprofile(self.callback)
        sys.setprofile(self.callback)
        gc.callbacks.append(self.rearm_hook)

    def rejected(self, fn):
        pass  # its code's id is in `ignored`: the callback's first test stops there

    def rearm(self, phase, info):
        """gc callback: attach the probe again to a thread CPython detached it from.

        CPython drops a profile function that raised, which happens when a program hits
        the recursion limit with the callback on top of its stack; without this, the rest
        of the test session would go unrecorded.
        """
        try:
            if phase == 'stop' and not self.probe.off and sys.getprofile() is None:
                # Calls that started while detached must not pick up stale entries.
                self.probe.pending.clear()
                sys.setprofile(self.callback)
        except Exception:
            pass

    def detach(self):
        # By identity: `in`/`remove` would compare with the program's own callbacks.
        for index, hook in enumerate(gc.callbacks):
            if hook is self.rearm_hook:
                del gc.callbacks[index]
                break
        if sys.getprofile() is self.callback:
            sys.setprofile(None)
        if getattr(self.threading, '_profile_hook', None) is self.callback:
            self.threading.setprofile(None)  # only ours: the program may have set its own


# The profile function, compiled from source so that it can run with a private globals dict
# (see _profile_callback). It runs for every call and return in the process, C functions'
# included (one test of more-itertools, test_primes, makes 286 million such events), so
# every bytecode counts. Instructions per event on 3.11, counted with callgrind on a
# generator-heavy loop (tests/benchmarks/bench_profile_callback.py --instructions): a
# profile function that does nothing costs ~900; this one adds ~510 where the closure it
# replaced, with the same tests, added ~860.
# * The state is read from globals, not closure cells: a closure's cells are all copied
#   into each new frame (3.11's COPY_FREE_VARS), and 3.11 specialises LOAD_GLOBAL. The
#   misses of the recent-codes test below store a global, which keeps the dict's keys (what
#   3.11's specialisation checks) unchanged.
# * Events are tested by identity: CPython passes the same interned strings every time,
#   and `is` is cheaper than `==` (test_primes on 3.11, CPU, best of two: 66 s with `is`,
#   82 s with `==`).
# * A call first meets the two codes most recently found not traced (or no longer
#   recorded), by identity: a hot loop resuming one or two generators costs a frame
#   attribute and two `is` tests per event, not an id() and a set lookup. (Testing the file
#   name first, whose str caches its hash, was measured slower: on generator-heavy suites
#   most calls are resumptions of traced code.)
# * No `try` around the common cases: none of those operations can raise, and before 3.11
#   a `try` costs every time.
_PROFILE_SOURCE = """
def _citrace_profile(frame, event, arg):
    global _recent, _recent2
    if event is _call_event:
        code = frame.f_code
        if code is _recent or code is _recent2:
            return
        key = _id(code)
        if key in _ignored:
            _recent2 = _recent
            _recent = code
            return
        try:
            _on_call(key, frame)
        except RecursionError:
            _probe.counters['errors'] += 1
            if _STICKY_OVERFLOW:
                raise
        except Exception:
            _probe.counters['errors'] += 1
    elif _pending and event is _return_event and frame in _pending:
        try:
            _returned(_pending.pop(frame), arg)
        except RecursionError:
            _probe.counters['errors'] += 1
            if _STICKY_OVERFLOW:
                raise
        except Exception:
            _probe.counters['errors'] += 1
"""
_PROFILE_CODE = compile(_PROFILE_SOURCE, '<citrace profile function>', 'exec')


def _profile_callback(probe):
    call_event, return_event = _event_strings()
    namespace = {
        '__builtins__': __builtins__, '_call_event': call_event, '_return_event': return_event,
        '_recent': None, '_recent2': None,  # codes held: no program data, and `cache` holds
        '_id': id, '_ignored': probe.ignored, '_pending': probe.pending,  # them anyway
        '_on_call': _profile_call(probe), '_returned': probe.returned,
        '_probe': probe, '_STICKY_OVERFLOW': _STICKY_OVERFLOW,
    }
    exec(_PROFILE_CODE, namespace)
    return namespace['_citrace_profile']


def _event_strings():
    """The very objects the interpreter passes as the `call` and `return` events, caught
    from a profiled call of a function that does nothing; equal strings that are not the
    same object would never match `is`."""
    caught = {}

    def catch(frame, event, arg):
        caught.setdefault(event, event)

    def nothing():
        pass

    previous = sys.getprofile()
    sys.setprofile(catch)
    try:
        nothing()
    finally:
        sys.setprofile(previous)
    return caught.get('call', 'call'), caught.get('return', 'return')


def _profile_call(probe):
    # Calls in flight are keyed by their frame, not its id: `frame in pending` is the
    # cheapest test a return can make, and a frame cannot be freed (and its address reused)
    # while it is a key. Entries whose return is never seen are dropped when the probe
    # re-attaches after being detached and after a fork, so no frame is held for long.
    cache_get = probe.cache.get
    decide = probe.decide
    pending = probe.pending
    begin = probe.begin
    suspended = probe.suspended
    fn_class = probe.fn_class
    max_seen = probe.limits['max_seen_per_function']

    def on_call(key, frame):
        fn = cache_get(key)
        if fn is None:
            fn = decide(frame.f_code)
        if fn.__class__ is not fn_class:
            return
        if fn.generator:
            _generator_call(fn, frame)
            return
        call = begin(fn, frame)
        if call is not None:
            if len(pending) >= _PENDING_LIMIT:
                pending.clear()  # frames whose return never came (profiler replaced)
            pending[frame] = call

    def _generator_call(fn, frame):
        # Each resumption of a generator is a `call` event too, and each yield a `return`
        # event, like its final return. The first call starts at the lowest instruction
        # offset any call of that code reports (-1 before 3.11, the prologue's end after);
        # a resumption continues after a `yield`, so what the generator handed out before
        # it was a yielded value, not its final return: it is drawn when resumed.
        lasti = frame.f_lasti
        if fn.start is None or lasti < fn.start:
            fn.start = lasti
        elif lasti > fn.start:
            # Resumptions count as calls seen, so a generator drawn from in a tight loop
            # stops costing more than its id lookup after `max_seen_per_function`.
            fn.calls += 1
            if fn.calls >= max_seen:
                probe.reject(fn)
            call = suspended.get(id(frame))
            if call is not None and call.fn is fn:
                if probe.drawn(call):
                    pending[frame] = call  # its next yield (or end) is the return event
                else:
                    suspended.pop(id(frame), None)
            return
        stale = suspended.pop(id(frame), None)
        if stale is not None:  # a finished generator's frame address, reused
            probe.generator_ended(stale, exhausted=False)
        call = begin(fn, frame)
        if call is not None:
            call.yields = []
            probe.suspend(frame, call)
            pending[frame] = call

    return on_call


# ---------------------------------------------------------------------------- sys.monitoring

class _Monitor:
    """The ``sys.monitoring`` backend (3.12+), under a tool id of its own."""

    def __init__(self, probe, tool):
        self.probe = probe
        self.tool = tool
        self.monitoring = sys.monitoring
        events = self.monitoring.events
        # PY_UNWIND and PY_THROW cannot be set per code object: they are on everywhere,
        # and cost a callback only when an exception leaves a frame or is thrown in.
        self.global_events = events.PY_START | events.PY_UNWIND | events.PY_THROW
        self.local_events = events.PY_RETURN | events.PY_YIELD
        self.callbacks = _monitor_callbacks(probe, self)

    def attach(self):
        for event, callback in self.callbacks:
            self.monitoring.register_callback(self.tool, event, callback)
        self.monitoring.set_events(self.tool, self.global_events)

    def activate(self, fn):
        """A call of `fn` is in flight: its returns and yields are wanted."""
        with self.probe.lock:
            fn.active += 1
            if fn.active == 1:
                self.monitoring.set_local_events(self.tool, fn.code, self.local_events)

    def deactivate(self, fn):
        with self.probe.lock:
            fn.active -= 1
            if fn.active <= 0:
                fn.active = 0
                self.monitoring.set_local_events(self.tool, fn.code, 0)

    def rejected(self, fn):
        # Its PY_START answers DISABLE from the next call on; calls in flight are dropped.
        pending = self.probe.pending
        for key, call in list(pending.items()):
            if call.fn is fn:
                pending.pop(key, None)
        with self.probe.lock:
            fn.active = 0
            self.monitoring.set_local_events(self.tool, fn.code, 0)

    def detach(self):
        monitoring = self.monitoring
        if monitoring.get_tool(self.tool) != TOOL_NAME:
            return  # detached already
        monitoring.set_events(self.tool, 0)
        for fn in list(self.probe.cache.values()):
            if fn.__class__ is self.probe.fn_class and fn.active:
                monitoring.set_local_events(self.tool, fn.code, 0)
        for event, _ in self.callbacks:
            monitoring.register_callback(self.tool, event, None)
        monitoring.free_tool_id(self.tool)


def _monitor_callbacks(probe, monitor):
    events = sys.monitoring.events
    disable = sys.monitoring.DISABLE
    getframe = sys._getframe
    cache = probe.cache
    pending = probe.pending
    decide = probe.decide
    begin = probe.begin
    fn_class = probe.fn_class
    activate = monitor.activate
    deactivate = monitor.deactivate

    def started(code, offset):
        try:
            fn = cache.get(id(code))
            if fn is None:
                fn = decide(code)
            if fn.__class__ is not fn_class:
                return disable  # never traced, or reached its cap
            frame = getframe(1)
            stale = pending.pop(id(frame), None)
            if stale is not None:  # a generator dropped unfinished, without an event (3.13)
                deactivate(stale.fn)
                if stale.yields is not None:
                    probe.generator_ended(stale, exhausted=False)
            call = begin(fn, frame)
            if call is not None:
                if fn.generator:
                    call.yields = []
                probe.track(frame, call)
                activate(fn)
        except Exception:
            probe.counters['errors'] += 1

    def ended(call, value, exc):
        deactivate(call.fn)
        if exc is not None:
            probe.raised(call, exc)
        elif call.yields is not None:
            probe.generator_ended(call, exhausted=value is _EXHAUSTED)
        else:
            probe.returned(call, value)

    def returned(code, offset, value):
        try:
            if pending:
                call = pending.pop(id(getframe(1)), None)
                if call is not None and call.fn.code is code:
                    ended(call, _EXHAUSTED if call.yields is not None else value, None)
        except Exception:
            probe.counters['errors'] += 1

    def yielded(code, offset, value):
        try:
            if pending:
                key = id(getframe(1))
                call = pending.get(key)
                if call is not None and call.fn.code is code and call.yields is not None:
                    if not probe.yielded(call, value):
                        pending.pop(key, None)
                        deactivate(call.fn)
        except Exception:
            probe.counters['errors'] += 1

    def unwound(code, offset, exc):
        try:
            if pending and cache.get(id(code)).__class__ is fn_class:
                call = pending.pop(id(getframe(1)), None)
                if call is not None and call.fn.code is code:
                    ended(call, None, exc)
        except Exception:
            probe.counters['errors'] += 1

    def thrown(code, offset, exc):
        # gen.throw()/close(): what the generator does next answers the program, not a
        # consumer drawing values; record what was drawn so far, as not exhausted.
        try:
            if pending and cache.get(id(code)).__class__ is fn_class:
                call = pending.pop(id(getframe(1)), None)
                if call is not None and call.fn.code is code:
                    ended(call, None, None)
        except Exception:
            probe.counters['errors'] += 1

    return ((events.PY_START, started), (events.PY_RETURN, returned),
            (events.PY_YIELD, yielded), (events.PY_UNWIND, unwound),
            (events.PY_THROW, thrown))


_EXHAUSTED = object()


# ---------------------------------------------------------------------------- start-up

def load_config(value):
    """The config ``CITRACE_PROBE`` gives: the JSON itself (``citrace mine``: no file the
    project could replace), or the path of a JSON file (``citrace trace``)."""
    if value.lstrip().startswith('{'):
        config = _loads(value)
    else:
        with open(value, 'rb') as stream:  # not the locale's encoding: 3.6 under LANG=C
            config = _loads(stream.read().decode('utf-8'))
    if type(config) is not dict or 'out_dir' not in config:
        raise ValueError('not a citrace probe config')
    return config


def choose_backend(requested='auto'):
    """(backend, sys.monitoring tool id or None, the reason), taking the tool id."""
    if requested == 'setprofile':
        return 'setprofile', None, 'setprofile asked for by the config'
    monitoring = getattr(sys, 'monitoring', None)
    if monitoring is None:
        version = '.'.join(str(part) for part in sys.version_info[:2])
        return 'setprofile', None, f'no sys.monitoring on Python {version} (3.12+ has it)'
    for tool in TOOL_IDS:
        try:
            monitoring.use_tool_id(tool, TOOL_NAME)
        except ValueError:  # in use by a debugger, coverage, a profiler or the program
            continue
        return 'monitoring', tool, f'sys.monitoring with tool id {tool}'
    taken = ', '.join(f'{tool} ({monitoring.get_tool(tool)})' for tool in TOOL_IDS)
    return 'setprofile', None, 'every sys.monitoring tool id it may use is taken: ' + taken


def start(config):
    """Start recording in this process; None when a probe is already running."""
    if getattr(sys, _STARTED, False):
        return None
    setattr(sys, _STARTED, True)
    requested = config.get('backend') or 'auto'
    name, tool, reason = choose_backend(requested if requested in BACKENDS else 'auto')
    try:
        probe = Probe(config, name, reason)
        probe.backend = _Monitor(probe, tool) if name == 'monitoring' else _Profiler(probe)
    except BaseException:
        if tool is not None:
            sys.monitoring.free_tool_id(tool)  # a broken config must not keep the id
        raise
    atexit.register(probe.at_exit)
    if hasattr(os, 'register_at_fork'):
        os.register_at_fork(after_in_child=probe.after_fork)
    probe.backend.attach()
    return probe


def _autostart():
    try:
        value = os.environ.get(ENV_VAR)
        if value and not getattr(sys, _STARTED, False):
            start(load_config(value))
    except Exception:
        pass  # a broken config must not break the program under test


_autostart()
