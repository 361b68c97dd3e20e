"""citrace's probe: records the inputs and outputs of a project's own functions.

Copied into a target environment's site-packages as ``_citrace_probe`` and imported by a
``.pth`` line only when ``CITRACE_PROBE`` names a JSON config file. It writes one trace
file per process in the format specified in citrace's ``tracer/records.py``.

Rules this module keeps, because it runs inside other people's test suites:
* standard library only, and syntax that CPython 3.6 still parses (it runs on 3.6 .. 3.13);
* it never prints and never raises into the traced program (one exception: see
  _STICKY_OVERFLOW);
* it never runs the program's code: values are encoded by exact type, never through
  ``repr``/``==``/``hash`` of a user object (a hostile ``__repr__`` must not change what
  the tests do).
"""

import atexit
import gc
import os
import sys
import threading

ENV_VAR = 'CITRACE_PROBE'
FORMAT_VERSION = 1
BACKEND = 'setprofile'

DEFAULTS = {
    'max_calls_per_function': 20,
    'max_value_chars': 2000,
    'max_trace_bytes': 20000000,
    'max_depth': 6,
    # Not in ProbeConfig: a function called this often without filling its quota of
    # distinct calls (the same few inputs over and over) stops costing an encoding per call.
    'max_seen_per_function': 5000,
}

SKIPPED_DIRS = frozenset((
    '.tox', '.nox', 'site-packages', 'dist-packages', 'tests', 'test', 'testing', '.venv',
    'venv', 'build', '.eggs', '__pycache__',
))
SKIPPED_FILES = frozenset(('tests.py', 'conftest.py', 'setup.py'))

# co_flags bits (the values are fixed by CPython; `inspect` is too heavy to import at start-up).
CO_OPTIMIZED = 0x01  # set for functions, not for class bodies (which run like calls)
CO_VARARGS = 0x04
CO_VARKEYWORDS = 0x08
# Generators, coroutines and async generators: their `return` events are yields.
CO_NOT_A_CALL = 0x20 | 0x80 | 0x100 | 0x200

# An attribute of `sys`, so there is one probe per process whatever name this module was
# imported under (or reloaded as).
_STARTED = '_citrace_probe_started'
_CACHE_LIMIT = 200000
_PENDING_LIMIT = 100000
_INF = float('inf')
# Before 3.9, a RecursionError leaves CPython allowing only 50 more frames until the stack
# unwinds, then it aborts ("Cannot recover from stack overflow"). Swallowing one raised in
# the callback would let the program recurse into that abort, so it is passed on instead:
# the program sees the RecursionError a few frames early and CPython detaches the probe
# from the thread (`rearm` attaches it again).
_STICKY_OVERFLOW = sys.version_info < (3, 9)
_SELF = os.path.abspath(__file__) if '__file__' in globals() else ''

# Read a type's name through `type`'s own descriptors, so a metaclass that overrides
# `__module__`/`__qualname__` with a property is not run.
_TYPE_MODULE = type.__dict__['__module__']
_TYPE_QUALNAME = type.__dict__['__qualname__']

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


def encode_value(value, max_chars=2000, max_depth=6):
    """``{"py": source}`` for a value that can be written as Python source, else opaque."""
    try:
        source = _source(value, 0, max_depth, [max_chars], set())
    except _Opaque as exc:
        return {'opaque': type_name(type(value)), 'why': exc.args[0]}
    except RecursionError:
        # The traced program is already at the recursion limit.
        if _STICKY_OVERFLOW:
            raise
        return {'opaque': type_name(type(value)), 'why': 'depth'}
    if len(source) > max_chars:
        return {'opaque': type_name(type(value)), 'why': 'size'}
    return {'py': source}


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


def _source(value, depth, max_depth, budget, path):
    """Python source of `value`; `budget` ([chars left]) lets huge values fail early."""
    kind = type(value)
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
        return _container_source(value, kind, depth, max_depth, budget, path)
    else:
        raise _Opaque('type')
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


def _container_source(value, kind, depth, max_depth, budget, path):
    if depth >= max_depth:
        raise _Opaque('depth')
    key = id(value)
    if key in path:
        raise _Opaque('cycle')
    budget[0] -= 2 * len(value)  # brackets and separators, before encoding anything
    if budget[0] < 0:
        raise _Opaque('size')
    path.add(key)
    try:
        if kind is dict:
            parts = [_source(k, depth + 1, max_depth, budget, path) + ': '
                     + _source(v, depth + 1, max_depth, budget, path)
                     for k, v in list(value.items())]
        else:
            parts = [_source(item, depth + 1, max_depth, budget, path) for item in list(value)]
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


# ---------------------------------------------------------------------------- what to trace

def traced_path(filename, roots):
    """The normalised path of `filename` when its functions are traced, else None."""
    if filename[:1] == '<':
        return None
    path = os.path.normpath(os.path.abspath(filename))
    candidates = [path]
    real = os.path.realpath(path)
    if real != path:
        candidates.append(real)
    for candidate in candidates:
        for root in roots:
            if candidate.startswith(root) and _allowed(candidate[len(root):]):
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
    result = []
    for root in roots:
        path = os.path.normpath(os.path.abspath(root))
        for variant in (path, os.path.realpath(path)):
            variant = os.path.join(variant, '')  # trailing separator: /a/b is not under /a/bc
            if variant not in result:
                result.append(variant)
    return result


# ---------------------------------------------------------------------------- the probe

class _Fn:
    """A traced function's state in this process."""

    __slots__ = ('code', 'file', 'params', 'seen', 'calls', 'token', 'id')

    def __init__(self, code, file):
        self.code = code
        self.file = file
        self.params = _parameters(code)
        self.seen = set()  # hashes of the encoded inputs already recorded
        self.calls = 0
        self.token = None  # the trace file this function's `fn` line was written to
        self.id = 0


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


def _current_test():
    test = os.environ.get('PYTEST_CURRENT_TEST')
    if not test:
        return None
    for suffix in (' (call)', ' (setup)', ' (teardown)'):
        if test.endswith(suffix):
            return test[:-len(suffix)]
    return test


def _new_counters():
    return {'calls_seen': 0, 'calls_recorded': 0, 'calls_capped': 0, 'calls_repeated': 0,
            'calls_none_or_raised': 0, 'errors': 0, 'bytes_written': 0, 'trace_full': 0}


class Probe:
    """Decides what to trace, encodes calls and writes this process's trace file."""

    def __init__(self, config):
        self.out_dir = str(config['out_dir'])
        self.roots = _normalise_roots([str(root) for root in config.get('roots', ())])
        self.limits = dict(DEFAULTS)
        for key in DEFAULTS:
            if config.get(key) is not None:
                self.limits[key] = int(config[key])
        self.cache = {}  # id(code) -> _Fn, or the code object itself when rejected
        self.files = {}  # co_filename -> normalised path, or None when not traced
        self.pending = {}  # id(frame) -> (fn, args json, inputs hash, mutables, test)
        self.counters = _new_counters()
        self.off = False
        self.callback = None
        self.rearm_hook = self.rearm  # one bound method, so it can be found by identity
        self._reset_file()

    def _reset_file(self):
        self.lock = threading.Lock()
        self.pid = os.getpid()
        self.fd = None
        self.token = None
        self.next_id = 1
        self.bytes = 0

    # -- deciding

    def decide(self, code):
        """What the cache holds for a code object: its `_Fn` when traced, else the code."""
        if self.off:
            return self._cache(code, code)
        flags = code.co_flags
        if not flags & CO_OPTIMIZED:
            # Module and class bodies run once, then are freed: not worth keeping alive.
            return False
        name = code.co_name
        filename = code.co_filename
        # '<frozen abc>' and other frozen modules (3.11+) are hot: cache those too.
        if name[:1] == '<' or filename[:1] == '<' or flags & CO_NOT_A_CALL:
            return self._cache(code, code)
        if filename not in self.files:
            path = traced_path(filename, self.roots)
            self.files[filename] = None if path == _SELF else path
        path = self.files[filename]
        return self._cache(code, _Fn(code, path) if path else code)

    def _cache(self, code, value):
        # Keyed by id: code objects compare equal across files (co_filename is not part of
        # their equality), and hashing one is not cheap. The value keeps the code alive so
        # its id cannot be reused.
        if len(self.cache) >= _CACHE_LIMIT:
            try:
                kept = [item for item in list(self.cache.items()) if type(item[1]) is _Fn]
            except RuntimeError:  # another thread added to it meanwhile
                kept = []
            self.cache.clear()  # in place: the callback holds this dict
            self.cache.update(kept)
        # setdefault: two threads deciding at once must share one _Fn (one `fn` line).
        return self.cache.setdefault(id(code), value)

    def reject(self, fn):
        self.cache[id(fn.code)] = fn.code

    # -- events

    def on_call(self, fn, frame):
        # An entry under this frame's address belongs to a dead frame whose return was
        # never seen (profiler replaced for a while, or another thread's, after a fork).
        self.pending.pop(id(frame), None)
        if self.off:
            return
        self.counters['calls_seen'] += 1
        fn.calls += 1
        if fn.calls >= self.limits['max_seen_per_function']:
            self.reject(fn)
        f_locals = frame.f_locals
        args = []
        mutables = []
        for name, kind in fn.params:
            value = f_locals[name]
            args.append([name, kind, self.encode(value)])
            cls = type(value)
            if kind in ('pos', 'kwonly') and (cls is list or cls is dict or cls is set
                                             or cls is bytearray):
                mutables.append((name, value))
        args_json = _dumps(args)
        key = hash(args_json)
        if key in fn.seen:
            self.counters['calls_repeated'] += 1
            return
        if len(self.pending) >= _PENDING_LIMIT:
            self.pending.clear()  # frames whose return never came (profiler replaced)
        self.pending[id(frame)] = (fn, args_json, key, mutables, _current_test())

    def on_return(self, entry, frame, value):
        fn, args_json, key, mutables, test = entry
        if fn.code is not frame.f_code or self.off:
            return
        if value is None:
            # The profiler reports a function left by an exception as returning None, and
            # no event tells the two apart. Reading the instruction the frame stopped at
            # would (MonkeyType's way), but opcodes change with every CPython release. So a
            # None result means "returned None or raised": the reader keeps it for what the
            # call did to its arguments, and validation by execution settles which it was.
            self.counters['calls_none_or_raised'] += 1
        if key in fn.seen:
            self.counters['calls_repeated'] += 1
            return
        if len(fn.seen) >= self.limits['max_calls_per_function']:
            self.counters['calls_capped'] += 1
            self.reject(fn)
            return
        fields = ['"ret":' + _dumps(self.encode(value))]
        if mutables:
            after = [[name, self.encode(obj)] for name, obj in mutables]
            fields.append('"after":' + _dumps(after))
        if test is not None:
            fields.append('"test":' + _dumps(test))
        if self.pid != os.getpid():
            self.after_fork()  # 3.6 has no os.register_at_fork; before taking the lock,
            # which another thread may have held at the time of the fork
        with self.lock:  # the thread switch interval can fall inside the callback
            written = self.write_call(fn, args_json, fields, frame)
        if written:
            fn.seen.add(key)
            self.counters['calls_recorded'] += 1
            if len(fn.seen) >= self.limits['max_calls_per_function']:
                self.reject(fn)

    def encode(self, value):
        return encode_value(value, self.limits['max_value_chars'], self.limits['max_depth'])

    # -- writing

    def write_call(self, fn, args_json, fields, frame):
        if self.fd is None and not self.open():
            return False
        if fn.token is not self.token and not self.write_line(self.fn_line(fn, frame)):
            return False
        line = f'{{"k":"call","fn":{fn.id},"args":{args_json},{",".join(fields)}}}'
        return self.write_line(line)

    def fn_line(self, fn, frame):
        """The `fn` line of a function recorded for the first time in this file."""
        fn.id = self.next_id
        fn.token = self.token
        self.next_id += 1
        code = fn.code
        f_globals = frame.f_globals
        module = dict.get(f_globals, '__name__')
        bound = dict.get(f_globals, code.co_name)
        toplevel = type(bound) is _FunctionType and bound.__code__ is code
        return _dumps({
            'k': 'fn', 'id': fn.id, 'module': module if type(module) is str else None,
            'qualname': getattr(code, 'co_qualname', code.co_name), 'file': fn.file,
            'line': code.co_firstlineno, 'toplevel': toplevel,
        })

    def write_line(self, line):
        data = (line + '\n').encode('utf-8')
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
            'backend': BACKEND, 'argv': [str(arg) for arg in getattr(sys, 'argv', [])],
        }) + '\n'
        _write_all(fd, header.encode('utf-8'))
        self.bytes = len(header)
        return True

    # -- life cycle

    def after_fork(self):
        """In a forked child: a file of its own, its own counters, `fn` lines written again."""
        fd = self.fd
        self._reset_file()
        self.counters = _new_counters()
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass

    def at_exit(self):
        try:
            forked = self.pid != os.getpid()
            self.shutdown()  # also keeps `rearm` from attaching again during finalisation
            if forked or self.fd is None:
                return  # a forked child that recorded nothing, or nothing recorded at all
            counters = {'k': 'stats'}
            counters.update(self.counters)
            # A daemon thread may still be writing; never hang the exit waiting for it.
            if self.lock.acquire(timeout=2):
                _write_all(self.fd, (_dumps(counters) + '\n').encode('utf-8'))
                self.lock.release()
        except Exception:
            pass

    def rearm(self, phase, info):
        """gc callback: attach the probe again to a thread CPython detached it from.

        CPython drops a profile function that raised, which happens when a program hits
        the recursion limit with the callback on top of its stack; without this, the rest
        of the test session would go unrecorded.
        """
        try:
            if phase == 'stop' and not self.off and sys.getprofile() is None:
                # Calls that started while detached must not pick up stale entries.
                self.pending.clear()
                sys.setprofile(self.callback)
        except Exception:
            pass

    def shutdown(self):
        """Stop recording (other threads may still call the callback: `off` stops them)."""
        # Not rewriting the cache: with the profiler still on, a garbage collection in the
        # middle of iterating it can run code that adds to it.
        self.off = True
        self.pending.clear()
        self.detach()

    def detach(self):
        # By identity: `in`/`remove` would compare with the program's own callbacks.
        for index, hook in enumerate(gc.callbacks):
            if hook is self.rearm_hook:
                del gc.callbacks[index]
                break
        if self.callback is not None and sys.getprofile() is self.callback:
            sys.setprofile(None)
        if getattr(threading, '_profile_hook', None) is self.callback:
            threading.setprofile(None)  # only ours: the program may have set its own


_FunctionType = type(_current_test)


def _write_all(fd, data):
    # One os.write per line, unbuffered: a line is in the file even if the process then
    # calls os._exit or is killed, and lines of different threads do not interleave.
    while data:
        written = os.write(fd, data)
        data = data[written:]


def _make_callback(probe):
    # Everything the hot path needs is a closure variable: this runs for every call and
    # return in the process, and a rejected code object must cost one dict lookup.
    cache = probe.cache
    pending = probe.pending
    decide = probe.decide
    on_call = probe.on_call
    on_return = probe.on_return
    state = probe

    def _citrace_profile(frame, event, arg):
        try:
            if event == 'call':
                code = frame.f_code
                fn = cache.get(id(code))
                if fn is None:
                    fn = decide(code)
                if fn.__class__ is _Fn:
                    on_call(fn, frame)
            elif event == 'return' and pending:
                entry = pending.pop(id(frame), None)
                if entry is not None:
                    on_return(entry, frame, arg)
        except RecursionError:
            state.counters['errors'] += 1
            if _STICKY_OVERFLOW:
                raise
        except Exception:
            state.counters['errors'] += 1

    return _citrace_profile


# ---------------------------------------------------------------------------- start-up

def load_config(path):
    with open(path, 'rb') as stream:  # not the locale's encoding: 3.6 under LANG=C is ASCII
        config = _loads(stream.read().decode('utf-8'))
    if type(config) is not dict or 'out_dir' not in config:
        raise ValueError('not a citrace probe config')
    return config


def start(config):
    """Start recording in this process; None when a probe is already running."""
    if getattr(sys, _STARTED, False):
        return None
    setattr(sys, _STARTED, True)
    probe = Probe(config)
    probe.callback = _make_callback(probe)
    atexit.register(probe.at_exit)
    if hasattr(os, 'register_at_fork'):
        os.register_at_fork(after_in_child=probe.after_fork)
    threading.setprofile(probe.callback)
    sys.setprofile(probe.callback)
    gc.callbacks.append(probe.rearm_hook)
    return probe


def _autostart():
    try:
        path = os.environ.get(ENV_VAR)
        if path and not getattr(sys, _STARTED, False):
            start(load_config(path))
    except Exception:
        pass  # a broken config must not break the program under test


_autostart()
