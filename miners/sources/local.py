"""A local directory, copied so that building and testing never write into the user's tree."""

from __future__ import annotations

import fnmatch
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from miners.records import Checkout, Spec
from miners.sources import licenses
from miners.sources.tree import inside, project_name, require_empty
from recipes.records import StageError

# Left out at every depth: version control, environments, caches, build metadata.
IGNORED_ANYWHERE = (".git", ".hg", ".tox", ".nox", ".venv", "__pycache__", "*.egg-info",
                    ".pytest_cache", ".mypy_cache")
# Left out only at the top: "build" or "dist" deeper down may be a real package.
IGNORED_AT_TOP = ("build", "dist")


def acquire_local(spec: Spec, dest: Path) -> Checkout:
    """Copy the directory ``spec.url`` to ``dest`` (absent or empty) without its clutter."""
    source = Path(spec.url)
    if not source.is_dir():
        raise StageError("acquire", "not_found",
                         f"{spec.raw}: directory {source} does not exist; check the path")
    require_empty(dest, spec.raw)
    try:
        shutil.copytree(source, dest, symlinks=True, ignore=_ignore(source, dest),
                        dirs_exist_ok=True)
    except OSError as exc:  # shutil.Error included
        shutil.rmtree(dest, ignore_errors=True)
        raise StageError("acquire", "copy_failed",
                         f"{spec.raw}: could not copy {source}: {_first_line(exc)}") from None
    _contain_symlinks(source, dest)
    found = licenses.from_files(dest)
    return Checkout(spec=spec, path=str(dest), name=project_name(dest, fallback=source.name),
                    version="local", license=found.value, license_source=found.source)


def _ignore(source: Path, dest: Path) -> Callable[[str, list[str]], set[str]]:
    """A ``copytree`` ignore callback; also skips ``dest`` when it lies inside ``source``."""
    top = os.path.realpath(source)
    real_dest = os.path.realpath(dest)

    def ignore(directory: str, names: list[str]) -> set[str]:
        here = os.path.realpath(directory)
        skipped = {n for n in names if any(fnmatch.fnmatch(n, p) for p in IGNORED_ANYWHERE)}
        if here == top:
            skipped.update(n for n in names if n in IGNORED_AT_TOP)
        # The output directory may live inside the project: never copy the copy into itself,
        # nor the directories holding it (other projects' work, logs, traces).
        if inside(real_dest, here):
            skipped.update(n for n in names
                           if inside(real_dest, os.path.realpath(os.path.join(here, n))))
        return skipped

    return ignore


def _contain_symlinks(source: Path, dest: Path) -> None:
    """Replace links leading out of the copy: writes through them would reach the user's files.

    A link to a file outside becomes a copy of that file; a link to a directory outside, or
    one that dangles outside, is removed (copying whole foreign trees is not our business).
    """
    real_dest = os.path.realpath(dest)
    for directory, dirs, files in os.walk(dest):
        for name in dirs + files:
            link = os.path.join(directory, name)
            if not os.path.islink(link) or inside(os.path.realpath(link), real_dest):
                continue
            original = os.path.realpath(os.path.join(source, os.path.relpath(link, dest)))
            os.unlink(link)
            if os.path.isfile(original):
                shutil.copyfile(original, link)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
