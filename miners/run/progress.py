"""What a run shows while it works: a progress bar over projects on an interactive terminal
(done, failed, problems so far; tqdm adds the rate and the time left), one log line per
finished project otherwise."""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

from tqdm import tqdm

from miners.records import ProjectResult

log = logging.getLogger("citrace")


class Progress:
    def __init__(self, *, total: int, done: int, problems: int,
                 stream: TextIO | None = None) -> None:
        stream = stream or sys.stderr
        self.total, self.done, self.problems = total, done, problems
        self.ok = self.failed = self.finished_now = 0
        self._started = time.monotonic()
        self._bar = tqdm(total=total, initial=done, unit="project", file=stream,
                         disable=not stream.isatty(), dynamic_ncols=True, smoothing=0.05)

    def finished(self, result: ProjectResult, problems: int, seconds: float) -> None:
        self.done += 1
        self.finished_now += 1
        self.problems += problems
        if result.status == "ok":
            self.ok += 1
        else:
            self.failed += 1
        if self._bar.disable:
            self._log_line(result, problems, seconds)
        else:
            self._bar.set_postfix_str(f"ok {self.ok}, failed {self.failed}, "
                                      f"problems {self.problems}", refresh=False)
            self._bar.update(1)

    def close(self) -> None:
        self._bar.close()

    def _log_line(self, result: ProjectResult, problems: int, seconds: float) -> None:
        where = f"[{self.done}/{self.total}]"
        if result.status == "ok":
            what = f"ok, {problems} problems"
        else:
            what = f"failed at {result.stage} ({result.cause}): {result.reason}"
        log.info("%s %s: %s (%.0f s)%s", where, result.spec, what, seconds, self._pace())

    def _pace(self) -> str:
        elapsed = time.monotonic() - self._started
        if self.finished_now < 2 or elapsed <= 0:
            return ""
        per_minute = self.finished_now / elapsed * 60
        left = (self.total - self.done) / per_minute if per_minute else 0
        return f"; {per_minute:.1f} projects/min, ~{left:.0f} min left"
