"""The probe's roots: the checkout, and the installed copies of the project's packages,
found by name and through the distribution's own RECORD (issue 16, item 8)."""

from __future__ import annotations

import json
from pathlib import Path

from tracer.roots import installed_from_local_path, project_packages, trace_roots


def _install(site: Path, dist: str, files: list[str], *, url: str | None) -> None:
    dist_info = site / f"{dist}-1.0.dist-info"
    dist_info.mkdir(parents=True)
    for name in files:
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_text("")
    rows = [f"{name},sha256=x,0" for name in files] + [f"{dist_info.name}/RECORD,,",
                                                       "../../../bin/tool,sha256=x,0"]
    (dist_info / "RECORD").write_text("\n".join(rows) + "\n")
    if url is not None:
        (dist_info / "direct_url.json").write_text(json.dumps({"url": url, "dir_info": {}}))


def test_packages_the_project_installed_from_a_path_are_roots(tmp_path: Path) -> None:
    checkout, site = tmp_path / "checkout", tmp_path / "venv" / "site-packages"
    (checkout / "lib" / "mine").mkdir(parents=True)  # a layout no guess covers
    _install(site, "mine", ["mine/__init__.py", "mine/core/__init__.py", "mine_cli.py"],
             url=checkout.as_uri())
    _install(site, "dependency", ["dependency/__init__.py"], url=None)  # from the index
    _install(site, "vcsdep", ["vcsdep/__init__.py"], url="https://example.org/vcsdep.git")
    assert project_packages(checkout) == frozenset()
    assert installed_from_local_path(site) == {"mine"}
    assert trace_roots(checkout, site, frozenset()) == [checkout.resolve(),
                                                        (site / "mine").resolve()]


def test_an_installed_package_linking_out_of_site_packages_is_no_root(tmp_path: Path) -> None:
    checkout, site = tmp_path / "checkout", tmp_path / "site-packages"
    checkout.mkdir()
    _install(site, "mine", ["mine/__init__.py"], url=checkout.as_uri())
    (tmp_path / "elsewhere").mkdir()
    (site / "linked").symlink_to(tmp_path / "elsewhere")
    assert trace_roots(checkout, site, frozenset({"linked"})) == [checkout.resolve(),
                                                                  (site / "mine").resolve()]
