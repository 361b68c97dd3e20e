"""The project lists that ship with citrace: ``quickstart.yaml`` (the default of
``citrace mine``, over the ``examples/`` project) and ``yardstick.txt`` (real projects
from PyPI, pinned). Found through this package, as package data."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent
QUICKSTART = HERE / "quickstart.yaml"
YARDSTICK = HERE / "yardstick.txt"
EXAMPLES = HERE / "examples"
