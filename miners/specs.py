"""What the user wrote, turned into ``Spec`` records.

A SPEC is one of: a local directory, a local archive (an sdist), ``pypi:NAME[==VERSION]``,
a git URL with an optional ``@REV``, or ``gh:OWNER/REPO[@REV]``. ``load_specs`` also reads
them from ``.txt`` lists, ``.jsonl`` lists (an object a line: ``spec`` and optional
per-project settings) and ``.yaml`` recipe files. Parsing never touches the network;
it only looks at the filesystem to tell a directory from an archive.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import yaml
from packaging.requirements import InvalidRequirement, Requirement

from miners.records import Spec, redact
from recipes.errors import CitraceError

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".tar", ".zip")

ACCEPTED_FORMS = (
    "a local directory (./myproject)",
    "a local archive (roman-5.2.tar.gz; " + ", ".join(ARCHIVE_SUFFIXES[1:]) + ")",
    "pypi:NAME, pypi:NAME==VERSION or pypi:NAME>=LOW,<HIGH (a version range)",
    "a git URL (https://, http://, ssh://, file://, git://, git+https://, git@host:path)"
    " with an optional @REV",
    "gh:OWNER/REPO[@REV]",
)

# PEP 508 names: letters, digits and ._- inside, a letter or digit at both ends.
_PEP508_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
# A loose PEP 440 shape: PyPI decides whether the release exists.
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+!_-]*$")
_SCHEME_URL = re.compile(r"^(?P<scheme>https?|ssh|file|git)://(?P<authority>[^/]*)(?P<path>/.*)?$")
# scp-like syntax: user@host:path (git@github.com:owner/repo.git).
_SCP_URL = re.compile(r"^(?P<user>[A-Za-z0-9._-]+)@(?P<host>[A-Za-z0-9.-]+):(?P<path>.+)$")
_GITHUB = re.compile(
    r"^gh:(?P<owner>[A-Za-z0-9][A-Za-z0-9-]*)/(?P<repo>[A-Za-z0-9._-]+?)(?:\.git)?(?:@(?P<rev>.*))?$"
)
_INLINE_COMMENT = re.compile(r"(?:^|\s)#.*$")
_SEPARATORS = re.compile(r"[-_.]+")
_SPACE = re.compile(r"\s")
_PIN_OPERATORS = re.compile(r"[<>=!~,;\[]")
_PYTHON_VERSION = re.compile(r"^3\.\d{1,2}$")
# What a .jsonl line may hold besides "spec": the per-project settings the pipeline honours.
JSONL_SETTINGS = {"timeout": "seconds for the whole project (replaces --project-timeout)",
                  "python": "the Python version its CI recipe must use, as 3.X"}


class SpecError(CitraceError, ValueError):
    """A SPEC (or a list or recipe file of them) that cannot be understood."""


def canonical_name(name: str) -> str:
    """The PEP 503 normal form of a project name: ``Foo_Bar`` -> ``foo-bar``."""
    return _SEPARATORS.sub("-", name).lower()


def parse_spec(text: str, *, base_dir: Path | None = None) -> Spec:
    """Parse one SPEC; relative local paths are resolved against ``base_dir`` (else cwd)."""
    text = text.strip()
    if not text:
        raise _error(text, "it is empty")
    if text.startswith("pypi:"):
        return _parse_pypi(text)
    if text.startswith("gh:"):
        return _parse_github(text)
    if _looks_like_url(text):
        return _parse_git_url(text)
    return _parse_path(text, base_dir)


def load_specs(args: Sequence[str], *, cwd: Path) -> list[Spec]:
    """The SPECs named by ``args`` (SPECs, ``.txt`` lists, ``.yaml`` recipes), deduplicated."""
    specs: list[Spec] = []
    for arg in args:
        specs.extend(_expand(arg, cwd))
    return dedupe(specs)


def dedupe(specs: Iterable[Spec]) -> list[Spec]:
    """``specs`` in order, without those naming a project already named (whatever the spelling)."""
    seen: set[tuple[str, ...]] = set()
    unique = []
    for spec in specs:
        name = canonical_name(spec.name) if spec.name else ""
        key = (spec.kind, spec.url, spec.rev, name, spec.version)
        if key not in seen:
            seen.add(key)
            unique.append(spec)
    return unique


# --- one SPEC -------------------------------------------------------------------------------


def _error(text: str, why: str) -> SpecError:
    accepted = "; ".join(ACCEPTED_FORMS)
    return SpecError(f"{redact(text)!r} is not a SPEC: {why}. Accepted: {accepted}")


def _parse_pypi(text: str) -> Spec:
    rest = text[len("pypi:"):].strip()
    name, sep, version = rest.partition("==")
    name, version = name.strip(), version.strip()
    if not _PEP508_NAME.match(name):
        if _PIN_OPERATORS.search(name):
            return _parse_pypi_range(text, rest)
        raise _error(text, f"{name!r} is not a valid PyPI project name")
    if sep and "*" in version:  # ==1.4.*: a range, not one release
        return _parse_pypi_range(text, rest)
    if sep and not _VERSION.match(version):
        raise _error(text, f"{version!r} is not a valid version")
    return Spec(raw=text, kind="pypi", name=name, version=version)


def _parse_pypi_range(text: str, rest: str) -> Spec:
    """``pypi:NAME`` with a PEP 440 version range (``>=1.0,<2``, ``~=1.4``)."""
    try:
        requirement = Requirement(rest)
    except InvalidRequirement:
        raise _error(text, "after pypi: comes NAME, NAME==VERSION or NAME followed by a "
                           "version range such as >=1.0,<2") from None
    if requirement.extras or requirement.marker or requirement.url:
        raise _error(text, "extras, markers and URLs have no meaning here: give NAME and "
                           "a version range")
    return Spec(raw=text, kind="pypi", name=requirement.name,
                versions=str(requirement.specifier))


def _parse_github(text: str) -> Spec:
    match = _GITHUB.match(text)
    if not match or match["repo"] in (".", ".."):
        raise _error(text, "gh: needs OWNER/REPO")
    rev = _check_rev(text, match["rev"])
    url = f"https://github.com/{match['owner']}/{match['repo']}"
    return Spec(raw=text, kind="git", url=url, rev=rev)


def _looks_like_url(text: str) -> bool:
    return "://" in text or bool(_SCP_URL.match(text))


def _parse_git_url(text: str) -> Spec:
    if _SPACE.search(text):
        raise _error(text, "a URL cannot contain spaces")
    url = text[len("git+"):] if text.startswith("git+") else text
    if scheme := _SCHEME_URL.match(url):
        # Like pip: the revision is the last "@" of the path, never one in the user part.
        path = scheme["path"] or ""
        if not scheme["authority"] and scheme["scheme"] != "file":
            raise _error(text, "the URL has no host")
        prefix = url[: len(url) - len(path)]
    elif scp := _SCP_URL.match(url):
        path = scp["path"]
        prefix = url[: len(url) - len(path)]
    else:
        raise _error(text, "unknown URL scheme (use https, http, ssh, file or git)")
    path, at, rev = path.rpartition("@") if "@" in path else (path, "", "")
    if path.strip("/") == "":
        raise _error(text, "the URL names no repository")
    rev = _check_rev(text, rev if at else None)
    return Spec(raw=redact(text), kind="git", url=prefix + path, rev=rev)


def _check_rev(text: str, rev: str | None) -> str:
    if rev is None:
        return ""
    # A leading "-" would be read by git as an option.
    if not rev or rev.startswith("-") or _SPACE.search(rev):
        raise _error(text, f"{rev!r} is not a usable git revision")
    return rev


def _parse_path(text: str, base_dir: Path | None) -> Spec:
    # abspath normalises ".." without resolving symlinks: the user's spelling of their tree.
    path = Path(os.path.abspath(os.path.join(base_dir or os.getcwd(), os.path.expanduser(text))))
    if path.is_dir():
        return Spec(raw=text, kind="local", url=str(path))
    if path.is_file():
        if path.name.lower().endswith(ARCHIVE_SUFFIXES):
            return Spec(raw=text, kind="archive", url=str(path))
        raise _error(text, f"{path} is a file, not a project directory or an archive")
    hint = f" (did you mean pypi:{text}?)" if _PEP508_NAME.match(text) else ""
    raise _error(text, f"no such directory {path}{hint}")


# --- lists and recipes ----------------------------------------------------------------------


def _expand(arg: str, cwd: Path) -> list[Spec]:
    lowered = arg.lower()
    if _looks_like_url(arg) or not lowered.endswith((".txt", ".jsonl", ".yaml", ".yml")):
        return [parse_spec(arg, base_dir=cwd)]
    path = cwd / os.path.expanduser(arg)
    if not path.is_file():
        raise SpecError(f"{arg}: no such list file (expected a .txt or .jsonl list or a "
                        ".yaml recipe)")
    if lowered.endswith(".txt"):
        return list(_read_list(path))
    if lowered.endswith(".jsonl"):
        return list(_read_jsonl(path))
    return list(_read_recipe(path))


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path}: cannot read the file: {exc}") from None


def _read_list(path: Path) -> Iterator[Spec]:
    """One SPEC a line; ``#`` starts a comment (after whitespace, so URL fragments survive)."""
    base_dir = path.parent
    for lineno, line in enumerate(_read_text(path).splitlines(), 1):
        text = (_INLINE_COMMENT.sub("", line) if "#" in line else line).strip()
        if text:
            yield _parse_at(text, path, lineno, base_dir)


def _read_jsonl(path: Path) -> Iterator[Spec]:
    """``{"spec": SPEC, "timeout": 900, "python": "3.11"}`` a line; blank lines are skipped."""
    base_dir = path.parent
    for lineno, line in enumerate(_read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError as exc:
            raise SpecError(f"{path}:{lineno}: not valid JSON ({exc})") from None
        if not isinstance(data, dict) or not isinstance(data.get("spec"), str):
            raise SpecError(f'{path}:{lineno}: each line is an object with a "spec" string, '
                            'like {"spec": "pypi:roman==5.2", "timeout": 900}')
        spec = _parse_at(data["spec"], path, lineno, base_dir)
        if len(data) > 1:
            timeout, python = _project_settings(data, path, lineno)
            # A direct call: dataclasses.replace costs three times as much per line.
            spec = Spec(spec.raw, spec.kind, spec.url, spec.rev, spec.name, spec.version,
                        timeout, python)
        yield spec


def _project_settings(data: dict[str, object], path: Path, lineno: int) -> tuple[float, str]:
    """The line's (timeout, python); 0 and "" where it leaves the run's own."""
    unknown = sorted(set(data) - {"spec", *JSONL_SETTINGS})
    if unknown:
        known = "; ".join(f"{key}: {what}" for key, what in JSONL_SETTINGS.items())
        raise SpecError(f"{path}:{lineno}: unknown key(s) {', '.join(map(repr, unknown))}; "
                        f"a line holds spec and optionally {known}")
    timeout = data.get("timeout", 0.0)
    if "timeout" in data and (isinstance(timeout, bool) or
                              not isinstance(timeout, (int, float)) or timeout <= 0):
        raise SpecError(f"{path}:{lineno}: timeout must be a number of seconds above 0, "
                        f"not {timeout!r}")
    python = data.get("python", "")
    if "python" in data and (not isinstance(python, str) or not _PYTHON_VERSION.match(python)):
        raise SpecError(f"{path}:{lineno}: python must be a version like \"3.11\", "
                        f"not {python!r}")
    assert isinstance(timeout, (int, float)) and isinstance(python, str)
    return float(timeout), python


def _parse_at(text: str, path: Path, lineno: int, base_dir: Path) -> Spec:
    try:
        return parse_spec(text, base_dir=base_dir)
    except SpecError as exc:
        raise SpecError(f"{path}:{lineno}: {exc}") from None


def _read_recipe(path: Path) -> Iterator[Spec]:
    """``projects: [{spec: ...}, "..."]``; composed (not loaded) to keep line numbers."""
    try:
        root = yaml.compose(_read_text(path), Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from None
    projects = _mapping_value(root, "projects")
    if not isinstance(projects, yaml.SequenceNode):
        line = root.start_mark.line + 1 if root is not None else 1
        raise SpecError(f"{path}:{line}: a recipe needs 'projects:', a list of {{spec: SPEC}}")
    for item in projects.value:
        lineno = item.start_mark.line + 1
        node = _mapping_value(item, "spec") if isinstance(item, yaml.MappingNode) else item
        if not isinstance(node, yaml.ScalarNode) or not str(node.value).strip():
            raise SpecError(f"{path}:{lineno}: each project is a SPEC string or {{spec: SPEC}}")
        yield _parse_at(str(node.value), path, lineno, path.parent)


def _mapping_value(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for key_node, value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            return value_node  # type: ignore[no-any-return]
    return None
