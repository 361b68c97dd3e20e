"""A source tree on disk: where it may land, and what the project in it is called."""

from __future__ import annotations

import configparser
import os
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from miners.specs import canonical_name
from recipes.records import StageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI
    import tomli as tomllib

# A literal name="..." in setup.py; "\b" keeps package_name= and friends out.
_SETUP_PY_NAME = re.compile(r"""\bname\s*=\s*["']([A-Za-z0-9][A-Za-z0-9._-]*)["']""")


def require_empty(dest: Path, project: str) -> None:
    """Refuse a destination holding anything: a checkout never merges into old files."""
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise StageError("acquire", "bad_destination",
                         f"{project}: destination {dest} is not empty; remove it or pick another")


def staging_dir(dest: Path, prefix: str, project: str) -> Path:
    """A fresh directory beside ``dest``: same filesystem, so moving it into place is atomic."""
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=prefix, dir=dest.parent))
    except OSError as exc:
        raise StageError("acquire", "bad_destination",
                         f"{project}: cannot write beside {dest} ({exc}); check the output "
                         "directory") from None


def inside(path: str, root: str) -> bool:
    """Whether the (already resolved) ``path`` is ``root`` or lies below it."""
    return path == root or path.startswith(root + os.sep)


def project_name(root: Path, *, fallback: str) -> str:
    """The canonical name declared in ``root``'s metadata, else ``fallback`` made name-like."""
    readers: tuple[Callable[[Path], str], ...] = (
        _pyproject_name, _setup_cfg_name, _pkg_info_name, _setup_py_name)
    for reader in readers:
        name = reader(root)
        if name:
            return canonical_name(name)
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", fallback).strip("-._")
    return canonical_name(cleaned or "project")


def pkg_info(root: Path) -> dict[str, str]:
    """The header fields of an sdist's ``PKG-INFO`` (first value of each), or ``{}``."""
    text = _read(root / "PKG-INFO")
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            break  # the description body starts after the first blank line
        key, sep, value = line.partition(":")
        if sep and not line[0].isspace():
            fields.setdefault(key.strip(), value.strip())
    return fields


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _pyproject_name(root: Path) -> str:
    text = _read(root / "pyproject.toml")
    if not text:
        return ""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return ""
    for table in (data.get("project"), data.get("tool", {}).get("poetry")):
        if isinstance(table, dict) and isinstance(table.get("name"), str):
            return str(table["name"])
    return ""


def _setup_cfg_name(root: Path) -> str:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(_read(root / "setup.cfg"))
    except configparser.Error:
        return ""
    return parser.get("metadata", "name", fallback="").strip()


def _pkg_info_name(root: Path) -> str:
    return pkg_info(root).get("Name", "")


def _setup_py_name(root: Path) -> str:
    match = _SETUP_PY_NAME.search(_read(root / "setup.py"))
    return match[1] if match else ""
