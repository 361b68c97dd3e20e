"""Hostile projects mined for real, under every sandbox backend that works here: what their
builds and tests attempt is contained, and the host is checked afterwards.

* ``planter``: its build writes a ``.pth`` file into every site-packages it can reach and
  replaces the environment's ``bin/python`` with a script. Both would run on the host if
  citrace ran the environment's interpreter there (as it once did, to compile the probe).
* ``caller``: its build connects to a server the test opens on the host's 127.0.0.1, directly
  and through the proxy, and to a host that is not the package index's; its tests serve on
  their own loopback and connect to themselves. It must still be mined into problems.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from miners.cli.main import main
from recipes.sandbox import isolation
from tests.e2e.projects import write_project
from tests.recipes.sandbox.evil import available_backends, listening

BACKENDS = available_backends()
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not BACKENDS, reason="no sandbox works on this machine")]

PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"
"""

PLANTER_SETUP = '''\
import os, stat
from setuptools import setup

MARK = "/tmp/citrace-pwned-{token}"
here = os.path.dirname(os.path.abspath(__file__))
line = "import os; open(%r, 'w').write(str(os.getuid()))\\n" % (MARK + "-pth")
for top, dirs, files in os.walk(os.path.dirname(here)):
    if os.path.basename(top) == "site-packages":
        with open(os.path.join(top, "zz_citrace_evil.pth"), "w") as out:
            out.write(line)
        python = os.path.join(top, "..", "..", "..", "bin", "python")
        if os.path.islink(python):  # not replaced yet (setup.py runs more than once)
            real = os.path.realpath(python)
            os.unlink(python)
            with open(python, "w") as out:
                out.write("#!/bin/bash\\necho pwned > %s-python\\nexec -a \\"$0\\" %s \\"$@\\"\\n"
                          % (MARK, real))
            os.chmod(python, 0o755)
setup(name="planter", version="1.0", py_modules=["planter"])
'''

PLANTER_MODULE = '''\
def double(n):
    """Twice ``n``."""
    return 2 * n
'''

PLANTER_TEST = '''\
from planter import double


def test_double():
    assert double(2) == 4
    assert double(-3) == -6
'''

CALLER_SETUP = '''\
import os, socket, urllib.request
from setuptools import setup

report = []
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=3).close()
    report.append("direct: connected")
except OSError as exc:
    report.append("direct: %s" % exc)
for url in ("http://127.0.0.1:{port}/", "https://example.org/"):
    try:
        urllib.request.urlopen(url, timeout=10).close()  # through HTTP(S)_PROXY
        report.append("%s: connected" % url)
    except Exception as exc:
        report.append("%s: %s" % (url, exc))
print("citrace-caller:", "; ".join(report))
setup(name="caller", version="1.0", py_modules=["caller"])
'''

CALLER_MODULE = '''\
import socket


def echo_once(payload):
    """Send ``payload`` to a server on this machine's loopback and return its answer."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            peer, _ = server.accept()
            with peer:
                client.sendall(payload.encode())
                peer.sendall(peer.recv(1024).upper())
                return client.recv(1024).decode()


def shout(text, times=1):
    """``text`` in capitals, repeated ``times`` times, with an exclamation mark."""
    return (text.upper() + "!") * times
'''

CALLER_TEST = '''\
from caller import echo_once, shout


def test_the_loopback_works_in_tests():
    assert echo_once("ping") == "PING"


def test_shout():
    assert shout("hi") == "HI!"
    assert shout("a", 3) == "A!A!A!"
    assert shout("") == "!"
'''


@pytest.fixture(params=BACKENDS or ["none"])
def backend(request, monkeypatch) -> Iterator[str]:
    monkeypatch.setenv(isolation.BACKEND_ENV, request.param)
    isolation.reset()
    yield request.param
    isolation.reset()


def test_hostile_builds_and_tests_are_contained(backend: str, tmp_path: Path) -> None:
    token = secrets.token_hex(6)
    marks = [Path(f"/tmp/citrace-pwned-{token}{suffix}") for suffix in ("-pth", "-python")]
    with listening() as server:
        planter = write_project(tmp_path / "planter", {
            "pyproject.toml": PYPROJECT, "setup.py": PLANTER_SETUP.format(token=token),
            "planter.py": PLANTER_MODULE, "tests/test_planter.py": PLANTER_TEST})
        caller = write_project(tmp_path / "caller", {
            "pyproject.toml": PYPROJECT, "setup.py": CALLER_SETUP.format(port=server.port),
            "caller.py": CALLER_MODULE, "tests/test_caller.py": CALLER_TEST})
        out = tmp_path / "out"
        assert main(["mine", str(planter), str(caller), "-o", str(out), "--jobs", "2"]) == 0
        connections = server.connections
    repos = {Path(r["spec"]).name: r for r in map(json.loads, (out / "repos.jsonl").open())}
    problems = [json.loads(line) for line in (out / "problems.jsonl").open()]

    # Nothing the planter's build left ran on the host: not its .pth, not its python. In
    # the sandbox they ran (its interpreters start with them), and the project was mined.
    assert [mark for mark in marks if mark.exists()] == []
    assert repos["planter"]["sandbox"] == backend
    assert repos["planter"]["status"] == "ok", repos["planter"]

    # No connection reached the host's loopback; the proxy refused what is not the index's.
    assert connections == 0
    caller_repo = repos["caller"]
    assert caller_repo["status"] == "ok", caller_repo
    refused = caller_repo["network"]["refused"]
    assert f"127.0.0.1:{server.port}" in refused and "example.org:443" in refused, caller_repo

    # Its tests served on their own loopback, and its functions became problems.
    assert caller_repo["counts"]["tests_passed"] == 2
    assert {p["entry_point"] for p in problems} >= {"shout", "double"}


# A use_2to3 project (built with the setuptools before 58, then its checkout converted
# by ``python -m lib2to3`` in the sandbox) that ships its own ``lib2to3``: the working
# directory comes first on sys.path, so that conversion runs the project's code.
CONVERTER_FILES = {
    "setup.py": 'from setuptools import setup\n'
                'setup(name="converter", version="1.0", packages=["converter"], use_2to3=True)\n',
    "converter/__init__.py": 'def half(n):\n    """Half of ``n``."""\n    return n / 2\n',
    "lib2to3/__init__.py": "",
    "lib2to3/__main__.py": '''\
import os
print("citrace-converter: the planted lib2to3 runs")
for target in ("/tmp/citrace-pwned-{token}-2to3",
               os.path.join(os.path.dirname(os.getcwd()), "citrace-pwned-2to3")):
    try:
        open(target, "w").write("owned")
        print("citrace-converter: wrote", target)
    except OSError as exc:
        print("citrace-converter: refused", target, exc.strerror)
''',
    "tests/test_converter.py": "from converter import half\n\n\ndef test_half():\n"
                               "    assert half(4) == 2\n",
}


def test_a_2to3_conversion_runs_the_projects_code_in_the_sandbox(backend: str,
                                                                  tmp_path: Path) -> None:
    token = secrets.token_hex(6)
    project = write_project(tmp_path / "converter", {
        name: text.replace("{token}", token) for name, text in CONVERTER_FILES.items()})
    out = tmp_path / "out"
    assert main(["mine", str(project), "-o", str(out), "--installer", "uv"]) == 0
    [repo] = [json.loads(line) for line in (out / "repos.jsonl").open()]
    log = (out / repo["log"]).read_text()
    assert "citrace-converter: the planted lib2to3 runs" in log  # the attack did run ...
    # ... and wrote nowhere outside: not beside the checkout, and /tmp was the sandbox's own.
    assert "citrace-converter: refused" in log and "citrace-pwned-2to3 Permission" in log
    assert not Path(f"/tmp/citrace-pwned-{token}-2to3").exists()
    assert not (tmp_path / "citrace-pwned-2to3").exists()
    assert repo["sandbox"] == backend
