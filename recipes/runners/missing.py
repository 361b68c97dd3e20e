"""Test tools a suite imports and its project never declared.

A project's tests import ``mock``, ``freezegun``, ``nose`` or ``hypothesis``, and no file
citrace reads names them: the project's CI installed them in a step of its own, or its
developers just had them (google-auth 0.5.0 and ``mock``, Markdown 2.5.2 and ``nose``,
cached-property 1.5.1 and ``freezegun``: 15 of the campaign's 34 ``import_error_in_tests``).
When a failed run's output shows test modules that could not import such a module, the
distribution of that name is installed into the environment (with the build's installer,
as of its date, in the build's sandbox) and the tests run again.

Only a module missing at its top level is one to install (``No module named 'mock'``, not
``'OpenSSL.test'``: that is a part its distribution no longer ships), and never one of the
project's own (``tests.helpers``, or the package itself when it did not install).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import replace
from pathlib import Path

from recipes.records import Env
from recipes.runners.installers import BuildOptions, install_into

# Import names whose distribution is named otherwise; the rest install by their own name
# (PyPI normalises ``strict_rfc3339`` to ``strict-rfc3339``).
DISTRIBUTIONS = {
    "yaml": "PyYAML", "dateutil": "python-dateutil", "OpenSSL": "pyOpenSSL", "PIL": "Pillow",
    "bs4": "beautifulsoup4", "sklearn": "scikit-learn", "attr": "attrs", "jwt": "PyJWT",
    "serial": "pyserial", "Crypto": "pycryptodome", "magic": "python-magic",
    "dns": "dnspython", "git": "GitPython", "nacl": "PyNaCl", "jose": "python-jose",
    "Levenshtein": "python-Levenshtein", "zmq": "pyzmq", "win32api": "", "msvcrt": "",
    # Test helpers and their like whose import name is not their distribution's.
    "hamcrest": "PyHamcrest", "pkg_resources": "setuptools", "slugify": "python-slugify",
    "dotenv": "python-dotenv", "past": "future", "socks": "PySocks", "ruamel": "ruamel.yaml",
    "websocket": "websocket-client", "memcache": "python-memcached", "docx": "python-docx",
    "skimage": "scikit-image", "cv2": "opencv-python-headless",
}
MAX_MODULES = 5  # installed in one retry: more is a suite that needs what it never said
ROUNDS = 3  # retries: installing nose lets Markdown 2.5.2's tests get as far as yaml
_MISSING = re.compile(r"(?:ModuleNotFoundError|ImportError): No module named '([\w.]+)'")
# Where a test module failed to import: pytest's collection, unittest's loader.
_IN_TESTS = re.compile(r"ImportError while (?:importing test module|loading conftest)|"
                       r"ERROR collecting|could not load \S*conftest\.py|"
                       r"Failed to import test module|unittest\.loader\._FailedTest")


def missing_modules(output: str, own: Collection[str]) -> list[str]:
    """The top-level modules the tests of a failed run could not import, in the order the
    output names them; none of ``own`` (the project's packages and modules, ``tests``)."""
    if not _IN_TESTS.search(output):
        return []
    found: list[str] = []
    for name in _MISSING.findall(output):
        if "." in name or name in own or name.startswith("_") or name in found:
            continue
        found.append(name)
    return found[:MAX_MODULES]


def requirements(modules: Collection[str]) -> list[str]:
    """The distributions to install for ``modules``."""
    names = [DISTRIBUTIONS.get(module, module) for module in modules]
    return [name for name in names if name]


def with_missing_installed(env: Env, checkout: Path, modules: list[str], *, log_path: Path,
                           timeout: float, options: BuildOptions) -> Env | None:
    """The environment with the distributions of ``modules`` installed, and a recipe that
    says so (a repair); None when there is nothing to install or the install failed."""
    wanted = requirements(modules)

    def installs(names: list[str]) -> bool:
        return install_into(env, checkout, names, as_of=env.recipe.as_of, scratch="missing",
                            log_path=log_path, timeout=timeout, options=options)
    if not wanted:
        return None
    if not installs(wanted):
        # One that does not build (peewee 3.14.8's optional sqlcipher backend) must not keep
        # the others out: each alone, those that install kept.
        wanted = [name for name in wanted if len(wanted) > 1 and installs([name])]
        if not wanted:
            return None
    note = (f"installed what the tests import and the project does not declare "
            f"({', '.join(wanted)}), and ran them again")
    return replace(env, recipe=replace(env.recipe, repairs=env.recipe.repairs + (note,)))
