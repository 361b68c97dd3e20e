"""How an untrusted command is isolated from the host: the backends behind ``sandbox.run``.

``current()`` picks a backend the first time it is asked and remembers it for the process:
bubblewrap when a trivial command runs under it, else Linux namespaces through util-linux's
``unshare`` (with ``pid1.py`` building the file system view), else nothing, which
``sandbox.run`` then refuses to use unless the user allowed it. ``CITRACE_SANDBOX`` (``auto``,
``bwrap``, ``unshare``, ``none``) forces the choice; tests use it to reach every path.

Both isolating backends give the command fresh pid, ipc and uts namespaces (and a network
namespace with only loopback unless the policy allows the network), a root file system of
nothing but the request's mounts (``confinement``), no capabilities, ``no_new_privs``, and
its rlimits before it starts. Every process of a run lives in the run's pid namespace, so
ending the namespace's first process (bubblewrap's ``--die-with-parent``, unshare's
``--kill-child``) ends them all, daemons included; ``wait_gone`` waits until the kernel has.
"""

from __future__ import annotations

import json
import logging
import os
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from recipes.errors import CitraceError
from recipes.sandbox.confinement import (
    CONFINE_ENV,
    Identity,
    Limits,
    Mount,
    Request,
    confinement,
    grant,
    identity,
    mounts_for,
)

log = logging.getLogger("citrace")

BACKEND_ENV = "CITRACE_SANDBOX"
SHIM = Path(__file__).with_name("pid1.py")
PROBE_TIMEOUT = 20.0
GONE_TIMEOUT = 10.0


class SandboxUnavailable(CitraceError):
    """No isolation works here and the user did not allow running without it."""


@dataclass
class Launch:
    """What ``sandbox.run`` starts for a request, and what it learns about the start."""

    argv: list[str]
    env: dict[str, str]
    cwd: str
    pass_fds: tuple[int, ...] = ()
    status_fd: int | None = None  # read end: the backend reports the start through it
    child_fds: list[int] = field(default_factory=list)  # closed in citrace once started
    started: bool = True  # did the command itself start (False: the sandbox failed)
    first_pid: int | None = None  # host pid of the sandbox's pid 1
    all_gone: bool = True

    def after_spawn(self) -> None:
        """The command has its copies of ``child_fds``: close ours."""
        while self.child_fds:
            os.close(self.child_fds.pop())

    def close(self) -> None:
        self.after_spawn()
        if self.status_fd is not None:
            os.close(self.status_fd)
            self.status_fd = None


# --- user namespaces for root -------------------------------------------------------------

class _UserNamespaces:
    """User namespaces mapping host uid 0 and the sandbox's uid, one per concurrent run and
    reused afterwards (a run's processes are all gone by then, so its count starts at 0)."""

    def __init__(self, unshare: str, ident: Identity) -> None:
        self._unshare, self._ident = unshare, ident
        self._free: list[int] = []
        self._lock = threading.Lock()

    @contextmanager
    def one(self) -> Iterator[list[int]]:
        """Yields [fd]; clear the list to keep the namespace out of the pool."""
        with self._lock:
            fd = self._free.pop() if self._free else None
        held = [fd if fd is not None else self._create()]
        try:
            yield held
        finally:
            if held:
                with self._lock:
                    self._free.append(held[0])

    def _create(self) -> int:
        # The helper unshares, waits while citrace writes the maps, then re-executes itself so
        # that it is root of the namespace and can forbid namespaces nested inside it.
        script = ("echo ready; read _; "
                  "exec /bin/sh -c 'echo 0 > /proc/sys/user/max_user_namespaces'")
        helper = subprocess.Popen([self._unshare, "--user", "--", "/bin/sh", "-c", script],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env={"PATH": "/usr/bin:/bin"})
        assert helper.stdin is not None and helper.stdout is not None
        try:
            if helper.stdout.readline() != b"ready\n":
                raise OSError("unshare --user did not start")
            uid, gid = self._ident.uid, self._ident.gid
            Path(f"/proc/{helper.pid}/uid_map").write_text(f"0 0 1\n{uid} {uid} 1\n")
            Path(f"/proc/{helper.pid}/gid_map").write_text(f"0 0 1\n{gid} {gid} 1\n")
            fd = os.open(f"/proc/{helper.pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
            helper.stdin.write(b"go\n")
            helper.stdin.close()
            if helper.wait(timeout=10) != 0:
                os.close(fd)
                why = helper.stderr.read() if helper.stderr else b""
                raise OSError(f"cannot set up the user namespace: {why!r}")
            return fd
        finally:
            if helper.poll() is None:
                helper.kill()
                helper.wait()
            helper.stdout.close()
            if helper.stderr:
                helper.stderr.close()


# --- backends ------------------------------------------------------------------------------

class Backend:
    """Turns a request into the command that runs it isolated."""

    name = "none"
    isolated = False

    @cached_property
    def default_signals(self) -> list[str]:
        """The prefix of ``_default_signals``, probed once, at the first command."""
        return _default_signals()

    @contextmanager
    def launch(self, request: Request) -> Iterator[Launch]:
        # Unisolated (--unsafe-no-sandbox) commands, too, start with every signal default.
        if request.confines_itself:
            env = {**request.env, CONFINE_ENV: confinement(request.limits, None)}
            yield Launch(argv=[*self.default_signals, *request.argv], env=env, cwd=request.cwd)
            return
        prlimit = shutil.which("prlimit")
        limits = [prlimit, *request.limits.prlimit_args(), "--"] if prlimit else []
        yield Launch(argv=[*limits, *self.default_signals, *request.argv], env=request.env,
                     cwd=request.cwd)

    def finish(self, launch: Launch) -> None:
        """Learn whether the command started and wait until its processes are gone."""


def _default_signals() -> list[str]:
    """A prefix that starts a command with every signal at its default action: what
    citrace's own parent ignored (``nohup``: SIGHUP; a shell's background job: SIGINT,
    SIGQUIT) would otherwise reach every sandboxed command through exec, and a project's test
    that interrupts itself would hang. GNU env 8.31+ does it; without one, nothing is added."""
    env = shutil.which("env")
    if env is None:
        return []
    try:
        works = subprocess.run([env, "--default-signal", "true"], capture_output=True,
                               timeout=10, check=False).returncode == 0
    except (OSError, subprocess.SubprocessError):
        works = False
    return [env, "--default-signal", "--"] if works else []


class Bubblewrap(Backend):
    name = "bwrap"
    isolated = True

    def __init__(self, tools: dict[str, str], ident: Identity) -> None:
        self.tools, self.ident = tools, ident
        self._namespaces = _UserNamespaces(tools["unshare"], ident) if ident.switch else None

    @contextmanager
    def launch(self, request: Request) -> Iterator[Launch]:
        with _launching(self._namespaces, request, self._launch) as launch:
            yield launch

    def _launch(self, request: Request, status_read: int, status_write: int,
                userns: int | None) -> Launch:
        argv = [self.tools["bwrap"]]
        if userns is not None:
            # Root of the namespace keeps what it needs to enter the working directory
            # (owned by the sandbox's uid) and to become that uid; setpriv's change of uid
            # then clears every capability before the command starts.
            argv += ["--userns", str(userns), "--cap-drop", "ALL"]
            for cap in ("CAP_SETUID", "CAP_SETGID", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH"):
                argv += ["--cap-add", cap]
        else:
            argv += ["--unshare-user", "--disable-userns"]
        argv += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
                 "--die-with-parent", "--new-session", "--json-status-fd", str(status_write)]
        if not request.host_network:
            argv.append("--unshare-net")  # bwrap brings its loopback up
        if request.hostname:
            argv += ["--hostname", request.hostname]
        argv += _bwrap_mounts(request.mounts)
        argv += ["--chdir", request.cwd, "--"]
        env = request.env
        if request.confines_itself:
            env = {**env, CONFINE_ENV: confinement(request.limits,
                                                   self.ident if userns is not None else None)}
        else:
            if userns is not None:
                argv += [self.tools["setpriv"], f"--reuid={self.ident.uid}",
                         f"--regid={self.ident.gid}", "--clear-groups", "--inh-caps=-all", "--"]
            argv += [self.tools["prlimit"], *request.limits.prlimit_args(), "--"]
        argv += self.default_signals
        argv += request.argv
        fds = (status_write,) if userns is None else (status_write, userns)
        # bwrap runs from / so that a cwd only the sandbox's uid may enter does not stop it.
        return Launch(argv=argv, env=env, cwd="/", pass_fds=fds,
                      status_fd=status_read, child_fds=[status_write])

    def finish(self, launch: Launch) -> None:
        assert launch.status_fd is not None
        reports = _read_lines(launch.status_fd)
        launch.started = False
        for line in reports:
            with suppress(ValueError, AttributeError):
                report = json.loads(line)
                if "child-pid" in report and launch.first_pid is None:
                    launch.first_pid = int(report["child-pid"])
                if "exit-code" in report:
                    launch.started = True  # bwrap reports an exit code only after the exec
        launch.all_gone = wait_gone(launch.first_pid)
        if launch.all_gone and launch.first_pid is not None:
            _reap_if_adopted(launch.first_pid)


class Unshare(Backend):
    """Namespaces through util-linux; ``pid1.py`` builds the root and drops privileges."""

    name = "unshare"
    isolated = True

    def __init__(self, tools: dict[str, str], ident: Identity) -> None:
        self.tools, self.ident = tools, ident
        self._namespaces = _UserNamespaces(tools["unshare"], ident) if ident.switch else None
        self.python = os.path.realpath(sys.executable)

    @contextmanager
    def launch(self, request: Request) -> Iterator[Launch]:
        with _launching(self._namespaces, request, self._launch) as launch:
            yield launch

    def _launch(self, request: Request, status_read: int, status_write: int,
                userns: int | None) -> Launch:
        namespaces = ["--mount", "--pid", "--ipc", "--uts", "--fork", "--kill-child"]
        if not request.host_network:
            namespaces.append("--net")
        if userns is None:
            argv = [self.tools["unshare"], "--user", "--map-root-user", *namespaces]
        else:
            argv = [self.tools["nsenter"], f"--user=/proc/self/fd/{userns}", "--",
                    self.tools["unshare"], *namespaces]
        plan = {
            "mounts": [[m.kind, m.dest, m.source, m.size] for m in request.mounts],
            "cwd": request.cwd, "argv": list(request.argv),
            "rlimits": request.limits.rlimits(), "status_fd": status_write,
            "uid": self.ident.uid if userns is not None else None,
            "gid": self.ident.gid if userns is not None else None,
            "own_network": not request.host_network, "hostname": request.hostname,
        }
        argv += ["--", self.python, "-I", "-S", str(SHIM), json.dumps(plan)]
        fds = (status_write,) if userns is None else (status_write, userns)
        return Launch(argv=argv, env=request.env, cwd="/", pass_fds=fds,
                      status_fd=status_read, child_fds=[status_write])

    def finish(self, launch: Launch) -> None:
        assert launch.status_fd is not None
        launch.started = False
        for line in _read_lines(launch.status_fd):
            word, _, value = line.partition(" ")
            if word == "pid" and value.strip().isdigit() and launch.first_pid is None:
                launch.first_pid = int(value)
            elif word == "started":
                launch.started = True
        launch.all_gone = wait_gone(launch.first_pid)


@contextmanager
def _launching(namespaces: _UserNamespaces | None, request: Request,
               make: Callable[[Request, int, int, int | None], Launch]) -> Iterator[Launch]:
    """A launch with a status pipe (and, as root, a user namespace from the pool); every
    descriptor is closed afterwards, and the namespace reused only if the run left nothing."""
    if namespaces is None:
        launch = _made(make, request, None)
        try:
            yield launch
        finally:
            launch.close()
        return
    with namespaces.one() as held:
        launch = _made(make, request, held[0])
        try:
            yield launch
        finally:
            launch.close()
            if not launch.all_gone:
                os.close(held.pop())  # something may still live in it: do not reuse it


def _made(make: Callable[[Request, int, int, int | None], Launch], request: Request,
          userns: int | None) -> Launch:
    """``make``'s launch, given a fresh status pipe (which the launch then owns)."""
    status_read, status_write = os.pipe()
    os.set_inheritable(status_read, False)
    try:
        return make(request, status_read, status_write, userns)
    except BaseException:
        os.close(status_read)
        os.close(status_write)
        raise


def _bwrap_mounts(mounts: tuple[Mount, ...]) -> list[str]:
    args: list[str] = []
    for m in mounts:
        if m.kind == "ro":
            args += ["--ro-bind", m.source, m.dest]
        elif m.kind == "rw":
            args += ["--bind", m.source, m.dest]
        elif m.kind == "dir":
            args += ["--perms", "0755", "--dir", m.dest]
        elif m.kind == "symlink":
            args += ["--symlink", m.source, m.dest]
        elif m.kind == "tmpfs":
            args += ["--perms", "1777", "--size", str(m.size), "--tmpfs", m.dest]
        elif m.kind == "proc":
            args += ["--proc", m.dest]
        elif m.kind == "dev":
            args += ["--dev", m.dest]
    return args


def _read_lines(fd: int) -> list[str]:
    """What the backend wrote to its status pipe; every writer is gone or closed it by now,
    but a non-blocking read keeps a stray holder from stalling us."""
    os.set_blocking(fd, False)
    chunks = []
    with suppress(BlockingIOError, OSError):
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", "replace").splitlines()


def wait_gone(pid: int | None, timeout: float = GONE_TIMEOUT) -> bool:
    """Wait until the sandbox's pid 1 has exited: the kernel ends every other process of its
    pid namespace before that. True when it is gone (or was never known to exist)."""
    if pid is None:
        return True
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    except OSError:
        return _poll_gone(pid, timeout)
    try:
        ready, _, _ = select.select([pidfd], [], [], timeout)
        return bool(ready)
    finally:
        os.close(pidfd)


def _reap_if_adopted(pid: int, *, tries: int = 50) -> None:
    """bwrap exits without waiting for its sandbox's first process, which is then reaped by
    whoever adopts it, and with it the CPU time of everything that ran in the sandbox. A
    citrace worker adopts it (``miners.executors.procs.become_subreaper``): reaping it here
    keeps that time in ``recipes.records.cpu_seconds``. A process adopted by someone else
    is theirs to reap."""
    for _ in range(tries):
        try:
            parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            return  # reaped already
        if parent != os.getpid():
            return
        try:
            if os.waitpid(pid, os.WNOHANG)[0]:
                return
        except ChildProcessError:
            return
        time.sleep(0.01)


def _poll_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.005)
    return False


# --- choosing a backend --------------------------------------------------------------------

@dataclass
class _Choice:
    backend: Backend
    reasons: list[str]  # why the better backends were passed over


_chosen: _Choice | None = None
_choosing = threading.Lock()


def current() -> tuple[Backend, list[str]]:
    """The backend for this process (chosen once), and why better ones were not used."""
    global _chosen
    with _choosing:
        if _chosen is None:
            _chosen = _choose()
            reasons = "; ".join(_chosen.reasons)
            log.debug("sandbox: %s%s", _chosen.backend.name, f" ({reasons})" if reasons else "")
        return _chosen.backend, list(_chosen.reasons)


def chosen() -> Backend | None:
    """The backend if one was chosen in this process already, else None."""
    with _choosing:
        return _chosen.backend if _chosen is not None else None


def reset() -> None:
    """Forget the choice (tests change ``CITRACE_SANDBOX``)."""
    global _chosen
    with _choosing:
        _chosen = None


def _choose() -> _Choice:
    wanted = os.environ.get(BACKEND_ENV, "auto").strip().lower() or "auto"
    order = {"auto": ["bwrap", "unshare"], "bwrap": ["bwrap"], "unshare": ["unshare"],
             "none": []}.get(wanted)
    if order is None:
        return _Choice(Backend(), [f"{BACKEND_ENV}={wanted!r} is not auto, bwrap, unshare "
                                   f"or none"])
    reasons = [f"{BACKEND_ENV}=none"] if wanted == "none" else []
    ident = identity()
    for name in order:
        backend, why = _try(name, ident)
        if backend is not None:
            return _Choice(backend, reasons)
        reasons.append(why)
    return _Choice(Backend(), reasons)


def _try(name: str, ident: Identity) -> tuple[Backend | None, str]:
    needed = {"bwrap": ["bwrap", "prlimit"], "unshare": ["unshare"]}[name]
    if ident.switch:
        needed += ["unshare", "setpriv"] if name == "bwrap" else ["nsenter"]
    tools = {tool: shutil.which(tool) or "" for tool in needed}
    missing = [tool for tool, path in tools.items() if not path]
    if missing:
        return None, f"{name}: {', '.join(missing)} not found"
    backend: Backend = (Bubblewrap if name == "bwrap" else Unshare)(tools, ident)
    try:
        works, detail = _probe(backend)
    except OSError as exc:
        works, detail = False, str(exc)
    if not works:
        return None, f"{name} does not work here: {detail}"
    return backend, ""


def _probe(backend: Backend) -> tuple[bool, str]:
    """Run ``true`` under the backend the way real commands run."""
    with tempfile.TemporaryDirectory(prefix="citrace-probe-") as scratch:
        grant((Path(scratch),), identity())
        request = Request(argv=("true",), cwd=scratch, env={"PATH": "/usr/bin:/bin"},
                          mounts=mounts_for(writable=(Path(scratch),), readable=(),
                                            tmp_bytes=1 << 20, host_network=False),
                          host_network=False, limits=Limits(processes=64))
        with backend.launch(request) as launch:
            proc = subprocess.Popen(launch.argv, env=launch.env, cwd=launch.cwd,
                                    pass_fds=launch.pass_fds, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    start_new_session=True)
            launch.after_spawn()
            try:
                output, _ = proc.communicate(timeout=PROBE_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                output, _ = proc.communicate()
            backend.finish(launch)
        text = output.decode("utf-8", "replace").strip().splitlines()
        return proc.returncode == 0 and launch.started, (text[-1] if text else
                                                         f"exit code {proc.returncode}")
