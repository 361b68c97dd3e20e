"""``citrace report``: the numbers on the page are the numbers in the run's outputs, for a
finished, an unfinished, a live and a merged run; untrusted strings cannot inject markup."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections import Counter
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest

import miners.run.batch
import tests.miners.batchkit as batchkit
from miners.cli.main import main
from miners.executors import Finished, Task
from miners.reports.svg import bar_chart, histogram
from miners.run.batch import run_lock
from miners.run.merge import merge
from miners.run.state import RunState
from tests.miners.batchkit import FakeExecutor, fake_list, read_jsonl, start_citrace, tiny_project
from tests.miners.run.test_finalize import finish as dedup_finish

STAGES = ("acquire", "plan", "build", "test", "trace", "emit", "validate")


class Page(HTMLParser):
    """The tables of a report (as rows of cell texts, keyed by their header row), its tags
    and attributes, and its text."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.tags: Counter[str] = Counter()
        self.attributes: list[tuple[str, str]] = []
        self._cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        self.attributes += [(name, value or "") for name, value in attrs]
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def table(self, *header: str) -> dict[str, list[str]]:
        """The table whose header row starts with ``header``: first cell to the rest."""
        for table in self.tables:
            if tuple(table[0][:len(header)]) == header:
                return {row[0]: row[1:] for row in table[1:]}
        raise AssertionError(f"no table with header {header}: {[t[0] for t in self.tables]}")


GATED_TEST = '''\
import os
import time
import unittest

GATE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "gate")


class TestGate(unittest.TestCase):
    def test_waits_for_the_gate(self):
        deadline = time.time() + 60
        while not os.path.exists(GATE) and time.time() < deadline:
            time.sleep(0.1)
'''


def report(out: Path, target: Path) -> Page:
    assert main(["report", str(out), "-o", str(target)]) == 0
    return Page(target.read_text())


def expected_funnel(repos: list[dict], problems: list[dict]) -> dict[str, int]:  # type: ignore[type-arg]
    """The funnel computed independently from repos.jsonl and problems.jsonl."""
    def passed(result: dict, stage: str) -> bool:  # type: ignore[type-arg]
        return result["status"] == "ok" or STAGES.index(stage) < STAGES.index(result["stage"])

    labels = ("acquired", "planned", "built", "tests passed", "traced (calls recorded)",
              "with candidates", "with validated problems")
    funnel = {"projects listed": len(repos), "finished": len(repos)}
    funnel |= {label: sum(passed(r, stage) for r in repos)
               for stage, label in zip(STAGES, labels, strict=True)}
    funnel["with problems in problems.jsonl"] = len({p["meta"]["source"] for p in problems})
    return funnel


def check_matches_outputs(page: Page, out: Path) -> None:
    repos, problems = read_jsonl(out / "repos.jsonl"), read_jsonl(out / "problems.jsonl")
    funnel = page.table("projects", "n")
    assert {k: int(v[0]) for k, v in funnel.items()} == expected_funnel(repos, problems)
    counts = {k: int(v[0].replace(",", "")) for k, v in page.table("what", "n").items()}
    for key, label in (("calls_recorded", "calls recorded"),
                       ("functions_traced", "functions traced"), ("candidates", "candidates")):
        assert counts[label] == sum(r["counts"].get(key, 0) for r in repos)
    assert counts["problems in problems.jsonl (after dedup)"] == len(problems)
    per_project = page.table("project", "version", "SPEC", "problems")
    by_source = Counter(p["meta"]["source"] for p in problems)
    for result in (r for r in repos if r["status"] == "ok"):
        assert int(per_project[result["name"]][2]) == by_source[result["spec"]]
    times = page.table("stage", "projects", "total s")
    for stage in ("build", "test", "total"):
        seconds = [r["timings"][stage] for r in repos if stage in r["timings"]]
        assert int(times[stage][0]) == len(seconds)
        assert float(times[stage][1]) == pytest.approx(sum(seconds), abs=0.06)


@pytest.mark.slow
def test_the_report_of_a_finished_run_shows_the_numbers_of_its_outputs(
        reference_run: Path, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "report.html"
    page = report(reference_run, target)
    check_matches_outputs(page, reference_run)
    text = target.read_text()
    problems = read_jsonl(reference_run / "problems.jsonl")
    asserts = Counter(p["meta"]["n_asserts"] for p in problems)
    for value, count in asserts.items():  # the histogram's columns, read from their tooltips
        assert f"<title>{value}: {count}</title>" in text
    for problem in problems:
        assert problem["task_id"] in text
    # self-contained: nothing is fetched, and links to the logs work from where it was written
    assert not [v for n, v in page.attributes if n == "src" or v.startswith(("http:", "https:"))
                and n == "href"]
    links = [v for n, v in page.attributes if n == "href"]
    assert links and all((target.parent / link).is_file() for link in links)
    assert page.tags["svg"] >= 5


@pytest.mark.slow
def test_a_live_run_with_a_failure_reported_while_it_runs_and_when_done(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # proj-7's suite waits for a gate file in its checkout, opened once the live report is
    # written: the report is then sure to see it unfinished (under load, a tiny project can
    # otherwise finish while the report is being made). It waits at most a minute.
    (tiny_project(tmp_path, 7) / "tests" / "test_gate.py").write_text(GATED_TEST)
    (tmp_path / "no-project").mkdir()  # fails at plan in a second: nothing to build
    (tmp_path / "no-project" / "README").write_text("nothing to build here\n")
    listing = tmp_path / "list.txt"
    listing.write_text("no-project\nproj-7\n")
    out = tmp_path / "out"
    run = start_citrace("mine", str(listing), "-o", str(out), "--jobs", "2")
    try:
        repos = out / "repos.jsonl"
        while run.poll() is None and not (repos.is_file() and repos.stat().st_size):
            time.sleep(0.1)  # until the first project is done
        before = read_jsonl(repos)
        live = report(out, tmp_path / "live.html")  # the other project is still running
        after = read_jsonl(repos)
        assert run.poll() is None, "the run ended before the report: no live run was seen"
        # os.walk, not rglob: the other project's directories are being made and removed
        # meanwhile, and os.walk passes over what vanishes under it
        gates = [Path(folder).parent / "gate" for folder, _, files in os.walk(out / "work")
                 if "test_gate.py" in files]
        assert gates, "proj-7's checkout was not found under the run's work directory"
        for gate in gates:
            gate.write_text("open\n")
    finally:
        output = run.communicate(timeout=600)[0].decode()
    assert run.returncode == 0, output
    assert "a run in progress" in (tmp_path / "live.html").read_text()
    funnel = {k: int(v[0]) for k, v in live.table("projects", "n").items()}
    assert funnel["projects listed"] == 2 and len(before) <= funnel["finished"] <= len(after)
    assert funnel["finished"] < 2

    assert main(["report", str(out)]) == 0  # default: OUTDIR/report.html
    assert str(out / "report.html") in capsys.readouterr().out
    page = Page((out / "report.html").read_text())
    check_matches_outputs(page, out)
    repos = read_jsonl(out / "repos.jsonl")
    failed = [r for r in repos if r["status"] == "failed"]
    assert [r["spec"] for r in failed] == ["no-project"]
    rows = page.table("SPEC", "project", "stage", "cause", "reason")
    assert rows == {r["spec"]: [r["name"] or r["spec"], r["stage"], r["cause"], r["reason"],
                                "log" if r["log"] else ""] for r in failed}
    by_cause = page.table("stage", "cause", "projects")
    assert by_cause == {failed[0]["stage"]: [failed[0]["cause"], "1"]}


@pytest.mark.slow
def test_an_unfinished_run_and_a_live_one(reference_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(reference_run, out)
    with RunState(out / "run.sqlite") as state:
        key = state.rows()[1]["key"]
        state.requeue([key])  # as if the second project had not finished
    page = report(out, tmp_path / "r1.html")
    funnel = {k: int(v[0]) for k, v in page.table("projects", "n").items()}
    assert funnel["projects listed"] == 3 and funnel["finished"] == 2
    assert "stopped before the end" in (tmp_path / "r1.html").read_text()
    with run_lock(out):  # as if a citrace mine held the OUTDIR
        report(out, tmp_path / "r2.html")
    assert "a run in progress" in (tmp_path / "r2.html").read_text()


@pytest.mark.slow
def test_a_merged_outdir(reference_run: Path, tmp_path: Path) -> None:
    merged = tmp_path / "merged"
    assert merge([reference_run], merged).complete
    check_matches_outputs(report(merged, tmp_path / "report.html"), merged)


@pytest.mark.slow
def test_outputs_without_their_database_still_give_a_report(reference_run: Path,
                                                            tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    for name in ("repos.jsonl", "problems.jsonl"):
        shutil.copy(reference_run / name, out / name)
    check_matches_outputs(report(out, tmp_path / "report.html"), out)


def test_a_directory_that_is_not_an_outdir_is_refused(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    assert main(["report", str(tmp_path)]) == 2
    assert "is not a citrace OUTDIR" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "not a directory" in capsys.readouterr().err
    assert not (tmp_path / "report.html").exists()


def test_the_funnel_shows_what_decontamination_and_dedup_left_out(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def finish(task: Task) -> Finished:
        finished = dedup_finish(task)
        name = Path(task.spec.url).name
        if name == "p3":  # two more were validated, and left out as overlapping a benchmark
            counts = {**finished.result.counts, "dropped_contaminated": 2}
            return replace(finished, result=replace(finished.result, counts=counts))
        if name == "p5":  # its problem has the task id of p0's: the earlier SPEC keeps it
            return replace(finished, problems=[replace(finished.problems[0],
                                                       task_id="citrace/p0/m.f0")])
        return finished

    monkeypatch.setattr(batchkit, "finish", finish)
    monkeypatch.setattr(miners.run.batch, "make_executor", lambda options: FakeExecutor(seed=3))
    listing = fake_list(tmp_path / "projects", [f"p{n}" for n in range(6)])
    # p2's second problem is a near duplicate of p1's, p4's an exact one (renamed names)
    for name, body in (("p1", "loop"), ("p2", "loop-edited"), ("p4", "loop-renamed")):
        (tmp_path / "projects" / name / "BODY").write_text(body)
    out = tmp_path / "out"
    assert main(["mine", str(listing), "-o", str(out)]) == 0
    page = report(out, tmp_path / "report.html")
    counts = {k: int(v[0]) for k, v in page.table("what", "n").items()}
    left_out = {k: int(v[0]) for k, v in page.table("left out", "problems").items()}
    problems = len(read_jsonl(out / "problems.jsonl"))
    assert (counts["problems validated"], counts["not overlapping HumanEval or MBPP"],
            counts["problems before dedup"]) == (11, 9, 8)
    assert counts["problems in problems.jsonl (after dedup)"] == problems == 6
    assert left_out == {"overlapping HumanEval or MBPP (decontamination)": 2,
                        "same task id as an earlier SPEC of the list": 1,
                        "exact duplicates (dedup)": 1, "near duplicates (dedup)": 1}
    assert counts["problems validated"] - sum(left_out.values()) == problems
    assert "has not had it yet" not in (tmp_path / "report.html").read_text()
    # before the final rewrite there is no dedup.json: the page says dedup is still to come
    (out / "dedup.json").unlink()
    page = report(out, tmp_path / "early.html")
    assert "problems before dedup" not in page.table("what", "n")
    assert list(page.table("left out", "problems")) == \
        ["overlapping HumanEval or MBPP (decontamination)"]
    assert "this run has not had it yet (no dedup.json)" in (tmp_path / "early.html").read_text()


EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_strings_from_the_data_cannot_inject_markup(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    lines = [{"spec": f"evil{EVIL}", "status": "failed", "stage": "build",
              "cause": f"cause{EVIL}", "reason": f"the build said {EVIL}", "name": f"n{EVIL}",
              "version": EVIL, "timings": {"build": 1.0, "total": 2.0}, "counts": {},
              "log": 'javascript:alert(1)"><script>x</script>'},
             {"spec": f"good{EVIL}", "status": "ok", "stage": "validate", "reason": "",
              "name": f"ok{EVIL}", "version": "1", "timings": {"total": 1.0},
              "counts": {f"dropped_{EVIL}": 2}}]
    (out / "repos.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    problem = {"task_id": f"citrace/{EVIL}", "prompt": "", "canonical_solution": "", "test": "",
               "entry_point": "f", "meta": {"source": f"good{EVIL}", "n_asserts": 3}}
    (out / "problems.jsonl").write_text(json.dumps(problem) + "\n")
    page = report(out, out / "report.html")
    text = (out / "report.html").read_text()
    assert "<script" not in text and "<img" not in text
    assert page.tags["script"] == page.tags["img"] == 0
    assert not [n for n, _ in page.attributes if n.startswith("on")]
    assert not [v for n, v in page.attributes if n == "href" and ":" in v.split("/")[0]]
    # ... and the text is still there for people to read, escaped
    assert page.table("SPEC", "project", "stage")[f"evil{EVIL}"][3] == f"the build said {EVIL}"
    assert f"citrace/{EVIL}" in page.table("project", "version", "SPEC")[f"ok{EVIL}"][3]


def test_bar_charts_fold_long_tails_and_histograms_bin_wide_ranges() -> None:
    chart = bar_chart([(f"p{n}", n) for n in range(10)], title="t", max_bars=4)
    assert re.findall(r"<title>(p\d|\d+ more): (\d+)</title>", chart) == \
        [("p0", "0"), ("p1", "1"), ("p2", "2"), ("7 more", str(sum(range(3, 10))))]
    narrow = histogram([1, 1, 2, 5], title="h", x_label="asserts")
    assert re.findall(r"<title>(\d+): (\d+)</title>", narrow) == \
        [("1", "2"), ("2", "1"), ("3", "0"), ("4", "0"), ("5", "1")]
    wide = histogram(list(range(1, 101)), title="h", x_label="asserts")
    columns = re.findall(r"<title>(\d+)-(\d+): (\d+)</title>", wide)
    assert len(columns) <= 40 and sum(int(n) for *_, n in columns) == 100
    assert "nothing to show" in histogram([], title="h", x_label="x")


def test_small_bars_stay_visible_next_to_large_ones() -> None:
    widths = dict(re.findall(r'<rect x="[\d.]+" y="[\d.]+" width="([\d.]+)"[^>]*><title>(\w+):',
                             bar_chart([("calls", 20983), ("problems", 217), ("none", 0)],
                                       title="t"))[i][::-1] for i in range(3))
    # 217 of 20,983 is 1% of the longest bar on a linear scale: on the log scale it is a
    # real bar, shorter than the largest; nothing gets no bar but zero.
    assert float(widths["none"]) == 0
    assert 0.1 * float(widths["calls"]) <= float(widths["problems"]) < float(widths["calls"])
    assert "log scale" in bar_chart([("calls", 20983), ("problems", 217)], title="t")
    linear = bar_chart([("a", 32), ("b", 22), ("c", 2)], title="t")  # within 20 times
    assert "log scale" not in linear
    c = re.search(r'width="([\d.]+)"[^>]*><title>c:', linear)
    a = re.search(r'width="([\d.]+)"[^>]*><title>a:', linear)
    assert c is not None and a is not None
    assert float(c.group(1)) == pytest.approx(float(a.group(1)) * 2 / 32, abs=0.1)


def test_top_causes_name_example_projects_and_the_slowest_are_listed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    results = [{"spec": f"pypi:p{n}", "name": f"p{n}", "status": "failed", "stage": stage,
                "cause": cause, "reason": f"why {n}", "timings": {"build": n, "total": 10 * n},
                "counts": {}}
               for n, (stage, cause) in enumerate([("emit", "no_candidates")] * 4
                                                  + [("build", "install_failed")] * 2, 1)]
    results.append({"spec": "pypi:ok", "name": "ok", "status": "ok", "stage": "validate",
                    "reason": "", "timings": {"total": 1000}, "counts": {"problems": 0}})
    (out / "repos.jsonl").write_text("".join(json.dumps(r) + "\n" for r in results))
    (out / "problems.jsonl").write_text("")
    page = report(out, tmp_path / "r.html")
    causes = page.table("cause", "projects", "for example")
    assert list(causes) == ["no_candidates", "install_failed"]
    assert causes["no_candidates"][0] == "4" and "p1 (emit: why 1)" in causes["no_candidates"][1]
    assert "p4" not in causes["no_candidates"][1]  # three examples, not every project
    slowest = page.table("project", "status", "total s")
    assert list(slowest)[:3] == ["ok", "p6", "p5"] and slowest["p6"][1] == "60"
