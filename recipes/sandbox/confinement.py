"""What a sandboxed command is given: its file system (``Mount``s), its limits, the uid it
runs as, and the directories handed to that uid.

The file system is built from nothing: the system directories and the policy's paths, each
bound at its own path, a private /proc, /dev, /tmp and /dev/shm. Limits are setrlimit values
every process of the command inherits.

**Which uid.** ``RLIMIT_NPROC`` is never enforced for processes of host uid 0, even inside a
user namespace (the kernel exempts the root user outright), and it counts per user, not per
sandbox. So when citrace runs as root, sandboxed processes run as a host uid of their own
(``CITRACE_SANDBOX_UID``, default ``SANDBOX_UID``) inside a user namespace citrace maps
itself; the kernel then counts that uid's processes per user namespace, so each concurrent
run has its own budget. The directories a run may write are handed to that uid first
(``grant``). When citrace runs as an ordinary user, its own uid is used and nothing is
handed over.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

UID_ENV = "CITRACE_SANDBOX_UID"
SANDBOX_UID = 0xC17ACE  # a host uid no account uses; only when citrace itself runs as root
SYSTEM_DIRS = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# A command that confines itself (``Request.confines_itself``) finds here the uid:gid to
# become ("-" for none) and its rlimits ("RLIMIT_AS=soft:hard ..."), and must apply them
# before it reads anything untrusted. It saves two programs' start-up per command.
CONFINE_ENV = "CITRACE_SANDBOX_CONFINE"


@dataclass(frozen=True)
class Mount:
    """One element of the sandbox's file system, applied in order.

    ``kind``: ``ro``/``rw`` (bind ``source`` at ``dest``), ``dir`` (an empty directory, mode
    0755), ``symlink`` (to ``source``), ``tmpfs`` (of ``size`` bytes, mode 1777), ``proc``,
    ``dev`` (a minimal /dev)."""

    kind: str
    dest: str
    source: str = ""
    size: int = 0


@dataclass(frozen=True)
class Limits:
    """setrlimit values for every process of a command; None leaves the host's."""

    address_space: int | None = None
    cpu_seconds: int | None = None
    processes: int | None = None
    file_bytes: int | None = None

    def rlimits(self) -> list[tuple[str, int, int]]:
        pairs = [("RLIMIT_CORE", 0, 0)]
        if self.address_space is not None:
            pairs.append(("RLIMIT_AS", self.address_space, self.address_space))
        if self.cpu_seconds is not None:
            # The soft limit sends SIGXCPU; the hard one, a second later, SIGKILL.
            pairs.append(("RLIMIT_CPU", self.cpu_seconds, self.cpu_seconds + 1))
        if self.processes is not None:
            pairs.append(("RLIMIT_NPROC", self.processes, self.processes))
        if self.file_bytes is not None:
            pairs.append(("RLIMIT_FSIZE", self.file_bytes, self.file_bytes))
        return pairs

    def prlimit_args(self) -> list[str]:
        option = {"RLIMIT_CORE": "--core", "RLIMIT_AS": "--as", "RLIMIT_CPU": "--cpu",
                  "RLIMIT_NPROC": "--nproc", "RLIMIT_FSIZE": "--fsize"}
        return [f"{option[name]}={soft}:{hard}" for name, soft, hard in self.rlimits()]


@dataclass(frozen=True)
class Request:
    """One command to start in a sandbox."""

    argv: tuple[str, ...]
    cwd: str
    env: dict[str, str]
    mounts: tuple[Mount, ...]
    host_network: bool  # False: a network namespace of its own, with its loopback up
    limits: Limits
    confines_itself: bool = False  # see CONFINE_ENV; only for citrace's own programs
    shown_argv: tuple[str, ...] = ()  # what the log says ran, when ``argv`` wraps it
    hostname: str | None = None  # the sandbox's host name (its own uts namespace)


@dataclass(frozen=True)
class Identity:
    """The host uid and gid sandboxed processes run as; ``switch`` when citrace is root and
    they run as ``SANDBOX_UID`` in a user namespace of citrace's making."""

    uid: int
    gid: int
    switch: bool


def identity() -> Identity:
    if os.geteuid() != 0:
        return Identity(os.getuid(), os.getgid(), switch=False)
    uid = int(os.environ.get(UID_ENV, SANDBOX_UID))
    return Identity(uid, uid, switch=True)



def confinement(limits: Limits, ident: Identity | None) -> str:
    """The value of CONFINE_ENV: "uid:gid" (or "-") and the rlimits."""
    who = f"{ident.uid}:{ident.gid}" if ident is not None else "-"
    return " ".join([who, *(f"{name}={soft}:{hard}" for name, soft, hard in limits.rlimits())])


# --- the file system view -------------------------------------------------------------------

def mounts_for(*, writable: tuple[Path, ...], readable: tuple[Path, ...], tmp_bytes: int,
               host_network: bool) -> tuple[Mount, ...]:
    """System directories read-only, a private /proc, /dev, /tmp and /dev/shm, then each
    readable (read-only) and writable directory at its own path; nothing else of the host."""
    mounts: list[Mount] = []
    for top in SYSTEM_DIRS:
        if os.path.islink(top):
            mounts.append(Mount("symlink", top, os.readlink(top)))
        elif os.path.isdir(top):
            mounts.append(Mount("ro", top, top))
    mounts += [Mount("proc", "/proc"), Mount("dev", "/dev"),
               Mount("tmpfs", "/tmp", size=tmp_bytes),
               Mount("tmpfs", "/dev/shm", size=max(tmp_bytes // 4, 1 << 20))]
    extra = [(str(p), "rw") for p in _outermost(writable)]
    extra += [(str(p), "ro") for p in _outermost(readable)
              if not any(_within(str(p), w) for w, _ in extra)]
    if host_network:
        extra += [(p, "ro") for p in _resolver_files()]
    created: set[str] = set()
    for path, kind in sorted(extra, key=lambda item: item[0].count("/")):
        # Redundant inside a bind that already gives as much (a writable directory inside
        # a read-only one is mounted over it).
        if _within_any_bind(path, mounts, kinds=("rw", kind)):
            continue
        for ancestor in _ancestors(path):
            if ancestor not in created and not _within_any_bind(ancestor, mounts, inclusive=True):
                if not any(m.dest == ancestor for m in mounts):
                    mounts.append(Mount("dir", ancestor))
                created.add(ancestor)
        mounts.append(Mount(kind, path, path))
    return tuple(mounts)


def bind_at(dest: str, source: Path) -> tuple[Mount, ...]:
    """``source`` writable at ``dest``, a path of the sandbox's own under a directory no
    other mount uses (/run)."""
    return (Mount("dir", os.path.dirname(dest)), Mount("rw", dest, str(source)))


def _outermost(paths: tuple[Path, ...]) -> list[Path]:
    absolute = sorted({Path(os.path.abspath(p)) for p in paths if os.path.exists(p)},
                      key=lambda p: len(p.parts))
    kept: list[Path] = []
    for path in absolute:
        if path != Path("/") and not any(_within(str(path), str(k)) for k in kept):
            kept.append(path)
    return kept


def _resolver_files() -> list[str]:
    # /etc/resolv.conf is often a symlink into /run, which the sandbox does not otherwise see.
    target = os.path.realpath("/etc/resolv.conf")
    return [target] if os.path.exists(target) and not target.startswith("/etc/") else []


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _within_any_bind(path: str, mounts: list[Mount], *, inclusive: bool = False,
                     kinds: tuple[str, ...] = ("ro", "rw")) -> bool:
    for mount in mounts:
        if mount.kind in kinds and _within(path, mount.dest):
            if inclusive or path != mount.dest:
                return True
    return False


def _ancestors(path: str) -> list[str]:
    parts = Path(path).parts[1:-1]
    return ["/" + "/".join(parts[:i]) for i in range(1, len(parts) + 1)]


# --- handing directories to the sandbox's uid ---------------------------------------------

def grant(paths: tuple[Path, ...], ident: Identity, *, shallow: tuple[Path, ...] = ()) -> None:
    """Make ``paths`` (created if missing) and everything in them owned by the sandbox's uid,
    so that it can write there; ``shallow`` ones only at their top (only the sandbox writes
    inside them). Symbolic links are changed themselves, never followed."""
    for path in paths:
        path.mkdir(parents=True, exist_ok=True)
        if not ident.switch:
            continue
        _chown(str(path), ident, dir_fd=None)
        if path in shallow:
            continue
        for _, dirs, files, dir_fd in os.fwalk(path, follow_symlinks=False):
            for name in dirs + files:
                _chown(name, ident, dir_fd=dir_fd)


def _chown(name: str, ident: Identity, *, dir_fd: int | None) -> None:
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        if st.st_uid != ident.uid:
            os.chown(name, ident.uid, ident.gid, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        pass
