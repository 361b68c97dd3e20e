"""Helpers for acquisition tests: git repositories, sdists and a fake package index."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def git(cwd: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                            env=None if env is None else {**os.environ, **env})
    return result.stdout.strip()


def write_files(root: Path, files: Mapping[str, str]) -> Path:
    """Build a tree from ``{relative path: content}`` (the tox fixture habit)."""
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return root


@dataclass
class Upstream:
    """A repository to clone: main has two commits (v1.0 tags the first), feature a third."""

    path: Path
    shas: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.path.as_uri()


def commit_all(repo: Path, message: str, date: str) -> str:
    git(repo, "add", "-A")
    dated = {"GIT_COMMITTER_DATE": date, "GIT_AUTHOR_DATE": date}
    git(repo, "commit", "-q", "-m", message, env=dated)
    return git(repo, "rev-parse", "HEAD")


# --- sdists ---------------------------------------------------------------------------------


def make_sdist(directory: Path, name: str, version: str,
               files: Mapping[str, str] | None = None) -> Path:
    """A real sdist: ``name-version/`` holding PKG-INFO, pyproject.toml and the given files."""
    base = f"{name}-{version}"
    contents = {
        "PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nA project.\n",
        "pyproject.toml": f'[project]\nname = "{name}"\nversion = "{version}"\n',
        f"src/{name}/__init__.py": f'__version__ = "{version}"\n',
        **(files or {}),
    }
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{base}.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for member, text in contents.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{base}/{member}")
            info.size, info.mode = len(data), 0o644
            archive.addfile(info, io.BytesIO(data))
    return path


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- a fake package index -------------------------------------------------------------------


@dataclass
class Route:
    body: bytes
    status: int = 200
    failures: int = 0  # answer 500 this many times first; -1: always
    hits: int = 0


@dataclass
class FakeIndex:
    """PyPI's JSON API on 127.0.0.1: the project endpoint only, like the mirror we use."""

    url: str = ""
    routes: dict[str, Route] = field(default_factory=dict)
    projects: dict[str, dict[str, Any]] = field(default_factory=dict)

    def route(self, path: str, body: bytes, *, status: int = 200, failures: int = 0) -> Route:
        self.routes[path] = Route(body, status, failures)
        return self.routes[path]

    def publish(self, name: str, version: str, archive: Path | None, *, failures: int = 0,
                sha256: str | None = None, absolute_url: bool = False,
                info: Mapping[str, Any] | None = None) -> Route | None:
        """Add a release (``archive`` None: wheels only) and rewrite the project's JSON."""
        project = self.projects.setdefault(name, {"info": {"name": name}, "releases": {}})
        project["info"].update({"version": version, **(info or {})})
        files: list[dict[str, Any]] = [{"packagetype": "bdist_wheel",
                                        "filename": f"{name}-{version}-py3-none-any.whl",
                                        "url": "../../packages/none.whl", "digests": {}}]
        route = None
        if archive is not None:
            path = f"/packages/ab/cd/{archive.name}"
            route = self.route(path, archive.read_bytes(), failures=failures)
            files.append({
                "packagetype": "sdist", "filename": archive.name,
                # PyPI's own answers here carry relative URLs; both kinds must work.
                "url": self.url + path if absolute_url else f"../..{path}",
                "digests": {"sha256": sha256 or sha256_of(archive)},
                "upload_time_iso_8601": "2024-05-06T07:08:09.123456Z",
            })
        project["releases"][version] = files
        self.route(f"/pypi/{name}/json", json.dumps(project).encode())
        return route
