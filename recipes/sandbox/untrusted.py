"""Reading and writing files in directories that sandboxed commands have written.

Nothing of a project runs while citrace reads or writes there (its sandbox's processes are
gone), but what they left may be a link: to one of the host's secrets (read here, it would
reach an environment variable or a dataset), or to a host file (written here, as root, it
would be clobbered). These functions never follow a link in a file's name or in the
directory holding it; the directories above that are citrace's own (``sandbox.project_dirs``
keeps the sandbox from replacing them).
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from pathlib import Path
from typing import BinaryIO

MiB = 1 << 20
READ_LIMIT = 16 * MiB
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def open_regular(path: Path) -> BinaryIO:
    """``path`` opened for reading if it is a regular file; OSError for anything else (a
    link, a FIFO, a device, a missing file)."""
    directory = os.open(path.parent, _DIRECTORY)
    try:
        fd = os.open(path.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                     dir_fd=directory)
    finally:
        os.close(directory)
    stream = os.fdopen(fd, "rb")
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        stream.close()
        raise OSError(errno.EINVAL, "not a regular file", str(path))
    return stream


def read_bytes(path: Path, *, limit: int = READ_LIMIT) -> bytes:
    """The first ``limit`` bytes of a regular file (``open_regular``)."""
    with open_regular(path) as stream:
        return stream.read(limit)


def read_text(path: Path, *, limit: int = READ_LIMIT) -> str:
    return read_bytes(path, limit=limit).decode("utf-8", "replace")


def write_text(path: Path, text: str) -> None:
    """Write ``path`` afresh: whatever is there (a link, a directory) is removed first, and
    the new file is created, never opened through a link."""
    path.parent.mkdir(parents=True, exist_ok=True)
    directory = os.open(path.parent, _DIRECTORY)
    try:
        try:
            os.unlink(path.name, dir_fd=directory)
        except FileNotFoundError:
            pass
        except IsADirectoryError:
            shutil.rmtree(path)  # rmtree never follows a link out of the tree
        except PermissionError:  # Linux's word for unlinking a directory, by some calls
            if not os.path.isdir(path) or os.path.islink(path):
                raise
            shutil.rmtree(path)
        fd = os.open(path.name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                     | os.O_CLOEXEC, 0o644, dir_fd=directory)
    finally:
        os.close(directory)
    with os.fdopen(fd, "w", encoding="utf-8") as stream:
        stream.write(text)
