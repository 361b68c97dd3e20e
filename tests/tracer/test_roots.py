"""The probe's roots: the checkout, and the installed copies of the project's packages,
found by name and through the distribution's own RECORD (issue 16, item 8), its single
modules too (item 6); and what a run that recorded nothing says it imported."""

from __future__ import annotations

import json
from pathlib import Path

from tracer.records import ImportedModule
from tracer.roots import (
    Installed,
    imports_told,
    installed_from_local_path,
    module_names,
    project_packages,
    trace_roots,
)


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
    assert installed_from_local_path(site) == Installed(
        packages=frozenset({"mine"}), modules=frozenset({"mine_cli.py"}),
        names=frozenset({"mine", "mine_cli"}))
    assert trace_roots(checkout, site, frozenset()) == [
        checkout.resolve(), (site / "mine").resolve(), (site / "mine_cli.py").resolve()]


def test_a_single_module_the_project_installed_is_a_root_of_its_own(tmp_path: Path) -> None:
    # webcolors 1.11.1, installed by tox from its sdist: one module, no package.
    checkout, site = tmp_path / "checkout", tmp_path / "site-packages"
    checkout.mkdir()
    (checkout / "webcolors.py").write_text("")
    (checkout / "mock.py").write_text("")  # a helper of the tests beside it
    _install(site, "webcolors", ["webcolors.py", "__pycache__/webcolors.cpython-38.pyc"],
             url=(checkout / ".tox" / "webcolors-1.11.1.tar.gz").as_uri())
    (site / "webcolors-1.0.dist-info" / "top_level.txt").write_text("webcolors\n")
    _install(site, "mock", ["mock.py"], url=None)  # the dependency of that name
    packages = project_packages(checkout)
    assert packages == {"webcolors", "mock"}
    assert trace_roots(checkout, site, packages) == [checkout.resolve(),
                                                     (site / "webcolors.py").resolve()]
    assert module_names(checkout, site) == {"webcolors", "mock"}


def test_an_editable_install_s_hooks_are_not_the_project_s_modules(tmp_path: Path) -> None:
    checkout, site = tmp_path / "checkout", tmp_path / "site-packages"
    checkout.mkdir()
    _install(site, "mine", ["__editable__.mine-1.0.pth", "__editable___mine_1_0_finder.py",
                            "setup.py", "test_mine.py"], url=checkout.as_uri())
    assert installed_from_local_path(site) == Installed()
    assert trace_roots(checkout, site, frozenset()) == [checkout.resolve()]


def test_an_installed_package_linking_out_of_site_packages_is_no_root(tmp_path: Path) -> None:
    checkout, site = tmp_path / "checkout", tmp_path / "site-packages"
    checkout.mkdir()
    _install(site, "mine", ["mine/__init__.py"], url=checkout.as_uri())
    (tmp_path / "elsewhere").mkdir()
    (site / "linked").symlink_to(tmp_path / "elsewhere")
    assert trace_roots(checkout, site, frozenset({"linked"})) == [checkout.resolve(),
                                                                  (site / "mine").resolve()]


def test_a_run_that_recorded_nothing_says_what_the_tests_imported_and_from_where() -> None:
    site = "/env/lib/python3.8/site-packages"
    outside = [ImportedModule("webcolors", f"{site}/webcolors.py", traced=False)]
    assert imports_told(outside, frozenset({"webcolors"})) == (
        f"the tests imported webcolors from {site}/webcolors.py, outside the traced roots")
    mixed = [ImportedModule("pkg.sub", "/src/pkg/sub.py", traced=True),
             ImportedModule("pkg", "/src/pkg/__init__.py", traced=True),
             *outside]
    assert imports_told(mixed, frozenset({"pkg", "webcolors"})) == (
        f"the tests imported webcolors from {site}/webcolors.py, outside the traced roots; "
        "and pkg from /src/pkg/__init__.py, under the traced roots, and called none of its "
        "functions")
    assert imports_told([], frozenset({"webcolors", "extra"})) == (
        "no traced process imported the project's modules (extra, webcolors)")
