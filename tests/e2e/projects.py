"""Small real projects the end-to-end tests write and mine."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from miners.cli.main import main


def write_project(root: Path, files: dict[str, str]) -> Path:
    """``root`` holding ``files`` (path in the project: text, dedented)."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def mine_one(project: Path, out: Path) -> dict[str, Any]:
    """``citrace mine PROJECT -o OUT``, which must succeed; the project's repos.jsonl line."""
    assert main(["mine", str(project), "-o", str(out)]) == 0
    [repo] = [json.loads(line) for line in (out / "repos.jsonl").read_text().splitlines()]
    return repo
