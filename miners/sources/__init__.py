"""Turning a ``Spec`` into a source tree on disk (a ``Checkout``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from miners.records import Checkout, Spec
from miners.sources.archive import acquire_archive
from miners.sources.git import acquire_git
from miners.sources.local import acquire_local
from miners.sources.pypi import acquire_pypi
from recipes.records import StageError

ACQUIRERS: dict[str, Callable[[Spec, Path], Checkout]] = {
    "local": acquire_local,
    "archive": acquire_archive,
    "pypi": acquire_pypi,
    "git": acquire_git,
}


def acquire(spec: Spec, dest: Path) -> Checkout:
    """The source tree of ``spec`` placed in ``dest`` (absent or empty), or ``StageError``.

    ``dest`` is made absolute first, so that ``Checkout.path`` stays valid whatever the
    later stages' working directory.
    """
    acquirer = ACQUIRERS.get(spec.kind)
    if acquirer is None:
        raise StageError("acquire", "bad_spec",
                         f"{spec.raw}: unknown spec kind {spec.kind!r}; expected one of "
                         + ", ".join(ACQUIRERS))
    return acquirer(spec, Path(os.path.abspath(dest)))


__all__ = ["ACQUIRERS", "acquire"]
