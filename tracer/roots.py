"""Where a project's own code lives, so the probe traces it and nothing else; and, when a
run recorded nothing, what the tests imported of it and from where."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tracer.records import ImportedModule

# Directories at the top of a checkout that hold tooling or tests, never the package.
_NOT_PACKAGES = frozenset({"tests", "test", "testing", "docs", "doc", "examples", "build",
                           "dist", "benchmarks", "scripts", "tools", "venv", "env"})
_NOT_MODULES = frozenset({"setup", "conftest", "noxfile", "tasks", "fabfile", "tests"})
_RECORD_BYTES = 4 << 20  # a RECORD larger than this is not read (the build wrote it)
# setuptools' editable installs put these beside the project's modules: its finder and
# path hooks, not the project's code.
_EDITABLE_PREFIX = "__editable__"
_SHOWN = 3  # modules a reason names before "and N more"


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
            elif entry.suffix == ".py" and _is_module_name(entry.stem):
                names.add(entry.stem)
    return frozenset(names)


def _is_module_name(stem: str) -> bool:
    return stem not in _NOT_MODULES and not stem.startswith("test_")


@dataclass(frozen=True)
class Installed:
    """What the project's own distributions (installed from a local path) put at the top
    of site-packages, as their ``RECORD`` lists it."""

    packages: frozenset[str] = frozenset()  # directories: "mine"
    modules: frozenset[str] = frozenset()  # single modules' files: "mine_cli.py"
    names: frozenset[str] = frozenset()  # every top-level import name, top_level.txt's too


def trace_roots(checkout: Path, site_packages: Path, packages: frozenset[str]) -> list[Path]:
    """The checkout, plus the installed copies of the project's code: a non-editable
    install (tox's, or the fallback's when the build backend cannot install editable) runs
    the copy in site-packages, not the file in the checkout. The installed packages are
    those named in the checkout and those the project's own distribution installed (its
    ``RECORD``), whatever the layout of the checkout; a top-level module it installed
    (``webcolors.py``) is a root of its own, a file: site-packages is not the project's."""
    roots = [checkout.resolve()]
    real_site = site_packages.resolve()
    installed = installed_from_local_path(site_packages)
    for name in sorted(packages | installed.packages):
        path = (site_packages / name).resolve()
        # The build wrote site-packages: a package there that links out of it (to the
        # host's files) would let a trace name them as the project's sources.
        if path.is_dir() and path.is_relative_to(real_site):
            roots.append(path)
    # Only the distribution's own modules, never a name guessed from the checkout: a
    # helper ``mock.py`` there must not make the ``mock`` dependency the project's code.
    for name in sorted(installed.modules):
        path = (site_packages / name).resolve()
        if path.is_file() and path.is_relative_to(real_site):
            roots.append(path)
    return roots


def module_names(checkout: Path, site_packages: Path) -> frozenset[str]:
    """The project's top-level import names, from the checkout and from what its own
    distribution installed: the probe says which of them each process imported."""
    return project_packages(checkout) | installed_from_local_path(site_packages).names


def installed_from_local_path(site_packages: Path) -> Installed:
    """What the distributions installed from a local path (a checkout, or the sdist or
    wheel tox built from it) put at the top of site-packages: their ``direct_url.json``
    names a ``file:`` URL. Dependencies come from the index (no ``direct_url.json``) or a
    VCS URL."""
    packages: set[str] = set()
    modules: set[str] = set()
    names: set[str] = set()
    try:
        dist_infos = [p for p in site_packages.iterdir() if p.name.endswith(".dist-info")]
    except OSError:
        return Installed()
    for dist_info in dist_infos:
        if _installed_from_file_url(dist_info):
            directories, files = _record_tops(dist_info / "RECORD")
            packages |= directories
            modules |= files
            names |= directories | {file[:-len(".py")] for file in files}
            names |= _top_level_names(dist_info / "top_level.txt")
    return Installed(frozenset(packages), frozenset(modules), frozenset(names))


def _installed_from_file_url(dist_info: Path) -> bool:
    try:
        direct = json.loads((dist_info / "direct_url.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(direct, dict) and str(direct.get("url", "")).startswith("file:")


def _record_tops(record: Path) -> tuple[set[str], set[str]]:
    """(directories, module files) at the top of the paths a ``RECORD`` lists, less
    metadata, scripts, caches and an editable install's hooks."""
    try:
        if record.stat().st_size > _RECORD_BYTES:
            return set(), set()
        rows = csv.reader(record.read_text(encoding="utf-8", errors="replace").splitlines())
        paths = [row[0] for row in rows if row]
    except (OSError, csv.Error):
        return set(), set()
    directories, files = set(), set()
    for path in paths:
        top, separator, _ = path.replace("\\", "/").partition("/")
        if top.startswith(_EDITABLE_PREFIX):
            continue
        if separator and top not in ("..", ".", "__pycache__") \
                and not top.endswith((".dist-info", ".data", ".egg-info")):
            directories.add(top)
        elif not separator and top.endswith(".py") and top[:-3].isidentifier() \
                and _is_module_name(top[:-3]):
            files.add(top)
    return directories, files


def _top_level_names(top_level: Path) -> set[str]:
    """setuptools' ``top_level.txt``: the import names, one a line."""
    try:
        lines = top_level.read_text(encoding="utf-8", errors="replace").splitlines()[:1000]
    except OSError:
        return set()
    return {name for name in (line.strip() for line in lines)
            if name.isidentifier() and name not in _NOT_PACKAGES
            and not name.startswith(_EDITABLE_PREFIX)}


def imports_told(imported: Sequence[ImportedModule], names: frozenset[str]) -> str:
    """What the traced processes imported of the project, for the reason of a run that
    recorded no call: each top-level module once, from where, and whether the roots cover
    it; or that none of ``names`` was imported."""
    if not imported:
        looked_for = ", ".join(sorted(names)[:5]) + (", ..." if len(names) > 5 else "")
        return (f"no traced process imported the project's modules ({looked_for})"
                if names else "no traced process imported a module of the project")
    first: dict[str, ImportedModule] = {}
    for module in sorted(imported, key=lambda m: (m.name.count("."), m.name, not m.traced)):
        first.setdefault(module.name.partition(".")[0], module)
    outside = [m for m in first.values() if not m.traced]
    inside = [m for m in first.values() if m.traced]
    told = []
    if outside:
        told.append(f"the tests imported {_listed(outside)}, outside the traced roots")
    if inside:
        whose = "its" if len(inside) == 1 else "their"
        told.append(f"{'and' if outside else 'the tests imported'} {_listed(inside)}, under "
                    f"the traced roots, and called none of {whose} functions")
    return "; ".join(told)


def _listed(modules: list[ImportedModule]) -> str:
    shown = [f"{m.name} from {m.file}" for m in modules[:_SHOWN]]
    more = len(modules) - _SHOWN
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")
