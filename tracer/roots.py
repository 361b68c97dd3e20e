"""Where a project's own code lives, so the probe traces it and nothing else."""

from __future__ import annotations

import csv
import json
from pathlib import Path

# Directories at the top of a checkout that hold tooling or tests, never the package.
_NOT_PACKAGES = frozenset({"tests", "test", "testing", "docs", "doc", "examples", "build",
                           "dist", "benchmarks", "scripts", "tools", "venv", "env"})
_NOT_MODULES = frozenset({"setup", "conftest", "noxfile", "tasks", "fabfile", "tests"})
_RECORD_BYTES = 4 << 20  # a RECORD larger than this is not read (the build wrote it)


def project_packages(checkout: Path) -> frozenset[str]:
    """Top-level importable names the project defines (flat or ``src/`` layout)."""
    names: set[str] = set()
    for base in (checkout, checkout / "src"):
        if not base.is_dir():
            continue
        for entry in base.iterdir():
            if entry.name.startswith((".", "_")) or entry.name in _NOT_PACKAGES:
                continue
            if entry.is_dir() and (entry / "__init__.py").is_file():
                names.add(entry.name)
            elif entry.suffix == ".py" and entry.stem not in _NOT_MODULES \
                    and not entry.stem.startswith("test_"):
                names.add(entry.stem)
    return frozenset(names)


def trace_roots(checkout: Path, site_packages: Path, packages: frozenset[str]) -> list[Path]:
    """The checkout, plus the installed copies of the project's packages: a non-editable
    install (tox's, or the fallback's when the build backend cannot install editable) runs
    the copy in site-packages, not the file in the checkout. The installed packages are
    those named in the checkout and those the project's own distribution installed (its
    ``RECORD``), whatever the layout of the checkout."""
    roots = [checkout.resolve()]
    real_site = site_packages.resolve()
    for name in sorted(packages | installed_from_local_path(site_packages)):
        installed = (site_packages / name).resolve()
        # The build wrote site-packages: a package there that links out of it (to the
        # host's files) would let a trace name them as the project's sources.
        if installed.is_dir() and installed.is_relative_to(real_site):
            roots.append(installed)
    return roots


def installed_from_local_path(site_packages: Path) -> frozenset[str]:
    """Top-level package directories of the distributions installed from a local path (a
    checkout, or the sdist or wheel tox built from it): their ``direct_url.json`` names a
    ``file:`` URL. Dependencies come from the index (no ``direct_url.json``) or a VCS URL."""
    names: set[str] = set()
    try:
        dist_infos = [p for p in site_packages.iterdir() if p.name.endswith(".dist-info")]
    except OSError:
        return frozenset()
    for dist_info in dist_infos:
        if _installed_from_file_url(dist_info):
            names |= _top_level_directories(dist_info / "RECORD")
    return frozenset(names)


def _installed_from_file_url(dist_info: Path) -> bool:
    try:
        direct = json.loads((dist_info / "direct_url.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(direct, dict) and str(direct.get("url", "")).startswith("file:")


def _top_level_directories(record: Path) -> set[str]:
    """The first component of each path a ``RECORD`` lists under a directory (modules at
    the top are files, which cannot be roots), less metadata, scripts and caches."""
    try:
        if record.stat().st_size > _RECORD_BYTES:
            return set()
        rows = csv.reader(record.read_text(encoding="utf-8", errors="replace").splitlines())
        paths = [row[0] for row in rows if row]
    except (OSError, csv.Error):
        return set()
    names = set()
    for path in paths:
        top, separator, _ = path.replace("\\", "/").partition("/")
        if separator and top not in ("..", ".", "__pycache__") \
                and not top.endswith((".dist-info", ".data", ".egg-info")):
            names.add(top)
    return names
