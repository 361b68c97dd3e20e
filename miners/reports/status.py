"""``citrace status OUTDIR``: a run in progress or finished, read from another terminal.

It only reads ``run.sqlite`` (WAL mode lets it read while the run writes), and tells a
live run from a stopped one by whether the run's lock is held.
"""

from __future__ import annotations

import fcntl
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from miners.run.batch import LOCK_FILE
from miners.run.state import STATE_FILE, RunState
from recipes.errors import CitraceError

RATE_WINDOW = 20  # finished projects the rate is measured over


@dataclass
class RunStatus:
    out_dir: str
    live: bool  # a citrace process is mining into OUTDIR now
    shard: str
    list_total: int  # SPECs in the whole list
    counts: dict[str, int]  # pending, running, ok, failed
    problems: int
    per_minute: float | None
    minutes_left: float | None
    running: list[dict[str, Any]] = field(default_factory=list)  # spec, stage, seconds
    failure_causes: dict[str, int] = field(default_factory=dict)

    @property
    def projects(self) -> int:
        return sum(self.counts.values())

    @property
    def done(self) -> int:
        return self.counts.get("ok", 0) + self.counts.get("failed", 0)

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "projects": self.projects, "done": self.done}


class NoRun(CitraceError):
    """OUTDIR holds no run."""


def read_status(out_dir: Path) -> RunStatus:
    path = out_dir / STATE_FILE
    if not path.is_file():
        raise NoRun(f"{out_dir} holds no citrace run (no {STATE_FILE})")
    with RunState(path, readonly=True) as state:
        counts = state.counts()
        rows = state.rows()
        now = time.time()
        finished = sorted(r["finished_at"] for r in rows if r["status"] in ("ok", "failed")
                          and r["finished_at"])
        per_minute = _rate(finished[-RATE_WINDOW:])
        remaining = counts["pending"] + counts["running"]
        live = is_live(out_dir)
        return RunStatus(
            out_dir=str(out_dir), live=live, shard=state.get_meta("shard"),
            list_total=int(state.get_meta("total", "0")),
            counts={s: counts[s] for s in ("pending", "running", "ok", "failed")},
            problems=state.problems_written(), per_minute=per_minute,
            minutes_left=remaining / per_minute if per_minute and live else None,
            running=[{"spec": r["raw"], "stage": r["stage"],
                      "seconds": round(now - r["started_at"]) if r["started_at"] else None}
                     for r in rows if r["status"] == "running"],
            failure_causes=dict(Counter(r["cause"] or "unknown" for r in rows
                                        if r["status"] == "failed").most_common()))


def _rate(times: list[float]) -> float | None:
    if len(times) < 2 or times[-1] <= times[0]:
        return None
    return (len(times) - 1) / (times[-1] - times[0]) * 60


def is_live(out_dir: Path) -> bool:
    lock_path = out_dir / LOCK_FILE
    if not lock_path.exists():
        return False
    with open(lock_path, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(lock, fcntl.LOCK_UN)
        return False


def render(status: RunStatus) -> str:
    if status.live:
        state = "running"
    elif status.counts["pending"] or status.counts["running"]:
        state = "stopped before the end (run the same citrace mine command to resume)"
    else:
        state = "finished"
    shard = f", shard {status.shard} of {status.list_total} SPECs" if status.shard != "0/1" \
        else ""
    lines = [f"{status.out_dir}: {state}{shard}",
             f"  {status.done} of {status.projects} projects done: {status.counts['ok']} ok, "
             f"{status.counts['failed']} failed; {status.counts['running']} running, "
             f"{status.counts['pending']} pending",
             f"  {status.problems} problems"]
    if status.per_minute:
        pace = f"  {status.per_minute:.1f} projects/min lately"
        if status.minutes_left is not None:
            pace += f", about {_duration(status.minutes_left * 60)} left"
        lines.append(pace)
    if status.running and status.live:
        lines.append("  running now:")
        lines += [f"    {r['spec']}  {r['stage']}  {_duration(r['seconds'] or 0)}"
                  for r in status.running]
    if status.failure_causes:
        lines.append("  failures by cause: " + ", ".join(
            f"{cause} {n}" for cause, n in status.failure_causes.items()))
    return "\n".join(lines)


def render_json(status: RunStatus) -> str:
    return json.dumps(status.to_dict(), indent=2)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"
