"""Tests for a release whose sdist ships none, from its source repository at its tag.

Many sdists leave their tests out (they live in the repository). For such a release the
repository its metadata names (``Project-URL``s of its ``PKG-INFO`` first, then the index's
``project_urls`` and ``home_page``; only URLs on a known git host, or any https URL ending
``.git``) is asked for its tags by ``git ls-remote``, the tag of the release's version is
picked (``v1.2.3``, ``1.2.3``, ``name-1.2.3`` ... see ``release_tag``), and that tag is
cloned shallow through ``miners.sources.git`` (so the user's ``insteadOf`` rules, proxies
and credentials apply, with its timeout and no prompt).

What is run is the repository's tests against the release: its test folders and files,
and any CI, tox or requirements file the sdist lacks, are copied next to the sdist's code,
which stays what is built, traced and made into problems. A path the sdist has is never
replaced. Nothing from the clone runs on the host: git fetches it, Python copies files
(symlinks only when they stay inside the clone), and the clone is removed.

"Ships no tests" means no test folder (``tests``/``test`` anywhere, ``testing`` at the
top) holding a Python file, and no file pytest would collect by name (``test_*.py``,
``*_test.py``, ``tests.py``/``test.py``, ``conftest.py``). Doctests in the modules do not
count: their examples are what a problem's prompt already shows (``recipes.ci.discovery``
runs them last, when nothing else is found), and the repository's tests are worth more.

When no repository, no tag or no clone is found, the project goes on as before, with the
reason in ``Supplied.note``.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from packaging.version import InvalidVersion, Version

from miners.records import Spec
from miners.sources.cache import Cache
from miners.sources.git import acquire_git, remote_tags
from miners.sources.tree import pkg_info, project_name, staging_dir
from miners.specs import canonical_name, redact
from recipes.ci.discovery import TEST_DIRS, TEST_FILES
from recipes.records import StageError

GIT_TIMEOUT = 300.0  # seconds for the shallow clone
LIST_TIMEOUT = 60.0  # seconds for listing a repository's tags: a host that hangs costs less
# Hosts whose URLs are repositories once cut to their repository part (``normalise``).
GIT_HOSTS = ("github.com", "gitlab.com", "bitbucket.org", "codeberg.org", "git.sr.ht")
# project_urls labels, most telling first; a label matches when it contains the word.
SOURCE_LABELS = ("source", "repository", "repo", "code", "github", "gitlab", "git")
HOME_LABELS = ("homepage", "home")
# Tag spellings tried, in order; {name} is each spelling of the project's name.
TAG_PREFIXES = ("v", "", "{name}-", "{name}-v", "{name}_", "{name}_v", "{name}/", "{name}/v",
                "{name}@", "release-", "release-v", "release/", "version-", "rel-")
# Folders (at any depth) and top-level files copied from the clone when the sdist lacks them.
NESTED_TEST_DIRS = ("tests", "test")
CONFIG_FILES = ("tox.ini", "pytest.ini", ".travis.yml")
CONFIG_DIRS = (".github/workflows", "requirements")
_REQUIREMENTS = re.compile(r"^[\w.-]*requirements[\w.-]*\.(txt|in)$", re.IGNORECASE)
_SKIPPED_DIRS = frozenset({".git", ".hg", ".tox", ".nox", ".eggs", "node_modules", "build",
                           "dist", "__pycache__", ".venv", "venv"})


@dataclass(frozen=True)
class Supplied:
    """What was done for a release's tests: ``tests_from`` is "URL@TAG" when the
    repository's tests were added, else ""; ``note`` says what was added, or why nothing
    was ("" when the sdist ships its own tests)."""

    tests_from: str = ""
    note: str = ""


def supply_tests(root: Path, *, name: str, version: str, index_urls: Mapping[str, str],
                 cache: Cache | None = None, timeout: float = GIT_TIMEOUT) -> Supplied:
    """Add the repository's tests to the extracted sdist at ``root`` when it ships none.

    ``index_urls`` are the index's ``project_urls`` (with ``home_page`` as "Home-page").
    Never raises for a missing or unreachable repository: that is a note, not a failure.
    """
    if ships_tests(root):
        return Supplied()
    urls = repository_urls(project_url_fields(root), index_urls)
    if not urls:
        return Supplied(note="the sdist ships no tests and its metadata names no repository "
                             "on a known git host")
    reasons: list[str] = []
    for url in urls:
        try:
            return _from_repository(url, root, name=name, version=version, cache=cache,
                                    timeout=timeout)
        except StageError as exc:
            reasons.append(exc.failure.message)
    return Supplied(note="the sdist ships no tests; " + "; ".join(reasons))


def _from_repository(url: str, root: Path, *, name: str, version: str, cache: Cache | None,
                     timeout: float) -> Supplied:
    label = f"the repository of {name} {version}"  # how git's failures name it
    tags = remote_tags(Spec(raw=label, kind="git", url=url), timeout=min(timeout, LIST_TIMEOUT))
    tag = release_tag(tags, _name_spellings(root, name), version)
    if not tag:
        raise StageError("acquire", "not_found",
                         f"{redact(url)} has no tag for version {version} "
                         f"({len(tags)} tags, none like v{version} or {version})")
    workdir = staging_dir(root.parent, ".upstream-", name)
    try:
        clone = workdir / "clone"
        checkout = acquire_git(Spec(raw=label, kind="git", url=url, rev=tag), clone,
                               timeout=timeout, cache=cache)
        base = project_directory(clone, name)
        try:
            copied = copy_tests(base, root)
        except OSError as exc:
            raise StageError("acquire", "disk_error",
                             f"cannot copy the tests of {redact(url)}@{tag}: {exc}") from None
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if not copied:
        raise StageError("acquire", "no_tests_found",
                         f"{redact(url)} at {tag} has no tests either")
    where = f"{redact(url)}@{tag}"
    inside = f" ({base.relative_to(clone).as_posix()})" if base != clone else ""
    return Supplied(tests_from=where,
                    note=f"the sdist ships no tests; added {', '.join(copied)} from {where}"
                         f"{inside}, commit {checkout.version}")


# --- does the sdist ship tests --------------------------------------------------------------


def ships_tests(root: Path) -> bool:
    """Whether the tree holds a test folder with Python in it, or a file pytest collects
    (a ``conftest.py`` alone is no test: many sdists ship one for their doctests)."""
    return any(path.name != "conftest.py" for path in _test_places(root))


def _is_test_file(name: str, *, top: bool) -> bool:
    """A file pytest collects, or ``tests.py`` anywhere (cssselect 0.9.1 ships
    ``cssselect/tests.py``); a ``test.py`` only at the top (inside a package it is as often
    a module of the project's)."""
    return name.endswith(".py") and (
        name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py"
        or name == "tests.py" or (top and name in TEST_FILES))


def _test_places(root: Path) -> Iterator[Path]:
    """Test folders (holding a ``.py``) and test files under ``root``, outermost only."""
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        top = here == root
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS and not d.startswith("."))
        for name in list(dirs):
            if name in (TEST_DIRS if top else NESTED_TEST_DIRS) and _holds_python(here / name):
                dirs.remove(name)
                yield here / name
        for name in sorted(files):
            if _is_test_file(name, top=top):
                yield here / name


def _holds_python(folder: Path) -> bool:
    """Python, or doctest files (python-stdnum 1.7's ``tests/*.doctest``)."""
    return any(name.endswith((".py", ".doctest")) for _, _, files in os.walk(folder)
               for name in files)


# --- which repository -----------------------------------------------------------------------


def project_url_fields(root: Path) -> dict[str, str]:
    """The ``Project-URL`` entries (label: URL) and ``Home-page`` of the sdist's PKG-INFO."""
    try:
        text = (root / "PKG-INFO").read_text("utf-8", errors="replace")
    except OSError:
        return {}
    found: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            break  # the description starts after the first blank line
        key, _, value = line.partition(":")
        if key == "Project-URL" and "," in value:
            label, _, url = value.partition(",")
            found.setdefault(label.strip(), url.strip())
        elif key == "Home-page" and value.strip():
            found.setdefault("Home-page", value.strip())
    return found


def repository_urls(*sources: Mapping[str, str]) -> list[str]:
    """The repository URLs named in ``sources`` (label: URL mappings, the first most
    trusted), normalised and without repeats: source-like labels of every source first,
    then home pages. Labels of neither kind (Documentation, Issues...) are not read."""
    ranked: list[tuple[int, int, str]] = []
    for order, source in enumerate(sources):
        for label, url in source.items():
            rank = _label_rank(label)
            if rank is not None and isinstance(url, str):
                ranked.append((rank, order, url))
    found: list[str] = []
    for _, _, url in sorted(ranked, key=lambda item: item[:2]):
        normal = normalise(url)
        if normal and normal not in found:
            found.append(normal)
    return found


def _label_rank(label: str) -> int | None:
    words = re.sub(r"[^a-z]+", " ", label.lower()).split()
    joined = "".join(words)
    if any(word in SOURCE_LABELS for word in words) or joined in ("sourcecode", "repository"):
        return 0
    if any(word in HOME_LABELS for word in words) or joined == "homepage":
        return 1
    return None


def normalise(url: str) -> str:
    """The clone URL of a repository page (``https://github.com/o/r/tree/main`` ->
    ``https://github.com/o/r``), or "" when ``url`` is on no known git host."""
    url = url.strip().removeprefix("git+")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return ""
    host = parts.hostname.lower().removeprefix("www.")
    segments = [s for s in parts.path.split("/") if s]
    if host == "sr.ht":  # the project hub; its repository usually shares its name
        host = "git.sr.ht"
    if host in GIT_HOSTS:
        if host == "gitlab.com":  # nested groups: the repository ends before "/-/"
            segments = segments[:segments.index("-")] if "-" in segments else segments
            segments = _before(segments, ("tree", "blob", "issues", "merge_requests"), keep=2)
        else:
            segments = segments[:2]
        if len(segments) < 2:
            return ""
        segments[-1] = segments[-1].removesuffix(".git")
        return f"https://{host}/" + "/".join(segments)
    if parts.scheme == "https" and parts.path.endswith(".git") and len(segments) >= 1:
        return f"https://{parts.netloc}{parts.path}"
    return ""


def _before(segments: list[str], markers: Sequence[str], *, keep: int) -> list[str]:
    for index, segment in enumerate(segments):
        if index >= keep and segment in markers:
            return segments[:index]
    return segments


# --- which tag ------------------------------------------------------------------------------


def release_tag(tags: Iterable[str], names: Sequence[str], version: str) -> str:
    """The tag of release ``version`` among ``tags``, or "": the first spelling of
    ``TAG_PREFIXES`` (with each of ``names``) followed by the version as written, else by
    a version equal to it under PEP 440 (``v1.2`` for 1.2.0). Case is ignored."""
    by_lower = {tag.lower(): tag for tag in reversed(list(tags))}  # the first of a case clash
    prefixes = [p.format(name=n.lower()) for p in TAG_PREFIXES
                for n in (names if "{name}" in p else names[:1])]
    prefixes = list(dict.fromkeys(prefixes))
    for prefix in prefixes:
        tag = by_lower.get(prefix + version.lower())
        if tag:
            return tag
    try:
        wanted = Version(version)
    except InvalidVersion:
        return ""
    for prefix in prefixes:
        for lowered, tag in sorted(by_lower.items()):
            if lowered.startswith(prefix) and _equal(lowered[len(prefix):], wanted):
                return tag
    return ""


def _equal(text: str, wanted: Version) -> bool:
    if not text[:1].isdigit():
        return False  # "v" handled by its own prefix; no "name-1.0" read as "1.0" via ""
    try:
        return Version(text) == wanted
    except InvalidVersion:
        return False


def _name_spellings(root: Path, name: str) -> list[str]:
    """The project's name as PKG-INFO writes it, canonical, and with underscores."""
    declared = pkg_info(root).get("Name", "") or name
    spellings = [declared, canonical_name(declared), canonical_name(declared).replace("-", "_")]
    return list(dict.fromkeys(spellings))


# --- copying --------------------------------------------------------------------------------


def project_directory(clone: Path, name: str) -> Path:
    """Where the release's project lies in the clone: its top, unless the top declares
    another project and a folder (up to three deep: a monorepo) declares this one."""
    wanted = canonical_name(name)
    top = project_name(clone, fallback="")
    if top in ("", "project", wanted):
        return clone
    for depth in range(1, 4):
        for folder in sorted(clone.glob("/".join(["*"] * depth))):
            if folder.is_dir() and ".git" not in folder.parts[len(clone.parts):] and \
                    project_name(folder, fallback="") == wanted:
                return folder
    raise StageError("acquire", "not_found",
                     f"the repository holds project {top!r}, not {wanted!r}")


def copy_tests(base: Path, root: Path) -> list[str]:
    """Copy ``base``'s tests, and its CI and requirements files, to where they lie relative
    to ``root`` when ``root`` lacks them. A nested test folder is copied only into a folder
    the sdist has. The paths copied, relative, sorted."""
    copied: list[str] = []
    for source in _test_places(base):
        relative = source.relative_to(base)
        target = root / relative
        if target.exists() or not target.parent.is_dir():
            continue
        if _copy(source, target, base):
            copied.append(relative.as_posix())
    if not copied:
        return []  # CI files alone would run no test
    extras = [*CONFIG_FILES, *CONFIG_DIRS,
              *(p.name for p in sorted(base.iterdir()) if _REQUIREMENTS.match(p.name))]
    for relative_name in dict.fromkeys(extras):
        source, target = base / relative_name, root / relative_name
        if (source.is_file() or source.is_dir()) and not target.exists() and \
                not os.path.lexists(target):
            target.parent.mkdir(parents=True, exist_ok=True)
            if _copy(source, target, base):
                copied.append(relative_name)
    return sorted(copied)


def _copy(source: Path, target: Path, base: Path) -> bool:
    """Copy a file or folder; symlinks only when they stay inside ``base``."""
    if source.is_symlink() and not _inside(source, base):
        return False
    if source.is_dir() and not source.is_symlink():
        def outside(folder: str, names: list[str]) -> list[str]:
            return [n for n in names if os.path.islink(os.path.join(folder, n))
                    and not _inside(Path(folder, n), base)]
        shutil.copytree(source, target, symlinks=True, ignore=outside)
    else:
        shutil.copy2(source, target, follow_symlinks=False)
    return True


def _inside(link: Path, base: Path) -> bool:
    resolved, top = os.path.realpath(link), os.path.realpath(base)
    return resolved == top or resolved.startswith(top + os.sep)
