"""Source distributions from PyPI, or from any index serving PyPI's JSON API.

The per-version endpoint (``/pypi/NAME/VERSION/json``) is asked first because its ``info``
(and so the license) belongs to that version; some mirrors answer it with 404, so the
project endpoint (``/pypi/NAME/json``, whose ``releases`` lists every version's files) is
the fallback. File URLs may be relative to the JSON document that lists them.
"""

from __future__ import annotations

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
from packaging.version import InvalidVersion, Version

from miners.records import Checkout, Spec
from miners.sources.archive import CHUNK, extract_archive
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
    license: str


def acquire_pypi(spec: Spec, dest: Path, *, index_url: str | None = None,
                 session: requests.Session | None = None, retry_delay: float = RETRY_DELAY,
                 tries: int = TRIES) -> Checkout:
    """Download ``spec``'s sdist (latest release unless pinned), verify it, extract it.

    ``index_url`` is the JSON API root; default ``$CITRACE_PYPI_URL``, else PyPI.
    """
    index = (index_url or os.environ.get(INDEX_VARIABLE) or DEFAULT_INDEX).rstrip("/")
    http = _Http(session or _new_session(), label=spec.raw, tries=tries, retry_delay=retry_delay)
    try:
        release = find_release(http, index, spec.name, spec.version)
        require_empty(dest, spec.raw)
        root = _fetch_and_extract(http, release.sdist, dest)
    finally:
        if session is None:
            http.session.close()
    return Checkout(spec=spec, path=str(root), name=release.name, version=release.version,
                    sha256=release.sdist.sha256, date=release.sdist.uploaded,
                    license=release.license)


def license_of(info: Mapping[str, Any]) -> str:
    """A short license string: the SPDX expression, a one-line ``license``, or classifiers."""
    expression = str(info.get("license_expression") or "").strip()
    if expression:
        return expression
    text = str(info.get("license") or "").strip()
    # Many projects paste the whole license text into this field: prefer classifiers then.
    if text and "\n" not in text and len(text) <= 100:
        return text
    classifiers = [c.split(" :: ")[-1] for c in info.get("classifiers") or ()
                   if c.startswith("License :: ") and c != "License :: OSI Approved"]
    if classifiers:
        return "; ".join(classifiers)
    return text.splitlines()[0][:100] if text else ""


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


def find_release(http: _Http, index: str, name: str, version: str) -> Release:
    """The release of ``name`` at ``version`` ("" for the latest) and its sdist."""
    data, json_url = _metadata(http, index, name, version)
    info = data.get("info") or {}
    resolved = _resolve_version(http.label, data, version)
    sdist = _pick_sdist(http.label, _files_of(data, resolved), json_url, resolved)
    return Release(name=canonical_name(str(info.get("name") or name)), version=resolved,
                   sdist=sdist, license=license_of(info))


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


def _fetch_and_extract(http: _Http, sdist: SdistFile, dest: Path) -> Path:
    workdir = staging_dir(dest, ".download-", http.label)
    try:
        archive = workdir / sdist.filename  # extraction picks the format by this suffix
        actual = http.retrying(lambda: _download(http, sdist.url, archive), sdist.url)
        if sdist.sha256 and actual != sdist.sha256:
            raise StageError("acquire", "checksum_mismatch",
                             f"{http.label}: {sdist.filename} has sha256 {actual}, the index says "
                             f"{sdist.sha256}; the download is corrupt or tampered with, rerun")
        return extract_archive(archive, dest)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


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
