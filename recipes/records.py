"""Records of the build-and-test stages, and the failure record every stage uses.

Records that cross a stage boundary are frozen dataclasses with ``to_dict``/``from_dict``
so that they can be written to JSON (``repos.jsonl``, ``citrace plan``) and read back.
"""

from __future__ import annotations

import resource
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from recipes.errors import CitraceError
from recipes.record import Record

# The stages a project goes through, in order. ``Failure.stage`` is one of these.
Stage = Literal["acquire", "plan", "build", "test", "trace", "emit", "validate"]
STAGES: tuple[Stage, ...] = get_args(Stage)
RecipeKind = Literal["tox", "fallback", "shell"]


def cpu_seconds() -> float:
    """User and system CPU time of this process and of every process it waited for (the
    sandboxes it ran, and all they ran): the difference of two readings is what a stage
    cost in CPU, wherever it ran."""
    own, children = (resource.getrusage(who) for who in
                     (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@dataclass(frozen=True)
class Failure(Record):
    """Why a project stopped: the stage, a short machine-readable cause, a one-line message."""

    stage: Stage
    cause: str
    message: str

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"unknown stage {self.stage!r}")


class StageError(CitraceError):
    """Raised inside a stage to end the project with a ``Failure``."""

    def __init__(self, stage: Stage, cause: str, message: str) -> None:
        super().__init__(message, stage=stage)
        self.failure = Failure(stage, cause, message)


@dataclass(frozen=True)
class Recipe(Record):
    """A plan to build one project's environment and run its tests.

    ``kind`` says which runner carries it out: ``tox`` (run through tox itself, ``toxenv``
    names the environment), ``fallback`` (a plain virtualenv, ``install`` then ``commands``)
    or ``shell`` (a plain virtualenv, a CI job's shell ``steps`` then its ``commands``).
    """

    kind: RecipeKind
    source: str  # the CI file it came from, relative to the checkout ("tox.ini"), or "fallback"
    job: str  # the job within that file ("py311"), or a short name
    python: str  # the interpreter version chosen on this machine, "3.11"
    interpreter: str  # absolute path of the interpreter chosen on this machine
    toxenv: str = ""
    install: tuple[str, ...] = ()  # pip install arguments for the fallback
    commands: tuple[tuple[str, ...], ...] = ()  # test commands, argv lists, for the fallback
    setenv: tuple[tuple[str, str], ...] = ()
    overrides: tuple[str, ...] = ()  # tox ``-x`` overrides the repairs need
    repairs: tuple[str, ...] = ()  # changes made so that the configuration runs today
    skipped: tuple[str, ...] = ()  # "what: why" for steps left out
    steps: tuple[str, ...] = ()  # shell lines run before the tests (``shell`` recipes)
    failed_steps: tuple[str, ...] = ()  # "step: why" for steps that failed; the build went on
    wanted: str = ""  # the version the job names ("3.7"); "" when it names none
    installer: str = ""  # what built the environment: "pip" or "uv" ("" before the build)
    as_of: str = ""  # the date dependencies were resolved as of; "" for the newest versions
    tests_as_of: str = ""  # the older date the test tools were resolved as of, if any
    # "pytest<9: why" when the tests ran again with an older pytest than the build installed
    test_runner_pin: str = ""
    installer_fallbacks: tuple[str, ...] = ()  # attempts that failed before the one kept


# How a command ended. "ok" and "failed" are the command's own doing; the others are the
# sandbox's bounds (wall or CPU time, memory, output volume, file size or scratch space) or
# "error": the command could not be started at all.
Verdict = Literal["ok", "failed", "timeout", "oom", "output_limit", "file_limit", "error"]
VERDICTS: tuple[Verdict, ...] = get_args(Verdict)


@dataclass(frozen=True)
class NetworkUse(Record):
    """What commands did on the network through the egress proxy (``recipes.sandbox.egress``): the
    bytes to and from each ``host:port`` reached, and the refused attempts by ``host:port``."""

    reached: dict[str, int] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)

    @property
    def bytes(self) -> int:
        return sum(self.reached.values())

    def __add__(self, other: NetworkUse) -> NetworkUse:
        return NetworkUse(dict(Counter(self.reached) + Counter(other.reached)),
                          dict(Counter(self.refused) + Counter(other.refused)))

    def __bool__(self) -> bool:
        return bool(self.reached or self.refused)

    def to_dict(self) -> dict[str, Any]:
        return {"bytes": self.bytes, "reached": dict(sorted(self.reached.items())),
                "refused": dict(sorted(self.refused.items()))}


@dataclass(frozen=True)
class CommandOutcome(Record):
    """What one command run through the sandbox did."""

    argv: tuple[str, ...]
    exit_code: int  # negative: killed by that signal
    duration: float
    timed_out: bool = False
    output_tail: str = ""  # the last lines of combined stdout/stderr
    verdict: Verdict | Literal[""] = ""  # derived from the fields above when not given
    network: NetworkUse | None = None  # a build's use of the egress proxy; None: no proxy

    def __post_init__(self) -> None:
        if not self.verdict:
            object.__setattr__(self, "verdict", self._derived_verdict())
        elif self.verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {self.verdict!r}")

    def _derived_verdict(self) -> Verdict:
        if self.timed_out:
            return "timeout"
        if self.exit_code == 0:
            return "ok"
        if self.exit_code == 127 and self.output_tail.startswith("cannot start"):
            return "error"
        return "failed"

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and self.verdict == "ok"


@dataclass(frozen=True)
class Env(Record):
    """A built environment: where its interpreter is and where the probe can be installed."""

    recipe: Recipe
    python: str  # the environment's interpreter
    site_packages: str
    version: str  # "3.11.7"
    work_dir: str


@dataclass(frozen=True)
class RunResult(Record):
    """The traced test run of one environment."""

    env: Env
    outcomes: tuple[CommandOutcome, ...] = field(default=())
    trace_dir: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.outcomes) and all(o.ok for o in self.outcomes)
