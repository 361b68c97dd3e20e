"""Pid 1 of a sandbox made with ``unshare``: builds the root, drops privileges, runs the command.

``recipes.sandbox.isolation`` starts it as ``python -I -S pid1.py PLAN`` in fresh mount and pid
namespaces (and ipc, uts, network), as root of the user namespace. In a network namespace of
its own it first brings up the loopback interface (``unshare --net`` leaves it down). PLAN
(JSON) lists the mounts, the working directory, the command, its rlimits, the uid to become
(when citrace runs as root), the status pipe and the host name, if one is asked for. It mounts
a tmpfs, builds the listed mounts in it, pivots into it, then forks: the child becomes the
command (no capabilities, ``no_new_privs``), the parent stays as the namespace's init, reaping
orphans, and exits with the command's status; the kernel then ends whatever the command left
behind. Any failure before the command starts exits with status 125 and a line on stderr.
Standard library only: it runs on the host's interpreter before anything of the sandbox exists.
"""

import ctypes
import fcntl
import json
import os
import platform
import resource
import signal
import socket
import struct
import sys
import warnings  # noqa: F401 - os.execvp imports it, after the host's files are gone

SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 24, 38, 47, 4
PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
SETUP_FAILED = 125
BASES = ("/mnt", "/media", "/srv", "/opt", "/boot", "/home", "/var", "/run", "/tmp")

_libc = ctypes.CDLL(None, use_errno=True)


def fail(message):
    sys.stderr.write(f"citrace-sandbox: {message}\n")
    sys.stderr.flush()
    os._exit(SETUP_FAILED)


def _text(value):
    return value.encode() if value is not None else None


def mount(source, target, fstype, flags, data=None):
    _libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                            ctypes.c_ulong, ctypes.c_char_p]
    if _libc.mount(_text(source), _text(target), _text(fstype), flags, _text(data)) != 0:
        error = ctypes.get_errno()
        fail(f"mount {source or fstype} on {target}: {os.strerror(error)}")


def kept_flags(path):
    """The flags of the mount holding ``path`` that a remount may not drop."""
    flags = os.statvfs(path).f_flag
    kept = 0
    for st_flag, ms_flag in ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV),
                             (os.ST_NOEXEC, MS_NOEXEC), (os.ST_RDONLY, MS_RDONLY)):
        if flags & st_flag:
            kept |= ms_flag
    return kept


def submounts(target):
    """Mount points at or below ``target``, outermost first (from /proc/self/mountinfo)."""
    found = []
    with open("/proc/self/mountinfo") as info:
        for line in info:
            point = line.split()[4].encode().decode("unicode_escape")
            if point == target or point.startswith(target.rstrip("/") + "/"):
                found.append(point)
    return sorted(set(found), key=len)


def bind(source, target, read_only):
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
    mount(source, target, None, MS_BIND | MS_REC)
    extra = MS_NOSUID | MS_NODEV | (MS_RDONLY if read_only else 0)
    for point in submounts(target):
        mount(None, point, None, MS_BIND | MS_REMOUNT | kept_flags(point) | extra)


def make_dev(target):
    os.makedirs(target, exist_ok=True)
    mount("tmpfs", target, "tmpfs", MS_NOSUID, "size=65536,mode=0755")
    for name in DEVICES:
        if os.path.exists("/dev/" + name):
            open(os.path.join(target, name), "a").close()
            mount("/dev/" + name, os.path.join(target, name), None, MS_BIND)
    for name, link in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                       ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(link, os.path.join(target, name))
    os.mkdir(os.path.join(target, "shm"))
    # Pseudo-terminals of the sandbox's own (as bwrap's --dev gives): tests that spawn a
    # program on a pty (pexpect, a REPL) need them; a new instance shows none of the host's.
    pts = os.path.join(target, "pts")
    os.mkdir(pts)
    _libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                            ctypes.c_ulong, ctypes.c_char_p]
    if _libc.mount(b"devpts", _text(pts), b"devpts", MS_NOSUID | MS_NOEXEC,
                   b"newinstance,ptmxmode=0666,mode=0620") == 0:
        os.symlink("pts/ptmx", os.path.join(target, "ptmx"))


def build_root(mounts):
    sources = [source for kind, _, source, _ in mounts if kind in ("ro", "rw")]
    base = next((b for b in BASES if os.path.isdir(b) and not any(
        s == b or s.startswith(b + "/") or b.startswith(s + "/") for s in sources)), None)
    if base is None:
        fail("no directory to build the sandbox's root in")
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("tmpfs", base, "tmpfs", MS_NOSUID | MS_NODEV, "size=1048576,mode=0755")
    for kind, dest, source, size in mounts:
        target = base + dest
        if kind in ("ro", "rw"):
            bind(source, target, kind == "ro")
        elif kind == "dir":
            os.makedirs(target, exist_ok=True)
            os.chmod(target, 0o755)
        elif kind == "symlink":
            os.symlink(source, target)
        elif kind == "tmpfs":
            os.makedirs(target, exist_ok=True)
            mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode=1777")
        elif kind == "proc":
            os.makedirs(target, exist_ok=True)
            mount("proc", target, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        elif kind == "dev":
            make_dev(target)
    return base


def loopback_up():
    """A new network namespace starts with ``lo`` down: bring it up, as bubblewrap does, so
    that a test serving on 127.0.0.1 reaches itself (and a build, citrace's forwarder)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            request = struct.pack("16sh", b"lo", 0)
            flags = struct.unpack("16sh", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
            fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sh", b"lo", flags | IFF_UP))
        except OSError as exc:
            fail(f"cannot bring up the loopback interface: {exc.strerror}")


def enter_root(base):
    os.chdir(base)
    number = PIVOT_ROOT.get(platform.machine())
    if number is None:
        os.chroot(".")
    else:
        os.mkdir(".oldroot")
        if _libc.syscall(number, b".", b".oldroot") != 0:
            fail(f"pivot_root: {os.strerror(ctypes.get_errno())}")
        os.chdir("/")
        if _libc.umount2(b"/.oldroot", MNT_DETACH) != 0:
            fail(f"umount the old root: {os.strerror(ctypes.get_errno())}")
        os.rmdir("/.oldroot")
    mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def drop_privileges(plan):
    if plan["uid"] is not None:
        os.setgroups([])
        os.setresgid(plan["gid"], plan["gid"], plan["gid"])
        os.setresuid(plan["uid"], plan["uid"], plan["uid"])
    else:
        # Root of a namespace mapping only the user: give up every capability for good.
        for cap in range(64):
            if _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
                break
        _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
        header = (ctypes.c_uint32 * 2)(0x20080522, 0)
        data = (ctypes.c_uint32 * 6)()
        if _libc.capset(header, data) != 0:
            fail(f"capset: {os.strerror(ctypes.get_errno())}")
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        fail(f"no_new_privs: {os.strerror(ctypes.get_errno())}")


def run_command(plan, status):
    try:
        os.setsid()
        os.chdir(plan["cwd"])
        for name, soft, hard in plan["rlimits"]:
            resource.setrlimit(getattr(resource, name), (soft, hard))
        drop_privileges(plan)
        os.closerange(3, status)
        os.closerange(status + 1, 65536)
        os.write(status, b"started\n")
    except OSError as exc:
        fail(f"cannot prepare the command: {exc}")
    default_signals()
    argv = plan["argv"]
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        sys.stderr.write(f"cannot start {argv[0]}: {exc.strerror}\n")
        os._exit(127)


def default_signals():
    """Every signal at its default action for the command: what citrace's own parent ignored
    (nohup: SIGHUP; a shell's background job: SIGINT, SIGQUIT) would otherwise reach it
    through exec."""
    for number in signal.valid_signals():
        if number in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            signal.signal(number, signal.SIG_DFL)
        except (OSError, ValueError):
            continue


def init(child):
    """Reap everything; exit with the command's status once it is done."""
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            os._exit(1)
        if pid == child:
            if os.WIFSIGNALED(status):
                os._exit(128 + os.WTERMSIG(status))
            os._exit(os.WEXITSTATUS(status))


def host_pid():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("NSpid:"):
                return line.split()[1]
    return ""


def main():
    plan = json.loads(sys.argv[1])
    status = plan["status_fd"]
    os.set_inheritable(status, False)
    os.write(status, (f"pid {host_pid()}\n").encode())
    if plan.get("own_network"):
        loopback_up()
    if plan.get("hostname"):
        try:
            socket.sethostname(plan["hostname"])  # still root of the namespaces
        except OSError as exc:
            fail(f"cannot set the host name: {exc.strerror}")
    enter_root(build_root(plan["mounts"]))
    child = os.fork()
    if child == 0:
        run_command(plan, status)
    os.close(status)
    init(child)


if __name__ == "__main__":
    main()
