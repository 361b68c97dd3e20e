"""Watch a running ``citrace mine`` and report its peak memory and disk.

    python tests/benchmarks/watch_run.py PID --output OUTDIR [--cache DIR ...] [--every 5]

Samples the process tree under PID every ``--every`` seconds until PID exits and writes
one JSON line per sample to ``OUTDIR/watch.jsonl``, then prints the peaks:

- RSS of citrace's own processes (the command, its workers and anything else whose
  interpreter is the one running PID: orchestration, emitting, validation's parent side),
  and of the whole tree (with the projects' builds and tests, the sandboxes, the checkers);
- the disk used by ``OUTDIR`` (its ``work`` directory holds the checkouts and environments
  of the projects in flight) and by each ``--cache`` directory, measured every
  ``--disk-every`` seconds (walking a large cache takes a while).

Linux only (reads ``/proc``); stdlib only, so it runs beside any citrace.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The command name (field 2) may hold spaces and parentheses: split after its end.
        parent = int(stat[stat.rindex(")") + 2:].split()[1])
        children.setdefault(parent, []).append(int(entry))
    return children


def _tree(root: int) -> list[int]:
    children = _children_map()
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def _rss(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def _argv0(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
    except OSError:
        return ""


def tree_size(path: Path) -> int:
    total = 0
    for base, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(base, name)).st_blocks * 512
            except OSError:
                pass
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pid", type=int)
    parser.add_argument("--output", type=Path, required=True, help="the run's OUTDIR")
    parser.add_argument("--cache", type=Path, action="append", default=[])
    parser.add_argument("--every", type=float, default=5.0)
    parser.add_argument("--disk-every", type=float, default=60.0)
    args = parser.parse_args()

    own = _argv0(args.pid)
    peaks: dict[str, int] = {}
    last_disk = 0.0
    started = time.time()
    with open(args.output / "watch.jsonl", "a") as log:
        while os.path.exists(f"/proc/{args.pid}"):
            pids = _tree(args.pid)
            sample: dict[str, float] = {"t": round(time.time() - started, 1),
                                        "processes": len(pids)}
            sample["rss_citrace"] = sum(_rss(p) for p in pids if _argv0(p) == own)
            sample["rss_tree"] = sum(_rss(p) for p in pids)
            if time.time() - last_disk >= args.disk_every:
                last_disk = time.time()
                sample["disk_output"] = tree_size(args.output)
                for cache in args.cache:
                    sample[f"disk_{cache.name}"] = tree_size(cache)
            for key, value in sample.items():
                if key.startswith(("rss_", "disk_", "processes")):
                    peaks[key] = max(peaks.get(key, 0), int(value))
            log.write(json.dumps(sample) + "\n")
            log.flush()
            time.sleep(args.every)
    print(json.dumps({"seconds": round(time.time() - started),
                      **{k: (f"{v / 2**20:.0f} MiB" if k.startswith(("rss", "disk")) else v)
                         for k, v in sorted(peaks.items())}}))


if __name__ == "__main__":
    main()
