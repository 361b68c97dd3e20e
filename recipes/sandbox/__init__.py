"""The one place every untrusted command goes through.

Everything citrace runs is untrusted: ``setup.py``, test suites, traced functions, completions
written by models. ``run`` starts each command in a sandbox (``isolation``: bubblewrap, else
namespaces through ``unshare``; ``confinement``: what the command is given; ``execution``:
following it) under a ``Policy``: the command sees the system
directories, the interpreters and the policy's ``readable`` paths read-only, its ``writable``
paths and a private ``/tmp`` writable, and nothing else of the host (not its home, the output
directory or other projects); it has no network unless the policy allows it (builds, for the
package index); its memory, CPU time, process count, file size and output are bounded; no
process it starts outlives it; the host's environment variables are not passed on. Hitting a
bound is reported in ``CommandOutcome.verdict`` (timeout, oom, output_limit, file_limit).

Builds reach the package index and nothing else: each build command runs in a network
namespace of its own, whose only way out is citrace's egress proxy on the host
(``recipes.sandbox.egress``), which lets through the index's hosts only; what it let through and
refused is in ``CommandOutcome.network``. Every network namespace citrace makes has its
loopback up, so a test may serve on 127.0.0.1 and reach itself.

When no isolation works, ``run`` raises ``SandboxUnavailable`` unless the policy allows
running without it (``SandboxSettings.unsafe_no_sandbox``, from ``--unsafe-no-sandbox``).

``start`` starts a program in the same sandbox and leaves it running, with pipes to it (a
``Session``): citrace's own long-lived programs (the checks' fork server) use it.
"""

from __future__ import annotations

import functools
import math
import os
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from recipes.records import CommandOutcome
from recipes.sandbox import confinement, egress, execution, isolation
from recipes.sandbox.confinement import Limits, Mount, Request
from recipes.sandbox.execution import Stall
from recipes.sandbox.isolation import SandboxUnavailable
from recipes.sandbox.session import Session, SessionEnded

__all__ = ["Policy", "SandboxSettings", "SandboxUnavailable", "Session", "SessionEnded",
           "Stall", "base_environment", "run", "start", "build_policy", "suite_policy",
           "check_policy", "project_dirs", "require_isolation", "summary"]

# Host variables a build or test legitimately needs. Everything else (tokens, keys,
# the user's own settings) stays out of untrusted processes.
PASSED_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TERM", "SSL_CERT_FILE",
                    "REQUESTS_CA_BUNDLE")
PASSED_PREFIXES = ("PIP_", "UV_", "PYENV_")
# What a command's network is: "none", its own loopback only; "index", its own loopback and
# the package index through the egress proxy; "host", the host's own network, loopback
# included (only with --unsafe-build-network, for builds, where the proxy cannot work).
NETWORKS = ("none", "index", "host")

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
DEFAULT_OUTPUT_LIMIT = 50 * MiB  # bytes of output; the command is stopped beyond it
TAIL_LINES = 40


@dataclass(frozen=True)
class SandboxSettings:
    """How a run isolates the untrusted commands of its projects: the user's choices, passed
    as a value into every ``Policy``, and from there into the records that report them."""

    unsafe_no_sandbox: bool = False  # where no sandbox works, run commands without one
    unsafe_build_network: bool = False  # builds get the host's network, not the proxy's
    # How checks are isolated from each other: "fork", forked by a server in a sandbox
    # reused from check to check; "strict", a sandbox per check (tracer.check.run).
    check_isolation: str = "fork"
    # A test run that shows no progress this long is stopped (``execution.Stall``); None
    # waits for its timeout. Set per run by the pipeline, which knows its trace directory.
    stall: Stall | None = None

    @property
    def build_network(self) -> str:
        return "host" if self.unsafe_build_network else "index"


@dataclass(frozen=True)
class Policy:
    """What one untrusted command may see and use.

    ``writable`` and ``readable`` paths appear at their own paths; the system directories
    and the interpreters are always readable. ``home`` and ``tmp_dir`` (inside ``writable``)
    become HOME and TMPDIR; by default both are the private, size-bounded ``/tmp``.
    ``cache_dir`` and ``uv_cache_dir`` are the download caches shared between projects
    (PIP_CACHE_DIR, UV_CACHE_DIR), writable. ``network`` is one of ``NETWORKS``.
    Limits apply to every process of the command; None leaves the host's.
    ``unsafe_no_sandbox`` lets the command run unisolated where no sandbox works.
    """

    writable: tuple[Path, ...] = ()
    readable: tuple[Path, ...] = ()
    network: str = "none"
    memory_bytes: int | None = 4 * GiB  # address space per process
    cpu_seconds: int | None = None  # per process; None: the timeout, rounded up
    max_processes: int | None = 512  # processes and threads of the command together
    max_file_bytes: int | None = 1 * GiB  # largest file it may write
    tmp_bytes: int = 256 * MiB  # size of its private /tmp
    home: Path | None = None
    tmp_dir: Path | None = None
    cache_dir: Path | None = None
    uv_cache_dir: Path | None = None
    unsafe_no_sandbox: bool = False
    stall: Stall | None = None  # stop the command when it shows no progress
    # Adds up what the command did on the network (the egress proxy's count), when given.
    meter: egress.NetworkMeter | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.network not in NETWORKS:
            raise ValueError(f"unknown network {self.network!r}: use one of {NETWORKS}")


def build_policy(dirs: Sequence[Path], *, readable: Sequence[Path] = (),
                 settings: SandboxSettings = SandboxSettings(),
                 meter: egress.NetworkMeter | None = None) -> Policy:
    """Building an environment: the package index, and the project's directories
    (``project_dirs``; HOME and TMPDIR go in the first)."""
    cache, uv_cache = download_cache(), download_cache("uv")
    return Policy(writable=(*dirs, cache, uv_cache), readable=tuple(readable),
                  network=settings.build_network, memory_bytes=8 * GiB, max_processes=1024,
                  max_file_bytes=4 * GiB, home=dirs[0] / ".home", tmp_dir=dirs[0] / ".tmp",
                  cache_dir=cache, uv_cache_dir=uv_cache,
                  unsafe_no_sandbox=settings.unsafe_no_sandbox, meter=meter)


def suite_policy(dirs: Sequence[Path], *, readable: Sequence[Path] = (),
                 settings: SandboxSettings = SandboxSettings()) -> Policy:
    """Running a project's test suite: its own loopback only; the project's directories
    (checkout, environments, traces) only."""
    return Policy(writable=tuple(dirs), readable=tuple(readable), network="none",
                  memory_bytes=8 * GiB, max_processes=1024, max_file_bytes=2 * GiB,
                  home=dirs[0] / ".home", tmp_dir=dirs[0] / ".tmp",
                  unsafe_no_sandbox=settings.unsafe_no_sandbox, stall=settings.stall)


def check_policy(*, readable: Sequence[Path] = (),
                 settings: SandboxSettings = SandboxSettings()) -> Policy:
    """Validating a problem or evaluating a sample: no network, nothing writable but a small
    private /tmp, tight limits."""
    return Policy(writable=(), readable=tuple(readable), network="none",
                  memory_bytes=1 * GiB, max_processes=32, max_file_bytes=16 * MiB,
                  tmp_bytes=32 * MiB, unsafe_no_sandbox=settings.unsafe_no_sandbox)


def download_cache(installer: str = "pip") -> Path:
    """An installer's download cache, shared by every project's build and every run on the
    machine: ``CITRACE_BUILD_CACHE_DIR/pip`` and ``/uv``, by default under the user's cache dir.
    Never the user's own PIP_CACHE_DIR or UV_CACHE_DIR: untrusted builds write in it."""
    base = os.environ.get("CITRACE_BUILD_CACHE_DIR") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "citrace")
    return Path(base) / installer


def project_dirs(checkout: Path, work_dir: Path, *more: Path) -> tuple[Path, ...]:
    """What a project's builds and test runs may write: the environment's directory (HOME
    and TMPDIR go there), the checkout, and ``more`` (a test run's trace directory); never
    their common parent. The directories that hold these stay the host's, so nothing run
    in the sandbox can replace one of them by a link (to the host's files) before citrace
    binds it into the next sandbox or writes in it."""
    paths = (work_dir, checkout, *more)
    return tuple(dict.fromkeys(Path(os.path.abspath(p)) for p in paths))


# --- running without a sandbox --------------------------------------------------------------

def require_isolation(*, allow_unsafe: bool) -> isolation.Backend:
    """The backend to use; SandboxUnavailable when none isolates and running without one
    was not allowed (``--unsafe-no-sandbox``)."""
    backend, reasons = isolation.current()
    if backend.isolated or allow_unsafe:
        return backend
    raise SandboxUnavailable(
        "no sandbox works on this machine (" + "; ".join(reasons) + "), so citrace will not "
        "run untrusted code", hint="install bubblewrap (apt-get install bubblewrap) or allow "
        "user namespaces; or pass --unsafe-no-sandbox to run without isolation")


def isolates() -> bool:
    """Whether commands run isolated here (choosing the backend if none was chosen yet)."""
    backend, _ = isolation.current()
    return backend.isolated


def backend_name() -> str:
    """"bwrap", "unshare" or "none": what isolates commands here."""
    backend, _ = isolation.current()
    return backend.name


# --- environment ---------------------------------------------------------------------------

def base_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k in PASSED_VARIABLES or k.startswith(PASSED_PREFIXES)}
    env.setdefault("LANG", "C.UTF-8")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    # Nothing here is interactive: a program that opens an editor or a pager gets one that
    # returns at once (python-editor 1.0.4's tests open one at import: a vi waiting for a
    # keyboard that is not there held its worker until the run's stall limit).
    env.update(EDITOR="true", VISUAL="true", PAGER="cat", GIT_PAGER="cat")
    env.update(extra or {})
    return env


def _sandbox_environment(env: Mapping[str, str], policy: Policy) -> dict[str, str]:
    """The caller's variables, with HOME, TMPDIR and the caches inside the sandbox."""
    result = dict(env)
    home = str(policy.home or "/tmp")
    result.update(HOME=home, TMPDIR=str(policy.tmp_dir or "/tmp"),
                  XDG_CACHE_HOME=f"{home}/.cache",
                  VIRTUALENV_OVERRIDE_APP_DATA=f"{home}/.cache/virtualenv")
    # The host's own never get here (base_environment): a caller's are a world it chose.
    result.setdefault("USER", "citrace")
    result.setdefault("LOGNAME", "citrace")
    for name, cache in (("PIP_CACHE_DIR", policy.cache_dir),
                        ("UV_CACHE_DIR", policy.uv_cache_dir)):
        if cache is not None:
            result[name] = str(cache)
        else:
            result.pop(name, None)
    # uv hard-links from its cache by default: a project writing into its environment would
    # then change the cached file every later project installs. Copies cannot leak back.
    result["UV_LINK_MODE"] = "copy"
    root = _pyenv_root()
    if root is not None:
        result.setdefault("PYENV_ROOT", str(root))  # HOME moved: pyenv's shims need it
    return result


@functools.lru_cache(maxsize=1)
def _pyenv_root() -> Path | None:
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    return root if (root / "versions").is_dir() else None


@functools.lru_cache(maxsize=64)
def interpreter_roots(*interpreters: str) -> tuple[Path, ...]:
    """The installation directories of these interpreters and of citrace's own (its
    virtualenv and the Python it was made from): what commands need to read to run them."""
    roots: list[Path] = [Path(sys.prefix), Path(sys.base_prefix)]
    pyenv = _pyenv_root()
    if pyenv is not None:
        roots.append(pyenv)
    for path in (sys.executable, *interpreters):
        if path:
            real = Path(os.path.realpath(path))
            roots.append(real.parent.parent if real.parent.name == "bin" else real.parent)
    return tuple(dict.fromkeys(roots))


# --- running ---------------------------------------------------------------------------------

def run(
    argv: Sequence[str],
    *,
    cwd: str | Path,
    timeout: float,
    env: Mapping[str, str] | None = None,
    log_path: str | Path | None = None,
    output_limit: int = DEFAULT_OUTPUT_LIMIT,
    tail_lines: int = TAIL_LINES,
    policy: Policy | None = None,
    input: bytes | None = None,
    confines_itself: bool = False,
    hostname: str | None = None,  # the sandbox's host name (by default, the backend's)
) -> CommandOutcome:
    """Run ``argv`` in the sandbox to completion, or until ``timeout`` seconds or
    ``output_limit`` bytes of output, then end every process it started.

    Without a policy the command may write ``cwd`` only, and has no network. Its standard
    input is ``input``, then end of file (by default, at once). ``confines_itself`` is for
    citrace's own programs only: they apply the uid and rlimits of
    ``confinement.CONFINE_ENV`` themselves before reading anything untrusted."""
    policy = policy or Policy(writable=(Path(cwd),))
    started = time.monotonic()
    env = _sandbox_environment(env if env is not None else base_environment(), policy)
    missing = _missing_program(argv, env)
    if missing:
        execution.log_line(log_path, f"\n$ {' '.join(argv)}\n{missing}\n")
        return CommandOutcome(tuple(argv), 127, time.monotonic() - started,
                              output_tail=missing, verdict="error")
    backend = require_isolation(allow_unsafe=policy.unsafe_no_sandbox)
    _prepare_directories(policy, backend)
    request = Request(argv=tuple(argv), cwd=os.path.abspath(cwd), env=env,
                      mounts=_mounts(policy), host_network=policy.network == "host",
                      limits=_limits(policy, timeout), confines_itself=confines_itself,
                      hostname=hostname)
    if policy.network == "index" and backend.isolated:
        return _run_with_egress(backend, request, policy, timeout=timeout, log_path=log_path,
                                limit=output_limit, tail_lines=tail_lines, started=started,
                                stdin_data=input)
    # Unisolated (--unsafe-no-sandbox), a build has the host's network as it is.
    return execution.execute(backend, request, timeout=timeout, log_path=log_path,
                             limit=output_limit, tail_lines=tail_lines, started=started,
                             stdin_data=input, stall=policy.stall)


def start(argv: Sequence[str], *, cwd: str | Path, policy: Policy,
          env: Mapping[str, str] | None = None, confines_itself: bool = False,
          hostname: str | None = None) -> Session:
    """Start ``argv`` in the sandbox as ``run`` would, and leave it running: a ``Session``
    with pipes to its standard input and output, to ``close`` when done. The policy's limits
    apply to the program and all it starts, for as long as it runs; its CPU limit is the
    policy's ``cpu_seconds`` (None: none). Not for a policy with the package index's network.
    OSError if it cannot start."""
    if policy.network == "index":
        raise ValueError("a session cannot use the egress proxy")
    env = _sandbox_environment(env if env is not None else base_environment(), policy)
    missing = _missing_program(argv, env)
    if missing:
        raise FileNotFoundError(missing)
    backend = require_isolation(allow_unsafe=policy.unsafe_no_sandbox)
    _prepare_directories(policy, backend)
    limits = replace(_limits(policy, 1), cpu_seconds=policy.cpu_seconds)
    request = Request(argv=tuple(argv), cwd=os.path.abspath(cwd), env=env,
                      mounts=_mounts(policy), host_network=policy.network == "host",
                      limits=limits, confines_itself=confines_itself, hostname=hostname)
    return Session(backend, request)


def _run_with_egress(backend: isolation.Backend, request: Request, policy: Policy, *,
                     timeout: float, log_path: str | Path | None, limit: int, tail_lines: int,
                     started: float, stdin_data: bytes | None) -> CommandOutcome:
    """Run a build command whose only way out is the egress proxy: the proxy's socket
    directory bound in, the forwarder started before the command, the proxy variables set."""
    ident = confinement.identity()
    owner = (ident.uid, ident.gid) if ident.switch else None
    with egress.EgressProxy(egress.index_hosts(), owner=owner) as proxy:
        inside = egress.SANDBOX_DIR
        forwarder = [_HOST_PYTHON, "-I", "-S", f"{inside}/{egress.FORWARDER_SOURCE.name}",
                     f"{inside}/{egress.SOCKET_NAME}", str(egress.FORWARDER_PORT), "--"]
        wrapped = replace(
            request, argv=(*forwarder, *request.argv), shown_argv=request.argv,
            env={**request.env, **egress.proxy_environment()},
            mounts=(*request.mounts, *confinement.bind_at(inside, proxy.directory)))
        outcome = execution.execute(backend, wrapped, timeout=timeout, log_path=log_path,
                                    limit=limit, tail_lines=tail_lines, started=started,
                                    stdin_data=stdin_data)
    used = proxy.usage()
    if policy.meter is not None:
        policy.meter.add(used)
    return replace(outcome, network=used)


_HOST_PYTHON = os.path.realpath(sys.executable)  # citrace's own interpreter, for its forwarder


def _missing_program(argv: Sequence[str], env: Mapping[str, str]) -> str:
    program = argv[0] if argv else ""
    if "/" in program:
        found = os.access(program, os.X_OK) and not os.path.isdir(program)
    else:
        found = bool(program) and shutil.which(program, path=env.get("PATH", "")) is not None
    return "" if found else f"cannot start {program}: no such program"


def _prepare_directories(policy: Policy, backend: isolation.Backend) -> None:
    for path in (policy.home, policy.tmp_dir):
        if path is not None:
            path.mkdir(parents=True, exist_ok=True)
    if backend.isolated:
        shallow = tuple(c for c in (policy.cache_dir, policy.uv_cache_dir) if c is not None)
        confinement.grant(policy.writable, confinement.identity(), shallow=shallow)
    else:
        for path in policy.writable:
            path.mkdir(parents=True, exist_ok=True)


def _mounts(policy: Policy) -> tuple[Mount, ...]:
    if not policy.writable:
        return _mounts_of_reader(policy)  # the same every time: checks run thousands
    return _mounts_now(policy)


@functools.lru_cache(maxsize=32)
def _mounts_of_reader(policy: Policy) -> tuple[Mount, ...]:
    return _mounts_now(policy)


def _mounts_now(policy: Policy) -> tuple[Mount, ...]:
    readable = (*interpreter_roots(), *policy.readable)
    return confinement.mounts_for(writable=policy.writable, readable=readable,
                                  tmp_bytes=policy.tmp_bytes,
                                  host_network=policy.network == "host")


def _limits(policy: Policy, timeout: float) -> Limits:
    cpu = policy.cpu_seconds if policy.cpu_seconds is not None else max(1, math.ceil(timeout))
    return Limits(address_space=policy.memory_bytes, cpu_seconds=cpu,
                  processes=policy.max_processes, file_bytes=policy.max_file_bytes)


def summary() -> str:
    """How commands are isolated here, in a few words: "bwrap", or "none (why)"."""
    backend, reasons = isolation.current()
    return backend.name if backend.isolated else f"none ({'; '.join(reasons)})"
