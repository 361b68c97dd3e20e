"""Putting the probe into a target environment and switching it on for one run.

Two ways, one probe:
* ``citrace mine`` builds the environment, so it puts the probe into its site-packages
  under a name no project uses, with a ``.pth`` line that imports it only when
  ``CITRACE_PROBE`` is set (``install_probe``). The line swallows every failure, so a
  broken probe can never change what an interpreter prints at start-up. The environment is
  the project's (its build wrote it), so the copy and the compilation run in the sandbox,
  with the interpreter citrace made the environment from: never the environment's own.
  The config travels in the variable itself, so there is no file the project could replace.
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
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from recipes.records import StageError
from recipes.sandbox import (
    Policy,
    SandboxSettings,
    base_environment,
    interpreter_roots,
    run,
)

PROBE_MODULE = "_citrace_probe"
PROBE_ENV_VAR = "CITRACE_PROBE"
PROBE_SOURCE = Path(__file__).with_name("probe.py")
# The per-test time limit (tracer/timelimit.py), a pytest plugin that every pytest of the
# environment loads through its entry point, and that does nothing without CITRACE_PROBE.
TIME_LIMIT_MODULE = "_citrace_test_limit"
TIME_LIMIT_SOURCE = Path(__file__).with_name("timelimit.py")
TIME_LIMIT_DIST = "citrace_test_limit-1.0.dist-info"
# unittest's share of the limit: the ``.pth`` line (TIME_LIMIT_PTH_LINE, below) imports the
# module at start-up when CITRACE_PROBE is set, and it wraps TestCase.run as unittest loads.
# unittest's share of the limit: the module wraps TestCase.run as unittest is imported.
BOOT_SOURCE = Path(__file__).with_name("boot_sitecustomize.py")

# site.py executes .pth lines that start with "import"; the exec'd string is a statement
# block so that the try/except can sit on one line.
PTH_LINE = (
    "import os; exec(\"try:\\n if os.environ.get('" + PROBE_ENV_VAR + "'): import "
    + PROBE_MODULE + "\\nexcept BaseException: pass\")\n"
)
TIME_LIMIT_PTH_LINE = PTH_LINE.replace(PROBE_MODULE, TIME_LIMIT_MODULE)

# Run in the sandbox by the interpreter the environment was made from (-I -S: nothing of the
# environment is read): whatever the build left at the names written is replaced, then the
# modules are compiled, so that no test process compiles them again (~15 ms each, under
# PYTHONDONTWRITEBYTECODE) and a probe that does not parse on that version fails here, not
# silently behind the .pth line's try/except. stdin: {relative path: text}, as JSON.
_INSTALL = """
import json, os, py_compile, sys
site = sys.argv[1]
files = json.loads(sys.stdin.read())
for relative, text in sorted(files.items()):
    path = os.path.join(site, relative)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.lexists(path):
        os.unlink(path)
    with open(path, 'x', encoding='utf-8') as out:
        out.write(text)
for relative in sorted(files):
    if relative.endswith('.py'):
        py_compile.compile(os.path.join(site, relative), doraise=True)
"""
INSTALL_TIMEOUT = 60.0


@dataclass(frozen=True)
class ProbeConfig:
    """What the probe reads at start-up (the JSON file ``CITRACE_PROBE`` names)."""

    out_dir: str
    roots: tuple[str, ...]  # directories, and files of top-level modules
    max_calls_per_function: int = 100
    max_value_chars: int = 2000
    max_trace_bytes: int = 20_000_000
    max_depth: int = 6
    max_yields: int = 10  # values recorded per generator call (sys.monitoring backend)
    backend: str = "auto"  # auto | setprofile | monitoring (3.12+; else setprofile)
    test_time_limit: float = 0.0  # seconds each pytest test may run (tracer/timelimit.py)
    # The project's top-level module names: each process says at exit which of them it
    # imported, and from where (the reason of a run that recorded nothing).
    modules: tuple[str, ...] = ()

    def to_json(self) -> str:
        data = asdict(self)
        data["roots"] = list(self.roots)
        data["modules"] = list(self.modules)
        return json.dumps(data, separators=(",", ":"))

    def write(self, path: Path | str) -> Path:
        path = Path(path)
        path.write_text(self.to_json() + "\n", encoding="utf-8")
        return path


def install_probe(site_packages: Path, *, interpreter: str, env_dir: Path,
                  settings: SandboxSettings = SandboxSettings(),
                  log_path: Path | None = None) -> None:
    """Put the probe and its .pth line into ``site_packages`` (inside ``env_dir``, the
    environment's directory), compiled, in the sandbox with ``interpreter``: the host
    interpreter of the environment's version, which citrace chose itself."""
    policy = Policy(writable=(env_dir,), readable=interpreter_roots(interpreter),
                    unsafe_no_sandbox=settings.unsafe_no_sandbox)
    outcome = run([interpreter, "-I", "-S", "-c", _INSTALL, str(site_packages)], cwd=env_dir,
                  timeout=INSTALL_TIMEOUT, env=base_environment(), policy=policy,
                  input=json.dumps(probe_files()).encode(), log_path=log_path)
    if not outcome.ok:
        last = (outcome.output_tail.strip().splitlines() or [outcome.verdict])[-1]
        raise StageError("trace", "probe_install",
                         f"the probe could not be installed with {interpreter}: {last}")


def probe_files() -> dict[str, str]:
    """What ``install_probe`` writes into site-packages: {relative path: text}."""
    return {
        f"{PROBE_MODULE}.py": PROBE_SOURCE.read_text("utf-8"),
        f"{PROBE_MODULE}.pth": PTH_LINE,
        f"{TIME_LIMIT_MODULE}.py": TIME_LIMIT_SOURCE.read_text("utf-8"),
        f"{TIME_LIMIT_MODULE}.pth": TIME_LIMIT_PTH_LINE,
        f"{TIME_LIMIT_DIST}/METADATA": "Metadata-Version: 2.1\nName: citrace-test-limit\n"
                                      "Version: 1.0\n",
        f"{TIME_LIMIT_DIST}/entry_points.txt": f"[pytest11]\ncitrace_test_limit = "
                                              f"{TIME_LIMIT_MODULE}\n",
    }


def probe_environment(config: ProbeConfig | Path | str) -> dict[str, str]:
    """The variables that switch the probe on for a command: the config itself, or the
    path of a file holding it."""
    if isinstance(config, ProbeConfig):
        return {PROBE_ENV_VAR: config.to_json()}
    return {PROBE_ENV_VAR: str(Path(config).resolve())}


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
