"""``citrace mine`` where no sandbox works: it refuses, unless --unsafe-no-sandbox, and then
every output line says so."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from miners.cli.main import QUICKSTART, main
from recipes.sandbox import isolation

TEXTKIT = QUICKSTART.parent / "examples" / "textkit"


@pytest.fixture
def no_sandbox(monkeypatch) -> Iterator[None]:
    monkeypatch.setenv(isolation.BACKEND_ENV, "none")
    isolation.reset()
    yield
    monkeypatch.delenv(isolation.BACKEND_ENV)
    isolation.reset()


def test_mining_refuses_to_run_untrusted_code_without_a_sandbox(no_sandbox, tmp_path: Path,
                                                                capsys) -> None:
    assert main(["mine", str(TEXTKIT), "-o", str(tmp_path / "out")]) == 2
    message = capsys.readouterr().err
    assert "no sandbox" in message and "--unsafe-no-sandbox" in message
    assert "bubblewrap" in message
    assert not (tmp_path / "out" / "repos.jsonl").exists()


@pytest.mark.slow
def test_unsafe_mining_is_recorded_in_every_line(no_sandbox, tmp_path: Path) -> None:
    out = tmp_path / "out"
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "setup.py").write_text("raise SystemExit('cannot be installed')\n")
    assert main(["mine", str(TEXTKIT), str(broken), "-o", str(out), "--unsafe-no-sandbox"]) == 0
    repos = [json.loads(line) for line in (out / "repos.jsonl").read_text().splitlines()]
    problems = [json.loads(line) for line in (out / "problems.jsonl").read_text().splitlines()]
    assert len(repos) == 2 and problems
    assert all(r["unsafe_no_sandbox"] is True for r in repos)
    assert all(p["meta"]["unsafe_no_sandbox"] is True for p in problems)
