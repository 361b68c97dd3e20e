"""citrace's time limit for each test, put into the traced environment beside the probe
(``tracer/inject.py``) as ``_citrace_test_limit``: no test command is changed.

* pytest loads it through an entry point (every pytest of the environment does); each
  test's run protocol (setup, call and teardown) gets the limit.
* For unittest, a ``.pth`` line imports it at start-up when ``CITRACE_PROBE`` is set; it
  then wraps ``unittest.TestCase.run`` as ``unittest.case`` is imported (nothing is
  imported before the program asks for it).

It does nothing unless ``CITRACE_PROBE``'s config gives ``test_time_limit``. Then each test
runs under a one-shot ``SIGALRM`` timer: a test that outlives the limit (waiting forever on
a socket) fails with a message naming it, and the run goes on to the next test; the calls
it made before are in the trace like any others. A test that ends in time never sees the
timer: the signal is only sent past the limit. The timer is left alone where it could
interfere: outside the main thread, when the program already handles ``SIGALRM`` or has a
timer running (its own, pytest-timeout's, or this module's around an enclosing test).

Each test's id is also written as it starts to ``running-<pid>.txt`` in the trace
directory: when a run is stopped because it hung, the host names the test that was running
(``tracer.traces.running_test``), and a test starting counts as progress.

Runs inside the project's processes: standard library only at import (pytest is imported
when pytest loads the plugin), CPython 3.6+.
"""

import os
import sys

ENV_VAR = 'CITRACE_PROBE'
# The line the run's log gets for a stopped test; the host reads it back (miners.pipeline).
STOPPED = 'citrace: test {test} ran over {limit:g} s and was stopped'


def read_config(value):
    """(per-test limit in seconds or 0, trace directory or None) from ``CITRACE_PROBE``'s
    value: the config's JSON, or the path of a file holding it."""
    if not value:
        return 0.0, None
    import json  # only in the traced runs: this module is imported at every start-up

    try:
        if value.lstrip().startswith('{'):
            config = json.loads(value)
        else:
            with open(value, 'rb') as stream:
                config = json.loads(stream.read().decode('utf-8'))
        limit = float(config.get('test_time_limit') or 0)
        out_dir = config.get('out_dir')
    except Exception:  # a config we cannot read sets nothing; it must not stop the tests
        return 0.0, None
    return (limit if limit > 0 else 0.0), (out_dir if isinstance(out_dir, str) else None)


def _signal():
    import signal  # not at start-up: it imports enum, and most processes run no test

    return signal


class TestTimeLimit(BaseException):
    """A unittest test ran over the limit. A BaseException: a test's ``except Exception``
    that retries forever does not swallow it (unittest reports any exception as an error)."""

    __test__ = False  # not a test class, for collectors that look at every module


class _Timer:
    """A one-shot SIGALRM timer around one test at a time."""

    def __init__(self, limit, out_dir, fail):
        self.limit = limit
        self.running_file = os.path.join(out_dir, f'running-{os.getpid()}.txt') if out_dir \
            else None
        self.fail = fail  # raises the failure for a test id
        self.running = None
        self.stopped = []

    def started(self, test):
        """Write the test's id for the host (and arm the timer); True when armed."""
        if self.running_file is not None:
            try:
                with open(self.running_file, 'w', encoding='utf-8') as out:
                    out.write(test)
            except (OSError, ValueError):  # a full disk, or a directory gone: not the test's
                pass
        return self.arm(test) if self.limit else False

    def arm(self, test):
        import threading  # only once a test starts: most processes never run one

        signal = _signal()
        if (threading.current_thread() is not threading.main_thread()
                or not hasattr(signal, 'setitimer')
                or signal.getsignal(signal.SIGALRM) != signal.SIG_DFL
                or signal.getitimer(signal.ITIMER_REAL)[0] > 0):
            return False
        self.running = test
        signal.signal(signal.SIGALRM, self.expired)
        signal.setitimer(signal.ITIMER_REAL, self.limit)
        return True

    def disarm(self):
        signal = _signal()
        signal.setitimer(signal.ITIMER_REAL, 0)
        if signal.getsignal(signal.SIGALRM) == self.expired:
            signal.signal(signal.SIGALRM, signal.SIG_DFL)
        self.running = None

    def expired(self, signum, frame):
        test = self.running
        self.stopped.append(test)
        self.fail(STOPPED.format(test=test, limit=self.limit))


# ---------------------------------------------------------------------------- pytest

def pytest_configure(config):
    limit, out_dir = read_config(os.environ.get(ENV_VAR))
    if limit or out_dir:
        config.pluginmanager.register(_pytest_plugin(limit, out_dir, config),
                                      'citrace-test-limit')


def _pytest_plugin(limit, out_dir, config):
    import pytest

    # pytest.fail: a BaseException in pytest 5+, so an `except Exception` does not swallow it.
    timer = _Timer(limit, out_dir, lambda message: pytest.fail(message, pytrace=False))
    wrapper = pytest.hookimpl(hookwrapper=True) if hasattr(pytest, 'hookimpl') \
        else pytest.mark.hookwrapper  # pytest 2.7

    class Plugin:
        @wrapper
        def pytest_runtest_protocol(self, item, nextitem):
            timer.stopped = []
            armed = timer.started(item.nodeid)
            try:
                yield
            finally:
                if armed:
                    timer.disarm()
            if timer.stopped:
                reporter = config.pluginmanager.getplugin('terminalreporter')
                if reporter is not None:
                    reporter.write('\n')  # a line of its own, after -q's progress dots too
                    reporter.write_line(STOPPED.format(test=item.nodeid, limit=limit))

    return Plugin()


# ---------------------------------------------------------------------------- unittest

def _raise(message):
    raise TestTimeLimit(message)


def _unittest_id(case):
    """The test's ``id()``, as unittest prints it (a doctest's is its name)."""
    try:
        test = case.id()
        if isinstance(test, str):
            return test
    except Exception:  # a test class's own id() that fails: its class and method then
        pass
    try:
        cls = type(case)
        return f'{cls.__module__}.{cls.__qualname__}.{case._testMethodName}'
    except Exception:
        return '?'


def _wrap_test_case(module, timer):
    """``module.TestCase.run`` under the timer (once)."""
    test_case = module.TestCase
    original = test_case.run
    if getattr(original, '_citrace_limited', False):
        return

    def run(self, result=None):
        signal = _signal()
        if hasattr(signal, 'getitimer') and signal.getitimer(signal.ITIMER_REAL)[0] > 0:
            return original(self, result)  # pytest's plugin (or the program) times this one
        armed = timer.started(_unittest_id(self))
        try:
            return original(self, result)
        finally:
            if armed:
                timer.disarm()
            if timer.stopped:
                line = STOPPED.format(test=timer.stopped.pop(), limit=timer.limit)
                sys.stderr.write(f'\n{line}\n')

    run._citrace_limited = True
    run.__wrapped__ = original
    run.__doc__ = original.__doc__
    test_case.run = run


class _UnittestFinder:
    """A meta path entry that only waits for ``unittest.case`` to wrap it as it loads."""

    def find_spec(self, name, path=None, target=None):
        if name != 'unittest.case':
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        from importlib.machinery import PathFinder

        spec = PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, 'exec_module'):
            return spec
        load = spec.loader.exec_module

        def exec_module(module):
            load(module)
            _limit_unittest(module)

        spec.loader.exec_module = exec_module
        return spec


def _limit_unittest(module):
    """Wrap the loaded ``unittest.case`` when the config sets a limit (read only now:
    parsing JSON at every start-up would cost each process milliseconds)."""
    try:
        limit, out_dir = read_config(os.environ.get(ENV_VAR))
        if limit:
            _wrap_test_case(module, _Timer(limit, out_dir, _raise))
    except Exception:  # the limit is a help; unittest must load whatever happens
        pass


def _start_for_unittest():
    """At start-up (the ``.pth`` line): wrap unittest's TestCase when it is imported."""
    if not os.environ.get(ENV_VAR) or getattr(sys, '_citrace_test_limit', False):
        return
    sys._citrace_test_limit = True
    case = sys.modules.get('unittest.case')
    if case is not None:
        _limit_unittest(case)
    else:
        sys.meta_path.insert(0, _UnittestFinder())

try:
    _start_for_unittest()
except Exception:  # a help, never a reason for a program not to start
    pass
