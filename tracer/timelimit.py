"""citrace's time limit for each test, a pytest plugin put into the traced environment
beside the probe (``tracer/inject.py``), as ``_citrace_test_limit``, with an entry point
that makes every pytest of that environment load it: no test command is changed.

It does nothing unless ``CITRACE_PROBE``'s config gives ``test_time_limit``. Then each test
(setup, call and teardown) runs under a one-shot ``SIGALRM`` timer: a test that outlives
the limit (waiting forever on a socket) fails with a message naming it, and the session
goes on to the next test; the calls it made before are in the trace like any others. A
test that ends in time never sees the timer: the signal is only sent past the limit.
The timer is left alone where it could interfere: outside the main thread, when the
program already handles ``SIGALRM`` or has a timer running (its own, or pytest-timeout's).

Whatever the limit, each test's id is written as it starts to ``running-<pid>.txt`` in the
trace directory: when a run is stopped because it hung, the host names the test that was
running (``tracer.traces.running_test``), and a test starting counts as progress.

Runs inside the project's pytest: standard library and pytest only, CPython 3.6+.
"""

import json
import os
import signal
import threading

import pytest

ENV_VAR = 'CITRACE_PROBE'
# The line the run's log gets for a stopped test; the host reads it back (miners.pipeline).
STOPPED = 'citrace: test {test} ran over {limit:g} s and was stopped'

if hasattr(pytest, 'hookimpl'):  # pytest 2.8+
    _WRAPPER = pytest.hookimpl(hookwrapper=True)
else:  # pytest 2.7
    _WRAPPER = pytest.mark.hookwrapper


def read_config(value):
    """(per-test limit in seconds or 0, trace directory or None) from ``CITRACE_PROBE``'s
    value: the config's JSON, or the path of a file holding it."""
    if not value:
        return 0.0, None
    try:
        if value.lstrip().startswith('{'):
            config = json.loads(value)
        else:
            with open(value, 'rb') as stream:
                config = json.loads(stream.read().decode('utf-8'))
        limit = float(config.get('test_time_limit') or 0)
        out_dir = config.get('out_dir')
    except Exception:  # a config we cannot read sets nothing; it must not stop pytest
        return 0.0, None
    return (limit if limit > 0 else 0.0), (out_dir if isinstance(out_dir, str) else None)


def pytest_configure(config):
    limit, out_dir = read_config(os.environ.get(ENV_VAR))
    if out_dir:
        config.pluginmanager.register(_Running(out_dir), 'citrace-running-test')
    if limit and hasattr(signal, 'setitimer'):
        config.pluginmanager.register(_Timer(limit, config), 'citrace-test-limit-timer')


class _Running:
    """Writes the id of each test as it starts, for the host to name a test that hung."""

    def __init__(self, out_dir):
        self.path = os.path.join(out_dir, f'running-{os.getpid()}.txt')

    def pytest_runtest_logstart(self, nodeid, location):
        try:
            with open(self.path, 'w', encoding='utf-8') as out:
                out.write(nodeid)
        except (OSError, ValueError):  # a full disk, or a directory gone: not the test's
            pass


class _Timer:
    """Arms the timer around each test's run protocol."""

    def __init__(self, limit, config):
        self.limit = limit
        self.config = config
        self.running = None
        self.stopped = []

    @_WRAPPER
    def pytest_runtest_protocol(self, item, nextitem):
        stopped = self.stopped = []
        armed = self.arm(item.nodeid)
        try:
            yield
        finally:
            if armed:
                self.disarm()
        if stopped:
            self.say(STOPPED.format(test=item.nodeid, limit=self.limit))

    def arm(self, test):
        if (threading.current_thread() is not threading.main_thread()
                or signal.getsignal(signal.SIGALRM) != signal.SIG_DFL
                or signal.getitimer(signal.ITIMER_REAL)[0] > 0):
            return False
        self.running = test
        signal.signal(signal.SIGALRM, self.expired)
        signal.setitimer(signal.ITIMER_REAL, self.limit)
        return True

    def disarm(self):
        signal.setitimer(signal.ITIMER_REAL, 0)
        if signal.getsignal(signal.SIGALRM) == self.expired:
            signal.signal(signal.SIGALRM, signal.SIG_DFL)
        self.running = None

    def expired(self, signum, frame):
        self.stopped.append(self.running)
        # pytest.fail: a BaseException in pytest 5+, so a test's `except Exception` that
        # retries forever does not swallow it.
        pytest.fail(STOPPED.format(test=self.running, limit=self.limit), pytrace=False)

    def say(self, line):
        reporter = self.config.pluginmanager.getplugin('terminalreporter')
        if reporter is not None:
            reporter.write('\n')  # a line of its own, after -q's progress dots too
            reporter.write_line(line)
