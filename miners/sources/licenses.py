"""A project's license as an SPDX expression, from its index metadata or its license files.

Sources, best first: PyPI's ``license_expression`` (PEP 639, already SPDX), or a free-text
``license`` field that is a valid SPDX expression; the license files in the checkout
(``LICENSE*``, ``LICENCE*``, ``COPYING*``, ``COPYRIGHT*``, ``UNLICENSE``, REUSE's
``LICENSES/<id>.txt``), recognised by phrases each license text carries; the free-text
``license`` field when it is a well-known name; the ``License ::`` classifiers when they
name one license version. (For an sdist, PyPI's fields describe the latest release only,
so another version is judged by its own ``PKG-INFO``.) Nothing is guessed: an ambiguous name
("BSD License", "Apache Software License", "GPL" without a version) or an unknown text
stays as ``unrecognised: <what was declared>``, which no SPDX id looks like. Several
licenses found together are joined with ``AND``, the reading that assumes the least.

A license text alone does not say "-only" or "-or-later", so the GNU licenses found in
files keep their older ids (``GPL-3.0``, ``LGPL-2.1``).
"""

from __future__ import annotations

import email.parser
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.licenses import InvalidLicenseExpression, canonicalize_license_expression

UNRECOGNISED = "unrecognised: "
PERMISSIVE = frozenset({
    "MIT", "MIT-0", "BSD-2-Clause", "BSD-3-Clause", "0BSD", "ISC", "Apache-2.0", "PSF-2.0",
    "Python-2.0", "Unlicense", "Zlib", "BSL-1.0", "CC0-1.0",
})
_MAX_READ = 200_000  # characters of a license file looked at
_FILE_NAME = re.compile(r"^(?:licen[cs]e|copying|copyright|unlicense)(?:[-._ ].*)?$",
                        re.IGNORECASE)
_TOKEN = re.compile(r"\(|\)|[A-Za-z0-9.+:-]+")


@dataclass(frozen=True)
class License:
    """``value``: an SPDX expression, or ``unrecognised: ...``, or "" when nothing is declared."""

    value: str
    source: str  # "pypi:license_expression", "file:LICENSE", ... ; "" when none

    @property
    def is_spdx(self) -> bool:
        return bool(self.value) and not self.value.startswith(UNRECOGNISED)


NONE = License("", "")


def decide(info: Mapping[str, Any] | None, checkout: Path | None) -> License:
    """The best license found in PyPI's ``info`` (may be None) and the checkout's files."""
    info = info or {}
    expression = str(info.get("license_expression") or "").strip()
    if expression:
        return License(normalise_expression(expression) or expression,
                       "pypi:license_expression")
    text = str(info.get("license") or "").strip()
    if "\n" not in text and (spdx := normalise_expression(text)):
        return License(spdx, "pypi:license")  # already an SPDX id: the authors' own word
    found = from_files(checkout) if checkout is not None else NONE
    if found.is_spdx:
        return found
    if text and (spdx := from_name(text) or (recognise_text(text) if "\n" in text else "")):
        return License(spdx, "pypi:license")
    classifiers = [str(c) for c in info.get("classifiers") or () if str(c).startswith("License")]
    if spdx := from_classifiers(classifiers):
        return License(spdx, "pypi:classifiers")
    declared = (text.splitlines()[0][:100] if text else
                "; ".join(c.split(" :: ")[-1] for c in classifiers
                          if c != "License :: OSI Approved"))
    if declared:
        return License(UNRECOGNISED + declared, "pypi:license" if text else "pypi:classifiers")
    return found  # an unrecognised license file, or nothing at all


# --- PyPI metadata --------------------------------------------------------------------------


def pkg_info_fields(root: Path) -> dict[str, Any]:
    """The license fields of an sdist's ``PKG-INFO``, keyed as PyPI's JSON ``info`` keys them."""
    try:
        with (root / "PKG-INFO").open(encoding="utf-8", errors="replace") as handle:
            headers = email.parser.HeaderParser().parsestr(handle.read(_MAX_READ))
    except OSError:
        return {}
    return {"license_expression": headers.get("License-Expression"),
            "license": headers.get("License"),
            "classifiers": [str(c) for c in headers.get_all("Classifier") or ()]}


_CLASSIFIERS = {
    "MIT License": "MIT", "MIT No Attribution License (MIT-0)": "MIT-0",
    "ISC License (ISCL)": "ISC", "The Unlicense (Unlicense)": "Unlicense",
    "Python Software Foundation License": "PSF-2.0", "zlib/libpng License": "Zlib",
    "Boost Software License 1.0 (BSL-1.0)": "BSL-1.0",
    "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "Mozilla Public License 1.1 (MPL 1.1)": "MPL-1.1",
    "Eclipse Public License 2.0 (EPL-2.0)": "EPL-2.0",
    "GNU General Public License v2 (GPLv2)": "GPL-2.0-only",
    "GNU General Public License v2 or later (GPLv2+)": "GPL-2.0-or-later",
    "GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
    "GNU General Public License v3 or later (GPLv3+)": "GPL-3.0-or-later",
    "GNU Lesser General Public License v2 (LGPLv2)": "LGPL-2.0-only",
    "GNU Lesser General Public License v2 or later (LGPLv2+)": "LGPL-2.0-or-later",
    "GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only",
    "GNU Lesser General Public License v3 or later (LGPLv3+)": "LGPL-3.0-or-later",
    "GNU Affero General Public License v3": "AGPL-3.0-only",
    "GNU Affero General Public License v3 or later (AGPLv3+)": "AGPL-3.0-or-later",
    "CC0 1.0 Universal (CC0 1.0) Public Domain Dedication": "CC0-1.0",
}

# Free-text names, compared after _words(): lowercase words, "license" left out.
_NAMES = {
    "mit": "MIT", "the mit": "MIT", "expat": "MIT", "mit 0": "MIT-0", "isc": "ISC",
    "bsd 3 clause": "BSD-3-Clause", "3 clause bsd": "BSD-3-Clause", "new bsd": "BSD-3-Clause",
    "modified bsd": "BSD-3-Clause", "revised bsd": "BSD-3-Clause", "bsd 3": "BSD-3-Clause",
    "bsd 2 clause": "BSD-2-Clause", "2 clause bsd": "BSD-2-Clause",
    "simplified bsd": "BSD-2-Clause", "freebsd": "BSD-2-Clause", "bsd 2": "BSD-2-Clause",
    "0bsd": "0BSD", "apache 2 0": "Apache-2.0", "apache 2": "Apache-2.0",
    "apache v2": "Apache-2.0", "apache version 2 0": "Apache-2.0", "asl 2 0": "Apache-2.0",
    "apache software 2 0": "Apache-2.0", "apache software version 2 0": "Apache-2.0",
    "gplv2": "GPL-2.0-only", "gpl v2": "GPL-2.0-only", "gplv2+": "GPL-2.0-or-later",
    "gplv3": "GPL-3.0-only", "gpl v3": "GPL-3.0-only", "gplv3+": "GPL-3.0-or-later",
    "lgplv3": "LGPL-3.0-only", "lgpl v3": "LGPL-3.0-only", "lgplv3+": "LGPL-3.0-or-later",
    "lgplv2 1": "LGPL-2.1-only", "lgpl v2 1": "LGPL-2.1-only", "mpl 2 0": "MPL-2.0",
    "mozilla public 2 0": "MPL-2.0", "mpl2": "MPL-2.0", "unlicense": "Unlicense",
    "the unlicense": "Unlicense", "psf": "PSF-2.0", "psfl": "PSF-2.0",
    "python software foundation": "PSF-2.0", "zlib": "Zlib", "cc0": "CC0-1.0",
    "cc0 1 0": "CC0-1.0", "boost software 1 0": "BSL-1.0",
}


def from_classifiers(classifiers: Sequence[str]) -> str:
    """The SPDX expression the classifiers name, or "" when any is ambiguous or unknown."""
    found = [_CLASSIFIERS.get(c.split(" :: ")[-1]) for c in classifiers
             if c != "License :: OSI Approved"]
    if not found or None in found:
        return ""
    return _join(spdx for spdx in found if spdx)


def from_name(text: str) -> str:
    """The SPDX id of a short license name ("MIT License", "Apache 2.0", "BSD-3-Clause")."""
    if "\n" in text or len(text) > 100:
        return ""
    return normalise_expression(text) or _NAMES.get(_words(text), "")


def normalise_expression(text: str) -> str:
    """``text`` as a valid SPDX expression with canonical ids (the SPDX list packaging
    ships), or "" when it is not one."""
    try:
        return str(canonicalize_license_expression(text))
    except InvalidLicenseExpression:
        return ""


def _words(text: str) -> str:
    words = re.sub(r"[^a-z0-9+]+", " ", text.lower()).split()
    return " ".join(w for w in words if w not in ("license", "licence", "licensed", "under"))


# --- license files --------------------------------------------------------------------------


def license_files(root: Path) -> list[Path]:
    """The license files at the top of ``root``, and REUSE's ``LICENSES/*``, sorted."""
    try:
        found = [p for p in root.iterdir() if _FILE_NAME.match(p.name) and p.is_file()]
        reuse = root / "LICENSES"
        if reuse.is_dir():
            found += [p for p in reuse.iterdir() if p.is_file()]
    except OSError:
        return []
    return sorted(found)


def from_files(root: Path) -> License:
    files = license_files(root)
    ids: list[str] = []
    for path in files:
        if path.parent.name == "LICENSES" and (spdx := normalise_expression(path.stem)):
            ids.append(spdx)  # REUSE names each file by its id
        elif spdx := recognise_text(_read(path)):
            ids.append(spdx)
    if not files:
        return NONE
    source = "file:" + ",".join(p.relative_to(root).as_posix() for p in files)
    if not ids:
        return License(UNRECOGNISED + "license file " + files[0].name, source)
    return License(_join(_without_gpl_of_lgpl(ids)), source)


def _read(path: Path) -> str:
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            return handle.read(_MAX_READ)
    except OSError:
        return ""


_BSD = ("redistribution and use in source and binary forms",
        "redistributions of source code must retain the above copyright notice")
# Other licenses built on BSD's clauses: never read them as BSD.
_NOT_BSD = ("zope public license", "python software foundation", "apache license",
            "public license version")
# (SPDX id, phrases that must all appear, phrases that must not), most specific first.
_TEXTS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("LGPL-3.0", ("gnu lesser general public license", "version 3"), ()),
    ("LGPL-2.1", ("gnu lesser general public license", "version 2 1"), ()),
    ("LGPL-2.0", ("gnu library general public license", "version 2"), ()),
    ("AGPL-3.0", ("gnu affero general public license", "version 3"), ()),
    ("GPL-3.0", ("gnu general public license", "version 3 29 june 2007"), ()),
    ("GPL-2.0", ("gnu general public license", "version 2 june 1991"), ()),
    ("Apache-2.0", ("apache license", "version 2 0"), ()),
    ("MPL-2.0", ("mozilla public license", "2 0"), ()),
    ("Unlicense", ("this is free and unencumbered software released into the public domain",),
     ()),
    ("PSF-2.0", ("python software foundation", "license agreement"), ()),
    ("BSL-1.0", ("boost software license version 1 0",), ()),
    ("CC0-1.0", ("cc0 1 0 universal",), ()),
    # Zope's licenses reuse BSD's words ("redistribution and use in source and binary forms").
    ("ZPL-2.1", ("zope public license", "version 2 1"), ()),
    ("ZPL-2.0", ("zope public license", "version 2 0"), ()),
    ("MIT", ("permission is hereby granted free of charge to any person obtaining a copy",
             "the above copyright notice and this permission notice shall be included"), ()),
    ("MIT-0", ("permission is hereby granted free of charge to any person obtaining a copy",),
     ()),
    ("BSD-4-Clause", _BSD + ("all advertising materials mentioning",), _NOT_BSD),
    ("BSD-3-Clause", _BSD + ("endorse or promote products",), _NOT_BSD),
    ("BSD-2-Clause", _BSD, _NOT_BSD),
    ("ISC", ("permission to use copy modify and or distribute this software for any purpose",
             "provided that the above copyright notice and this permission notice appear"), ()),
    ("ISC", ("permission to use copy modify and distribute this software for any purpose",
             "provided that the above copyright notice and this permission notice appear"), ()),
    ("0BSD", ("permission to use copy modify and or distribute this software for any purpose",),
     ()),
    ("Zlib", ("this software is provided as is without any express or implied warranty",
              "altered source versions must be plainly marked"), ()),
)


def recognise_text(text: str) -> str:
    """The SPDX id of a whole license text, or "" when it is none of the common ones."""
    flat = " " + " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split()) + " "
    for spdx, needed, excluded in _TEXTS:
        if all(f" {p} " in flat for p in needed) and not any(f" {p} " in flat for p in excluded):
            return spdx
    return ""


def _without_gpl_of_lgpl(ids: list[str]) -> list[str]:
    # LGPL-3.0 projects ship the GPL's text beside it (COPYING + COPYING.LESSER).
    if any(i.startswith("LGPL-3") for i in ids):
        ids = [i for i in ids if i != "GPL-3.0"]
    return ids


def _join(ids: Iterable[str]) -> str:
    unique = sorted(set(ids), key=str.lower)  # the same licenses read the same way
    return " AND ".join(f"({i})" if " OR " in i else i for i in unique)


# --- --license ------------------------------------------------------------------------------


def parse_allowed(text: str) -> frozenset[str]:
    """``--license`` text: comma-separated SPDX ids; ``permissive`` stands for PERMISSIVE."""
    allowed: set[str] = set()
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        if item.lower() == "permissive":
            allowed |= PERMISSIVE
        elif (spdx := normalise_expression(item)) and " " not in spdx:
            allowed.add(spdx)
        else:
            raise ValueError(f"{item!r} is not an SPDX license id (e.g. MIT, Apache-2.0, "
                             "or 'permissive')")
    if not allowed:
        raise ValueError("--license needs at least one SPDX id, or 'permissive'")
    return frozenset(allowed)


def is_allowed(expression: str, allowed: frozenset[str]) -> bool:
    """Whether a project under ``expression`` may be kept: OR needs one side, AND both."""
    if not expression or expression.startswith(UNRECOGNISED):
        return False
    tokens = _TOKEN.findall(normalise_expression(expression) or expression)
    try:
        verdict, rest = _or(tokens, allowed)
    except IndexError:
        return False
    return verdict and not rest


def _or(tokens: list[str], allowed: frozenset[str]) -> tuple[bool, list[str]]:
    verdict, tokens = _and(tokens, allowed)
    while tokens and tokens[0].upper() == "OR":
        other, tokens = _and(tokens[1:], allowed)
        verdict = verdict or other
    return verdict, tokens


def _and(tokens: list[str], allowed: frozenset[str]) -> tuple[bool, list[str]]:
    verdict, tokens = _atom(tokens, allowed)
    while tokens and tokens[0].upper() == "AND":
        other, tokens = _atom(tokens[1:], allowed)
        verdict = verdict and other
    return verdict, tokens


def _atom(tokens: list[str], allowed: frozenset[str]) -> tuple[bool, list[str]]:
    if tokens[0] == "(":
        verdict, rest = _or(tokens[1:], allowed)
        if not rest or rest[0] != ")":
            raise IndexError("unbalanced")
        return verdict, rest[1:]
    license_id, rest = tokens[0], tokens[1:]
    if rest and rest[0].upper() == "WITH":
        rest = rest[2:]  # an exception only grants more; the base license decides
    return (normalise_expression(license_id) or license_id) in allowed, rest
