"""A build backend without PEP 660's ``build_editable`` (issue 16, item 8): the fallback's
``pip install -e .`` is refused, so the project is installed as a copy, and the tracer
traces that copy in site-packages, found through the distribution's own ``RECORD``."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from miners.cli.main import main
from tests.recipes.old_backend import OLD_BACKEND_PROJECT


@pytest.mark.slow
def test_a_project_that_cannot_install_editable_is_traced_installed(tmp_path: Path) -> None:
    project = tmp_path / "oldback"
    for name, text in OLD_BACKEND_PROJECT.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    out = tmp_path / "out"
    assert main(["mine", str(project), "-o", str(out)]) == 0
    [repo] = [json.loads(line) for line in (out / "repos.jsonl").read_text().splitlines()]
    assert repo["status"] == "ok", repo
    assert repo["recipe"] == "fallback:pytest" and repo["counts"]["tests_passed"] == 2
    problems = [json.loads(line) for line in (out / "problems.jsonl").read_text().splitlines()]
    assert {p["entry_point"] for p in problems} == {"triple", "shout"}
