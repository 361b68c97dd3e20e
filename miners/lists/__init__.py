"""The project lists that ship with citrace: ``quickstart.yaml`` (the default of
``citrace mine``, over the ``examples/`` project), ``yardstick.txt`` (real projects from
PyPI, pinned, that fixes are measured against) and ``campaign.txt`` (320 pinned PyPI
projects over 2012-2026, for measuring citrace at scale). Found through this package, as
package data."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent
QUICKSTART = HERE / "quickstart.yaml"
YARDSTICK = HERE / "yardstick.txt"
CAMPAIGN = HERE / "campaign.txt"
EXAMPLES = HERE / "examples"
