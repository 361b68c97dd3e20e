"""Git repositories, cloned by the git command line (driven through GitPython).

Going through the real ``git`` means the user's configuration applies: ``insteadOf``
rewrites, credential helpers, proxies, ssh settings. The clone must never wait for a
person, so prompts are disabled and the process gets no terminal; it must never run
forever, so it is killed after a timeout.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import git

from miners.records import Checkout, Spec
from miners.sources import history, licenses
from miners.sources.cache import Cache
from miners.sources.tree import project_name, require_empty
from miners.specs import redact
from recipes.records import StageError

CLONE_TIMEOUT = 600.0  # seconds for one git command
_FULL_SHA = re.compile(r"^(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$")


class _NotABranch(Exception):
    """``clone --branch REV`` failed because REV is neither a branch nor a tag."""


def acquire_git(spec: Spec, dest: Path, *, timeout: float = CLONE_TIMEOUT,
                cache: Cache | None = None) -> Checkout:
    """Clone ``spec.url`` into ``dest`` (absent or empty) at ``spec.rev`` (default branch if "").

    Branches and tags are cloned shallow; any other revision (a commit) needs the history.
    Submodules are never fetched. A commit already in ``cache`` (default: the machine's)
    is copied from there: a full sha needs no network at all, a branch or tag one
    ``ls-remote`` to learn its commit.
    """
    if spec.rev.startswith("-"):  # would be read as an option
        raise StageError("acquire", "bad_spec", f"{spec.raw}: {spec.rev!r} is not a revision")
    require_empty(dest, spec.raw)
    dest.parent.mkdir(parents=True, exist_ok=True)
    cache = cache or Cache.from_environment()
    runner = _GitRunner(spec, timeout)
    try:
        cached = _from_cache(runner, cache, spec, dest)
        if not cached:
            _clone(runner, spec, dest)
        commit = git.Repo(dest).head.commit
        # A cached copy keeps the history fetched for it: reading it needs no network.
        tests = history.tests_date(dest, deepen=None if cached else runner.deepener(dest))
        if not cached:
            cache.put_checkout(dest, commit.hexsha)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)  # a killed clone leaves a half-written tree
        raise
    found = licenses.decide(None, dest)
    return Checkout(spec=spec, path=str(dest), name=project_name(dest, fallback=_repo_name(spec)),
                    version=commit.hexsha, date=commit.committed_datetime.isoformat(),
                    tests_date=tests,
                    license=found.value, license_source=found.source, from_cache=cached)


def remote_tags(spec: Spec, *, timeout: float = CLONE_TIMEOUT) -> list[str]:
    """The names of ``spec.url``'s tags, by one ``git ls-remote`` (which, as a clone, goes
    through the user's configuration), or ``StageError``."""
    runner = _GitRunner(spec, timeout)
    try:
        output = runner._run(None, "ls-remote", "--tags", "--refs", "--", spec.url)
    except git.GitCommandError as exc:
        raise runner._failure(exc, "ls-remote") from None
    return [ref.removeprefix("refs/tags/") for _, _, ref in
            (line.partition("\t") for line in output.splitlines())
            if ref.startswith("refs/tags/")]


def _from_cache(runner: _GitRunner, cache: Cache, spec: Spec, dest: Path) -> bool:
    if not cache.enabled:
        return False
    commit = spec.rev.lower() if _FULL_SHA.match(spec.rev) else runner.remote_commit(spec.rev)
    if not commit:
        return False
    if dest.exists():
        dest.rmdir()  # empty (checked above); the copy makes it
    return cache.take_checkout(commit, dest)


def _clone(runner: _GitRunner, spec: Spec, dest: Path) -> None:
    if not spec.rev:
        runner.clone(dest, "--depth=1")
    elif _FULL_SHA.match(spec.rev):
        runner.clone_at_commit(dest, spec.rev)
    else:
        try:
            runner.clone(dest, "--depth=1", f"--branch={spec.rev}")
        except _NotABranch:
            shutil.rmtree(dest, ignore_errors=True)
            runner.clone_at_commit(dest, spec.rev)


def _repo_name(spec: Spec) -> str:
    last = re.split(r"[/:]", spec.url.rstrip("/"))[-1]
    return last.removesuffix(".git") or "project"


def git_environment() -> dict[str, str]:
    """Variables added to the user's environment for every git command run here."""
    env = {
        "GIT_TERMINAL_PROMPT": "0",  # no username/password prompt on a terminal
        "GCM_INTERACTIVE": "never",  # nor from Git Credential Manager
        "SSH_ASKPASS_REQUIRE": "never",  # nor from an ssh askpass program
        "GIT_LFS_SKIP_SMUDGE": "1",  # LFS objects would be a second, unbounded download
    }
    # `submodule.recurse=true` in the user's config would make checkout fetch submodules;
    # override it through the environment (git >= 2.31), after any entries already there.
    count = os.environ.get("GIT_CONFIG_COUNT", "0")
    index = int(count) if count.isdigit() else 0
    env.update({"GIT_CONFIG_COUNT": str(index + 1), f"GIT_CONFIG_KEY_{index}": "submodule.recurse",
                f"GIT_CONFIG_VALUE_{index}": "false"})
    return env


class _GitRunner:
    """Runs git commands for one spec, turning failures into ``StageError``s."""

    def __init__(self, spec: Spec, timeout: float) -> None:
        self.spec, self.timeout = spec, timeout
        self.url = redact(spec.url)
        self.env = git_environment()

    def clone(self, dest: Path, *options: str) -> None:
        try:
            self._run(None, "clone", *options, "--", self.spec.url, str(dest))
        except git.GitCommandError as exc:
            if options and "not found in upstream" in str(exc.stderr):
                raise _NotABranch() from None
            raise self._failure(exc, "clone") from None

    def remote_commit(self, rev: str) -> str:
        """The commit ``rev`` (a branch or tag; "" for HEAD) names upstream, or "" when
        ``ls-remote`` cannot tell (then the clone decides, and reports any failure)."""
        try:
            output = self._run(None, "ls-remote", "--", self.spec.url, rev or "HEAD")
        except (git.GitCommandError, StageError):
            return ""
        refs = {ref: sha for sha, _, ref in
                (line.partition("\t") for line in output.splitlines())}
        # The order `clone --branch` follows: a branch first, then a tag (peeled to its commit).
        wanted = ["HEAD"] if not rev else [f"refs/heads/{rev}", f"refs/tags/{rev}^{{}}",
                                           f"refs/tags/{rev}"]
        found = next((refs[ref] for ref in wanted if ref in refs), "")
        return found.lower() if _FULL_SHA.match(found) else ""

    def deepener(self, dest: Path) -> history.Deepen:
        """Fetches more of a shallow clone's history (commits, trees and the blobs they
        changed); a failure only leaves the date of the tests less precise."""
        def deepen(commits: int) -> bool:
            try:
                self._run(dest, "fetch", "--quiet", "--no-tags", "--no-recurse-submodules",
                          f"--deepen={commits}")
            except (git.GitCommandError, StageError):
                return False
            return True

        return deepen

    def clone_at_commit(self, dest: Path, rev: str) -> None:
        """A full clone (no shallow fetch reaches an arbitrary commit), then a checkout."""
        try:
            self._run(None, "clone", "--no-checkout", "--", self.spec.url, str(dest))
        except git.GitCommandError as exc:
            raise self._failure(exc, "clone") from None
        try:
            sha = self._run(dest, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
        except git.GitCommandError:
            raise StageError("acquire", "not_found",
                             f"{self.spec.raw}: {self.url} has no revision {rev!r}; check the "
                             "branch, tag or commit") from None
        try:
            self._run(dest, "checkout", "--detach", "--no-recurse-submodules", sha.strip())
        except git.GitCommandError as exc:
            raise self._failure(exc, "checkout") from None

    def _run(self, cwd: Path | None, *args: str) -> str:
        executable = str(git.Git.GIT_PYTHON_GIT_EXECUTABLE or "git")
        try:
            # Repo.clone_from runs git "as_process", which ignores kill_after_timeout;
            # execute() honours it. A new session means no terminal for ssh to prompt on.
            output = git.Git(cwd).execute([executable, *args], kill_after_timeout=self.timeout,
                                          env=self.env, start_new_session=True)
        except git.GitCommandNotFound:
            raise StageError("acquire", "git_missing",
                             f"{self.spec.raw}: no git command found; install git") from None
        return str(output)

    def _failure(self, exc: git.GitCommandError, action: str) -> StageError:
        reason = _reason(str(exc.stderr))
        if "did not complete in" in reason:
            return StageError("acquire", "timeout",
                              f"{self.spec.raw}: git {action} of {self.url} took longer than "
                              f"{self.timeout:g} s; retry, or check the network")
        return StageError("acquire", "not_found",
                          f"{self.spec.raw}: git {action} of {self.url} failed ({reason}); "
                          "check the URL, the revision and your access")


def _reason(stderr: str) -> str:
    """The most telling line of git's stderr (GitPython wraps it as "stderr: '...'")."""
    text = redact(stderr.strip().removeprefix("stderr:").strip().strip("'"))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    fatal = [line for line in lines if line.startswith(("fatal:", "error:", "Timeout:"))]
    return (fatal or lines or ["no message"])[-1]
