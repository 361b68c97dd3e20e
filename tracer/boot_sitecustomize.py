"""citrace's start-up hook for ``citrace trace``, copied as ``sitecustomize.py`` into a boot
directory that is put first on ``PYTHONPATH`` next to the probe (``tracer/inject.py``).

``site`` imports ``sitecustomize`` at every interpreter start-up, so this file starts the
probe (which does nothing unless ``CITRACE_PROBE`` is set), then runs the
``sitecustomize`` it shadows, if any, as ``site`` would have. Python 2 programs started
under ``citrace trace`` read this file too: it keeps to syntax 2.7 parses, and there it
only runs the shadowed module.
"""

import os
import sys


def _start_probe():
    if sys.version_info < (3, 6) or not os.environ.get('CITRACE_PROBE'):
        return
    try:
        __import__('_citrace_probe')  # starts itself
    except BaseException:  # a broken probe must not change how the program starts
        pass


def _run_shadowed_sitecustomize():
    try:
        from importlib.machinery import PathFinder
    except ImportError:  # Python 2
        return
    here = os.path.dirname(os.path.abspath(__file__))
    entries = [os.path.abspath(entry or os.curdir) for entry in sys.path]
    if here in entries:
        later = sys.path[entries.index(here) + 1:]
    else:
        later = [sys.path[index] for index in range(len(entries)) if entries[index] != here]
    spec = PathFinder.find_spec('sitecustomize', later)
    if spec is None or spec.loader is None:
        return
    from importlib.util import module_from_spec  # only now: it costs start-up time

    module = module_from_spec(spec)
    sys.modules['sitecustomize'] = module
    spec.loader.exec_module(module)  # its errors are reported by site, as without us


_start_probe()
_run_shadowed_sitecustomize()
