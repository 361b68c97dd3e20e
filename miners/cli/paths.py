"""Checks of the paths a command line names, made before any work: a file where a directory
is wanted (or the reverse), a file that is missing or cannot be read, a directory that
cannot be made. Each failure is a ``BadPath`` (a ``CitraceError``), which ``main`` prints as
one line and exits 2 with, instead of a traceback from deep inside the run."""

from __future__ import annotations

import os
from pathlib import Path

from recipes.errors import CitraceError


class BadPath(CitraceError):
    """A path given on the command line that cannot be used as asked."""


def output_directory(path: Path, option: str) -> Path:
    """``path`` (resolved) for a directory the command creates or writes into: a directory
    already, or nothing yet with a parent that is (or can become) a writable directory."""
    resolved = path.expanduser().resolve()
    if resolved.exists() and not resolved.is_dir():
        raise BadPath(f"{option} {path}: is a file, not a directory")
    _check_can_create(resolved, option, path)
    return resolved


def output_file(path: Path, option: str) -> Path:
    """``path`` (resolved) for a file the command writes: not a directory, in a directory
    that is (or can become) writable."""
    resolved = path.expanduser().resolve()
    if resolved.is_dir():
        raise BadPath(f"{option} {path}: is a directory, not a file")
    if resolved.is_file():  # written again (a second evaluation of the same samples)
        if not os.access(resolved, os.W_OK):
            raise BadPath(f"{option} {path}: cannot be written (permission denied)")
        return resolved
    _check_can_create(resolved, option, path)
    return resolved


def input_file(path: Path, option: str) -> Path:
    """``path`` for a file the command reads: present, a file, readable."""
    if not path.exists():
        raise BadPath(f"{option} {path}: no such file")
    if path.is_dir():
        raise BadPath(f"{option} {path}: is a directory, not a file")
    if not os.access(path, os.R_OK):
        raise BadPath(f"{option} {path}: cannot be read (permission denied)")
    return path


def input_directory(path: Path, option: str) -> Path:
    """``path`` for a directory the command reads: present and a directory."""
    if not path.exists():
        raise BadPath(f"{option} {path}: no such directory")
    if not path.is_dir():
        raise BadPath(f"{option} {path}: is a file, not a directory")
    return path


def _check_can_create(resolved: Path, option: str, given: Path) -> None:
    """The nearest existing ancestor of ``resolved`` (itself, if it exists) must be a
    writable directory: otherwise creating ``resolved`` or what lies under it fails later."""
    existing = resolved
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise BadPath(f"{option} {given}: {existing} is a file, not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise BadPath(f"{option} {given}: {existing} cannot be written (permission denied)")
