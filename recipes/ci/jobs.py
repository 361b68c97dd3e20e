"""What the Travis and GitHub Actions sources share: reading their YAML safely, choosing an
interpreter for a job's Python, and turning one job's shell steps into recipes.

A source expands its file into ``Job``s (one per matrix entry, steps still as written);
``job_recipes`` judges the steps (``recipes.ci.steps``), delegates jobs that run tox to a
``kind="tox"`` recipe, and makes a ``kind="shell"`` recipe of the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from recipes import interpreters
from recipes.ci import steps
from recipes.ci import tox as tox_source
from recipes.records import Recipe, StageError
from recipes.sandbox import SandboxSettings

try:
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # PyYAML built without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]

MAX_CONFIG_BYTES = 1_000_000
# Aliases let a small file stand for a huge document ("billion laughs"); we refuse a
# document whose aliases expand it beyond this many nodes.
MAX_EXPANDED_NODES = 1_000_000
MAX_JOBS = 256  # jobs read from one CI file; Travis and GitHub cap their matrices alike
TRAVIS = ".travis.yml"
WORKFLOWS = ".github/workflows/"

Rank = tuple[int, int]


class _Loader(_SafeLoader):
    """Safe loading that keeps a float's text, so ``python: 3.10`` means "3.10", not 3.1.

    Unquoted ``3.10`` is the classic CI trap: YAML reads it as the float 3.1, and CI then
    looks for Python 3.1. The author meant 3.10, and the text says so. Floats in these
    files are version numbers, so every float stays text (and so does a date).
    """


def _scalar_as_text(loader: _Loader, node: yaml.ScalarNode) -> str:
    return str(loader.construct_scalar(node))


_Loader.add_constructor("tag:yaml.org,2002:float", _scalar_as_text)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _scalar_as_text)


def load_yaml(path: Path, *, label: str) -> Any:
    """The document in ``path``; StageError("plan", "config_unreadable") when it is too big,
    not UTF-8, not YAML, or its aliases expand beyond reason."""
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise _unreadable(f"{label} is {size} bytes; citrace reads at most "
                              f"{MAX_CONFIG_BYTES}")
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _unreadable(f"{label} is not UTF-8 (byte {exc.start}: {exc.reason})") from exc
    except OSError as exc:
        raise _unreadable(f"{label} cannot be read: {exc.strerror}") from exc
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, MAX_EXPANDED_NODES) > MAX_EXPANDED_NODES:
            raise _unreadable(f"{label}: its YAML aliases expand to more than "
                              f"{MAX_EXPANDED_NODES} nodes")
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise _unreadable(f"{label} is not valid YAML: {_yaml_problem(exc)}") from exc
    except RecursionError as exc:
        raise _unreadable(f"{label} is nested too deeply") from exc
    finally:
        loader.dispose()


def _unreadable(message: str) -> StageError:
    return StageError("plan", "config_unreadable", message)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        return f"{exc.problem} (line {exc.problem_mark.line + 1})"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _expanded_size(root: yaml.Node, limit: int) -> int:
    """How many nodes the document has once every alias is expanded, counted without
    expanding anything (an alias is a shared node); capped a little above ``limit``."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        children = _children(node)
        if finished:
            on_path.discard(key)
            sizes[key] = min(limit + 1, 1 + sum(sizes[id(c)] for c in children))
        elif key not in sizes:
            if key in on_path:
                return limit + 1  # an alias inside its own anchor: endless
            on_path.add(key)
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in sizes)
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def text_of(value: Any) -> str:
    """A YAML scalar as the text CI would see: ``true`` -> "true", None -> ""."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def shell_for(source: str) -> tuple[str, ...]:
    """How a CI file's ``run``/``script`` lines are run: GitHub Actions runs each with
    ``bash -e``; Travis runs them in one shell without ``-e``."""
    return ("bash", "-e", "-c") if source.startswith(WORKFLOWS) else ("bash", "-c")


@dataclass(frozen=True)
class Job:
    """One CI job after matrix expansion, with its steps as written."""

    source: str  # the CI file, relative to the checkout
    name: str  # readable: "python=3.8 env=DJANGO=2.2"
    python: str  # the Python version as written ("3.10", "pypy3", "nightly"); "" for none
    setenv: tuple[tuple[str, str], ...] = ()
    setup: tuple[str, ...] = ()  # shell steps before the tests
    tests: tuple[str, ...] = ()  # shell steps of the test phase
    notes: tuple[str, ...] = ()  # "what: why" for what the source already left out


class ToxEnvironments:
    """tox's environments for a checkout, listed at most once and only if a job runs tox."""

    def __init__(self, checkout: Path, *, log_path: Path,
                 settings: SandboxSettings = SandboxSettings()) -> None:
        self.config = tox_source.tox_config_file(checkout)
        self.checkout, self._log_path, self._settings = checkout, log_path, settings
        self._listed: list[tox_source.ToxEnvironment] | None = None
        self._error: StageError | None = None

    def environments(self) -> list[tox_source.ToxEnvironment]:
        if self._listed is None and self._error is None:
            try:
                self._listed = tox_source.list_environments(
                    self.checkout, log_path=self._log_path, settings=self._settings)
            except StageError as exc:
                self._error = exc
        if self._error is not None:
            raise self._error
        return self._listed or []

    def names(self) -> list[str]:
        return [env.name for env in self.environments()]

    def judged(self) -> dict[str, tox_source.Judgement]:
        """Whether each environment is a test run (``tox_source.judge_environments``)."""
        return tox_source.judge_environments(self.environments())


def resolve_python(written: str) -> tuple[interpreters.Interpreter | None,
                                          tuple[int, int] | None, str]:
    """(interpreter, version wanted, why there is none) for a job's Python as written."""
    text = written.strip().lower()
    if re.search(r"pypy|graalpy|jython|ironpython|pyston", text):
        return None, None, f"no {written} interpreter here (citrace runs CPython)"
    wanted: tuple[int, int] | None
    if text in ("", "3"):
        wanted = None
    elif text in ("nightly", "latest", "3.x", "dev", "x"):
        newest = [i for i in interpreters.discover() if i.version[0] == 3]
        if not newest:
            return None, None, f"no interpreter for {written} on this machine"
        return newest[-1], None, ""
    elif text in ("2", "2.x"):
        wanted = (2, 7)
    else:
        match = re.search(r"(\d)\.(\d{1,2})", text)
        if match is None:
            return None, None, f"python {written!r} is not a version citrace understands"
        wanted = (int(match.group(1)), int(match.group(2)))
    chosen = interpreters.choose(wanted)
    if chosen is None:
        return None, wanted, f"no interpreter for {written or 'python 3'} on this machine"
    return chosen, wanted, ""


def rank(wanted: tuple[int, int] | None, chosen: interpreters.Interpreter) -> Rank:
    """The order tox_source gives its recipes (``interpreters.rank``)."""
    return interpreters.rank(wanted, chosen)


def job_recipes(job: Job, *, checkout: Path,
                tox: ToxEnvironments) -> tuple[list[tuple[Rank, Recipe]], list[str]]:
    """The recipes for one job, ranked, and "job: why" when the job cannot run here."""
    label = f"{job.source} {job.name}"
    chosen, wanted, why = resolve_python(job.python)
    if chosen is None:
        return [], [f"{label}: {why}"]
    setup, setup_notes, setup_changes = _judge_all(job.setup)
    tests, test_notes, test_changes = _judge_all(job.tests, checkout)
    skipped = job.notes + setup_notes + test_notes
    runs_tox = [s for s in tests if steps.tox_environments(s) is not None]
    if runs_tox:
        return _tox_recipes(job, runs_tox, chosen, wanted, tox, skipped)
    if all(steps.is_bookkeeping(step) for step in tests):
        notes = test_notes + setup_notes
        left_out = f" (left out: {'; '.join(notes)})" if notes else ""
        return [], [f"{label}: no test command{left_out}"]
    recipe = Recipe(kind="shell", source=job.source, job=job.name, python=chosen.short,
                    interpreter=chosen.path, setenv=job.setenv, steps=setup,
                    commands=tuple((*shell_for(job.source), step) for step in tests),
                    repairs=setup_changes + test_changes, skipped=skipped,
                    wanted=_text(wanted))
    return [(rank(wanted, chosen), recipe)], []


def _judge_all(written: tuple[str, ...], checkout: Path | None = None,
               ) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(steps kept, "step: why" for those left out, "step: what changed" for rewrites).
    With ``checkout`` (test steps), a step running a script the checkout lacks is left
    out: the job then runs no test, and the next recipe gets its turn."""
    kept, notes, changes = [], [], []
    for step in written:
        verdict = steps.classify(step)
        missing = steps.missing_script(verdict.step, checkout) \
            if checkout is not None and verdict.kept else None
        if missing is not None:
            notes.append(f"{steps.describe(step)}: runs {missing}, which the checkout "
                         "does not have")
        elif verdict.kept:
            kept.append(verdict.step)
            if verdict.reason:
                changes.append(f"{steps.describe(step)}: {verdict.reason}")
        else:
            notes.append(f"{steps.describe(step)}: {verdict.reason}")
    return tuple(kept), tuple(notes), tuple(changes)


def _tox_recipes(job: Job, runs_tox: list[str], chosen: interpreters.Interpreter,
                 wanted: tuple[int, int] | None, tox: ToxEnvironments,
                 skipped: tuple[str, ...]) -> tuple[list[tuple[Rank, Recipe]], list[str]]:
    label = f"{job.source} {job.name}"
    if tox.config is None:
        return [], [f"{label}: runs tox, but the project has no tox configuration"]
    try:
        available, judged = tox.names(), tox.judged()
    except StageError as exc:
        return [], [f"{label}: {exc.failure.message}"]
    variables = dict(job.setenv)
    asked = [_expand(name, variables) for s in runs_tox for name in steps.tox_environments(s) or ()]
    if not asked and variables.get("TOXENV"):
        asked = variables["TOXENV"].split(",")
    if not asked:  # plain tox, as tox-travis and tox-gh-actions run it: this Python's envs
        version = wanted or chosen.version[:2]
        asked = [n for n in available if tox_source.python_factor(n)[1] == version]
        if not asked:
            return [], [f"{label}: tox has no environment for python "
                        f"{'.'.join(map(str, version))}"]
    found: list[tuple[str, tuple[int, int] | None, interpreters.Interpreter]] = []
    why_not = []
    overrides, repairs = tox_source.config_repairs(tox.checkout)
    for name in dict.fromkeys(asked):
        # An environment that names its Python runs on that one, whatever the job's was.
        env_wanted = tox_source.python_factor(name)[1] or wanted
        env_chosen = interpreters.choose(env_wanted) if env_wanted != wanted else chosen
        if "$" in name:
            why_not.append(f"tox -e {name}: the variable is not set")
        elif name not in available:
            why_not.append(f"tox environment {name} is not in the tox configuration")
        elif judged[name].why_not:
            why_not.append(f"tox environment {name}: {judged[name].why_not}")
        elif env_chosen is None:
            why_not.append(f"tox environment {name}: no interpreter for it on this machine")
        else:
            found.append((name, env_wanted, env_chosen))
    recipes = [(rank(env_wanted, env_chosen),
                Recipe(kind="tox", source=job.source,
                       job=job.name if len(found) == 1 else f"{job.name} toxenv={name}",
                       python=env_chosen.short, interpreter=env_chosen.path, toxenv=name,
                       setenv=job.setenv, skipped=skipped + tuple(why_not),
                       overrides=overrides, repairs=repairs, wanted=_text(env_wanted)))
               for name, env_wanted, env_chosen in found]
    return recipes, [] if recipes else [f"{label}: {'; '.join(why_not)}"]


def _text(version: tuple[int, int] | None) -> str:
    return f"{version[0]}.{version[1]}" if version else ""


def _expand(text: str, variables: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return variables.get(name, match.group(0))
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, text)


def best_first(ranked: list[tuple[Rank, Recipe]], skipped: list[str]) -> list[Recipe]:
    """Recipes in rank order (file order among equals), each distinct build once."""
    ranked = sorted(ranked, key=lambda pair: pair[0])
    first_of: dict[tuple[Any, ...], str] = {}
    recipes = []
    for _, recipe in ranked:
        # tox builds its environment from its own configuration: one build per environment.
        key = ("tox", recipe.toxenv) if recipe.kind == "tox" else (
            recipe.kind, recipe.interpreter, recipe.setenv, recipe.steps, recipe.commands)
        if key in first_of:
            skipped.append(f"{recipe.source} {recipe.job}: the same build as {first_of[key]}")
            continue
        first_of[key] = recipe.job
        recipes.append(recipe)
    return recipes
