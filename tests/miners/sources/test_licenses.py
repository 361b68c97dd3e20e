from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from miners.sources import acquire, licenses
from miners.sources.licenses import License, decide, from_files, is_allowed, parse_allowed
from miners.specs import parse_spec
from tests.miners.sourcekit import FakeIndex, Upstream, commit_all, make_sdist, write_files

# Abridged license texts: the phrases each full text carries, in their usual line breaks.
MIT_TEXT = """MIT License

Copyright (c) 2024 Someone

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.
"""
BSD_CLAUSES = """Redistribution and use in source and binary forms, with or without
modification, are permitted provided that the following conditions are met:

1. Redistributions of source code must retain the above copyright notice.
2. Redistributions in binary form must reproduce the above copyright notice.
"""
BSD3_TEXT = BSD_CLAUSES + """3. Neither the name of the copyright holder nor the names of its
   contributors may be used to endorse or promote products derived from
   this software without specific prior written permission.
"""
APACHE_TEXT = """
                                 Apache License
                           Version 2.0, January 2004
                        http://www.apache.org/licenses/
"""
GPL3_TEXT = """                    GNU GENERAL PUBLIC LICENSE
                       Version 3, 29 June 2007
"""
LGPL3_TEXT = """                   GNU LESSER GENERAL PUBLIC LICENSE
                       Version 3, 29 June 2007
"""
ISC_TEXT = """ISC License

Permission to use, copy, modify, and/or distribute this software for any
purpose with or without fee is hereby granted, provided that the above
copyright notice and this permission notice appear in all copies.
"""
UNLICENSE_TEXT = """This is free and unencumbered software released into the public domain.
"""
MPL_TEXT = "Mozilla Public License Version 2.0\n==================================\n"
# Built on BSD's clauses (as roman 5.2's LICENSE.txt is): must not be read as BSD.
ZPL_TEXT = """Zope Public License (ZPL) Version 2.1

Redistribution and use in source and binary forms, with or without
modification, are permitted provided that the following conditions are met:

1. Redistributions in source code must retain the accompanying copyright notice.
3. Names of the copyright holders must not be used to endorse or promote
products derived from this software without prior written permission.
"""


@pytest.mark.parametrize("files,expected", [
    ({"LICENSE": MIT_TEXT}, "MIT"),
    ({"LICENSE.txt": BSD3_TEXT}, "BSD-3-Clause"),
    ({"LICENCE": BSD_CLAUSES}, "BSD-2-Clause"),
    ({"LICENSE.md": APACHE_TEXT}, "Apache-2.0"),
    ({"COPYING": GPL3_TEXT}, "GPL-3.0"),
    ({"COPYING": GPL3_TEXT, "COPYING.LESSER": LGPL3_TEXT}, "LGPL-3.0"),
    ({"LICENSE": ISC_TEXT}, "ISC"),
    ({"UNLICENSE": UNLICENSE_TEXT}, "Unlicense"),
    ({"LICENSE": MPL_TEXT}, "MPL-2.0"),
    ({"LICENSE.txt": ZPL_TEXT}, "ZPL-2.1"),
    ({"LICENSE": BSD3_TEXT.replace("Redistribution and", "Zope Public License\n\n"
                                                       "Redistribution and")},
     "unrecognised: license file LICENSE"),
    ({"LICENSE-MIT": MIT_TEXT, "LICENSE-APACHE": APACHE_TEXT}, "Apache-2.0 AND MIT"),
    ({"LICENSES/MIT.txt": "whatever", "LICENSES/apache-2.0.txt": "x"}, "Apache-2.0 AND MIT"),
    ({"COPYRIGHT": "Copyright 2024 Someone. All rights reserved.\n"},
     "unrecognised: license file COPYRIGHT"),
    ({"README": MIT_TEXT}, ""),
])
def test_license_files_are_recognised(tmp_path: Path, files: dict[str, str],
                                      expected: str) -> None:
    write_files(tmp_path, files)
    assert from_files(tmp_path).value == expected


@pytest.mark.parametrize("info,files,expected", [
    # A PEP 639 expression wins, canonicalised.
    ({"license_expression": "mit or apache-2.0", "license": "GPL"}, {"LICENSE": GPL3_TEXT},
     License("MIT OR Apache-2.0", "pypi:license_expression")),
    # Then the license text itself, over what the metadata calls it.
    ({"license": "BSD", "classifiers": ["License :: OSI Approved :: BSD License"]},
     {"LICENSE": BSD3_TEXT}, License("BSD-3-Clause", "file:LICENSE")),
    ({"license": "Apache 2.0"}, {}, License("Apache-2.0", "pypi:license")),
    # A valid SPDX id in the free-text field is the authors' word, as an expression is.
    ({"license": "mit"}, {"LICENSE": BSD3_TEXT}, License("MIT", "pypi:license")),
    ({"license": "ZPL-2.1"}, {}, License("ZPL-2.1", "pypi:license")),
    ({"license": MIT_TEXT}, {}, License("MIT", "pypi:license")),  # a pasted whole text
    ({"classifiers": ["License :: OSI Approved",
                      "License :: OSI Approved :: GNU General Public License v3 or later "
                      "(GPLv3+)"]}, {}, License("GPL-3.0-or-later", "pypi:classifiers")),
    # Ambiguous names stay marked, never guessed.
    ({"classifiers": ["License :: OSI Approved :: BSD License"]}, {},
     License("unrecognised: BSD License", "pypi:classifiers")),
    ({"license": "GPL", "classifiers": ["License :: OSI Approved :: MIT License"]}, {},
     License("MIT", "pypi:classifiers")),
    ({"license": "Custom terms, see site"}, {},
     License("unrecognised: Custom terms, see site", "pypi:license")),
    ({"license": None, "classifiers": None}, {}, License("", "")),
])
def test_the_best_source_decides(tmp_path: Path, info: dict[str, Any], files: dict[str, str],
                                 expected: License) -> None:
    write_files(tmp_path, files)
    assert decide(info, tmp_path) == expected


@pytest.mark.parametrize("expression,allowed", [
    ("MIT", True),
    ("GPL-3.0-only", False),
    ("MIT OR GPL-3.0-only", True),
    ("MIT AND GPL-3.0-only", False),
    ("(MIT OR GPL-2.0-only) AND Apache-2.0", True),
    ("Apache-2.0 WITH LLVM-exception", True),
    ("unrecognised: BSD License", False),
    ("", False),
])
def test_an_expression_is_kept_when_its_licenses_allow(expression: str, allowed: bool) -> None:
    assert is_allowed(expression, parse_allowed("permissive")) is allowed


def test_the_license_list_takes_ids_and_the_permissive_set() -> None:
    assert parse_allowed("mit, GPL-3.0-ONLY") == {"MIT", "GPL-3.0-only"}
    assert parse_allowed("permissive,LGPL-3.0-only") == licenses.PERMISSIVE | {"LGPL-3.0-only"}
    for ident in licenses.PERMISSIVE:  # every id of the shorthand is a real SPDX id
        assert licenses.normalise_expression(ident) == ident
    with pytest.raises(ValueError, match="not an SPDX license id"):
        parse_allowed("MIT,my own license")
    with pytest.raises(ValueError, match="at least one"):
        parse_allowed(" , ")


def test_every_source_records_the_license_and_where_it_came_from(
        fake_index: FakeIndex, upstream: Upstream, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITRACE_PYPI_URL", fake_index.url)
    fake_index.publish("roman", "5.2", make_sdist(tmp_path / "dist", "roman", "5.2"),
                       info={"license_expression": "BSD-3-Clause"})
    write_files(upstream.path, {"LICENSE": APACHE_TEXT})
    commit_all(upstream.path, "license", "2024-01-01T00:00:00+00:00")
    archive = make_sdist(tmp_path / "local", "widget", "1.0", {"COPYING": GPL3_TEXT})
    project = write_files(tmp_path / "project", {"LICENSE": MIT_TEXT})
    found = {text: acquire(parse_spec(text), tmp_path / "work" / str(n))
             for n, text in enumerate(["pypi:roman", upstream.url, str(archive), str(project)])}
    assert [(c.license, c.license_source) for c in found.values()] == [
        ("BSD-3-Clause", "pypi:license_expression"),
        ("Apache-2.0", "file:LICENSE"),
        ("GPL-3.0", "file:COPYING"),
        ("MIT", "file:LICENSE"),
    ]


def test_an_older_release_is_judged_by_its_own_metadata(
        fake_index: FakeIndex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The project endpoint's info describes the latest release; 1.0 was under another license.
    monkeypatch.setenv("CITRACE_PYPI_URL", fake_index.url)
    old_info = ("Metadata-Version: 2.1\nName: chardetish\nVersion: 1.0\nLicense: LGPL-2.1-only\n"
                "Classifier: License :: OSI Approved :: MIT License\n\nA project.\n")
    fake_index.publish("chardetish", "1.0", make_sdist(tmp_path / "dist", "chardetish", "1.0",
                                                       {"PKG-INFO": old_info}))
    fake_index.publish("chardetish", "2.0", make_sdist(tmp_path / "dist", "chardetish", "2.0"),
                       info={"license_expression": "0BSD"})
    old = acquire(parse_spec("pypi:chardetish==1.0"), tmp_path / "old")
    new = acquire(parse_spec("pypi:chardetish==2.0"), tmp_path / "new")
    assert (old.license, old.license_source) == ("LGPL-2.1-only", "PKG-INFO:license")
    assert (new.license, new.license_source) == ("0BSD", "pypi:license_expression")
