"""Telling a doctest's id from a test's, among the ids the probe records (``CallRecord.test``).

A problem whose asserts come only from doctests repeats the examples of the docstring its
prompt already shows: ``ProblemMeta.from_doctests`` marks it. The probe records pytest's
node id (``pkg/mod.py::pkg.mod.add`` for a doctest, ``tests/test_mod.py::TestX::test_y[1.5]``
for a test) or unittest's id (a doctest's name, ``pkg.mod.add``, or ``README.rst`` for a
doctest file; ``tests.test_mod.TestX.test_y`` for a test)."""

from __future__ import annotations

import re
from collections.abc import Iterable

_PARAMETERS = re.compile(r"\[.*\]$")  # pytest's parametrize ids may hold anything


def is_doctest(test_id: str) -> bool:
    """Whether ``test_id`` names a doctest. pytest: the item's name after the file holds a
    dot (doctest items are named ``module.qualname`` or after their text file; test
    functions and classes are identifiers). unittest: a dotted name whose last part is not a
    test method's (the default loader runs ``test*`` methods, and ``runTest``)."""
    if "::" in test_id:
        name = _PARAMETERS.sub("", test_id.rsplit("::", 1)[1])
        return "." in name
    last = test_id.rsplit(".", 1)[-1]
    return "." in test_id and not last.startswith("test") and last != "runTest"


def only_doctests(test_ids: Iterable[str]) -> bool:
    """True when there is at least one id and every one names a doctest."""
    ids = list(test_ids)
    return bool(ids) and all(is_doctest(test_id) for test_id in ids)
