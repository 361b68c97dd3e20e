"""One shell step of a CI job: run it, leave it out with the reason, or run it rewritten.

CI jobs mix the test run with chores that cannot or need not run here: linters, docs builds,
coverage reports and uploads, system packages, downloads from outside the package index,
deployment. A step is split into its simple commands (quotes, ``$(...)``, comments and
here-documents respected). A pipeline holding a chore is left out whole; a step whose every
command is a chore or bookkeeping (``echo``, ``cd``) is left out. A few commands are rewritten
rather than dropped, and the rewrite is recorded: ``coverage run -m pytest`` is a test run,
so it becomes ``python -m pytest`` (coverage's tracer would compete with citrace's).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from recipes.ci import shell_syntax

LINTER = "linter"
DOCS = "docs build"
COVERAGE = "coverage report or upload"
SYSTEM = "system packages (needs root)"
DOWNLOAD = "download from outside the package index"
DEPLOY = "deployment"
NOX = "nox sessions are not run"

_CHORES: dict[str, str] = {
    **dict.fromkeys(("flake8", "pylint", "black", "isort", "mypy", "ruff", "pre-commit",
                     "pycodestyle", "pep8", "pyflakes", "pydocstyle", "check-manifest", "bandit",
                     "pyright", "codespell", "yapf", "autopep8", "prospector", "pylama", "doc8",
                     "rstcheck", "interrogate", "vulture", "safety", "pyroma", "darglint",
                     "pyupgrade", "flynt", "blacken-docs", "check-wheel-contents"), LINTER),
    **dict.fromkeys(("sphinx-build", "sphinx-apidoc", "sphinx-autobuild", "mkdocs"), DOCS),
    **dict.fromkeys(("codecov", "coveralls", "python-codacy-coverage", "cc-test-reporter",
                     "codeclimate-test-reporter"), COVERAGE),
    **dict.fromkeys(("sudo", "apt-get", "apt", "brew", "choco", "yum", "dnf", "apk", "snap",
                     "port", "dpkg", "add-apt-repository", "systemctl", "service"), SYSTEM),
    **dict.fromkeys(("curl", "wget", "conda", "mamba", "micromamba", "npm", "npx", "yarn",
                     "gem", "cargo", "rustup", "go", "nvm"), DOWNLOAD),
    **dict.fromkeys(("twine", "docker", "docker-compose", "aws", "gh", "heroku", "gcloud",
                     "az", "ghp-import"), DEPLOY),
    "nox": NOX,
}
_TEST_TOOLS = frozenset({"pytest", "py.test", "unittest", "doctest", "nosetests", "nose2",
                         "trial", "twisted.trial", "green", "tox", "stestr", "zope-testrunner",
                         "behave", "testr"})
_IDLE_TOOLS = frozenset({
    "echo", "printf", "cd", "pushd", "popd", "true", ":", "false", "set", "export", "unset",
    "source", ".", "exit", "return", "sleep", "pwd", "ls", "cat", "which", "type", "command",
    "printenv", "mkdir", "rm", "cp", "mv", "touch", "chmod", "ln", "tee", "grep", "sed", "awk",
    "head", "tail", "find", "date", "uname", "ulimit", "shopt", "hash", "[", "[[", "test",
    "wait", "trap", "alias", "read", "local", "declare", "shift", "fi", "done", "esac", "}",
})
_DOC_TARGETS = frozenset({"docs", "doc", "html", "dirhtml", "singlehtml", "latexpdf",
                          "linkcheck", "man", "epub"})
_LINT_TARGETS = frozenset({"lint", "flake8", "style", "format", "fmt", "mypy", "typecheck",
                           "check-format", "pre-commit", "isort", "black"})
_TEST_TARGETS = re.compile(r"(unit|integration)?[-_]?tests?([-_]\w+)?|check|coverage|cov")
_COVERAGE_REPORTS = frozenset({"report", "html", "xml", "json", "lcov", "combine", "erase",
                               "annotate", "debug"})
_COVERAGE_VALUE_OPTIONS = frozenset({"--source", "--rcfile", "--include", "--omit",
                                     "--concurrency", "--context", "--data-file"})
_COV_VALUE_OPTIONS = frozenset({"--cov-report", "--cov-config", "--cov-fail-under",
                                "--cov-context"})
_CONTROL_WORDS = frozenset({"if", "then", "else", "elif", "do", "while", "until", "!", "{",
                            "time"})
_HEADER_WORDS = frozenset({"for", "case", "select", "function"})
_RUNNERS = frozenset({"poetry", "pipenv", "hatch", "uv", "pdm", "rye"})  # ``X run <tool>``
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=.*", re.DOTALL)
_PYTHON = re.compile(r"(.*/)?python[\d.]*")
_TEST_SCRIPT = re.compile(r"(.*/)?(run_?tests?|tests?|.*tests?[-_.]?.*)\.(py|sh)")
_CONTROL_PREFIX = re.compile(r"^\s*(?:(?:if|then|else|elif|do|while|until|!|\{|time)\s+)*")


@dataclass(frozen=True)
class StepVerdict:
    """Whether a step runs; ``step`` is what runs (possibly rewritten). ``reason`` says why
    a step is left out, or for a kept step what was rewritten ("" when it runs as written)."""

    kept: bool
    step: str
    reason: str = ""


@dataclass
class _Command:
    """One simple command, read: the tool it runs after wrappers, and its arguments."""

    text: str
    words: list[str]
    tool: str = ""
    args: list[str] = field(default_factory=list)
    assignments: dict[str, str] = field(default_factory=dict)
    program: str = ""  # the tool as written (``./.travis/test.sh``, ``pytest``)


@dataclass(frozen=True)
class _Judgement:
    kind: str  # "test", "run" (kept), "idle" (kept, but no reason to run a step), "chore"
    text: str
    note: str = ""


def classify(step: str) -> StepVerdict:
    """Run ``step``, leave it out, or run it rewritten; see the module's docstring."""
    parts = shell_syntax.pipelines(shell_syntax.split(step))
    judged = [_judge_pipeline(p) for p, _ in parts]
    chores = [j for j in judged if j.kind == "chore"]
    if not chores:
        notes = [j.note for j in judged if j.note]
        text = "".join(j.text + sep for j, (_, sep) in zip(judged, parts, strict=True))
        return StepVerdict(True, text.strip() if notes else step, "; ".join(notes))
    if all(j.kind in ("chore", "idle") for j in judged):
        return StepVerdict(False, step, chores[0].note)
    controlled = any(_control_prefix(p[0][1]).strip() for p, _ in parts) \
        or any(sep in ("||", "&") for _, sep in parts)
    kept: list[str] = []
    for judgement, (pipeline, sep) in zip(judged, parts, strict=True):
        if judgement.kind != "chore":
            kept.append(judgement.text + sep)
        elif controlled:
            # Inside if/while or after ||, a dropped command must leave valid shell behind.
            kept.append(_control_prefix(pipeline[0][1]) + "true" + sep)
    text = "".join(kept).strip().rstrip(";&|").strip()
    notes = [j.note for j in judged if j.note and j.kind != "chore"]
    notes += [f"left out {describe(j.text[len(_control_prefix(j.text)):])}: {j.note}"
              for j in chores]
    return StepVerdict(True, text, "; ".join(notes))


def is_test_step(step: str) -> bool:
    """Whether a kept step runs tests (pytest, unittest, tox, ``make test`` ...)."""
    verdict = classify(step)
    return verdict.kept and any(_judge(c).kind == "test" for c in _commands(verdict.step))


def is_bookkeeping(step: str) -> bool:
    """Whether a step only keeps books (``echo``, ``cd``, ``export`` ...): on its own it runs
    nothing a test run needs."""
    return all(_judge(c).kind == "idle" for c in _commands(step))


def tox_environments(step: str) -> tuple[str, ...] | None:
    """The environments a step asks tox for: None if it does not run tox, () for plain
    ``tox`` (tox's own default), else the names as written (they may hold ``$VARS``)."""
    for command in _commands(step):
        if command.tool != "tox":
            continue
        names = [command.assignments["TOXENV"]] if "TOXENV" in command.assignments else []
        args = iter(command.args)
        for arg in args:
            if arg == "--":
                break
            if arg in ("-e", "--env"):
                names.append(next(args, ""))
            elif arg.startswith("--env="):
                names.append(arg.split("=", 1)[1])
            elif arg.startswith("-e") and not arg.startswith("--"):
                names.append(arg[2:])
        return tuple(n for name in names for n in name.split(",") if n)
    return None


def installs_project(step: str, checkout: Path | None = None) -> bool:
    """Whether a step installs the checkout itself (``pip install -e .``, ``setup.py develop``,
    a requirements file holding ``-e .`` ...)."""
    for command in _commands(step):
        tool, args = command.tool, command.args
        if tool in ("poetry", "flit", "pdm", "pipenv") and args[:1] == ["install"]:
            return True
        if tool == "setup.py" and {"install", "develop"} & set(args):
            return True
        if tool == "pip" and args[:1] == ["install"]:
            targets = [re.sub(r"^(-e|--editable=)", "", a) for a in args[1:]]
            if any(_names_checkout(t) for t in targets):
                return True
            if checkout is not None and any(_requirements_install_checkout(checkout / a)
                                            for a in _requirement_files(args[1:])):
                return True
    return False


def missing_script(step: str, checkout: Path) -> str | None:
    """The project script ``step`` runs (``./.travis/test.sh``, ``bash ci/run.sh``,
    ``python runtests.py``) when the checkout lacks it: an sdist often leaves out what only
    CI used, and the step would fail before any test ran. None when every script is there,
    or when the step changes directory first (its paths are then relative to elsewhere)."""
    commands = _commands(step)
    if any(c.tool in ("cd", "pushd") for c in commands):
        return None
    for command in commands:
        path = command.program
        if not path or path.startswith(("/", "$", "~", "-")) or "`" in path:
            continue
        if ("/" in path or path.endswith((".sh", ".py"))) and not (checkout / path).exists():
            return path
    return None


def describe(step: str, width: int = 80) -> str:
    """A step on one line, shortened, for messages: its first line that does something
    (not ``export NAME=...`` or ``cd DIR``, which sources write at the top of a script)."""
    lines = [line.strip() for line in step.strip().splitlines() if line.strip()]
    telling = [line for line in lines if not re.match(r"(export \w+=|cd )\S*", line)]
    text = (telling or lines or [""])[0]
    if len(lines) > 1 or len(text) > width:
        return text[: width - 1].rstrip() + "…"
    return text


def _names_checkout(target: str) -> bool:
    target = target.strip("'\"")
    return bool(re.fullmatch(r"(\.|\./|\$PWD|\$\{PWD\}|\$\(pwd\))(\[[^\]]*\])?", target))


def _requirement_files(args: list[str]) -> list[str]:
    files = []
    for index, arg in enumerate(args):
        if arg in ("-r", "--requirement") and index + 1 < len(args):
            files.append(args[index + 1])
        elif arg.startswith("-r") and len(arg) > 2:
            files.append(arg[2:])
    return files


def _requirements_install_checkout(path: Path) -> bool:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()[:1000]
    except OSError:
        return False
    return any(_names_checkout(re.sub(r"^(-e|--editable)\s*", "", line.strip()))
               for line in lines)


def _commands(step: str) -> list[_Command]:
    return [_read(text) for kind, text in shell_syntax.split(step) if kind == "cmd"]


def _read(text: str) -> _Command:
    """What a simple command runs, looking through assignments, wrappers and ``python -m``."""
    command = _Command(text, shell_syntax.words(text))
    rest = list(command.words)
    while rest and rest[0] in _CONTROL_WORDS:
        rest.pop(0)
    if rest[:1] and rest[0] in _HEADER_WORDS:
        command.tool = rest[0]
        return command
    while rest and (_ASSIGNMENT.fullmatch(rest[0]) or rest[0] in ("env", "nice", "nohup",
                                                                  "exec", "travis_retry")):
        if "=" in rest[0]:
            name, value = rest[0].split("=", 1)
            command.assignments[name] = value
        rest.pop(0)
    if rest[:1] == ["travis_wait"]:
        rest = rest[2:] if rest[1:2] and rest[1].isdigit() else rest[1:]
    if rest[:1] == ["sudo"] and _is_python_tool(rest[1:]):
        rest = rest[1:]
        while rest and rest[0].startswith("-"):
            rest.pop(0)
    if len(rest) > 2 and rest[0] in _RUNNERS and rest[1] == "run":
        rest = rest[2:]
    if rest[:2] == ["uv", "pip"]:
        rest = rest[1:]  # uv's pip interface installs into the active virtualenv
    if rest[:1] in (["bash"], ["sh"]) and rest[1:2] and not rest[1].startswith("-"):
        rest = rest[1:]  # bash script.sh: the script is the tool
    if rest and _PYTHON.fullmatch(rest[0]):
        if rest[1:2] == ["-m"] and len(rest) > 2:
            rest = rest[2:]
        elif rest[1:2] and not rest[1].startswith("-"):
            rest = rest[1:]  # python script.py: the script is the tool
    if rest:
        command.program = rest[0]
        command.tool = rest[0].rsplit("/", 1)[-1].lower()
        if re.fullmatch(r"pip[\d.]*", command.tool):
            command.tool = "pip"
        command.args = rest[1:]
    return command


def _control_prefix(text: str) -> str:
    """The ``if``/``then``/``do`` ... words a command starts with."""
    match = _CONTROL_PREFIX.match(text)
    return match.group() if match else ""


def _is_python_tool(words: list[str]) -> bool:
    rest = [w for w in words if not w.startswith("-")]
    return bool(rest) and bool(_PYTHON.fullmatch(rest[0]) or re.fullmatch(r"pip[\d.]*", rest[0]))


# --- judging commands ------------------------------------------------------------------------

def _judge_pipeline(pipeline: shell_syntax.Pipeline) -> _Judgement:
    judged = [_judge(_read(text)) if kind == "cmd" else _Judgement("idle", text)
              for kind, text in pipeline]
    chores = [j for j in judged if j.kind == "chore"]
    text = "".join(j.text for j in judged)
    if chores:
        return _Judgement("chore", text, chores[0].note)
    kinds = {j.kind for j in judged}
    kind = next((k for k in ("test", "run") if k in kinds), "idle")
    return _Judgement(kind, text, "; ".join(j.note for j in judged if j.note))


def _judge(command: _Command) -> _Judgement:
    text, body = command.text, command.text.strip()
    if body.startswith("(") and body.endswith(")"):
        inner = classify(body[1:-1])
        if not inner.kept:
            return _Judgement("chore", text, inner.reason)
        kind = "test" if is_test_step(inner.step) else "run"
        return _Judgement(kind, text.replace(body, f"({inner.step})") if inner.reason else text,
                          inner.reason)
    kind, note = _kind_of(command)
    if kind == "chore":
        return _Judgement(kind, text, note)
    rewritten, notes = _rewrite(command)
    if kind == "rewrite":
        kind = "test"
    return _Judgement(kind, rewritten, "; ".join(notes))


def _kind_of(command: _Command) -> tuple[str, str]:
    tool, args = command.tool, command.args
    if not tool or tool in _IDLE_TOOLS or tool in _HEADER_WORDS:
        return "idle", ""
    if tool in _CHORES:
        return "chore", _CHORES[tool]
    if tool == "coverage":
        sub = args[0] if args else ""
        if sub == "run":
            return "rewrite", ""
        return ("chore", COVERAGE) if sub in _COVERAGE_REPORTS else ("idle", "")
    if tool == "make":
        return _kind_of_make(args)
    if tool == "git":
        sub = next((a for a in args if not a.startswith("-")), "")
        return ("chore", DOWNLOAD) if sub in ("clone", "fetch", "pull", "submodule", "lfs") \
            else ("idle", "")
    if tool in ("pip", "python") or _PYTHON.fullmatch(tool):
        informational = not args or args[0] in ("list", "freeze", "show", "--version", "-V")
        return ("idle", "") if informational else ("run", "")
    if tool == "setup.py":
        return _kind_of_setup_py(args)
    if tool in ("manage.py", "django-admin") and args[:1] == ["test"]:
        return "test", ""
    if tool in _TEST_TOOLS or (tool == "hatch" and args[:1] == ["test"]) \
            or _TEST_SCRIPT.fullmatch(tool):
        return "test", ""
    return "run", ""


def _kind_of_make(args: list[str]) -> tuple[str, str]:
    targets, directory = [], ""
    words = iter(args)
    for arg in words:
        if arg in ("-C", "-f", "-j", "--directory", "--file"):
            value = next(words, "")
            directory = value if arg in ("-C", "--directory") else directory
        elif not arg.startswith("-") and "=" not in arg:
            targets.append(arg)
    if directory.rstrip("/").rsplit("/", 1)[-1] in ("docs", "doc") or _DOC_TARGETS & set(targets):
        return "chore", DOCS
    if targets and all(t in _LINT_TARGETS for t in targets):
        return "chore", LINTER
    if any(_TEST_TARGETS.fullmatch(t) for t in targets):
        return "test", ""
    return "run", ""


def _kind_of_setup_py(args: list[str]) -> tuple[str, str]:
    if "test" in args or "pytest" in args or "nosetests" in args:
        return "test", ""
    if "build_sphinx" in args:
        return "chore", DOCS
    if "upload" in args or "register" in args:
        return "chore", DEPLOY
    if "flake8" in args or "check" in args:
        return "chore", LINTER
    return "run", ""


def _rewrite(command: _Command) -> tuple[str, list[str]]:
    """The command as it should run here, and a note for each change."""
    text, notes = command.text, []
    for wrapper in ("travis_retry", "travis_wait"):
        pattern = rf"\b{wrapper}(\s+\d+)?\s+" if wrapper == "travis_wait" else rf"\b{wrapper}\s+"
        if re.search(pattern, text):
            text = re.sub(pattern, "", text, count=1)
            notes.append(f"dropped {wrapper}, a Travis shell function")
    if re.match(r"\s*sudo\s", _CONTROL_PREFIX.sub("", text)) and _is_python_tool(command.words[1:]):
        text = re.sub(r"\bsudo(\s+-\w+)*\s+", "", text, count=1)
        notes.append("dropped sudo: the environment is a virtualenv")
    if command.tool == "pip" and command.args[:1] == ["install"] and "--user" in command.args:
        text = re.sub(r"\s--user\b", "", text)
        notes.append("dropped pip's --user: the environment is a virtualenv")
    if command.tool == "coverage":
        rewritten = _rewrite_coverage_run(text)
        if rewritten is not None:
            notes.append(f"{describe(text.strip())} -> {describe(rewritten.strip())}")
            text = rewritten
    if re.search(r"\s--(no-)?cov\b", text) and (command.tool in ("pytest", "py.test")
                                               or "pytest" in text):
        text = _drop_cov_options(text)
        notes.append("dropped pytest-cov options: coverage would compete with citrace's tracer")
    return text, notes


def _rewrite_coverage_run(text: str) -> str | None:
    match = re.search(r"(\S*python[\d.]*\s+-m\s+)?\bcoverage[\d.]*\s+run\b", text)
    if match is None:
        return None
    rest = text[match.end():]
    words = list(re.finditer(r"\S+", rest))
    index = 0
    while index < len(words) and words[index].group().startswith("-") \
            and words[index].group() != "-m":
        option = words[index].group()
        index += 2 if option in _COVERAGE_VALUE_OPTIONS else 1
    if index >= len(words):
        return None
    return text[:match.start()] + "python " + rest[words[index].start():]


def _drop_cov_options(text: str) -> str:
    words = list(re.finditer(r"\S+", text))
    cuts: list[tuple[int, int]] = []
    index = 0
    while index < len(words):
        word = words[index].group()
        name = word.split("=", 1)[0]
        if name in ("--cov", "--no-cov") or name.startswith(("--cov-", "--no-cov-")):
            end = words[index].end()
            takes_value = "=" not in word and index + 1 < len(words) and (
                name in _COV_VALUE_OPTIONS
                or (name == "--cov" and not words[index + 1].group().startswith("-")))
            if takes_value:
                index += 1
                end = words[index].end()
            cuts.append((words[index].start() if not takes_value else words[index - 1].start(),
                          end))
        index += 1
    for start, end in reversed(cuts):
        text = text[:start].rstrip(" \t") + text[end:]
    return text
