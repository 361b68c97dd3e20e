"""Records of acquisition and of a project's whole run."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from recipes.record import Record
from recipes.records import Failure, Stage

SpecKind = Literal["local", "archive", "pypi", "git"]
Status = Literal["ok", "failed"]

# Everything between "scheme://" and the last "@" before the path is credentials.
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/\s]*@")


def redact(text: str) -> str:
    """``text`` with the credentials of every URL in it replaced by ``***``.

    Used on everything that may reach a message or an output file, because tokens in
    clone URLs (``https://user:token@host/...``) are the usual way to reach private repos.
    """
    return _USERINFO.sub(r"\g<scheme>***@", text)


@dataclass(frozen=True)
class Spec(Record):
    """One project to mine, parsed from what the user wrote.

    ``kind`` is ``local`` (a directory), ``archive`` (a local sdist or source archive),
    ``pypi`` (``name`` and optional ``version``), ``git`` (``url`` and optional ``rev``).
    ``raw`` keeps the user's text, with any credentials already redacted; ``url`` keeps
    them (git needs them), so ``to_dict`` redacts it: records end up in output files.
    """

    raw: str
    kind: SpecKind
    url: str = ""  # git URL, or local path (absolute)
    rev: str = ""  # git revision
    name: str = ""  # PyPI project name
    version: str = ""  # PyPI version ("" means latest)
    # Per-project settings from a .jsonl list: 0 / "" mean the run's own.
    timeout: float = 0.0  # seconds for the whole project (instead of --project-timeout)
    python: str = ""  # the Python version its recipe must use ("3.11")
    # A PEP 440 range (">=1.0,<2"): the newest release in it with an sdist.
    versions: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "url": redact(self.url)}


@dataclass(frozen=True)
class Checkout(Record):
    """A project's source tree on disk, and what exactly it is."""

    spec: Spec
    path: str  # directory of the source tree (the directory holding setup.py / pyproject.toml)
    name: str  # project name, used in task ids ("roman")
    version: str  # resolved version, or commit sha for git, or "local"
    sha256: str = ""  # of the downloaded archive, when there is one
    date: str = ""  # upload or commit date, ISO 8601, when known
    # git: the date of the newest commit that touched the tests or the CI (the era of the
    # test tools, miners.sources.history); "" when unknown (then ``date`` serves)
    tests_date: str = ""
    # SPDX expression, or "unrecognised: <as declared>", or "" (miners.sources.licenses)
    license: str = ""
    license_source: str = ""  # "pypi:license_expression", "file:LICENSE", ...
    from_cache: bool = False  # the download (or clone) came from the machine's cache
    # An sdist that shipped no tests: "URL@TAG" of the repository whose tests were added
    # (miners.sources.upstream), and what was added or why nothing was.
    tests_from: str = ""
    tests_note: str = ""


@dataclass(frozen=True)
class ProjectResult(Record):
    """One line of ``repos.jsonl``: what happened to one SPEC."""

    spec: str
    status: Status
    stage: Stage  # last stage reached ("validate" when ok) or where it failed
    reason: str  # one line; "" when ok
    cause: str = ""
    name: str = ""
    version: str = ""
    python: str = ""
    recipe: str = ""  # "tox.ini:py311" or "fallback:pytest"
    # What built the environment ("uv", "pip"), the date dependencies were resolved as of
    # ("" for the newest versions), and the installer attempts that failed before it.
    installer: str = ""
    as_of: str = ""
    installer_fallbacks: list[str] = field(default_factory=list)
    # The older date the test tools were resolved as of (the tests' own, when older than the
    # checkout), and "pytest<N: why" when the tests ran again with the pytest of their era.
    tests_as_of: str = ""
    test_runner_pin: str = ""
    license: str = ""  # as on the Checkout (miners.sources.licenses)
    license_source: str = ""
    timings: dict[str, float] = field(default_factory=dict)  # wall seconds per stage
    # CPU seconds per stage, of the project's worker and everything it ran (its sandboxes)
    cpu: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    log: str = ""  # path of the kept log, relative to OUTDIR
    # "recipe (python X.Y): stage cause" for each recipe that failed before the one kept
    # (all of them, when the project failed)
    recipes_tried: list[str] = field(default_factory=list)
    log_tail: str = ""  # failed: the last lines of the log, a file relative to OUTDIR
    # How the project's commands were isolated: "bwrap", "unshare", or "none" (then it ran
    # without a sandbox, which only --unsafe-no-sandbox allows); "" before any command ran.
    sandbox: str = ""
    # What its builds did on the network (recipes.records.NetworkUse.to_dict: bytes, hosts
    # reached, refused attempts), when they went through the egress proxy.
    network: dict[str, Any] = field(default_factory=dict)
    # As on the Checkout: the repository and tag whose tests ran against a release whose
    # sdist shipped none, and what was added or why nothing was. Written only when set.
    tests_from: str = ""
    tests_note: str = ""
    # True when the project's untrusted code ran without a sandbox (--unsafe-no-sandbox).
    unsafe_no_sandbox: bool = False

    @classmethod
    def failed(cls, spec: str, failure: Failure, **kwargs: Any) -> ProjectResult:
        return cls(spec=spec, status="failed", stage=failure.stage, reason=failure.message,
                   cause=failure.cause, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        for key in ("tests_from", "tests_note"):
            if not data[key]:
                del data[key]  # these keys appear only when set
        if not data.pop("unsafe_no_sandbox"):
            return data  # the key appears only when it is true
        return {**data, "unsafe_no_sandbox": True}
