"""``citrace trace``: the probe reaches any interpreter through PYTHONPATH, without writing
into its environment."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from miners.cli.main import main
from tests.tracer.probe_harness import INTERPRETERS, interpreter, parse_trace_files
from tracer import inject

LIBRARY = "def add(a, b=2):\n    return a + b\n"


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "lib.py").write_text(LIBRARY)
    return root


def trace(root: Path, out: Path, *command: str, env: dict[str, str] | None = None,
          extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """``citrace trace`` as a user runs it, in a process of its own."""
    argv = [sys.executable, "-m", "miners.cli.main", "trace", "--root", str(root), "--out",
            str(out), *extra, "--", *command]
    variables = {**os.environ, **(env or {})}
    return subprocess.run(argv, cwd=root, env=variables, capture_output=True, text=True,
                          timeout=120)


def calls_by_process(out: Path) -> dict[str, list[str]]:
    """python version -> the `a` argument of each recorded call of `add`."""
    found: dict[str, list[str]] = {}
    for lines in parse_trace_files(out):
        ids = {line["id"] for line in lines if line["k"] == "fn" and line["qualname"] == "add"}
        version = ".".join(lines[0]["python"].split(".")[:2]) + "/" + lines[0]["backend"]
        found.setdefault(version, []).extend(
            line["args"][0][2]["py"] for line in lines if line["k"] == "call" and line["fn"] in ids)
    return found


def test_traces_every_python_the_command_starts(project: Path, tmp_path: Path) -> None:
    old, new = interpreter("3.6"), interpreter("3.13")
    (project / "main.py").write_text(dedent(f"""
        import subprocess, sys, lib
        lib.add(1)
        subprocess.check_call([{str(new)!r}, "-c", "import lib; lib.add(2)"])
        sys.exit(3)
        """))
    done = trace(project, tmp_path / "out", str(old), "main.py", env={"PYTHONPATH": "elsewhere"})
    assert done.returncode == 3, done.stderr
    assert done.stdout == ""
    assert done.stderr.startswith("citrace: 2 distinct calls of 1 functions from 2 process(es)")
    assert calls_by_process(tmp_path / "out") == {"3.6/setprofile": ["1"],
                                                  "3.13/monitoring": ["2"]}


def test_traces_a_virtualenv_it_cannot_write_into(project: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([str(interpreter("3.12")), "-m", "venv", "--without-pip", str(venv)],
                   check=True)
    site_packages = venv / "lib" / "python3.12" / "site-packages"
    os.chmod(site_packages, 0o555)
    done = trace(project, tmp_path / "out", str(venv / "bin" / "python"), "-c",
                 "import sys, lib; print(lib.add(5), sys.prefix == sys.base_prefix)",
                 extra=("--backend", "setprofile", "-q"))
    assert (done.returncode, done.stdout, done.stderr) == (0, "7 False\n", "")
    assert calls_by_process(tmp_path / "out") == {"3.12/setprofile": ["5"]}
    assert list(site_packages.iterdir()) == []


def test_runs_the_sitecustomize_it_shadows(project: Path, tmp_path: Path) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "sitecustomize.py").write_text("import sys\nsys.their_hook = __file__\n")
    code = ("import sys, lib; lib.add(1); print(sys.their_hook.endswith('theirs/"
            f"sitecustomize.py'), sys.path.index({str(theirs)!r}) > 0)")
    done = trace(project, tmp_path / "out", str(interpreter("3.11")), "-c", code,
                 env={"PYTHONPATH": str(theirs)}, extra=("-q",))
    assert (done.returncode, done.stdout, done.stderr) == (0, "True True\n", "")
    assert calls_by_process(tmp_path / "out") == {"3.11/setprofile": ["1"]}


@pytest.mark.skipif(not Path("/root/.pyenv/versions/2.7.18/bin/python2.7").exists(),
                    reason="no Python 2.7")
def test_python_2_programs_run_untouched(project: Path, tmp_path: Path) -> None:
    done = trace(project, tmp_path / "out", "/root/.pyenv/versions/2.7.18/bin/python2.7", "-c",
                 "import lib; print(lib.add(1))", extra=("-q",))
    assert (done.returncode, done.stdout, done.stderr) == (0, "3\n", "")
    assert list((tmp_path / "out").iterdir()) == []


def test_boot_directory_starts_each_interpreter_silently(tmp_path: Path) -> None:
    boot = inject.write_boot_dir(tmp_path / "boot")
    assert sorted(path.name for path in boot.iterdir()) == ["_citrace_probe.py",
                                                            "sitecustomize.py"]
    env = inject.boot_environment(boot, tmp_path / "missing.json", {"PYTHONPATH": "/x"})
    assert env["PYTHONPATH"] == f"{boot.resolve()}{os.pathsep}/x"
    for version in sorted(INTERPRETERS):  # a config that cannot be read: nothing happens
        done = subprocess.run([str(INTERPRETERS[version]), "-c", "import sys; print("
                               "'_citrace_probe' in sys.modules, sys.getprofile())"],
                              env=env, capture_output=True, text=True, timeout=60)
        assert (done.stdout, done.stderr) == ("True None\n", ""), version


def test_usage_errors_say_what_to_do(project: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["trace", "--root", str(project), "--out", str(tmp_path / "o"), "--"]) == 2
    assert "no command given" in capsys.readouterr().err
    assert main(["trace", "--root", str(project), "--out", str(blocker / "o"), "--",
                 "true"]) == 2
    assert "is a file, not a directory" in capsys.readouterr().err  # checked before any work
    assert main(["trace", "--root", str(tmp_path / "nope"), "--out", str(tmp_path / "o"),
                 "--", "true"]) == 2
    assert "is not a directory" in capsys.readouterr().err
    assert main(["trace", "--root", str(project), "--out", str(tmp_path / "o"), "-q", "--",
                 str(tmp_path / "no-such-program")]) == 127
    assert "cannot run" in capsys.readouterr().err
