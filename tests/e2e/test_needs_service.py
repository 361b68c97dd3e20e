"""A suite that needs a service this machine does not run fails with ``needs_service``, and
no other recipe is tried: none would find the service either (issue 16)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from miners.cli.main import main
from tests.recipes.tiny_project import CACHE_CLIENT, TINY_PYPROJECT


@pytest.mark.slow
def test_a_suite_that_needs_redis_fails_needs_service_once(tmp_path: Path) -> None:
    project = tmp_path / "tiny"
    tests = "".join(f"def test_get_{n}():\n    assert tiny.cache.get('k{n}') == 'k{n}'\n\n\n"
                    for n in range(3))
    files = {"pyproject.toml": TINY_PYPROJECT, "tiny/__init__.py": "",
             "tiny/cache.py": CACHE_CLIENT,
             "tests/test_cache.py": "import tiny.cache\n\n\n" + tests,
             "tox.ini": "[tox]\nenvlist = py3\n[testenv]\ndeps = pytest\ncommands = pytest\n"}
    for name, text in files.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    out = tmp_path / "out"
    assert main(["mine", str(project), "-o", str(out)]) == 0
    [repo] = [json.loads(line) for line in (out / "repos.jsonl").read_text().splitlines()]
    assert (repo["status"], repo["stage"], repo["cause"]) == ("failed", "test", "needs_service")
    assert "connecting to localhost:6379" in repo["reason"]
    assert len(repo["recipes_tried"]) == 1  # not the fallback too
