"""Helpers for the tracer tests: interpreters on this machine, trace files as dicts.

The ``traced`` fixture (conftest.py) builds a project from a dict of file names to contents
in a temporary directory (the probe's root), runs one of its files with the probe switched
on, and returns what the program printed together with the parsed trace files (``Run``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

PYENV = Path("/root/.pyenv/versions")


def _interpreters() -> dict[str, Path]:
    found = {}
    for path in sorted(PYENV.glob("3.*/bin/python3.*")):
        if re.fullmatch(r"python3\.\d+", path.name):
            found[path.name.removeprefix("python")] = path
    return found


INTERPRETERS = _interpreters()
# The versions every behaviour is checked on: the oldest supported, a middle one, the newest.
MAIN_VERSIONS = ("3.6", "3.11", "3.13")
# (version, backend) pairs for behaviour both backends share: setprofile on the oldest and a
# middle version, both backends on the newest.
BACKENDS = (("3.6", "setprofile"), ("3.11", "setprofile"), ("3.13", "setprofile"),
            ("3.13", "monitoring"))


def interpreter(version: str) -> Path:
    if version not in INTERPRETERS:
        pytest.skip(f"no CPython {version} on this machine")
    return INTERPRETERS[version]


@dataclass
class Run:
    stdout: str
    stderr: str
    returncode: int
    trace_dir: Path
    files: list[list[dict[str, Any]]] = field(default_factory=list)  # parsed, by name

    def lines(self, kind: str) -> list[dict[str, Any]]:
        return [line for lines in self.files for line in lines if line["k"] == kind]

    def calls(self, qualname: str) -> list[dict[str, Any]]:
        """The calls of a function (by qualname) across all files, with values as source."""
        found = []
        for lines in self.files:
            ids = {line["id"] for line in lines
                   if line["k"] == "fn" and line["qualname"] == qualname}
            found += [_sourced(line) for line in lines
                      if line["k"] == "call" and line["fn"] in ids]
        return found

    def qualnames(self) -> set[str]:
        return {line["qualname"] for line in self.lines("fn")}


def _sourced(call: dict[str, Any]) -> dict[str, Any]:
    """A call line with every value replaced by its source (or ("opaque", type, why)); keys
    the line does not have are left out (``ret`` of a call that raised, ``yields``...)."""
    def show(value: dict[str, str]) -> Any:
        return value["py"] if "py" in value else ("opaque", value["opaque"], value["why"])
    result = {"args": {name: show(value) for name, _, value in call["args"]},
              "kinds": [kind for _, kind, _ in call["args"]]}
    if "ret" in call:
        result["ret"] = show(call["ret"])
    result["after"] = {name: show(value) for name, value in call.get("after", [])}
    if "yields" in call:
        result["yields"] = [show(value) for value in call["yields"]]
    for key in ("test", "exc", "exhausted"):
        if key in call:
            result[key] = call[key]
    return result


def parse_trace_files(trace_dir: Path) -> list[list[dict[str, Any]]]:
    """Every line of every trace file, parsed; a torn last line (no newline) is left out."""
    files = []
    for path in sorted(trace_dir.glob("trace-*.jsonl")):
        text = path.read_text()
        whole = text if text.endswith("\n") else text[:text.rfind("\n") + 1]
        files.append([json.loads(line) for line in whole.splitlines()])
    return files


@dataclass(frozen=True)
class Venv:
    python: Path
    site_packages: Path


Traced = Callable[..., Run]
