from __future__ import annotations

import io
import os
import stat
import struct
import tarfile
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from miners.sources.archive import extract_archive
from recipes.records import StageError
from tests.miners.sourcekit import make_sdist

Entry = tuple[tarfile.TarInfo, bytes]


def regular(name: str, data: bytes = b"x", mode: int = 0o644) -> Entry:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    return info, data


def special(name: str, kind: bytes, link: str = "") -> Entry:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info, b""


def make_tar(path: Path, entries: list[Entry], mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as archive:
        for info, data in entries:
            archive.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return path


def make_zip(path: Path, entries: list[tuple[str, bytes]],
             links: dict[str, str] | None = None, unix_modes: dict[str, int] | None = None) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicates we write on purpose
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in entries:
                archive.writestr(name, data)
            for name, target in (links or {}).items():
                info = zipfile.ZipInfo(name)
                info.create_system = 3
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                archive.writestr(info, target)
            for name, mode in (unix_modes or {}).items():
                info = zipfile.ZipInfo(name)
                info.create_system = 3
                info.external_attr = mode << 16
                archive.writestr(info, b"")
    return path


def snapshot(root: Path) -> set[str]:
    return {os.path.relpath(os.path.join(d, n), root)
            for d, dirs, files in os.walk(root) for n in dirs + files}


@pytest.fixture
def where(tmp_path: Path) -> tuple[Path, Path]:
    """(archive directory, destination); the destination's parent starts empty."""
    (tmp_path / "archives").mkdir()
    return tmp_path / "archives", tmp_path / "work" / "out"


# --- archives that extract ------------------------------------------------------------------


def test_an_sdist_extracts_to_its_top_directory(where: tuple[Path, Path]) -> None:
    archives, dest = where
    sdist = make_sdist(archives, "roman", "5.2", {"tests/test_roman.py": "def test(): pass\n"})
    root = extract_archive(sdist, dest)
    assert root == dest / "roman-5.2"
    assert (root / "tests" / "test_roman.py").read_text() == "def test(): pass\n"
    assert sorted(p.name for p in dest.parent.iterdir()) == ["out"]  # no staging left behind


@pytest.mark.parametrize("suffix,mode", [(".tar.gz", "w:gz"), (".tgz", "w:gz"),
                                         (".tar.bz2", "w:bz2"), (".tar", "w"),
                                         (".tar.xz", "w:xz")])
def test_tar_formats(where: tuple[Path, Path], suffix: str, mode: str) -> None:
    archives, dest = where
    archive = make_tar(archives / f"p{suffix}", [regular("p-1/a.py", b"A"),
                                                  regular("p-1/run.sh", b"#!", 0o755)], mode)
    root = extract_archive(archive, dest)
    assert (root / "a.py").read_bytes() == b"A"
    assert os.access(root / "run.sh", os.X_OK)
    assert not os.access(root / "a.py", os.X_OK)


def test_zip_with_several_top_level_entries_roots_at_dest(where: tuple[Path, Path]) -> None:
    archives, dest = where
    archive = make_zip(archives / "p.zip", [("setup.py", b"S"), ("pkg/__init__.py", b""),
                                            ("pkg/", b"")])
    dest.mkdir(parents=True)  # an existing empty destination is fine
    assert extract_archive(archive, dest) == dest
    assert (dest / "setup.py").read_bytes() == b"S"
    assert (dest / "pkg" / "__init__.py").is_file()


def test_a_macos_zip_still_roots_at_its_project(where: tuple[Path, Path]) -> None:
    archives, dest = where
    archive = make_zip(archives / "p.zip", [("p-1/setup.py", b"S"), ("__MACOSX/p-1/._setup.py",
                                                                     b"")])
    assert extract_archive(archive, dest) == dest / "p-1"


def test_links_inside_the_tree_are_kept(where: tuple[Path, Path]) -> None:
    archives, dest = where
    archive = make_tar(archives / "p.tar.gz", [
        regular("./p-1/data/real.txt", b"data"),
        special("p-1/docs/alias.txt", tarfile.SYMTYPE, "../data/real.txt"),
        special("p-1/copy.txt", tarfile.LNKTYPE, "p-1/data/real.txt"),
    ])
    root = extract_archive(archive, dest)
    assert os.readlink(root / "docs" / "alias.txt") == "../data/real.txt"
    assert (root / "docs" / "alias.txt").read_bytes() == b"data"
    assert not (root / "copy.txt").is_symlink()
    assert (root / "copy.txt").read_bytes() == b"data"


def test_zip_symlinks_inside_the_tree_are_kept(where: tuple[Path, Path]) -> None:
    archives, dest = where
    archive = make_zip(archives / "p.zip", [("p/real.txt", b"data")], links={"p/l": "real.txt"})
    root = extract_archive(archive, dest)
    assert (root / "l").is_symlink() and (root / "l").read_bytes() == b"data"


def test_a_non_empty_destination_is_refused(where: tuple[Path, Path]) -> None:
    archives, dest = where
    dest.mkdir(parents=True)
    (dest / "old.txt").write_text("keep me")
    with pytest.raises(StageError) as caught:
        extract_archive(make_sdist(archives, "roman", "5.2"), dest)
    assert caught.value.failure.cause == "bad_destination"
    assert snapshot(dest) == {"old.txt"}


@pytest.mark.parametrize("name,content", [("junk.tar.gz", b"not an archive at all"),
                                          ("junk.zip", b"PK\x03\x04 truncated"),
                                          ("junk.tar.bz2", b"BZh9 broken")])
def test_corrupt_archives_are_bad_archives(where: tuple[Path, Path], name: str,
                                           content: bytes) -> None:
    archives, dest = where
    (archives / name).write_bytes(content)
    with pytest.raises(StageError) as caught:
        extract_archive(archives / name, dest)
    assert caught.value.failure.cause == "bad_archive"
    assert name in caught.value.failure.message
    assert not dest.parent.exists() or snapshot(dest.parent) == set()


# --- hostile archives -----------------------------------------------------------------------

Builder = Callable[[Path, Path], Path]  # (archive directory, tmp_path) -> archive


def absolute_member(archives: Path, tmp: Path) -> Path:
    return make_tar(archives / "a.tar.gz", [regular("p/ok.py"),
                                            regular(str(tmp / "escaped.txt"))])


def dotdot_member(archives: Path, tmp: Path) -> Path:
    return make_tar(archives / "a.tar.gz", [regular("p/ok.py"),
                                            regular("p/../../escaped.txt")])


def symlink_absolute(archives: Path, tmp: Path) -> Path:
    return make_tar(archives / "a.tar.gz", [regular("p/ok.py"),
                                            special("p/l", tarfile.SYMTYPE, str(tmp))])


def symlink_relative_escape(archives: Path, tmp: Path) -> Path:
    return make_tar(archives / "a.tar.gz", [special("p/l", tarfile.SYMTYPE, "../../..")])


def symlink_then_write_through(archives: Path, tmp: Path) -> Path:
    # The classic: a link to a directory outside, then a file "inside" the link.
    return make_tar(archives / "a.tar.gz", [special("p/l", tarfile.SYMTYPE, str(tmp)),
                                            regular("p/l/escaped.txt")])


def symlink_to_inner_dir_then_file(archives: Path, tmp: Path) -> Path:
    # Even a harmless-looking link may not be written through.
    return make_tar(archives / "a.tar.gz", [regular("p/d/x"),
                                            special("p/l", tarfile.SYMTYPE, "d"),
                                            regular("p/l/escaped.txt")])


def symlink_chain(archives: Path, tmp: Path) -> Path:
    # Each target looks inside on paper ("up/.." normalises to "p"), but "up" is itself a
    # link to the archive root, so the kernel resolves "x" to the root's parent.
    return make_tar(archives / "a.tar.gz", [special("p/up", tarfile.SYMTYPE, ".."),
                                            special("p/x", tarfile.SYMTYPE, "up/..")])


def hardlink_absolute(archives: Path, tmp: Path) -> Path:
    return make_tar(archives / "a.tar.gz", [special("p/h", tarfile.LNKTYPE, "/etc/passwd")])


def hardlink_dotdot(archives: Path, tmp: Path) -> Path:
    return make_tar(archives / "a.tar.gz", [special("p/h", tarfile.LNKTYPE, "../../secret")])


def hardlink_to_nothing(archives: Path, tmp: Path) -> Path:
    return make_tar(archives / "a.tar.gz", [special("p/h", tarfile.LNKTYPE, "p/missing")])


def character_device(archives: Path, tmp: Path) -> Path:
    return make_tar(archives / "a.tar.gz", [regular("p/ok.py"),
                                            special("p/null", tarfile.CHRTYPE)])


def block_device(archives: Path, tmp: Path) -> Path:
    return make_tar(archives / "a.tar.gz", [special("p/disk", tarfile.BLKTYPE)])


def fifo(archives: Path, tmp: Path) -> Path:
    return make_tar(archives / "a.tar.gz", [special("p/pipe", tarfile.FIFOTYPE)])


def duplicate_members(archives: Path, tmp: Path) -> Path:
    return make_tar(archives / "a.tar.gz", [regular("p/a.py", b"1"), regular("p/a.py", b"2")])


def duplicate_after_normalising(archives: Path, tmp: Path) -> Path:
    return make_tar(archives / "a.tar.gz", [regular("p/a.py", b"1"), regular("./p//a.py", b"2")])


def member_below_a_file(archives: Path, tmp: Path) -> Path:
    return make_tar(archives / "a.tar.gz", [regular("p/a"), regular("p/a/b")])


def zip_dotdot(archives: Path, tmp: Path) -> Path:
    return make_zip(archives / "a.zip", [("p/ok.py", b""), ("../escaped.txt", b"x")])


def zip_backslash_dotdot(archives: Path, tmp: Path) -> Path:
    return make_zip(archives / "a.zip", [("p\\..\\..\\escaped.txt", b"x")])


def zip_absolute(archives: Path, tmp: Path) -> Path:
    return make_zip(archives / "a.zip", [("/tmp/escaped.txt", b"x")])


def zip_symlink_escape(archives: Path, tmp: Path) -> Path:
    return make_zip(archives / "a.zip", [("p/ok.py", b"")], links={"p/l": "../../outside"})


def zip_device(archives: Path, tmp: Path) -> Path:
    return make_zip(archives / "a.zip", [], unix_modes={"p/dev": stat.S_IFCHR | 0o644})


def zip_duplicates(archives: Path, tmp: Path) -> Path:
    return make_zip(archives / "a.zip", [("p/a.py", b"1"), ("p/a.py", b"2")])


HOSTILE: dict[str, Builder] = {f.__name__: f for f in (
    absolute_member, dotdot_member, symlink_absolute, symlink_relative_escape,
    symlink_then_write_through, symlink_to_inner_dir_then_file, symlink_chain,
    hardlink_absolute, hardlink_dotdot, hardlink_to_nothing, character_device, block_device,
    fifo, duplicate_members, duplicate_after_normalising, member_below_a_file, zip_dotdot,
    zip_backslash_dotdot, zip_absolute, zip_symlink_escape, zip_device, zip_duplicates)}


@pytest.mark.parametrize("build", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_archives_are_refused_without_a_trace(tmp_path: Path, build: Builder) -> None:
    archives, dest = tmp_path / "archives", tmp_path / "work" / "out"
    archives.mkdir()
    archive = build(archives, tmp_path)
    before = snapshot(tmp_path)
    with pytest.raises(StageError) as caught:
        extract_archive(archive, dest)
    failure = caught.value.failure
    assert (failure.stage, failure.cause) == ("acquire", "unsafe_archive")
    assert failure.message.startswith(f"{archive.name}: refused to extract: ")
    # Nothing written anywhere: not in dest, not beside it, not where the member pointed.
    assert snapshot(tmp_path) - before <= {"work"}
    assert not dest.exists()
    assert list((tmp_path / "work").iterdir()) == []


# --- size bounds ----------------------------------------------------------------------------


def zeros_tar(path: Path, sizes: list[int]) -> Path:
    return make_tar(path, [regular(f"p/zeros{i}", bytes(size)) for i, size in enumerate(sizes)])


@pytest.mark.parametrize("sizes,bounds,why", [
    ([5_000_000], {"max_member_bytes": 1_000_000}, "larger than 1000000 bytes"),
    ([400_000] * 3, {"max_member_bytes": 500_000, "max_total_bytes": 1_000_000},
     "members total more than 1000000 bytes"),
    ([1] * 6, {"max_members": 5}, "more than 5 members"),
])
def test_bombs_are_refused_by_their_declared_sizes(where: tuple[Path, Path], sizes: list[int],
                                                   bounds: dict[str, int], why: str) -> None:
    archives, dest = where
    archive = zeros_tar(archives / "bomb.tar.gz", sizes)
    assert archive.stat().st_size < 50_000  # a bomb: tiny on disk, large when extracted
    with pytest.raises(StageError, match=why) as caught:
        extract_archive(archive, dest, **bounds)
    assert caught.value.failure.cause == "unsafe_archive"
    assert not dest.parent.exists() or snapshot(dest.parent) == set()


def test_zip_bomb_is_refused(where: tuple[Path, Path]) -> None:
    archives, dest = where
    archive = make_zip(archives / "bomb.zip", [("p/zeros", bytes(5_000_000))])
    with pytest.raises(StageError, match="larger than 1000000 bytes"):
        extract_archive(archive, dest, max_member_bytes=1_000_000)


def test_hardlinks_count_towards_the_total(where: tuple[Path, Path]) -> None:
    archives, dest = where
    copies = [special(f"p/copy{i}", tarfile.LNKTYPE, "p/zeros") for i in range(5)]
    archive = make_tar(archives / "links.tar.gz", [regular("p/zeros", bytes(300_000)), *copies])
    with pytest.raises(StageError, match="total more than 1000000"):
        extract_archive(archive, dest, max_total_bytes=1_000_000)


def test_a_zip_whose_header_understates_its_size_is_refused(where: tuple[Path, Path]) -> None:
    archives, dest = where
    archive = make_zip(archives / "liar.zip", [("p/zeros", bytes(3_000_000))])
    data = bytearray(archive.read_bytes())
    # Claim 1,000 bytes in both the local header and the central directory.
    struct.pack_into("<I", data, 22, 1000)
    struct.pack_into("<I", data, data.find(b"PK\x01\x02") + 24, 1000)
    archive.write_bytes(bytes(data))
    with pytest.raises(StageError) as caught:
        extract_archive(archive, dest, max_member_bytes=100_000)
    assert caught.value.failure.cause in ("unsafe_archive", "bad_archive")
    assert not dest.parent.exists() or snapshot(dest.parent) == set()
