"""Putting the probe into a target environment and switching it on for one run.

Two ways, one probe:
* ``citrace mine`` builds the environment, so it copies the probe into its site-packages
  under a name no project uses, with a ``.pth`` line that imports it only when
  ``CITRACE_PROBE`` is set (``install_probe``). The line swallows every failure, so a
  broken probe can never change what an interpreter prints at start-up.
* ``citrace trace`` runs a command on interpreters and virtualenvs it cannot write into, so
  it puts a boot directory on ``PYTHONPATH`` (``write_boot_dir``): the probe module plus a
  ``sitecustomize.py`` that imports it and then runs the ``sitecustomize`` it shadows.
  Interpreters started with ``-S``, ``-E`` or ``-I``, or by tools that rebuild the
  environment (tox without ``passenv``) or replace ``PYTHONPATH``, are not traced; a
  ``sitecustomize`` in an earlier ``PYTHONPATH`` entry would shadow the boot one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from recipes.records import StageError
from recipes.sandbox import base_environment

PROBE_MODULE = "_citrace_probe"
PROBE_ENV_VAR = "CITRACE_PROBE"
PROBE_SOURCE = Path(__file__).with_name("probe.py")
BOOT_SOURCE = Path(__file__).with_name("boot_sitecustomize.py")

# site.py executes .pth lines that start with "import"; the exec'd string is a statement
# block so that the try/except can sit on one line.
PTH_LINE = (
    "import os; exec(\"try:\\n if os.environ.get('" + PROBE_ENV_VAR + "'): import "
    + PROBE_MODULE + "\\nexcept BaseException: pass\")\n"
)

_COMPILE = "import py_compile, sys; py_compile.compile(sys.argv[1], doraise=True)"
_PURELIB_QUERY = "import sysconfig; print('\\n' + sysconfig.get_paths()['purelib'])"


@dataclass(frozen=True)
class ProbeConfig:
    """What the probe reads at start-up (the JSON file ``CITRACE_PROBE`` names)."""

    out_dir: str
    roots: tuple[str, ...]
    max_calls_per_function: int = 20
    max_value_chars: int = 2000
    max_trace_bytes: int = 20_000_000
    max_depth: int = 6
    max_yields: int = 10  # values recorded per generator call (sys.monitoring backend)
    backend: str = "auto"  # auto | setprofile | monitoring (3.12+; else setprofile)

    def write(self, path: Path | str) -> Path:
        path = Path(path)
        data = asdict(self)
        data["roots"] = list(self.roots)
        path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        return path


def site_packages_of(python: str) -> Path:
    """The purelib directory of the environment ``python`` belongs to."""
    try:
        done = subprocess.run(
            [python, "-c", _PURELIB_QUERY], capture_output=True, text=True, timeout=60,
            env=base_environment(), stdin=subprocess.DEVNULL, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StageError("trace", "no-site-packages",
                         f"cannot run {python} to find its site-packages: {exc}") from exc
    lines = done.stdout.strip().splitlines()
    # The last line: a project's own .pth files may print before our query does.
    if done.returncode != 0 or not lines:
        raise StageError("trace", "no-site-packages",
                         f"{python} did not report its site-packages (exit {done.returncode}); "
                         "check that the environment was built")
    return Path(lines[-1])


def install_probe(site_packages: Path, *, python: str | None = None) -> None:
    """Copy the probe into ``site_packages`` with the .pth line that starts it.

    Given the environment's ``python``, also compile it there: test commands run with
    PYTHONDONTWRITEBYTECODE, so without a .pyc every interpreter start would compile the
    probe again (~15 ms), and a probe that does not parse on that version would otherwise
    fail silently behind the .pth line's try/except.
    """
    site_packages.mkdir(parents=True, exist_ok=True)
    module = site_packages / f"{PROBE_MODULE}.py"
    shutil.copyfile(PROBE_SOURCE, module)
    (site_packages / f"{PROBE_MODULE}.pth").write_text(PTH_LINE, encoding="ascii")
    if python is not None:
        _compile(python, module)


def _compile(python: str, module: Path) -> None:
    try:
        done = subprocess.run(
            [python, "-c", _COMPILE, str(module)], capture_output=True, text=True,
            timeout=60, env=base_environment(), stdin=subprocess.DEVNULL, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StageError("trace", "probe-install", f"cannot run {python}: {exc}") from exc
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise StageError("trace", "probe-install",
                         f"the probe does not compile on {python}: {last}")


def probe_environment(config_path: Path | str) -> dict[str, str]:
    """The variables that switch the probe on for a command."""
    return {PROBE_ENV_VAR: str(Path(config_path).resolve())}


def write_boot_dir(directory: Path) -> Path:
    """A directory that, first on ``PYTHONPATH``, starts the probe in every CPython 3.6+
    (and its subprocesses) that runs with ``CITRACE_PROBE`` set."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PROBE_SOURCE, directory / f"{PROBE_MODULE}.py")
    shutil.copyfile(BOOT_SOURCE, directory / "sitecustomize.py")
    return directory


def boot_environment(boot_dir: Path, config_path: Path | str,
                     environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` with the probe switched on through ``boot_dir``."""
    env = dict(environ)
    paths = [str(boot_dir.resolve())]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.update(probe_environment(config_path))
    return env
