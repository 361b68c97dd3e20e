"""Which Python versions a project says it supports, read from its static metadata.

Read without running anything: an sdist's ``PKG-INFO``, ``pyproject.toml``, ``setup.cfg``
and, as text, ``setup.py`` (whose ``classifiers=[...]`` and ``python_requires=`` are almost
always literals). Trove classifiers name versions the authors tested; ``requires-python``
only bounds them (a 2016 project saying ``>=2.7`` does not promise 3.13), so a version
counts as declared when a classifier names it, or, for a project that names no minor
version in its classifiers, when ``requires-python`` states a floor that admits it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet

METADATA_FILES = ("PKG-INFO", "pyproject.toml", "setup.cfg", "setup.py")
MAX_READ = 1_000_000  # bytes read from each file: metadata sits near the top
_CLASSIFIER = re.compile(r"Programming Language\s*::\s*Python\s*::\s*(\d)(?:\.(\d+))?"
                         r"(\s*::\s*Only)?")
_REQUIRES = (
    re.compile(r"^Requires-Python:\s*(\S.*)$", re.MULTILINE),  # PKG-INFO
    re.compile(r"^\s*requires-python\s*=\s*['\"]([^'\"]+)['\"]", re.MULTILINE),  # pyproject
    re.compile(r"^\s*python_requires\s*=\s*([^\s'\"#][^#\n]*)$", re.MULTILINE),  # setup.cfg
    re.compile(r"python_requires\s*=\s*['\"]([^'\"]+)['\"]"),  # setup.py
)
# Python 3 versions a project could be run on here; the oldest the tracer supports first.
PYTHON3 = tuple((3, minor) for minor in range(6, 16))


@dataclass(frozen=True)
class Support:
    """What a project declares: ``requires_python`` as written, the (major, minor) versions
    its classifiers name, the majors named without a minor, and "Python :: 2 :: Only"."""

    requires_python: str = ""
    minors: frozenset[tuple[int, int]] = frozenset()
    majors: frozenset[int] = frozenset()
    only_python2: bool = False

    def declares(self, version: tuple[int, int]) -> bool:
        """True when the project says it runs on ``version`` (see the module's docstring)."""
        if version in self.minors:
            return True
        if self.minors or not self._floor():
            return False
        return self._admits(version)

    def python2_only(self) -> bool:
        """True when the metadata rules out every Python 3."""
        if self.only_python2:
            return True
        if self.minors or self.majors:
            named3 = 3 in self.majors or any(v[0] == 3 for v in self.minors)
            named2 = 2 in self.majors or any(v[0] == 2 for v in self.minors)
            if named2 and not named3:
                return True
        return bool(self.requires_python) and self._admits((2, 7)) and not any(
            self._admits(v) for v in PYTHON3)

    def evidence(self) -> str:
        """The metadata behind a verdict, for a one-line reason."""
        parts = []
        if self.minors or self.majors:
            named = sorted({f"{m}" for m in self.majors} | {f"{a}.{b}" for a, b in self.minors})
            parts.append("classifiers name Python " + ", ".join(named)
                         + (" only" if self.only_python2 else ""))
        if self.requires_python:
            parts.append(f"requires-python {self.requires_python!r}")
        return "; ".join(parts) or "no metadata"

    def _specifiers(self) -> SpecifierSet | None:
        try:
            return SpecifierSet(self.requires_python)
        except InvalidSpecifier:
            return None

    def _floor(self) -> bool:
        specifiers = self._specifiers()
        return specifiers is not None and any(s.operator in (">=", ">", "~=")
                                              for s in specifiers)

    def _admits(self, version: tuple[int, int]) -> bool:
        specifiers = self._specifiers()
        return specifiers is not None and specifiers.contains(f"{version[0]}.{version[1]}.0")


def declared_support(checkout: Path) -> Support:
    """The support the checkout's metadata declares; empty when it declares nothing."""
    texts = [_read(checkout / name) for name in METADATA_FILES]
    minors: set[tuple[int, int]] = set()
    majors: set[int] = set()
    only2 = False
    for text in texts:
        for match in _CLASSIFIER.finditer(text):
            major = int(match.group(1))
            if match.group(2) is not None:
                minors.add((major, int(match.group(2))))
            else:
                majors.add(major)
                only2 = only2 or (major == 2 and bool(match.group(3)))
    requires = ""
    for pattern, text in ((p, t) for t in texts for p in _REQUIRES):
        found = pattern.search(text)
        if found:
            requires = found.group(1).strip().strip("'\"")
            break
    return Support(requires_python=requires, minors=frozenset(minors),
                   majors=frozenset(majors), only_python2=only2)


def _read(path: Path) -> str:
    try:
        with open(path, "rb") as handle:
            return handle.read(MAX_READ).decode("utf-8", errors="replace")
    except OSError:
        return ""
