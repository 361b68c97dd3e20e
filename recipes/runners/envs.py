"""Facts about a built environment, asked of its own interpreter.

The environment is the project's (its ``.pth`` files run at start-up), so the question is asked
in the sandbox, and the answer is checked before citrace acts on it: the site-packages
directory it names must lie inside the environment, and the environment inside its directory.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from recipes.records import StageError
from recipes.sandbox import (
    SandboxSettings,
    base_environment,
    check_policy,
    interpreter_roots,
    run,
)

_DESCRIBE = (
    "import json, sys, sysconfig; print(json.dumps({'purelib': sysconfig.get_paths()['purelib'],"
    " 'version': '%d.%d.%d' % sys.version_info[:3]}))"
)
DESCRIBE_TIMEOUT = 60.0


def describe(python: str, *, inside: Path, interpreter: str,
             settings: SandboxSettings = SandboxSettings()) -> tuple[str, str]:
    """(site-packages directory, full version) of an environment's interpreter. The
    environment lies in ``inside`` (its directory) and was made from ``interpreter``; it is
    asked with only those two readable, however its files link elsewhere."""
    env_root = Path(python).parent.parent
    if not _inside(str(env_root), inside):
        raise StageError("build", "broken_env",
                         f"the environment {env_root} leads out of its directory {inside}")
    policy = check_policy(readable=(env_root, *interpreter_roots(interpreter)),
                          settings=settings)
    outcome = run([python, "-c", _DESCRIBE], cwd="/tmp", timeout=DESCRIBE_TIMEOUT,
                  env=base_environment(), policy=policy)
    try:
        if not outcome.ok:
            raise ValueError(outcome.output_tail.strip().splitlines()[-1:] or outcome.verdict)
        facts = json.loads(outcome.output_tail.strip().splitlines()[-1])
        purelib, version = str(facts["purelib"]), str(facts["version"])
    except (ValueError, IndexError, KeyError, TypeError) as exc:
        message = f"the environment's python does not run: {exc}"
        raise StageError("build", "broken_env", message) from exc
    if not _inside(purelib, env_root):
        raise StageError("build", "broken_env",
                         f"the environment names a site-packages outside itself: {purelib}")
    return purelib, version


def _inside(path: str, root: Path) -> bool:
    real, real_root = os.path.realpath(path), os.path.realpath(root)
    return real == real_root or real.startswith(real_root.rstrip("/") + "/")
