"""A long-lived checker inside one sandbox: it forks a fresh process for every check.

Started once per interpreter, policy and world by ``tracer.check.servers`` as
``python -I -S -c <this file>`` in the sandbox, with ``confines_itself``. It confines itself
(uid and rlimits of ``CONFINE_ENV``; the CPU limit is per check, and CPU time is counted per
process, so it is set in each check's process), makes itself non-dumpable (no process of its
uid may ptrace it, read its memory or open its descriptors through /proc), becomes the
subreaper of everything it starts, and blocks every signal it can: a check's process that
sends it one changes nothing (SIGKILL and SIGSTOP end or stall it; the host then restarts it).

Then, from the host on standard input: the harness's source (compiled and defined here once,
with a few modules of the interpreter's own standard library imported), then one request
per check (prompt, completion, test, entry point, timeout, memory). Nothing of a request
runs here: each check is a child that starts a session of its own, sets its CPU and memory
limits, goes to /tmp (or the world's directory in it), gets the payload on standard input and
a pipe for its output (read here, up to a limit), closes every other descriptor (this
server's own pipes to the host above all), and runs the harness's ``main``. When the child
ends, or its time is up, or it printed too much, every process of the sandbox but this one and
its init is killed (``kill(-1)``: in the sandbox's own pid namespace that is all of them,
daemons included, which is checked at start), all are reaped, /tmp, /dev/shm and the System V
IPC objects are emptied, and the reply says how the check ended and what it printed last. A
server that cannot make its sandbox clean again says so, and the host ends it.

Messages both ways are an 8-byte little-endian length and JSON, but for a check's request
and reply: their fields in a fixed order (``REQUEST_FIELDS``, ``REPLY_FIELDS``). Standard
library only, and syntax CPython 3.6 parses.
"""

import _signal
import json
import os
import select
import signal
import stat
import sys
import time

CONFINE_ENV = "CITRACE_SANDBOX_CONFINE"  # recipes.sandbox.confinement.CONFINE_ENV
SETUP_FAILED = 125  # a check's process could not be prepared: an error, never a verdict
CHUNK = 64 * 1024
TAIL_BYTES = 64 * 1024  # of output, sent back (the host keeps its last lines)
MAX_MESSAGE = 1 << 30
PRELOADED = ("typing", "collections", "re", "math", "itertools", "functools", "string",
             "heapq", "bisect", "operator", "hashlib", "datetime", "fractions", "decimal")
CLEANED = ("/tmp", "/dev/shm")
PR_SET_CHILD_SUBREAPER = 36
IPC_RMID = 0
KEYCTL = {"x86_64": 250, "aarch64": 219}  # the keyctl system call's number
KEYCTL_CLEAR, KEYCTL_GET_PERSISTENT = 7, 22
CLOSE_RANGE = {"x86_64": 436, "aarch64": 436}  # the close_range system call's number
KEY_SPEC_PROCESS, KEY_SPEC_SESSION, KEY_SPEC_USER, KEY_SPEC_USER_SESSION = -2, -3, -4, -5
_WAKE = []  # type: list[int]  # the read end of the pipe a SIGCHLD writes to


# --- messages ------------------------------------------------------------------------------

def send(fd, value):
    send_bytes(fd, json.dumps(value).encode("utf-8"))


def send_bytes(fd, data):
    view = memoryview(len(data).to_bytes(8, "little") + data)
    while view:
        view = view[os.write(fd, view):]


def receive(fd):
    data = receive_bytes(fd)
    return None if data is None else json.loads(data.decode("utf-8"))


def receive_bytes(fd):
    header = _read_exactly(fd, 8)
    if header is None:
        return None
    size = int.from_bytes(header, "little")
    if size > MAX_MESSAGE:
        raise ValueError("message too large")
    data = _read_exactly(fd, size)
    if data is None:
        raise EOFError("message cut short")
    return data


# A check's request and reply are fields in a fixed order, not JSON: the json module's
# code and objects take a hundred pages to run, each copied here after every fork.
REQUEST_FIELDS = ("cpu_seconds", "memory_bytes", "wall_seconds", "output_limit",
                  "payload_bytes")
REPLY_FIELDS = ("exit_code", "timed_out", "limited", "duration", "output_bytes", "clean")


def parse_request(data):
    """``{field: number}`` from ``b"4 1073741824 5.0 1048576 912"`` (memory 0: no limit)."""
    values = data.split()
    if len(values) != len(REQUEST_FIELDS):
        raise ValueError(f"a request has {len(REQUEST_FIELDS)} fields")
    cpu, memory, wall, output_limit, payload = values
    return {"cpu_seconds": int(cpu), "memory_bytes": int(memory), "wall_seconds": float(wall),
            "output_limit": int(output_limit), "payload_bytes": int(payload)}


def format_reply(exit_code, timed_out, limited, duration, output_bytes, clean):
    return b"%d %d %d %r %d %d" % (exit_code, timed_out, limited, duration, output_bytes,
                                   clean)


def _read_exactly(fd, size):
    chunks, wanted = [], size
    while wanted:
        chunk = os.read(fd, min(wanted, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        wanted -= len(chunk)
    return b"".join(chunks)


# --- this process, once ----------------------------------------------------------------------

def confine():
    """The sandbox's uid and rlimits (see the harness's ``_confine``), but not RLIMIT_CPU."""
    spec = os.environ.pop(CONFINE_ENV, None)
    if spec is None:
        return
    fields = spec.split()
    import resource

    for item in fields[1:]:
        name, _, values = item.partition("=")
        soft, _, hard = values.partition(":")
        if name != "RLIMIT_CPU":
            resource.setrlimit(getattr(resource, name), (int(soft), int(hard)))
    if fields and fields[0] != "-":
        uid, gid = (int(part) for part in fields[0].split(":"))
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
        if os.getresuid() != (uid, uid, uid) or os.getresgid() != (gid, gid, gid):
            os._exit(SETUP_FAILED)


_SYMBOLS = {}  # type: dict[str, int]  # the C library's functions, looked up once


def libc_call(name, *args):
    import _ctypes

    if name not in _SYMBOLS:
        _SYMBOLS[name] = _ctypes.dlsym(_ctypes.dlopen(None), name)
    return _ctypes.call_function(_SYMBOLS[name], args)


def protect():
    """Non-dumpable, no capabilities left, subreaper of every process a check starts."""
    libc_call("prctl", 4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0
    header = (0x20080522).to_bytes(4, "little") + bytes(4)
    libc_call("capset", header, bytes(24))
    if libc_call("prctl", PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError("cannot become the subreaper of the checks")


def shield_signals():
    """Block every signal that can be blocked but SIGCHLD (which only wakes the loop up), so
    that none a check's process sends reaches us; what to undo in the checks' processes.
    Blocked rather than ignored: a check's process gets back the mask of a plain interpreter
    in one call (sixty handlers reset one by one took 0.3 ms of it), and a forked process
    starts with no pending signal, whatever was sent to us. Through ``_signal``, not
    ``signal``: the latter turns every number into an enum member, and in a freshly forked
    process that took 0.35 ms of each check (the enum module's pages, copied)."""
    original = _signal.pthread_sigmask(_signal.SIG_BLOCK, [])
    # The C library keeps a few numbers to itself: valid_signals leaves them out (3.8+).
    numbers = (_signal.valid_signals() if hasattr(_signal, "valid_signals")
               else range(1, _signal.NSIG))
    for number in sorted(numbers):
        if number in (_signal.SIGKILL, _signal.SIGSTOP, _signal.SIGCHLD):
            continue
        try:  # 3.6, 3.7: an invalid number warns, or raises
            _signal.pthread_sigmask(_signal.SIG_BLOCK, [number])
        except (OSError, ValueError):
            continue
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_read, False)
    os.set_blocking(wake_write, False)
    handler = _signal.signal(_signal.SIGCHLD, lambda number, frame: None)
    _signal.set_wakeup_fd(wake_write)
    _WAKE.append(wake_read)
    return original, handler


def unshield_signals(shield):
    """In a check's process: the signals as they were before ``shield_signals``."""
    original, handler = shield
    _signal.set_wakeup_fd(-1)
    _signal.signal(_signal.SIGCHLD, handler if handler is not None else _signal.SIG_DFL)
    _signal.pthread_sigmask(_signal.SIG_SETMASK, original)


def others():
    """The pids in this pid namespace but its init's and ours."""
    mine = os.getpid()
    return [int(entry) for entry in os.listdir("/proc")
            if entry.isdigit() and int(entry) not in (1, mine)]


def fresh_namespace():
    """Whether this process is the first the sandbox's init started in a pid namespace of the
    sandbox's own: ``kill(-1)`` then reaches the checks' processes and nothing else. (Pid 2,
    or 3, with no process but the init beside it, is nowhere else: on a host, pid 2 is the
    kernel's. The host starts a server only in a sandbox, and this is a second lock.)"""
    return os.getpid() <= 3 and os.path.exists("/proc/1") and not others()


def prepare(init):
    """Compile and define the harness, import what most problems import."""
    harness = {"__name__": "_citrace_check_harness"}
    exec(compile(init["harness"], "<check_harness>", "exec"), harness)
    for name in PRELOADED:
        try:
            __import__(name)
        except ImportError:
            pass
    return harness


def freeze():
    """Keep what is here out of the collector's sight (3.7+): a check's process would
    otherwise, at its first full collection, touch every object it shares with us, and copy
    every page that holds one."""
    import gc

    gc.collect()
    if hasattr(gc, "freeze"):
        gc.freeze()


# --- one check --------------------------------------------------------------------------------

def child(check, request, payload_read, output_write, shield):
    """The check's process: nothing of this server's stays with it but the harness, whose
    ``main`` ``check`` calls."""
    try:
        os.setsid()
        unshield_signals(shield)
        os.dup2(payload_read, 0)
        os.dup2(output_write, 1)
        os.dup2(output_write, 2)
        close_others()
        limit_check(request)
        os.chdir("/tmp")
        if sys.version_info < (3, 7) and "random" in sys.modules:
            sys.modules["random"].seed()  # 3.7+ reseeds after a fork by itself
    except BaseException as exc:  # noqa: B036 - nothing untrusted ran yet: an error of ours
        os.write(2, f"citrace-check: error: cannot prepare the check: {exc}\n".encode())
        os._exit(SETUP_FAILED)
    os._exit(run_main(check))


def close_others():
    """Close every descriptor above 2 (this server's pipes to the host above all): in one
    close_range call where the kernel has it (5.9+), else one by one."""
    number = CLOSE_RANGE.get(os.uname().machine)
    try:
        if number is not None and libc_call("syscall", number, 3, -1, 0) == 0:  # -1: ~0U
            return
    except Exception:  # noqa: BLE001 - no ctypes, no such function: the long way
        pass
    for entry in os.listdir("/proc/self/fd"):
        if int(entry) > 2:
            try:
                os.close(int(entry))
            except OSError:
                pass


def run_main(main):
    """Run the harness's ``main`` (which ends with os._exit) as ``python -c`` would: the
    status of a SystemExit, or 1 and the traceback (a prompt may break the harness)."""
    try:
        main()
        return 0
    except SystemExit as exc:
        code = exc.code
        if code is None or isinstance(code, int):
            return code or 0
        sys.stderr.write(f"{code}\n")
        return 1
    except BaseException:  # noqa: B036 - said as the interpreter says it
        import traceback

        traceback.print_exc()
        return 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:  # noqa: B036
                pass


def limit_check(request):
    import resource

    cpu = int(request["cpu_seconds"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    memory = request.get("memory_bytes")
    if memory:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        memory = min(int(memory), hard) if hard != resource.RLIM_INFINITY else int(memory)
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_MSGQUEUE, (0, 0))  # no POSIX queue outlives a check


class Buffers:
    """The only memory a check's bytes pass through here: allocated once, emptied after
    every check. A check's process is a copy of this one; had the test or the output of an
    earlier check been left in memory here (freed objects keep their bytes), a completion
    could have read them (the same problem's expected values) in its own copy."""

    def __init__(self):
        self.copy = bytearray(CHUNK)  # the payload, from the host to the check's process
        self.chunk = bytearray(CHUNK)  # the output, as it is read
        self.tail = bytearray(TAIL_BYTES)  # its last bytes, a ring
        self.zeros = memoryview(bytes(CHUNK))
        # How far from its start each was written (each is written from its start on). Only
        # that is emptied: every page written here after a fork is a page copied.
        self.written = {"copy": 0, "chunk": 0, "tail": 0}

    def wrote(self, name, size):
        self.written[name] = max(self.written[name], size)

    def empty(self):
        for name, size in self.written.items():
            getattr(self, name)[:size] = self.zeros[:size]
            self.written[name] = 0


class Follow:
    """The check's process followed to its end: the payload copied from the host to it (never
    held in an object of its own), its output read, its status."""

    def __init__(self, pid, buffers, payload_size, payload, output, output_limit):
        self.pid, self.buffers = pid, buffers
        self.incoming = payload_size  # bytes of the payload the host has yet to give
        self.held = (0, 0)  # buffers.copy[start:end]: read from the host, not yet passed on
        self.payload, self.output, self.output_limit = payload, output, output_limit
        self.status = None
        self.printed = 0
        self.limited = False

    def until(self, deadline):
        while self.status is None and not self.limited:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            readers = [_WAKE[0]] + ([self.output] if self.output is not None else [])
            if self.incoming and self.held[0] == self.held[1]:
                readers.append(0)
            writers = [self.payload] if self.held[0] < self.held[1] else []
            ready, writable, _ = select.select(readers, writers, [], remaining)
            if self.output in ready:
                self.read()
            if 0 in ready:
                self.take()
            if writable:
                self.give()
            if _WAKE[0] in ready:
                drain(_WAKE[0])
            self.reap(os.WNOHANG)
        return True

    def take(self):
        """Read the next part of the payload from the host (blocking: it is on its way)."""
        size = os.readv(0, [memoryview(self.buffers.copy)[:min(self.incoming, CHUNK)]])
        self.buffers.wrote("copy", size)
        if size == 0:
            raise EOFError("the host is gone")
        self.incoming -= size
        self.held = (0, size)
        if self.payload is None:
            self.held = (0, 0)  # no one to give it to: dropped

    def give(self):
        start, end = self.held
        try:
            done = os.write(self.payload, memoryview(self.buffers.copy)[start:end])
        except BlockingIOError:
            return
        except OSError:  # it closed its standard input: nothing more to give
            os.close(self.payload)
            self.payload, done = None, end - start
        self.held = (start + done, end)
        if not self.incoming and start + done == end and self.payload is not None:
            os.close(self.payload)
            self.payload = None

    def read(self):
        """Read what the output pipe holds; False if nothing was there yet."""
        try:
            size = os.readv(self.output, [self.buffers.chunk])
        except BlockingIOError:
            return False
        self.buffers.wrote("chunk", size)
        if not size:
            os.close(self.output)
            self.output = None
            return True
        ring, at = self.buffers.tail, self.printed % TAIL_BYTES
        first = min(size, TAIL_BYTES - at)
        ring[at:at + first] = memoryview(self.buffers.chunk)[:first]
        ring[:size - first] = memoryview(self.buffers.chunk)[first:size]
        self.printed += size
        self.buffers.wrote("tail", min(self.printed, TAIL_BYTES))
        self.limited = self.limited or self.printed > self.output_limit
        return True

    def reap(self, flags):
        """Reap every ended process (orphans come to us); True when none is left."""
        while True:
            try:
                pid, status = os.waitpid(-1, flags)
            except ChildProcessError:
                return True
            if pid == 0:
                return False
            if pid == self.pid:
                self.status = status

    def finish(self):
        """Kill every process of the sandbox but its init and us, reap them all, take the
        rest of the payload off the host's pipe and read the rest of the output; False if
        the sandbox could not be made empty."""
        if self.payload is not None:
            os.close(self.payload)
            self.payload = None
        while self.incoming:
            self.take()
        for _ in range(20):
            try:
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                pass
            if self.reap_all(time.monotonic() + 2.0) and not others():
                break
        else:
            return False
        while self.output is not None:  # every writer is gone: the pipe ends at once
            if not self.read():
                return False
        return True

    def reap_all(self, deadline):
        while not self.reap(os.WNOHANG):
            if time.monotonic() > deadline:
                return False
            if select.select([_WAKE[0]], [], [], 0.05)[0]:
                drain(_WAKE[0])
        return True

    def exit_code(self):
        if self.status is None:
            return -signal.SIGKILL
        if os.WIFSIGNALED(self.status):
            return -os.WTERMSIG(self.status)
        return os.WEXITSTATUS(self.status)

    def send_tail(self):
        """The last bytes it printed, straight from the ring to the host."""
        ring, at = memoryview(self.buffers.tail), self.printed % TAIL_BYTES
        parts = [ring[at:], ring[:at]] if self.printed > TAIL_BYTES else [ring[:at]]
        for part in parts:
            while part:
                part = part[os.write(1, part):]


def drain(fd):
    """Empty the wake-up pipe, which select says holds something (a read of an empty one
    raises, and an exception costs dozens of pages here after a fork)."""
    try:
        while len(os.read(fd, 4096)) == 4096:
            pass
    except (BlockingIOError, InterruptedError):
        pass


def run_one(check, request, buffers, shield):
    """One check: the request's header has come; its payload follows on our standard input,
    and goes to the check's process as it comes."""
    started = time.monotonic()
    payload_read, payload_write = os.pipe()
    output_read, output_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        child(check, request, payload_read, output_write, shield)
    os.close(payload_read)
    os.close(output_write)
    os.set_blocking(payload_write, False)
    os.set_blocking(output_read, False)
    follow = Follow(pid, buffers, int(request["payload_bytes"]), payload_write, output_read,
                    int(request["output_limit"]))
    in_time = follow.until(started + float(request["wall_seconds"]))
    clean = follow.finish() and empty_sandbox()
    send_bytes(1, format_reply(follow.exit_code(), not in_time, follow.limited,
                               time.monotonic() - started, min(follow.printed, TAIL_BYTES),
                               clean))
    follow.send_tail()
    buffers.empty()


# --- making the sandbox as it was --------------------------------------------------------------

# What /tmp and /dev/shm held before any check: the sandbox's own mount points (a readable
# path under /tmp, such as a citrace installed there, is bound in below /tmp). Kept as found.
BASELINE = set()  # type: set[str]


def snapshot():
    """Every path under /tmp and /dev/shm on their own file systems (not inside what is
    mounted below them, which checks cannot write: the sandbox binds it read-only)."""
    found = set()
    for top in CLEANED:
        walk(top, os.lstat(top).st_dev, found)
    return found


def walk(path, device, found):
    for entry in os.listdir(path):
        full = os.path.join(path, entry)
        found.add(full)
        info = os.lstat(full)
        if stat.S_ISDIR(info.st_mode) and info.st_dev == device:
            walk(full, device, found)


def clear(path, device):
    """Remove what is not in ``BASELINE`` under ``path``, looking only into directories that
    are (a check's own may be unreadable until ``remove`` gives its rights back)."""
    for entry in os.listdir(path):
        full = os.path.join(path, entry)
        if full not in BASELINE:
            remove(full)
            continue
        info = os.lstat(full)
        if stat.S_ISDIR(info.st_mode) and info.st_dev == device:
            clear(full, device)


def empty_sandbox():
    """Remove what the check left in /tmp and /dev/shm (everything but ``BASELINE``), its
    System V IPC objects and the keys it put in the keyrings its uid shares."""
    try:
        for top in CLEANED:
            clear(top, os.lstat(top).st_dev)
        remove_ipc()
        clear_keyrings()
        return snapshot() == BASELINE
    except (OSError, RecursionError):
        return False


def clear_keyrings():
    """The user's keyrings outlive its processes (and the persistent one, even its login):
    empty them. The session keyring is ours, which the checks inherit."""
    number = KEYCTL.get(os.uname().machine)
    if number is None:
        return
    # Linked to our own process keyring (no child inherits it), so that we possess it: only
    # its possessor may change the persistent keyring.
    persistent = libc_call("syscall", number, KEYCTL_GET_PERSISTENT, -1, KEY_SPEC_PROCESS)
    for keyring in (KEY_SPEC_SESSION, KEY_SPEC_USER, KEY_SPEC_USER_SESSION, persistent):
        if keyring != -1:
            libc_call("syscall", number, KEYCTL_CLEAR, keyring)


def remove(path):
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        os.unlink(path)
        return
    os.chmod(path, 0o700)  # a check may have taken its own rights away
    for entry in os.listdir(path):
        remove(os.path.join(path, entry))
    os.rmdir(path)


def read_file(path):
    """A file's bytes, read without the io module's layers: every page this server writes
    after a fork is a page copied, and those take dozens."""
    fd = os.open(path, os.O_RDONLY)
    try:
        chunks = []
        while True:
            chunk = os.read(fd, CHUNK)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        os.close(fd)


def remove_ipc():
    for kind, function in (("shm", "shmctl"), ("msg", "msgctl"), ("sem", "semctl")):
        for row in read_file("/proc/sysvipc/" + kind).splitlines()[1:]:
            ident = int(row.split()[1])
            if libc_call(function, ident, IPC_RMID, 0) != 0:
                raise OSError("cannot remove a System V IPC object")


# --- the server ------------------------------------------------------------------------------

def main():
    try:
        confine()
        protect()
        shield = shield_signals()
        init = receive(0)
        harness = prepare(init)
        if not fresh_namespace():
            raise OSError("not the first process of a pid namespace of the sandbox's own")
        BASELINE.update(snapshot())
    except BaseException as exc:  # noqa: B036 - told to the host, which will not use us
        send(1, {"ready": False, "error": f"{type(exc).__name__}: {exc}"})
        os._exit(SETUP_FAILED)
    # What every check's process would otherwise set or take out of its environment, done
    # once: os.environ's machinery costs a hundred pages in a freshly forked process.
    os.environ["TMPDIR"] = "/tmp"
    directory = os.environ.pop(harness["DIRECTORY_ENV"], None)

    def check():
        harness["main"](forked=True, directory=directory)

    buffers = Buffers()
    freeze()
    send(1, {"ready": True, "python": sys.version.split()[0]})
    while True:
        data = receive_bytes(0)
        if data is None:
            os._exit(0)  # the host is gone or done with us
        run_one(check, parse_request(data), buffers, shield)


if __name__ == "__main__":
    main()
