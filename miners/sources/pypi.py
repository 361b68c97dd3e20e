"""Source distributions from PyPI, or from any index serving PyPI's JSON API.

The per-version endpoint (``/pypi/NAME/VERSION/json``) is asked first because its ``info``
(and so the license) belongs to that version; some mirrors answer it with 404, so the
project endpoint (``/pypi/NAME/json``, whose ``releases`` lists every version's files) is
the fallback. File URLs may be relative to the JSON document that lists them.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urljoin

import requests
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from miners.records import Checkout, Spec
from miners.sources import licenses, upstream
from miners.sources.archive import CHUNK, extract_archive
from miners.sources.cache import Cache
from miners.sources.tree import require_empty, staging_dir
from miners.specs import ARCHIVE_SUFFIXES, canonical_name, redact
from recipes.records import StageError

DEFAULT_INDEX = "https://pypi.org"
INDEX_VARIABLE = "CITRACE_PYPI_URL"
TIMEOUT = (10, 60)  # seconds to connect, seconds between bytes
TRIES = 3
RETRY_DELAY = 1.0  # seconds before the second try; doubled for each further one
MAX_DOWNLOAD_BYTES = 1_000_000_000

T = TypeVar("T")


class _Transient(Exception):
    """A failure worth another try: no connection, a dropped stream, 5xx, 429."""


@dataclass(frozen=True)
class SdistFile:
    filename: str
    url: str  # absolute
    sha256: str  # as the index declares it; "" when it declares none
    uploaded: str  # ISO 8601


@dataclass(frozen=True)
class Release:
    name: str  # canonical project name
    version: str
    sdist: SdistFile
    license_info: dict[str, Any]  # the license fields of the index's ``info``
    # ``info.project_urls``, with ``info.home_page`` as "Home-page": where its repository is
    urls: dict[str, str] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Release:
        return cls(name=str(data["name"]), version=str(data["version"]),
                   sdist=SdistFile(**data["sdist"]), license_info=dict(data["license_info"]),
                   urls=dict(data["urls"]))  # none in an older entry: ask the index again


def acquire_pypi(spec: Spec, dest: Path, *, index_url: str | None = None,
                 session: requests.Session | None = None, retry_delay: float = RETRY_DELAY,
                 tries: int = TRIES, cache: Cache | None = None) -> Checkout:
    """Download ``spec``'s sdist (latest release unless pinned), verify it, extract it.

    ``index_url`` is the JSON API root; default ``$CITRACE_PYPI_URL``, else PyPI. The
    sdist comes from ``cache`` (default: the machine's) when it holds those bytes, and a
    pinned release's file is remembered there too, so a second run asks the index nothing.
    """
    index = (index_url or os.environ.get(INDEX_VARIABLE) or DEFAULT_INDEX).rstrip("/")
    cache = cache or Cache.from_environment()
    http = _Http(session or _new_session(), label=spec.raw, tries=tries, retry_delay=retry_delay)
    try:
        release = _pinned_release(http, cache, index, spec)
        require_empty(dest, spec.raw)
        root, cached = _fetch_and_extract(http, cache, release.sdist, dest)
    finally:
        if session is None:
            http.session.close()
    if release.license_info:
        found = licenses.decide(release.license_info, root)
    else:  # the index described another version: the sdist's own metadata speaks for it
        found = licenses.decide(licenses.pkg_info_fields(root), root)
        found = dataclasses.replace(found, source=found.source.replace("pypi:", "PKG-INFO:"))
    supplied = upstream.supply_tests(root, name=release.name, version=release.version,
                                     index_urls=release.urls, cache=cache)
    return Checkout(spec=spec, path=str(root), name=release.name, version=release.version,
                    sha256=release.sdist.sha256, date=release.sdist.uploaded,
                    license=found.value, license_source=found.source, from_cache=cached,
                    tests_from=supplied.tests_from, tests_note=supplied.note)


def _pinned_release(http: _Http, cache: Cache, index: str, spec: Spec) -> Release:
    """The release, from the cache when ``spec`` pins a version already resolved there."""
    if spec.versions:  # a range: which release is newest in it is the index's to say
        return find_release(http, index, spec.name, "", versions=spec.versions)
    if not spec.version:
        return find_release(http, index, spec.name, spec.version)
    key = f"pypi-release\0{index}\0{canonical_name(spec.name)}\0{spec.version}"
    remembered = cache.get_json(key)
    if remembered is not None:
        try:
            return Release.from_dict(remembered)
        except (KeyError, TypeError, ValueError):
            pass  # written by another version of citrace: ask the index again
    release = find_release(http, index, spec.name, spec.version)
    if release.sdist.sha256:  # without a digest, the cached bytes could not be checked
        cache.put_json(key, release.to_dict())
    return release


# --- HTTP -----------------------------------------------------------------------------------


def _new_session() -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = "citrace (source acquisition)"
    return session


class _Http:
    """One project's requests: a session, retries with backoff, messages naming the project."""

    def __init__(self, session: requests.Session, *, label: str, tries: int,
                 retry_delay: float) -> None:
        self.session, self.label = session, label
        self.tries, self.retry_delay = max(1, tries), retry_delay

    def retrying(self, action: Callable[[], T], url: str) -> T:
        """``action()``, tried again after each ``_Transient`` with exponential backoff."""
        for attempt in range(self.tries):
            try:
                return action()
            except _Transient as exc:
                reason = str(exc)
            if attempt + 1 < self.tries:
                time.sleep(self.retry_delay * 2**attempt)
        raise StageError("acquire", "network",
                         f"{self.label}: {redact(url)} failed {self.tries} times ({reason}); "
                         f"check the network or ${INDEX_VARIABLE}, then rerun")

    def get(self, url: str, *, stream: bool = False) -> requests.Response:
        """One GET; transient failures raise ``_Transient``, any other status is returned."""
        try:
            response = self.session.get(url, stream=stream, timeout=TIMEOUT)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise _Transient(redact(str(exc))) from None
        except requests.RequestException as exc:
            reason = redact(str(exc))
            raise StageError("acquire", "network",
                             f"{self.label}: cannot fetch {redact(url)}: {reason}") from None
        if response.status_code == 429 or response.status_code >= 500:
            response.close()
            raise _Transient(f"HTTP {response.status_code}")
        return response

    def fail(self, response: requests.Response, what: str) -> StageError:
        return StageError("acquire", "http_error",
                          f"{self.label}: {what} answered HTTP {response.status_code} "
                          f"({redact(response.url)}); check the index URL")


# --- the release ----------------------------------------------------------------------------


def find_release(http: _Http, index: str, name: str, version: str, *,
                 versions: str = "") -> Release:
    """The release of ``name`` at ``version`` ("" for the latest), or the newest in the
    range ``versions``, and its sdist."""
    data, json_url = _metadata(http, index, name, version)
    info = data.get("info") or {}
    if versions:
        resolved = _newest_in_range(http.label, data, versions)
    else:
        resolved = _resolve_version(http.label, data, version)
    sdist = _pick_sdist(http.label, _files_of(data, resolved), json_url, resolved)
    # The project endpoint's info is the latest release's: another version's license may
    # differ (chardet went from LGPL to 0BSD), so it is only taken for its own version.
    license_info = {key: info.get(key) for key in ("license_expression", "license",
                                                    "classifiers")
                    } if str(info.get("version") or "") == resolved else {}
    # Unlike the license, the repository of the latest release is taken for any other one
    # (the sdist's own PKG-INFO comes first, miners.sources.upstream): repositories rarely move.
    return Release(name=canonical_name(str(info.get("name") or name)), version=resolved,
                   sdist=sdist, license_info=license_info, urls=_repository_fields(info))


def _repository_fields(info: Mapping[str, Any]) -> dict[str, str]:
    urls = info.get("project_urls")
    found = {str(k): str(v) for k, v in urls.items() if isinstance(v, str)} \
        if isinstance(urls, dict) else {}
    if isinstance(info.get("home_page"), str) and info["home_page"]:
        found.setdefault("Home-page", info["home_page"])
    return found


def _metadata(http: _Http, index: str, name: str, version: str) -> tuple[dict[str, Any], str]:
    urls = [f"{index}/pypi/{quote(name)}/json"]
    if version:
        urls.insert(0, f"{index}/pypi/{quote(name)}/{quote(version)}/json")
    for url in urls:
        found = http.retrying(functools.partial(_get_json, http, url), url)
        if found is not None:
            return found
    raise StageError("acquire", "not_found",
                     f"{http.label}: the index has no project {name!r} ({redact(urls[-1])}); "
                     "check the name")


def _get_json(http: _Http, url: str) -> tuple[dict[str, Any], str] | None:
    """The document at ``url`` and its final URL (after redirects), or None on 404."""
    with http.get(url) as response:
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise http.fail(response, "the JSON API")
        try:
            data = response.json()
        except ValueError:
            raise StageError("acquire", "bad_response",
                             f"{http.label}: {redact(url)} did not answer JSON; "
                             "check the index URL") from None
        if not isinstance(data, dict):
            raise StageError("acquire", "bad_response",
                             f"{http.label}: {redact(url)} answered unexpected JSON")
        return data, response.url


def _resolve_version(label: str, data: Mapping[str, Any], wanted: str) -> str:
    info = data.get("info") or {}
    latest = str(info.get("version") or "")
    if not wanted:
        if not latest:
            raise StageError("acquire", "bad_response", f"{label}: the index names no version")
        return latest
    known = [*(data.get("releases") or {}), latest]
    for version in known:  # exact spelling first, then PEP 440 equality ("5.2" == "5.2.0")
        if version == wanted:
            return version
    for version in known:
        if _same_version(version, wanted):
            return version
    raise StageError("acquire", "not_found",
                     f"{label}: there is no release {wanted!r} (latest is {latest or 'unknown'}); "
                     "check the version")


def _newest_in_range(label: str, data: Mapping[str, Any], versions: str) -> str:
    """The newest release in ``versions`` that has a source distribution not yanked;
    pre-releases only when the range names one (PEP 440's rule)."""
    with_sdist = {}
    for text, files in (data.get("releases") or {}).items():
        try:
            version = Version(text)
        except InvalidVersion:
            continue  # a legacy version string: outside every PEP 440 range
        if any(f.get("packagetype") == "sdist" and not f.get("yanked") for f in files or ()):
            with_sdist[version] = text
    in_range = list(SpecifierSet(versions).filter(with_sdist))
    if not in_range:
        raise StageError("acquire", "not_found",
                         f"{label}: no release in {versions} has a source distribution "
                         f"(latest is {(data.get('info') or {}).get('version') or 'unknown'}); "
                         "widen the range or pin a version")
    return with_sdist[max(in_range)]


def _same_version(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return False


def _files_of(data: Mapping[str, Any], version: str) -> list[dict[str, Any]]:
    releases = data.get("releases") or {}
    if version in releases:
        return list(releases[version] or ())
    return list(data.get("urls") or ())  # the per-version endpoint has only this


def _pick_sdist(label: str, files: list[dict[str, Any]], json_url: str,
                version: str) -> SdistFile:
    sdists = [f for f in files if f.get("packagetype") == "sdist"
              and str(f.get("filename", "")).lower().endswith(ARCHIVE_SUFFIXES)]
    if not sdists:
        raise StageError("acquire", "no_sdist",
                         f"{label}: release {version} has no source distribution (only wheels); "
                         "pin another version or use its git repository")
    # Unyanked first, then .tar.gz (old releases sometimes also carry a .zip).
    chosen = min(sdists, key=lambda f: (bool(f.get("yanked")),
                                        not str(f["filename"]).endswith(".tar.gz")))
    return SdistFile(
        filename=Path(str(chosen["filename"])).name,  # never a path from the index
        url=urljoin(json_url, str(chosen["url"])),
        sha256=str((chosen.get("digests") or {}).get("sha256") or "").lower(),
        uploaded=str(chosen.get("upload_time_iso_8601") or chosen.get("upload_time") or ""))


# --- download -------------------------------------------------------------------------------


def _fetch_and_extract(http: _Http, cache: Cache, sdist: SdistFile,
                       dest: Path) -> tuple[Path, bool]:
    """The extracted project root, and whether the sdist came from the cache."""
    workdir = staging_dir(dest, ".download-", http.label)
    try:
        archive = workdir / sdist.filename  # extraction picks the format by this suffix
        suffix = _suffix(sdist.filename)
        cached = bool(sdist.sha256) and cache.take_archive(sdist.sha256, suffix, archive)
        if not cached:
            actual = http.retrying(lambda: _download(http, sdist.url, archive), sdist.url)
            if sdist.sha256 and actual != sdist.sha256:
                raise StageError("acquire", "checksum_mismatch",
                                 f"{http.label}: {sdist.filename} has sha256 {actual}, the index "
                                 f"says {sdist.sha256}; the download is corrupt or tampered "
                                 "with, rerun")
            cache.put_archive(archive, actual, suffix)
        return extract_archive(archive, dest), cached
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _suffix(filename: str) -> str:
    lowered = filename.lower()
    return next((s for s in ARCHIVE_SUFFIXES if lowered.endswith(s)), "")


def _download(http: _Http, url: str, target: Path) -> str:
    """Stream ``url`` into ``target``; return its sha256."""
    with http.get(url, stream=True) as response:
        if response.status_code != 200:
            raise http.fail(response, "the file download")
        digest = hashlib.sha256()
        size = 0
        try:
            with target.open("wb") as out:
                for chunk in response.iter_content(CHUNK):
                    size += len(chunk)
                    if size > MAX_DOWNLOAD_BYTES:
                        raise StageError("acquire", "too_large",
                                         f"{http.label}: {target.name} is larger than "
                                         f"{MAX_DOWNLOAD_BYTES} bytes")
                    digest.update(chunk)
                    out.write(chunk)
        except (requests.ConnectionError, requests.Timeout,
                requests.exceptions.ChunkedEncodingError) as exc:
            raise _Transient(redact(str(exc))) from None
        except OSError as exc:  # after the requests errors, which are OSErrors too
            raise StageError("acquire", "disk_error",
                             f"{http.label}: cannot write {target}: {exc}") from None
    return digest.hexdigest()
