from __future__ import annotations

import os
from pathlib import Path

import pytest

from miners.sources.local import acquire_local
from miners.specs import parse_spec
from recipes.records import StageError
from tests.miners.sourcekit import write_files


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_the_directory_is_copied_without_clutter(tmp_path: Path) -> None:
    project = write_files(tmp_path / "proj", {
        "pyproject.toml": '[project]\nname = "Text_Kit"\n',
        "textkit/__init__.py": "",
        "textkit/build/__init__.py": "",  # a real package called build, deeper down
        "tests/test_words.py": "",
        ".git/HEAD": "ref: refs/heads/main\n",
        ".tox/py311/x": "", ".venv/bin/python": "", "textkit/__pycache__/x.pyc": "",
        "textkit.egg-info/PKG-INFO": "", "build/lib/x.py": "", "dist/x.tar.gz": "",
    })
    dest = tmp_path / "work" / "src"
    checkout = acquire_local(parse_spec(str(project)), dest)
    assert (checkout.name, checkout.version, checkout.path) == ("text-kit", "local", str(dest))
    assert tree(dest) == {"pyproject.toml", "textkit", "textkit/__init__.py", "textkit/build",
                          "textkit/build/__init__.py", "tests", "tests/test_words.py"}


def test_writing_into_the_copy_leaves_the_original_alone(tmp_path: Path) -> None:
    project = write_files(tmp_path / "proj", {"setup.py": "x", "inner/data.txt": "original"})
    os.symlink("inner/data.txt", project / "alias.txt")
    (tmp_path / "secret.txt").write_text("outside")
    os.symlink(tmp_path / "secret.txt", project / "outside.txt")
    os.symlink(tmp_path, project / "outside_dir")
    dest = tmp_path / "copy"
    acquire_local(parse_spec(str(project)), dest)
    assert os.readlink(dest / "alias.txt") == "inner/data.txt"  # links within stay links
    assert not (dest / "outside.txt").is_symlink()  # links out become copies...
    assert (dest / "outside.txt").read_text() == "outside"
    assert not os.path.lexists(dest / "outside_dir")  # ...or go, for directories
    for path in ("outside.txt", "alias.txt", "inner/data.txt"):
        (dest / path).write_text("changed by a test run")
    assert (tmp_path / "secret.txt").read_text() == "outside"
    assert (project / "inner" / "data.txt").read_text() == "original"


@pytest.mark.parametrize("files,name", [
    ({"setup.cfg": "[metadata]\nname = Cfg.Name\n"}, "cfg-name"),
    ({"setup.py": "from setuptools import setup\nsetup(\n    name='legacy_pkg',\n)\n"},
     "legacy-pkg"),
    ({"pyproject.toml": '[tool.poetry]\nname = "poetic"\n'}, "poetic"),
    ({"pyproject.toml": "[build-system]\nrequires = []\n", "README": ""}, "my-proj"),
    ({"pyproject.toml": "not [valid toml", "setup.cfg": "[metadata]\nname = fallback\n"},
     "fallback"),
])
def test_the_name_comes_from_metadata_then_the_directory(tmp_path: Path, files: dict[str, str],
                                                         name: str) -> None:
    project = write_files(tmp_path / "My Proj", files)
    assert acquire_local(parse_spec(str(project)), tmp_path / "copy").name == name


def test_a_destination_inside_the_project_is_not_copied_into_itself(tmp_path: Path) -> None:
    project = write_files(tmp_path / "proj", {"setup.py": "x", "output/other/log.txt": "",
                                              "outputs.txt": ""})
    dest = project / "output" / "work" / "src"
    acquire_local(parse_spec(str(project)), dest)
    assert tree(dest) == {"setup.py", "outputs.txt"}


def test_a_vanished_directory_or_busy_destination_is_a_stage_error(tmp_path: Path) -> None:
    project = write_files(tmp_path / "proj", {"setup.py": "x"})
    spec = parse_spec(str(project))
    busy = write_files(tmp_path / "busy", {"old": ""})
    with pytest.raises(StageError) as caught:
        acquire_local(spec, busy)
    assert caught.value.failure.cause == "bad_destination"
    (project / "setup.py").unlink()
    project.rmdir()
    with pytest.raises(StageError) as caught:
        acquire_local(spec, tmp_path / "copy")
    assert caught.value.failure.cause == "not_found"
    assert str(project) in caught.value.failure.message
