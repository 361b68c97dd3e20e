"""Facts about a built environment, asked of its own interpreter."""

from __future__ import annotations

import json
import subprocess

from recipes.records import StageError

_DESCRIBE = (
    "import json, sys, sysconfig; print(json.dumps({'purelib': sysconfig.get_paths()['purelib'],"
    " 'version': '%d.%d.%d' % sys.version_info[:3]}))"
)


def describe(python: str) -> tuple[str, str]:
    """(site-packages directory, full version) of an environment's interpreter."""
    try:
        out = subprocess.run([python, "-c", _DESCRIBE], capture_output=True, text=True,
                             timeout=60, check=True).stdout
        facts = json.loads(out.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as exc:
        message = f"the environment's python does not run: {exc}"
        raise StageError("build", "broken_env", message) from exc
    return str(facts["purelib"]), str(facts["version"])
