"""One door: citrace's host-side code starts processes only where this file says why that
is safe. Everything a project wrote or influenced runs through ``recipes.sandbox.run``;
a new ``subprocess``/``os.exec*``/``os.system`` call elsewhere fails this test until it is
either routed through the sandbox or added below with its reason."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("miners", "recipes", "tracer")

# (file, call) -> why it is safe.
ALLOWED = {
    ("recipes/sandbox/execution.py", "subprocess.Popen"):
        "the door itself: starts the sandbox (bwrap or unshare) around an untrusted command",
    ("recipes/sandbox/session.py", "subprocess.Popen"):
        "the door's other side: starts the sandbox (bwrap or unshare) around a long-lived "
        "program of citrace's own (the checks' fork server), as execution.py does a command",
    ("recipes/sandbox/isolation.py", "subprocess.Popen"):
        "util-linux's unshare making a user namespace, and /bin/true to probe a backend: "
        "nothing of a project",
    ("recipes/sandbox/isolation.py", "subprocess.run"):
        "asks the host's own env whether it has --default-signal (`env --default-signal "
        "true`): nothing of a project",
    ("recipes/interpreters.py", "subprocess.run"):
        "asks interpreters found in pyenv or on PATH (the user's, never a project's) their "
        "version, with -E -s -S",
    ("tracer/check/run.py", "subprocess.run"):
        "compiles citrace's own check harness, read from stdin, with an interpreter citrace "
        "resolved itself, under -I -S",
    ("tracer/command.py", "subprocess.run"):
        "`citrace trace` runs the user's own command in the foreground, as `coverage run` does",
    ("miners/executors/isolate.py", "subprocess.Popen"):
        "citrace's own worker process (this interpreter, -m miners.executors.worker)",
    ("recipes/sandbox/pid1.py", "os.execvp"):
        "runs inside the sandbox: it becomes the command once the sandbox is built",
    ("recipes/sandbox/forwarder.py", "os.execvp"):
        "runs inside the sandbox: it becomes the build command once its forwarder listens",
}

_SUBPROCESS = {"run", "Popen", "call", "check_call", "check_output", "getoutput",
               "getstatusoutput"}
_OS = {"system", "popen", "posix_spawn", "posix_spawnp",
       *(f"exec{suffix}" for suffix in ("l", "le", "lp", "lpe", "v", "ve", "vp", "vpe")),
       *(f"spawn{suffix}" for suffix in ("l", "le", "lp", "lpe", "v", "ve", "vp", "vpe"))}


def _process_calls(tree: ast.AST) -> Iterator[str]:
    """``module.function`` for every call that starts a process, however it was imported."""
    aliases: dict[str, str] = {}  # local name -> "subprocess" / "os" / "subprocess.run"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in ("subprocess", "os"):
                    aliases[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.module in ("subprocess", "os"):
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            name = f"{aliases.get(func.value.id, func.value.id)}.{func.attr}"
        elif isinstance(func, ast.Name) and func.id in aliases:
            name = aliases[func.id]
        else:
            continue
        module, _, function = name.partition(".")
        if (module == "subprocess" and function in _SUBPROCESS) or (
                module == "os" and function in _OS):
            yield name


def _host_sources() -> Iterator[tuple[str, ast.AST]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if "/examples/" in relative:
                continue  # projects to mine, not citrace
            yield relative, ast.parse(path.read_text(encoding="utf-8"), relative)


def test_processes_start_only_where_the_allow_list_says_why() -> None:
    found = {(file, call) for file, tree in _host_sources() for call in _process_calls(tree)}
    unexplained = sorted(found - ALLOWED.keys())
    assert not unexplained, (
        "a process started outside the sandbox: route it through recipes.sandbox.run, or "
        f"add it to ALLOWED with the reason it is safe: {unexplained}")
    stale = sorted(ALLOWED.keys() - found)
    assert not stale, f"allow-list entries no code needs any more: {stale}"


def test_the_scan_sees_every_way_of_importing_a_process_call() -> None:
    source = """
import os, subprocess as sp
from subprocess import check_output as co
from os import execv
sp.run(["x"]); co(["x"]); execv("/bin/x", ["x"]); os.system("x"); os.getcwd()
"""
    assert sorted(_process_calls(ast.parse(source))) == [
        "os.execv", "os.system", "subprocess.check_output", "subprocess.run"]
