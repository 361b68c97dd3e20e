"""``ReportData`` as one self-contained HTML page: inline CSS, charts as inline SVG, nothing
fetched from anywhere. Every string from the data is escaped (``svg.escape``):
project names, SPECs and failure reasons come from other people's projects."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from urllib.parse import quote

from miners.reports.funnel import TIMED_STEPS
from miners.reports.gather import NAMES_SHOWN, ProjectLine, ReportData
from miners.reports.strength import FEW_ASSERTS
from miners.reports.svg import bar_chart, escape, histogram

STYLE = """
body{font-family:sans-serif;margin:2em auto;max-width:72em;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.2em .5em;
text-align:left;vertical-align:top}td.n,th.n{text-align:right}th{background:#f3f3f3}
.note{color:#555}details summary{cursor:pointer}code{font-size:.9em}
"""


def render(data: ReportData, *, report_path: Path) -> str:
    """The page; links to logs are relative to ``report_path`` (where it will be written)."""
    sections = [_header(data), _funnel(data), _failures(data, report_path),
                _problems(data, report_path), _asserts(data), _mutation(data),
                _times(data),
                _slowest(data, report_path), _failed_table(data, report_path)]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>citrace report: {escape(data.out_dir)}</title>"
            f"<style>{STYLE}</style></head><body>\n" + "\n".join(sections)
            + "\n</body></html>\n")


def _header(data: ReportData) -> str:
    done = data.done
    state = "a run in progress" if data.live else (
        "finished" if len(done) == len(data.projects) else "stopped before the end")
    ok = sum(p.status == "ok" for p in done)
    shard = f", shard {escape(data.shard)}" if data.shard not in ("", "0/1") else ""
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(data.generated_at))
    return (f"<h1>citrace report: <code>{escape(data.out_dir)}</code></h1>"
            f"<p>{escape(state)}{shard}: {len(done)} of {len(data.projects)} projects done "
            f"({ok} ok, {len(done) - ok} failed), {data.problems} problems. "
            f"<span class=\"note\">Read from {escape(data.source)} at {when}.</span></p>")


def _funnel(data: ReportData) -> str:
    funnel, counts = data.funnel(), data.count_funnel()
    drops = data.drops()
    return ("<h2 id=\"funnel\">Funnel from projects to problems</h2>"
            + bar_chart(funnel, title="projects reaching each stage")
            + _table(("projects", "n"), funnel)
            + bar_chart(counts, title="calls, functions, candidates, problems")
            + _table(("what", "n"), counts)
            + "<h3>Why functions and candidates were left out</h3>"
            + (_table(("reason", "n"), drops) if drops else "<p class=\"note\">none</p>")
            + _left_out(data))


def _left_out(data: ReportData) -> str:
    """Validated problems that did not reach problems.jsonl: contamination, and dedup."""
    note = ("" if data.dedup else "<p class=\"note\">Deduplication runs once every SPEC of "
            "the run is done; this run has not had it yet (no dedup.json).</p>")
    return ("<h3>Validated problems left out: contamination and duplicates</h3>"
            + _table(("left out", "problems"), data.left_out()) + note)


def _failures(data: ReportData, report_path: Path) -> str:
    by_stage, by_cause = data.failures_by("stage"), data.failures_by("cause")
    if not by_stage:
        return "<h2 id=\"failures\">Failures</h2><p>No project failed.</p>"
    return ("<h2 id=\"failures\">Failures by stage and cause</h2>"
            + bar_chart(by_stage, title="failed projects by stage")
            + bar_chart(by_cause, title="failed projects by cause")
            + _top_causes(data, report_path)
            + _table(("stage", "cause", "projects"), data.failures_by_stage_and_cause()))


def _top_causes(data: ReportData, report_path: Path) -> str:
    """Each cause with a few projects it stopped, their reasons and logs: where to look."""
    rows = []
    for cause, count, examples in data.top_causes():
        shown = "<br>".join(
            f"{escape(_project_name(p))} <span class=\"note\">({escape(p.stage)}: "
            f"{escape(p.reason[:160])})</span> {_log_link(p, data, report_path)}"
            for p in examples)
        rows.append(f"<tr><td>{escape(cause)}</td><td class=\"n\">{count}</td>"
                    f"<td>{shown}</td></tr>")
    return ("<h3>Top causes, with example projects</h3><table><tr><th>cause</th>"
            "<th class=\"n\">projects</th><th>for example</th></tr>" + "".join(rows)
            + "</table>")


def _problems(data: ReportData, report_path: Path) -> str:
    done = [p for p in data.done if p.status == "ok" or p.task_ids]
    ranked = sorted(done, key=lambda p: (-len(p.task_ids), p.index))
    chart = bar_chart([(_project_name(p), len(p.task_ids)) for p in ranked],
                      title="problems per project")
    rows = "".join(
        f"<tr><td>{escape(_project_name(p))}</td><td>{escape(p.version)}</td>"
        f"<td><code>{escape(p.spec)}</code></td><td class=\"n\">{len(p.task_ids)}</td>"
        f"<td>{_task_list(p.task_ids)}</td><td>{_log_link(p, data, report_path)}</td></tr>"
        for p in ranked)
    return ("<h2 id=\"problems\">Problems per project</h2>" + chart
            + "<table><tr><th>project</th><th>version</th><th>SPEC</th>"
              "<th class=\"n\">problems</th><th>task ids</th><th>log</th></tr>"
            + rows + "</table>")


def _asserts(data: ReportData) -> str:
    strength = data.strength
    few = round(100 * strength.share_few_asserts(), 1)
    return ("<h2 id=\"asserts\">Asserts per problem</h2>"
            + histogram(data.asserts, title="asserts per problem", x_label="asserts")
            + (f"<p>{len(data.asserts)} problems, {sum(data.asserts)} asserts; median "
               f"{strength.median_asserts():g} per problem, {few}% with fewer than "
               f"{FEW_ASSERTS}.</p>" if data.asserts else ""))


def _mutation(data: ReportData) -> str:
    """How many mutants of its solution each problem's test kills, in buckets."""
    rows = data.strength.bucket_rows()
    return ("<h2 id=\"mutation\">Mutation score per problem</h2>"
            + bar_chart(rows, title="problems by the share of mutants their test kills")
            + _table(("mutation score", "problems"), rows)
            + "<p class=\"note\">The share of small wrong versions of the solution that the "
              "test rejects (meta.mutation); unmeasured: no mutant was made.</p>")


def _times(data: ReportData) -> str:
    rows = data.stage_times()
    chart = bar_chart([(r.stage, r.total) for r in rows if r.stage != "total"],
                      title="seconds per stage, all projects", unit=" s")
    body = "".join(f"<tr><td>{escape(r.stage)}</td><td class=\"n\">{r.projects}</td>"
                   f"<td class=\"n\">{r.total:.1f}</td><td class=\"n\">{r.median:.2f}</td>"
                   f"<td class=\"n\">{r.longest:.1f}</td><td class=\"n\">{r.cpu:.1f}</td>"
                   "</tr>" for r in rows)
    return ("<h2 id=\"times\">Time per stage</h2>" + chart
            + "<table><tr><th>stage</th><th class=\"n\">projects</th><th class=\"n\">total s"
              "</th><th class=\"n\">median s per project</th><th class=\"n\">longest s</th>"
              "<th class=\"n\">CPU s</th></tr>" + body + "</table><p class=\"note\">total is "
              "each project's wall time as the run saw it (its worker's start-up and hand-over "
              "included). CPU s: of the project's worker and everything it ran, sandboxes "
              "included (recorded by citrace since it measures it).</p>")


def _slowest(data: ReportData, report_path: Path, count: int = 10) -> str:
    slowest = data.slowest(count)
    if not slowest:
        return ""
    steps = [s for s in TIMED_STEPS if s != "total"]
    head = "".join(f"<th class=\"n\">{escape(s)}</th>" for s in steps)
    rows = "".join(
        f"<tr><td>{escape(_project_name(p))}</td><td>{escape(p.status)}"
        f"{' (' + escape(p.cause) + ')' if p.cause else ''}</td>"
        f"<td class=\"n\">{float(p.timings['total']):.0f}</td>"
        + "".join(f"<td class=\"n\">{float(p.timings.get(s, 0.0)):.0f}</td>" for s in steps)
        + f"<td>{_log_link(p, data, report_path)}</td></tr>" for p in slowest)
    return (f"<h2 id=\"slowest\">The {len(slowest)} slowest projects</h2><table><tr>"
            "<th>project</th><th>status</th><th class=\"n\">total s</th>" + head
            + "<th>log</th></tr>" + rows + "</table>")


def _failed_table(data: ReportData, report_path: Path) -> str:
    failed = data.failed()
    if not failed:
        return ""
    rows = "".join(
        f"<tr><td><code>{escape(p.spec)}</code></td><td>{escape(_project_name(p))}</td>"
        f"<td>{escape(p.stage)}</td><td>{escape(p.cause)}</td><td>{escape(p.reason)}</td>"
        f"<td>{_log_link(p, data, report_path)}</td></tr>" for p in failed)
    return ("<h2 id=\"failed\">Failed projects</h2><table><tr><th>SPEC</th><th>project</th>"
            "<th>stage</th><th>cause</th><th>reason</th><th>log</th></tr>" + rows + "</table>")


def _table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    head = "".join(f"<th{_numeric(h == header[-1])}>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td{_numeric(n == len(row) - 1)}>{escape(cell)}</td>"
                                    for n, cell in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _numeric(last: bool) -> str:
    return ' class="n"' if last else ""


def _project_name(project: ProjectLine) -> str:
    return project.name or project.spec


def _task_list(task_ids: Sequence[str]) -> str:
    if not task_ids:
        return ""
    shown = "<br>".join(escape(t) for t in task_ids[:NAMES_SHOWN])
    more = f"<br>... and {len(task_ids) - NAMES_SHOWN} more" if len(task_ids) > NAMES_SHOWN \
        else ""
    return f"<details><summary>{len(task_ids)}</summary>{shown}{more}</details>"


def _log_link(project: ProjectLine, data: ReportData, report_path: Path) -> str:
    """A relative link to the project's log, when the run kept one inside OUTDIR."""
    if not project.log or os.path.isabs(project.log) or ".." in Path(project.log).parts:
        return ""
    target = Path(data.out_dir) / project.log
    href = os.path.relpath(target, report_path.parent)
    return f'<a href="{escape(quote(href))}">log</a>'
