"""The changed world a problem is checked in once more."""

from __future__ import annotations

import sys

from recipes import interpreters
from tracer.check.run import run_check
from tracer.strength.worlds import CHANGED_ENV, changed_worlds, other_python


def test_the_other_python_is_the_nearest_other_minor_version() -> None:
    found = {i.version[:2] for i in interpreters.discover()}
    other = other_python("3.11.7")
    if (3, 12) in found:
        assert other is not None and other.version[:2] == (3, 12)
    elif (3, 10) in found:
        assert other is not None and other.version[:2] == (3, 10)
    assert other_python("not a version") is None


def test_an_assert_on_the_time_zone_fails_in_the_changed_world() -> None:
    prompt = 'def offset():\n    """Seconds east of UTC here."""\n'
    solution = "    import time\n    return -time.timezone\n"
    test = "def check(candidate):\n    assert candidate() == 0\n"
    here = run_check(prompt=prompt, completion=solution, test=test, entry_point="offset",
                     python=sys.executable, timeout=5)
    world = changed_worlds(sys.executable, "")[-1]
    elsewhere = run_check(prompt=prompt, completion=solution, test=test, entry_point="offset",
                          python=world.python, timeout=5, world=world.check)
    assert here.passed and not elsewhere.passed
    assert dict(CHANGED_ENV)["TZ"] != "UTC"


def test_the_host_name_user_and_directory_differ_in_the_changed_world() -> None:
    prompt = 'def where():\n    """Where this runs."""\n'
    solution = ("    import os, socket\n"
                "    return socket.gethostname(), os.environ.get('USER'), os.getcwd()\n")
    test = "def check(candidate):\n    print('seen', candidate())\n"
    world = changed_worlds(sys.executable, "")[-1]
    seen = run_check(prompt=prompt, completion=solution, test=test, entry_point="where",
                     python=world.python, timeout=5, world=world.check)
    assert seen.passed
    assert "'mirror-host', 'mirror'" in seen.output and "elsewhere" in seen.output
