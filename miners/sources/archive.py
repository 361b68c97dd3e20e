"""Safe extraction of source archives (sdists, tarballs, zips) that nobody has vetted.

Archives come from strangers, so extraction is in two passes: every member is listed and
checked (paths, types, links, declared sizes, count) before a single byte is written, then
the members are written into a fresh staging directory beside ``dest`` while actual bytes
are counted (a lying header or a zip bomb is caught there), and only a complete, checked
tree is moved to ``dest``. Symlinks are created last, so nothing is ever written through
one, and each must resolve inside the tree.
"""

from __future__ import annotations

import lzma
import os
import posixpath
import re
import shutil
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from miners.records import Checkout, Spec
from miners.sources import licenses
from miners.sources.cache import file_sha256
from miners.sources.tree import inside, pkg_info, project_name, require_empty, staging_dir
from miners.specs import ARCHIVE_SUFFIXES
from recipes.records import StageError

CHUNK = 1024 * 1024
MAX_LINK_TARGET = 4096  # bytes of a zip symlink's target (stored as the member's data)

# What reading a corrupt archive can raise, across tarfile, zipfile and the codecs.
# (RuntimeError: an encrypted zip; NotImplementedError: a zip compression we cannot read.)
_READ_ERRORS = (tarfile.TarError, zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError,
                OSError, ValueError, RuntimeError, NotImplementedError)


@dataclass(frozen=True)
class Limits:
    total_bytes: int
    member_bytes: int
    members: int


@dataclass(frozen=True)
class Member:
    """One archive entry, its name normalised; ``kind`` is file|dir|symlink|hardlink|special."""

    name: str
    kind: str
    size: int
    executable: bool = False
    link: str = ""  # symlink target as written, or the member a hardlink copies
    entry: tarfile.TarInfo | zipfile.ZipInfo | None = None


def extract_archive(archive: Path, dest: Path, *, max_total_bytes: int = 1_000_000_000,
                    max_member_bytes: int = 200_000_000, max_members: int = 100_000) -> Path:
    """Extract ``archive`` into ``dest`` (absent or empty); return the project root in it.

    The root is the single top-level directory when there is one (``roman-5.2/``), else
    ``dest``. Any unsafe member raises ``StageError(cause="unsafe_archive")`` and leaves
    nothing behind; an unreadable archive raises ``cause="bad_archive"``.
    """
    limits = Limits(max_total_bytes, max_member_bytes, max_members)
    label = archive.name
    require_empty(dest, label)
    staging = staging_dir(dest, ".extract-", label)
    try:
        with _reading(archive) as reader:
            members = validate(reader.members(), limits, label)
            _Writer(reader, staging, limits, label).write(members)
        os.chmod(staging, 0o755)  # mkdtemp made it private; the tree is not
        if dest.exists():
            dest.rmdir()
        os.replace(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return _project_root(dest)


def acquire_archive(spec: Spec, dest: Path) -> Checkout:
    """A checkout of a local archive file: named and versioned from its ``PKG-INFO`` if any."""
    archive = Path(spec.url)
    if not archive.is_file():
        raise StageError("acquire", "not_found",
                         f"{spec.raw}: archive {archive} does not exist; check the path")
    root = extract_archive(archive, dest)
    info = pkg_info(root)
    found = licenses.decide(licenses.pkg_info_fields(root), root)
    return Checkout(spec=spec, path=str(root), name=project_name(root, fallback=_stem(archive)),
                    version=info.get("Version", "local"), sha256=file_sha256(archive),
                    license=found.value, license_source=found.source.replace("pypi:", "PKG-INFO:"))


def _stem(archive: Path) -> str:
    name = archive.name
    for suffix in ARCHIVE_SUFFIXES:
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    # "roman-5.2" -> "roman": drop a trailing version, as sdist file names carry one.
    return re.sub(r"-\d[\w.+!-]*$", "", name)


def _project_root(dest: Path) -> Path:
    # Zips made on macOS carry a "__MACOSX" resource folder beside the real one.
    entries = [entry for entry in dest.iterdir() if entry.name != "__MACOSX"]
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        return entries[0]
    return dest


def _refuse(label: str, why: str) -> StageError:
    return StageError("acquire", "unsafe_archive",
                      f"{label}: refused to extract: {why}; the archive is unsafe or corrupt")


# --- reading --------------------------------------------------------------------------------


class _Reader:
    """The members of one open archive, and a way to read a file member's bytes."""

    def members(self) -> Iterator[Member]:
        raise NotImplementedError

    def open(self, member: Member) -> IO[bytes]:
        raise NotImplementedError


class _TarReader(_Reader):
    def __init__(self, archive: tarfile.TarFile) -> None:
        self.archive = archive

    def members(self) -> Iterator[Member]:
        # Iterating reads one header at a time, so a bad header stops the listing before
        # the data behind it is decompressed.
        for info in self.archive:
            kind = ("file" if info.isreg() else "dir" if info.isdir() else
                    "symlink" if info.issym() else "hardlink" if info.islnk() else "special")
            link = info.linkname if kind in ("symlink", "hardlink") else ""
            yield Member(info.name, kind, info.size if kind == "file" else 0,
                         bool(info.mode & 0o111), link, info)

    def open(self, member: Member) -> IO[bytes]:
        assert isinstance(member.entry, tarfile.TarInfo)
        handle = self.archive.extractfile(member.entry)
        assert handle is not None  # regular files always have a data stream
        return handle


class _ZipReader(_Reader):
    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.archive = archive

    def members(self) -> Iterator[Member]:
        for info in self.archive.infolist():
            mode = info.external_attr >> 16  # the unix mode, when the zip was made on unix
            executable = bool(mode & 0o111)
            if info.is_dir():
                yield Member(info.filename, "dir", 0, entry=info)
            elif stat.S_ISLNK(mode):
                yield Member(info.filename, "symlink", 0, link=self._link_target(info), entry=info)
            elif stat.S_IFMT(mode) not in (0, stat.S_IFREG):
                yield Member(info.filename, "special", 0, entry=info)
            else:
                yield Member(info.filename, "file", info.file_size, executable, entry=info)

    def _link_target(self, info: zipfile.ZipInfo) -> str:
        if info.file_size > MAX_LINK_TARGET:
            raise _refuse(info.filename, "a symlink with an oversized target")
        return self.archive.read(info).decode("utf-8", errors="replace")

    def open(self, member: Member) -> IO[bytes]:
        assert isinstance(member.entry, zipfile.ZipInfo)
        return self.archive.open(member.entry)


@contextmanager
def _reading(archive: Path) -> Iterator[_Reader]:
    """Open ``archive`` by its suffix; turn read errors into ``bad_archive``."""
    name = archive.name.lower()
    if not name.endswith(ARCHIVE_SUFFIXES):
        raise StageError("acquire", "bad_archive",
                         f"{archive.name}: unsupported archive type; expected one of "
                         + ", ".join(ARCHIVE_SUFFIXES))
    try:
        if name.endswith(".zip"):
            with zipfile.ZipFile(archive) as zipped:
                yield _ZipReader(zipped)
        else:
            # "r:*" sniffs the compression: some ".tar.gz" files on PyPI are plain tar.
            with tarfile.open(archive, "r:*") as tarred:
                yield _TarReader(tarred)
    except StageError:
        raise
    except _READ_ERRORS as exc:
        raise StageError("acquire", "bad_archive",
                         f"{archive.name}: cannot read the archive ({exc}); it is corrupt "
                         "or not an archive") from None


# --- checking -------------------------------------------------------------------------------


def validate(members: Iterable[Member], limits: Limits, label: str) -> list[Member]:
    """The members, names normalised, if every one is safe; else ``StageError``."""
    seen: dict[str, Member] = {}
    total = 0
    for count, raw in enumerate(members, 1):
        if count > limits.members:
            raise _refuse(label, f"more than {limits.members} members")
        member = _checked(raw, limits, label)
        if not member.name:
            continue  # the "./" entry of the archive's own root
        if member.name in seen:
            raise _refuse(label, f"duplicate member {member.name!r}")
        seen[member.name] = member
        total += member.size
        if total > limits.total_bytes:
            raise _refuse(label, f"members total more than {limits.total_bytes} bytes")
    total += _check_links(seen, label)
    if total > limits.total_bytes:
        raise _refuse(label, f"members total more than {limits.total_bytes} bytes")
    _check_parents(seen, label)
    return list(seen.values())


def _checked(member: Member, limits: Limits, label: str) -> Member:
    if member.kind == "special":
        raise _refuse(label, f"{member.name!r} is a device, fifo or other special file")
    if member.size > limits.member_bytes:
        raise _refuse(label, f"{member.name!r} is larger than {limits.member_bytes} bytes")
    return Member(normalise(member.name, label), member.kind, member.size, member.executable,
                  member.link, member.entry)


def normalise(name: str, label: str) -> str:
    """``name`` as a clean relative path ('a/b'); refuses absolute paths and '..'."""
    if "\x00" in name:
        raise _refuse(label, f"{name!r} contains a NUL byte")
    # Backslashes count as separators for the check: a Windows-made zip can say "..\\x".
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        raise _refuse(label, f"{name!r} is an absolute path")
    if ".." in re.split(r"[/\\]", name):
        raise _refuse(label, f"{name!r} climbs out of the tree with '..'")
    return "/".join(part for part in name.split("/") if part not in ("", "."))


def _check_links(members: dict[str, Member], label: str) -> int:
    """Refuse links that leave the tree; return the bytes hardlinks will add."""
    added = 0
    for member in members.values():
        if member.kind == "symlink":
            target = member.link
            resolved = posixpath.normpath(posixpath.join(posixpath.dirname(member.name), target))
            if not target or target.startswith("/") or resolved == ".." or \
                    resolved.startswith("../"):
                raise _refuse(label, f"symlink {member.name!r} -> {target!r} leaves the tree")
        elif member.kind == "hardlink":
            # A tar hardlink names another member; it is written as a copy of that file.
            source = members.get(normalise(member.link, label))
            if source is None or source.kind != "file":
                raise _refuse(label, f"hardlink {member.name!r} -> {member.link!r} does not "
                                     "name a file in the archive")
            added += source.size
    return added


def _check_parents(members: dict[str, Member], label: str) -> None:
    """Refuse a member below a file or a link: writing it would go through that entry."""
    for name in members:
        parts = name.split("/")
        for depth in range(1, len(parts)):
            parent = members.get("/".join(parts[:depth]))
            if parent is not None and parent.kind != "dir":
                raise _refuse(label, f"{name!r} lies below the {parent.kind} {parent.name!r}")


# --- writing --------------------------------------------------------------------------------


class _Writer:
    """Writes checked members under ``root``, counting the bytes actually produced."""

    def __init__(self, reader: _Reader, root: Path, limits: Limits, label: str) -> None:
        self.reader, self.root, self.limits, self.label = reader, root, limits, label
        self.real_root = os.path.realpath(root)
        self.written = 0

    def write(self, members: list[Member]) -> None:
        by_kind: dict[str, list[Member]] = {"dir": [], "file": [], "hardlink": [], "symlink": []}
        for member in members:
            by_kind[member.kind].append(member)
        for member in by_kind["dir"]:
            os.makedirs(self.root / member.name, exist_ok=True)
        for member in by_kind["file"]:
            with self.reader.open(member) as source:
                self._write_file(member, source)
        for member in by_kind["hardlink"]:
            with open(self.root / normalise(member.link, self.label), "rb") as source:
                self._write_file(member, source)
        # Last, so that no file is ever written through a link.
        for member in by_kind["symlink"]:
            self._make_parent(member.name)
            os.symlink(member.link, self.root / member.name)
        for member in by_kind["symlink"]:
            self._check_symlink(member)

    def _make_parent(self, name: str) -> Path:
        target = self.root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if not inside(os.path.realpath(target.parent), self.real_root):
            raise _refuse(self.label, f"{name!r} would be written outside the tree")
        return target

    def _write_file(self, member: Member, source: IO[bytes]) -> None:
        target = self._make_parent(member.name)
        mode = 0o755 if member.executable else 0o644
        # O_EXCL|O_NOFOLLOW: never reuse or follow an entry that is already there.
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
        with os.fdopen(fd, "wb") as out:
            size = 0
            for chunk in iter(lambda: source.read(CHUNK), b""):
                size += len(chunk)
                self.written += len(chunk)
                self._check_counts(member, size)
                out.write(chunk)

    def _check_counts(self, member: Member, size: int) -> None:
        if size > self.limits.member_bytes:
            raise _refuse(self.label,
                          f"{member.name!r} expands past {self.limits.member_bytes} bytes")
        if self.written > self.limits.total_bytes:
            raise _refuse(self.label, f"members expand past {self.limits.total_bytes} bytes")
        if member.kind == "file" and size > member.size:
            raise _refuse(self.label, f"{member.name!r} holds more bytes than its header says")

    def _check_symlink(self, member: Member) -> None:
        # Checked once all links exist: a chain of individually harmless links can escape.
        if not inside(os.path.realpath(self.root / member.name), self.real_root):
            raise _refuse(self.label, f"symlink {member.name!r} -> {member.link!r} leaves the tree")
