"""Paths on the command line that cannot be used as asked end in one line on stderr and
exit status 2, before any work: never a traceback (issue 16, item 10)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from miners.cli.main import main
from miners.lists import QUICKSTART

TEXTKIT = str(QUICKSTART.parent / "examples" / "textkit")


@pytest.fixture
def place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory holding a file ``afile``, a directory ``adir`` and a run's OUTDIR
    ``run`` with one problem; the current directory."""
    (tmp_path / "afile").write_text("not a directory\n")
    (tmp_path / "adir").mkdir()
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "problems.jsonl").write_text(json.dumps({"task_id": "t/0"}) + "\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


CASES = {
    "mine -o names a file": (["mine", TEXTKIT, "-o", "afile"], "-o afile: is a file"),
    "mine -o under a file": (["mine", TEXTKIT, "-o", "afile/out"],
                             "afile is a file, not a directory"),
    "mine: a list file that does not exist": (["mine", "missing.txt", "-o", "out"],
                                              "missing.txt: no such list file"),
    "mine: a directory where a list file is expected": (["mine", "adir/x.txt", "-o", "out"],
                                                        "no such list file"),
    "fetch -o names a file": (["fetch", TEXTKIT, "-o", "afile"], "-o afile: is a file"),
    "merge -o names a file": (["merge", "run", "-o", "afile"], "-o afile: is a file"),
    "merge: an input that is a file": (["merge", "afile", "-o", "merged"],
                                       "OUTDIR afile: is a file"),
    "export -o names a directory": (["export", "run", "-o", "adir"],
                                    "-o adir: is a directory, not a file"),
    "export pytest -o names a file": (["export", "run", "--format", "pytest", "-o", "afile"],
                                      "-o afile: is a file"),
    "report -o names a directory": (["report", "run", "-o", "adir"],
                                    "-o adir: is a directory"),
    "evaluate: problems that do not exist": (
        ["evaluate", "--problems", "missing.jsonl", "--samples", "afile"],
        "--problems missing.jsonl: no such file"),
    "evaluate: samples that are a directory": (
        ["evaluate", "--problems", "afile", "--samples", "adir"],
        "--samples adir: is a directory, not a file"),
    "evaluate -o names a directory": (
        ["evaluate", "--problems", "afile", "--samples", "afile", "-o", "adir"],
        "-o adir: is a directory"),
    "trace --out names a file": (["trace", "--root", ".", "--out", "afile", "--", "true"],
                                 "citrace trace: --out afile: is a file"),
}


@pytest.mark.parametrize("argv, said", list(CASES.values()), ids=list(CASES))
def test_an_unusable_path_is_one_line_and_exit_2(place: Path, capsys: pytest.CaptureFixture[str],
                                                 argv: list[str], said: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert said in err and err.startswith(f"citrace {argv[0]}: ")
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    assert (place / "afile").read_text() == "not a directory\n"  # nothing was written over it


def test_mine_with_o_naming_a_file_does_no_work(place: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mine", TEXTKIT, "-o", "afile"]) == 2
    assert sorted(p.name for p in place.iterdir()) == ["adir", "afile", "run"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_input_file_is_said(place: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (place / "secret.jsonl").write_text("{}\n")
    (place / "secret.jsonl").chmod(0)
    assert main(["evaluate", "--problems", "secret.jsonl", "--samples", "afile"]) == 2
    assert "--problems secret.jsonl: cannot be read" in capsys.readouterr().err


def test_an_os_error_no_check_foresaw_is_one_line(place: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    # /proc refuses new directories whatever the permissions say: the check passes, mkdir fails.
    assert main(["mine", TEXTKIT, "-o", "/proc/citrace-out"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("citrace mine: /proc/citrace-out") and len(err.splitlines()) == 1
