"""Where a project's own code lives, so the probe traces it and nothing else."""

from __future__ import annotations

from pathlib import Path

# Directories at the top of a checkout that hold tooling or tests, never the package.
_NOT_PACKAGES = frozenset({"tests", "test", "testing", "docs", "doc", "examples", "build",
                           "dist", "benchmarks", "scripts", "tools", "venv", "env"})
_NOT_MODULES = frozenset({"setup", "conftest", "noxfile", "tasks", "fabfile", "tests"})


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
    install runs the copy in site-packages, not the file in the checkout."""
    roots = [checkout.resolve()]
    real_site = site_packages.resolve()
    for name in sorted(packages):
        installed = (site_packages / name).resolve()
        # The build wrote site-packages: a package there that links out of it (to the
        # host's files) would let a trace name them as the project's sources.
        if installed.is_dir() and installed.is_relative_to(real_site):
            roots.append(installed)
    return roots
