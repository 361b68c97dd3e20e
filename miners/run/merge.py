"""``citrace merge OUT1 OUT2 ... -o OUT``: the outputs of shard runs, as one run's.

The inputs must be runs over the same SPEC list with the same settings (any shards, in any
order; overlapping ones are fine). OUT gets what a single run would have written: problems
in list order with the same dedup (the first SPEC of the list to produce a task id keeps
it), one ``repos.jsonl`` line per SPEC done in any input, the logs and log tails those
lines name, and a ``run.sqlite`` of the whole list, so ``citrace status OUT`` works and,
when some SPECs were not done, ``citrace mine LIST -o OUT`` finishes them.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from miners.run import finalize, outputs
from miners.run.state import STATE_FILE, RunIdentity, RunState, settings_change
from recipes.errors import CitraceError


class MergeError(CitraceError):
    """The inputs cannot be merged (not runs, different lists or settings, bad OUT)."""


@dataclass(frozen=True)
class MergeReport:
    inputs: int
    specs: int  # in the whole list
    done: int
    missing: int  # SPECs done in no input
    problems: int

    @property
    def complete(self) -> bool:
        return self.missing == 0


def merge(inputs: Sequence[Path], out: Path) -> MergeReport:
    states = _open_inputs(inputs, out)
    try:
        identity = _common_identity(states, inputs)
        chosen = _choose_rows(states)
        out.mkdir(parents=True, exist_ok=True)
        with RunState(out / STATE_FILE) as merged:
            merged.begin(RunIdentity(identity.list_fingerprint, identity.settings, "0/1",
                                     identity.total), [])
            merged.copy_rows_from(_reset_worker(row) for _, row in chosen.values())
            done = sum(1 for _, row in chosen.values() if row["status"] in ("ok", "failed"))
            _merge_problems(inputs, states, chosen, out, merged,
                            complete=done == identity.total)
            outputs.write_repos(out, merged)
            _copy_logs(inputs, chosen, out)
            if done == identity.total:
                merged.set_meta("finalized", "1")
            return MergeReport(inputs=len(inputs), specs=identity.total, done=done,
                               missing=identity.total - done,
                               problems=merged.problems_written())
    finally:
        for state in states:
            state.close()


def _open_inputs(inputs: Sequence[Path], out: Path) -> list[RunState]:
    if not inputs:
        raise MergeError("name at least one run directory to merge")
    if (out / STATE_FILE).exists():
        raise MergeError(f"{out} already holds a run; merge into a new or empty directory")
    resolved_out = out.resolve()
    states = []
    for path in inputs:
        if path.resolve() == resolved_out:
            raise MergeError(f"{path} is both an input and the output")
        if not (path / STATE_FILE).is_file():
            raise MergeError(f"{path} holds no citrace run (no {STATE_FILE})")
        states.append(RunState(path / STATE_FILE, readonly=True))
    return states


def _common_identity(states: list[RunState], inputs: Sequence[Path]) -> RunIdentity:
    identities = [s.identity() for s in states]
    first = identities[0]
    assert first is not None
    for path, identity in zip(inputs, identities, strict=True):
        if identity is None or identity.list_fingerprint != first.list_fingerprint:
            raise MergeError(f"{path} is a run over a different SPEC list than {inputs[0]}")
        if identity.settings != first.settings:
            change = settings_change(first.settings, identity.settings, now=f"in {path}:")
            raise MergeError(f"{path} was run with other settings than {inputs[0]}: {change}")
    return first


def _choose_rows(states: list[RunState]) -> dict[str, tuple[int, sqlite3.Row]]:
    """Per SPEC key, the input it comes from: the first input where it is done."""
    chosen: dict[str, tuple[int, sqlite3.Row]] = {}
    for number, state in enumerate(states):
        for row in state.rows():
            held = chosen.get(row["key"])
            if held is None or (held[1]["status"] not in ("ok", "failed")
                                and row["status"] in ("ok", "failed")):
                chosen[row["key"]] = (number, row)
    return chosen


def _reset_worker(row: sqlite3.Row) -> dict[str, object]:
    values = dict(zip(row.keys(), tuple(row), strict=True))
    if values["status"] == "running":
        values["status"] = "pending"
    values.update(worker_pid=0, worker_started="")
    return values


def _merge_problems(inputs: Sequence[Path], states: list[RunState],
                    chosen: dict[str, tuple[int, sqlite3.Row]], out: Path,
                    merged: RunState, *, complete: bool) -> None:
    files = {n: path / outputs.PROBLEMS for n, path in enumerate(inputs)}
    # Problems an input's final rewrite set aside as duplicates come back, so that dedup
    # runs once over the whole list, as in a single run (sources numbered after the files).
    aside = {len(inputs) + n: path / finalize.DUPLICATES for n, path in enumerate(inputs)}
    specs = {str(row["key"]): (str(row["raw"]), int(row["idx"])) for _, row in chosen.values()}
    finished = {key: float(row["finished_at"] or 0.0) for key, (_, row) in chosen.items()}
    claims: list[tuple[str, str, int]] = []
    set_aside: list[bytes] = []
    with outputs.OrderedPlacement() as placement:
        for number, state in enumerate(states):
            for placed in outputs.vouched_lines(files[number], state.claim):
                if chosen.get(placed.claim.key, (None,))[0] == number:
                    placement.add(number, placed)
            own = {k: v for k, v in specs.items() if chosen[k][0] == number}
            for placed in finalize.set_aside_lines(aside[len(inputs) + number], own,
                                                        finished):
                if complete:
                    placement.add(len(inputs) + number, placed)
                else:
                    set_aside.append(placed.line)
        if complete:
            finalize.write_deduplicated(
                placement, {**files, **aside}, out,
                spec_of={k: raw for k, (raw, _) in specs.items()}, finished_at=finished,
                on_kept=lambda w: claims.append((w.task_id, w.key, w.pos)))
        else:  # `citrace mine LIST -o OUT` finishes the run and deduplicates it then
            outputs.atomic_write(out / outputs.PROBLEMS, placement.lines_in_order(
                files, on_line=lambda w: claims.append((w.task_id, w.key, w.pos))))
            outputs.atomic_write(out / finalize.DUPLICATES, set_aside)
    merged.add_claims(claims)
    merged.recount_problems()


def _copy_logs(inputs: Sequence[Path], chosen: dict[str, tuple[int, sqlite3.Row]],
               out: Path) -> None:
    """The files a chosen ``repos.jsonl`` line names: its log, and a failed project's
    ``log_tail`` (``failures/<project>.tail.txt``), so that neither path dangles in OUT."""
    for number, row in chosen.values():
        if not row["result"]:
            continue
        result = json.loads(row["result"])
        for name in (result.get("log", ""), result.get("log_tail", "")):
            _copy_named(inputs[number], out, str(name or ""))


def _copy_named(source_dir: Path, out: Path, name: str) -> None:
    if not name or Path(name).is_absolute() or ".." in Path(name).parts:
        return  # only files inside the input run (a line names them relative to it)
    source, dest = source_dir / name, out / name
    if source.is_file() and not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, dest)
